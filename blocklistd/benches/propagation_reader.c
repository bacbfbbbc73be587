/* The C reader of the propagation benchmark (propagation.sh beside it): a
 * bank's lookup client, waiting for identifiers the centre is about to list.
 * Opens the data folder blocklistd publishes into with the library's default
 * options (reload_interval_ms from the second argument when given), checks
 * that no identifier is listed yet, prints "ready", then checks every
 * identifier not seen yet through blocklist_check once a millisecond and,
 * when one first answers listed, prints
 *
 *   seen INDEX VERSION SECONDS.NANOSECONDS
 *
 * (INDEX its line in IDS, from 1; VERSION the list version that answered;
 * the time from CLOCK_REALTIME, the clock of `date +%s.%N`, so the script
 * compares it with the time `blocklist publish` returned). Exits 0 once every
 * identifier is seen; the script ends it otherwise.
 *
 * Usage: propagation_reader DATA_DIR IDS [RELOAD_INTERVAL_MS]
 * IDS: one domain per line. */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blocklist.h"

#define MAX_IDS 64
#define MAX_VALUE 256

static char ids[MAX_IDS][MAX_VALUE];
static size_t lens[MAX_IDS];
static int seen[MAX_IDS];

static size_t load(const char *path) {
  FILE *f = fopen(path, "r");
  size_t n = 0;
  if (!f) { perror(path); exit(2); }
  while (n < MAX_IDS && fscanf(f, "%255s", ids[n]) == 1) {
    lens[n] = strlen(ids[n]);
    n++;
  }
  fclose(f);
  return n;
}

/* One check; 1 listed, 0 not, -1 an error (reported, and retried next round). */
static int listed(const blocklist_handle *h, size_t i, uint64_t *version) {
  static unsigned long errors = 0;
  blocklist_check_result r = BLOCKLIST_CHECK_RESULT_INIT;
  blocklist_result rc = blocklist_check(h, BLOCKLIST_KIND_DOMAIN, ids[i], lens[i], &r);
  if (rc != BLOCKLIST_OK) {
    if (errors++ < 5) fprintf(stderr, "check %s: %s\n", ids[i], blocklist_error_message(rc));
    return -1;
  }
  *version = r.list_version;
  return r.listed;
}

int main(int argc, char **argv) {
  const struct timespec pause = {0, 1000000};
  blocklist_options options = BLOCKLIST_OPTIONS_INIT;
  blocklist_handle *h = NULL;
  blocklist_result rc;
  size_t n, i, left;
  uint64_t version;
  if (argc != 3 && argc != 4) {
    fprintf(stderr, "usage: %s DATA_DIR IDS [RELOAD_INTERVAL_MS]\n", argv[0]);
    return 2;
  }
  n = load(argv[2]);
  blocklist_options_default(&options);
  if (argc == 4) options.reload_interval_ms = (uint32_t)strtoul(argv[3], NULL, 10);
  rc = blocklist_open_with_options(argv[1], &options, &h);
  if (rc != BLOCKLIST_OK) {
    fprintf(stderr, "open %s: %s\n", argv[1], blocklist_error_message(rc));
    return 2;
  }
  for (i = 0; i < n; i++) {
    if (listed(h, i, &version) != 0) {
      fprintf(stderr, "%s is listed (or fails) before it is published\n", ids[i]);
      return 2;
    }
  }
  printf("ready %zu\n", n);
  fflush(stdout);
  for (left = n; left > 0; nanosleep(&pause, NULL)) {
    for (i = 0; i < n; i++) {
      struct timespec now;
      if (seen[i] || listed(h, i, &version) != 1) continue;
      clock_gettime(CLOCK_REALTIME, &now);
      seen[i] = 1;
      left--;
      printf("seen %zu %llu %lld.%09ld\n", i + 1, (unsigned long long)version,
             (long long)now.tv_sec, now.tv_nsec);
      fflush(stdout);
    }
  }
  blocklist_close(h);
  return 0;
}
