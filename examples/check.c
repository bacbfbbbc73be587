/* check: is an identifier on the national fraud blocklist? A small program
 * to copy from when wiring libblocklist into a payment system.
 *
 * Build (from the repository root, after `cargo build --release -p blocklist-ffi`):
 *   cc -std=c11 -Wall -Wextra -I include examples/check.c \
 *      target/release/libblocklist.a -lpthread -ldl -lm -lrt -lutil -lgcc_s -o check
 * Run:
 *   ./check /var/lib/blocklistd number 081-234-5678 account "004 123-4-56789-0" url https://scam.example/x
 *
 * Exit status: 0 nothing listed, 1 something listed, 2 an error. */
#include <stdio.h>
#include <string.h>

#include "blocklist.h"

static const char *freshness_name(blocklist_freshness f) {
  switch (f) {
    case BLOCKLIST_FRESHNESS_FRESH: return "fresh";
    case BLOCKLIST_FRESHNESS_STALE: return "STALE";
    case BLOCKLIST_FRESHNESS_NO_DATA: return "NO DATA";
    default: return "?";
  }
}

/* Prints the call's error with the thread's detailed message. */
static void report_error(const char *what, blocklist_result rc) {
  char detail[512];
  size_t len;
  if (blocklist_last_error(detail, sizeof detail, &len) != BLOCKLIST_OK) detail[0] = 0;
  fprintf(stderr, "%s: error %d (%s): %s\n", what, (int)rc, blocklist_error_message(rc), detail);
}

int main(int argc, char **argv) {
  blocklist_handle *handle = NULL;
  blocklist_result rc;
  int status = 0;

  if (argc < 4 || argc % 2 != 0) {
    fprintf(stderr, "usage: %s <index file or data folder> <account|number|domain|url> <identifier> ...\n",
            argv[0]);
    return 2;
  }
  /* Open once at start-up and share the handle between all threads; it
   * picks up newly published indexes by itself (every second by default). */
  rc = blocklist_open(argv[1], &handle);
  if (rc != BLOCKLIST_OK) {
    report_error(argv[1], rc);
    return 2;
  }
  for (int i = 2; i + 1 < argc; i += 2) {
    const char *kind = argv[i], *text = argv[i + 1];
    blocklist_check_result r = BLOCKLIST_CHECK_RESULT_INIT;
    if (strcmp(kind, "account") == 0) rc = blocklist_check_account(handle, text, strlen(text), &r);
    else if (strcmp(kind, "number") == 0) rc = blocklist_check_number(handle, text, strlen(text), &r);
    else if (strcmp(kind, "domain") == 0) rc = blocklist_check_domain(handle, text, strlen(text), &r);
    else if (strcmp(kind, "url") == 0) rc = blocklist_check_url(handle, text, strlen(text), &r);
    else {
      fprintf(stderr, "unknown kind %s: use account, number, domain or url\n", kind);
      status = 2;
      continue;
    }
    if (rc != BLOCKLIST_OK) {
      /* Not a valid identifier of that kind (or a bad argument): the payment
       * system decides; this example reports it. */
      report_error(text, rc);
      status = 2;
      continue;
    }
    /* Decide what stale or missing data means for you: fail open (let the
     * payment through, log it) or fail closed (hold it for review). */
    if (r.listed) {
      printf("%s %s: LISTED as %s (reason %u, agency %s, listed at %llu, expires %llu) [data v%llu, %s]\n",
             kind, text, r.matched, (unsigned)r.reason, r.agency, (unsigned long long)r.listed_at,
             (unsigned long long)r.expires_at, (unsigned long long)r.list_version,
             freshness_name(r.freshness));
      if (status == 0) status = 1;
    } else {
      printf("%s %s: not listed [data v%llu, %s]\n", kind, text, (unsigned long long)r.list_version,
             freshness_name(r.freshness));
    }
  }
  blocklist_close(handle);
  return status;
}
