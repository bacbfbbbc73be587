/* Freshness follows the feed's heartbeat: the driving Rust test
 * (tests/system/c_library.rs) moves the heartbeat beside the index with
 * blocklistd's HeartbeatWriter, then sends one line per step on stdin:
 *
 *   now <F>    every kind of answer must carry freshness F right away
 *              (the heartbeat was updated in place: no reload involved)
 *   wait <F>   the same once the reload thread has followed a heartbeat
 *              file that appeared, was re-created or went away (bounded)
 *
 * F is a BLOCKLIST_FRESHNESS_* value. After each step it prints "step ok"
 * or "step failed" and flushes, so the driver can move on.
 *
 * usage: freshness <data dir>   (lookup.idx holds +66812345678, listed) */
#include "testutil.h"

#include <unistd.h>

static const char LISTED[] = "+66812345678";
static const char RAW[] = "081-234-5678";
static const char CLEAN[] = "+66811111111";

/* Every answer a caller can get: single, canonical, both batches, status. */
static void answers_carry(const blocklist_handle *h, blocklist_freshness expected) {
  blocklist_check_result r = BLOCKLIST_CHECK_RESULT_INIT, batch[2] = { BLOCKLIST_CHECK_RESULT_INIT };
  blocklist_query q[2];
  blocklist_status s = BLOCKLIST_STATUS_INIT;
  CHECK_RC(blocklist_check_number(h, RAW, strlen(RAW), &r), BLOCKLIST_OK);
  CHECK(r.listed == 1 && r.freshness == expected);
  CHECK_RC(blocklist_check_canonical(h, BLOCKLIST_KIND_NUMBER, LISTED, strlen(LISTED), &r), BLOCKLIST_OK);
  CHECK(r.listed == 1 && r.freshness == expected);
  q[0].kind = BLOCKLIST_KIND_NUMBER; q[0].data = RAW; q[0].len = strlen(RAW);
  q[1].kind = BLOCKLIST_KIND_NUMBER; q[1].data = CLEAN; q[1].len = strlen(CLEAN);
  CHECK_RC(blocklist_check_batch(h, q, 2, batch), BLOCKLIST_OK);
  CHECK(batch[0].listed == 1 && batch[1].listed == 0);
  CHECK(batch[0].freshness == expected && batch[1].freshness == expected);
  q[0].data = LISTED; q[0].len = strlen(LISTED);
  CHECK_RC(blocklist_check_canonical_batch(h, q, 2, batch), BLOCKLIST_OK);
  CHECK(batch[0].listed == 1 && batch[1].listed == 0);
  CHECK(batch[0].freshness == expected && batch[1].freshness == expected);
  CHECK_RC(blocklist_handle_status(h, &s), BLOCKLIST_OK);
  CHECK(s.freshness == expected);
}

/* Polls the status until it reports `expected`, for at most ten seconds. */
static void wait_for(const blocklist_handle *h, blocklist_freshness expected) {
  uint64_t deadline = now_ns() + 10000000000u;
  blocklist_status s = BLOCKLIST_STATUS_INIT;
  struct timespec pause = {0, 5000000};
  do {
    CHECK_RC(blocklist_handle_status(h, &s), BLOCKLIST_OK);
    if (s.freshness == expected) return;
    nanosleep(&pause, NULL);
  } while (now_ns() < deadline);
}

int main(int argc, char **argv) {
  blocklist_options o = BLOCKLIST_OPTIONS_INIT;
  blocklist_handle *h = NULL;
  char mode[8];
  unsigned expected;
  if (argc != 2) {
    fprintf(stderr, "usage: freshness <data dir>\n");
    return 2;
  }
  CHECK_RC(blocklist_options_default(&o), BLOCKLIST_OK);
  o.reload_interval_ms = 10;
  CHECK_RC(blocklist_open_with_options(argv[1], &o, &h), BLOCKLIST_OK);
  if (!h) return finish("freshness");
  while (scanf("%7s %u", mode, &expected) == 2) {
    int before = failures;
    if (strcmp(mode, "wait") == 0) wait_for(h, (blocklist_freshness)expected);
    answers_carry(h, (blocklist_freshness)expected);
    printf("step %s\n", failures == before ? "ok" : "failed");
    fflush(stdout);
  }
  blocklist_close(h);
  return finish("freshness");
}
