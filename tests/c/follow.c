/* A new version blocklistd publishes reaches a handle at once, not at its
 * next reload_interval_ms: the driving Rust test (tests/system/c_library.rs)
 * publishes an index beside a heartbeat it bumps as the daemon does, then
 * sends one line per version on stdin:
 *
 *   <version> <number>   a new index of that version lists <number>
 *
 * The handle has the default reload interval (1 s). For each line the
 * program checks <number> until an answer says listed at that version, for
 * at most half the interval, and prints "seen <version> <microseconds>" or
 * "missed <version> <version answered>", and flushes.
 *
 * usage: follow <data dir> */
#include "testutil.h"

enum { BOUND_MS = BLOCKLIST_DEFAULT_RELOAD_INTERVAL_MS / 2 };

int main(int argc, char **argv) {
  blocklist_handle *h = NULL;
  unsigned long long version;
  char number[32];
  if (argc != 2) {
    fprintf(stderr, "usage: follow <data dir>\n");
    return 2;
  }
  CHECK_RC(blocklist_open(argv[1], &h), BLOCKLIST_OK);
  if (!h) return finish("follow");
  printf("ready\n");
  fflush(stdout);
  while (scanf("%llu %31s", &version, number) == 2) {
    uint64_t start = now_ns(), deadline = start + (uint64_t)BOUND_MS * 1000000u;
    struct timespec pause = {0, 1000000};
    blocklist_check_result r = BLOCKLIST_CHECK_RESULT_INIT;
    int seen = 0;
    do {
      CHECK_RC(blocklist_check_canonical(h, BLOCKLIST_KIND_NUMBER, number, strlen(number), &r),
               BLOCKLIST_OK);
      seen = r.listed == 1 && r.list_version == version;
      if (!seen) nanosleep(&pause, NULL);
    } while (!seen && now_ns() < deadline);
    if (seen) {
      printf("seen %llu %llu\n", version, (unsigned long long)((now_ns() - start) / 1000));
    } else {
      printf("missed %llu %llu\n", version, (unsigned long long)r.list_version);
      failures++;
    }
    fflush(stdout);
  }
  blocklist_close(h);
  return finish("follow");
}
