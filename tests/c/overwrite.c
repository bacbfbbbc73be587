/* The served index file overwritten in place, as `cp` or a backup restore
 * does (truncate, then rewrite the same inode), while a handle's reload
 * thread runs: once the thread has seen it, answers are withheld
 * (BLOCKLIST_ERR_INDEX_MODIFIED) until a valid file is at the path, and
 * never "not listed, fresh" for a listed entry. No lookup runs between an
 * overwrite and its detection: that window is documented, not closable
 * (docs/DAEMON.md, "Index files").
 *
 * usage: overwrite <dir>   (<dir>/data/lookup.idx: list version 5, holding
 * +66812345678; <dir>/good.idx: a copy of it; <dir>/zeroed.idx: the same
 * size with its table zeroed, header kept; <dir>/short.idx: its first half) */
#include "testutil.h"

static const char LISTED[] = "+66812345678";

/* Waits, without looking anything up, until the handle reports `code` as
 * its last reload outcome (ten seconds at most). */
static void wait_for_reload_error(const blocklist_handle *h, blocklist_result code) {
  uint64_t deadline = now_ns() + 10000000000u;
  struct timespec pause = {0, 2000000};
  blocklist_status s = BLOCKLIST_STATUS_INIT;
  do {
    CHECK_RC(blocklist_handle_status(h, &s), BLOCKLIST_OK);
    if (s.last_reload_error == code) return;
    nanosleep(&pause, NULL);
  } while (now_ns() < deadline);
  fprintf(stderr, "reload error %d never reported\n", (int)code);
  failures++;
}

/* Every way to check the listed entry is refused, nothing written. */
static void answers_are_withheld(const blocklist_handle *h) {
  blocklist_check_result r = BLOCKLIST_CHECK_RESULT_INIT, batch[1] = { BLOCKLIST_CHECK_RESULT_INIT };
  blocklist_query q = {BLOCKLIST_KIND_NUMBER, LISTED, sizeof LISTED - 1};
  blocklist_status s = BLOCKLIST_STATUS_INIT;
  memset(&r, 0x5A, sizeof r);
  r.size = sizeof r; /* the marker spares the size */
  CHECK_RC(blocklist_check_number(h, LISTED, strlen(LISTED), &r), BLOCKLIST_ERR_INDEX_MODIFIED);
  CHECK(r.listed == 0x5A && r.freshness == 0x5A);
  CHECK_RC(blocklist_check_canonical(h, BLOCKLIST_KIND_NUMBER, LISTED, strlen(LISTED), &r),
           BLOCKLIST_ERR_INDEX_MODIFIED);
  CHECK_RC(blocklist_check_batch(h, &q, 1, batch), BLOCKLIST_ERR_INDEX_MODIFIED);
  CHECK_RC(blocklist_check_canonical_batch(h, &q, 1, batch), BLOCKLIST_ERR_INDEX_MODIFIED);
  CHECK_RC(blocklist_handle_status(h, &s), BLOCKLIST_OK);
  CHECK(s.freshness == BLOCKLIST_FRESHNESS_NO_DATA && s.list_version == 0);
}

/* Checks until the listed entry is answered again (ten seconds at most):
 * every answer meanwhile is withheld or right, never "not listed". */
static void answers_return(const blocklist_handle *h) {
  uint64_t deadline = now_ns() + 10000000000u;
  struct timespec pause = {0, 2000000};
  blocklist_check_result r = BLOCKLIST_CHECK_RESULT_INIT;
  for (;;) {
    blocklist_result rc = blocklist_check_number(h, LISTED, strlen(LISTED), &r);
    if (rc == BLOCKLIST_OK) {
      CHECK(r.listed == 1 && r.freshness == BLOCKLIST_FRESHNESS_FRESH && r.list_version == 5);
      return;
    }
    CHECK_RC(rc, BLOCKLIST_ERR_INDEX_MODIFIED);
    if (now_ns() > deadline) {
      fprintf(stderr, "answers never came back\n");
      failures++;
      return;
    }
    nanosleep(&pause, NULL);
  }
}

int main(int argc, char **argv) {
  char index[1024], good[1024], zeroed[1024], shorter[1024], data[1024];
  blocklist_options o = BLOCKLIST_OPTIONS_INIT;
  blocklist_handle *h = NULL;
  blocklist_check_result r = BLOCKLIST_CHECK_RESULT_INIT;
  if (argc != 2) {
    fprintf(stderr, "usage: overwrite <dir>\n");
    return 2;
  }
  join(data, sizeof data, argv[1], "data");
  join(index, sizeof index, argv[1], "data/lookup.idx");
  join(good, sizeof good, argv[1], "good.idx");
  join(zeroed, sizeof zeroed, argv[1], "zeroed.idx");
  join(shorter, sizeof shorter, argv[1], "short.idx");
  CHECK_RC(blocklist_options_default(&o), BLOCKLIST_OK);
  o.reload_interval_ms = 5;
  CHECK_RC(blocklist_open_with_options(data, &o, &h), BLOCKLIST_OK);
  if (!h) return finish("overwrite");
  CHECK_RC(blocklist_check_number(h, LISTED, strlen(LISTED), &r), BLOCKLIST_OK);
  CHECK(r.listed == 1 && r.freshness == BLOCKLIST_FRESHNESS_FRESH);

  /* Same size, same header, an empty table: it used to answer "not listed"
   * for every entry while saying fresh. */
  overwrite_in_place(index, zeroed);
  wait_for_reload_error(h, BLOCKLIST_ERR_INDEX_MODIFIED);
  answers_are_withheld(h);
  /* A good copy written back in place is validated and served again. */
  overwrite_in_place(index, good);
  answers_return(h);

  /* Shorter: a lookup on the old map would die of SIGBUS past the new end. */
  overwrite_in_place(index, shorter);
  wait_for_reload_error(h, BLOCKLIST_ERR_INDEX_MODIFIED);
  answers_are_withheld(h);
  /* Published the right way (renamed into place): served again. */
  publish_copy(good, index);
  answers_return(h);

  blocklist_close(h);
  return finish("overwrite");
}
