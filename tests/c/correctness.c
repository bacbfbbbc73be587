/* Correctness of every kind through the C API, against the entries the Rust
 * harness (tests/system/c_library.rs) listed:
 *   number  +66812345678            scam_call (2)     th-aoc    1700000000  never
 *   number  +66898765432            scam_sms (3)      th-aoc    expired at 1000000000
 *   account TH:004:1234567890       mule_account (1)  bank-004  1700000200  4000000000
 *   account GB82WEST12345698765432  mule_account (1)  uk-nca    1700000300  never
 *   domain  scam.example            phishing (4)      th-dga    1700000400  never
 * in <dir>/data/lookup.idx (list version 5, created now), <dir>/aged.idx
 * (version 1, created in 2023), <dir>/newer.idx (version 6, also listing
 * +66899999999), and an empty folder <dir>/empty. Every answer of
 * blocklist_check is also compared with blocklist_normalise followed by
 * blocklist_check_canonical, and blocklist_check_canonical_batch with the single
 * canonical check.
 *
 * usage: correctness <dir> */
#include "testutil.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static blocklist_handle *open_or_die(const char *path, const blocklist_options *options) {
  blocklist_handle *h = NULL;
  CHECK_RC(blocklist_open_with_options(path, options, &h), BLOCKLIST_OK);
  if (!h) exit(finish("correctness"));
  return h;
}

/* Checks `text` as `kind` and compares with the expected answer. */
static void expect(const blocklist_handle *h, blocklist_kind kind, const char *text,
                   int listed, uint16_t reason, const char *agency, const char *matched,
                   uint64_t listed_at, uint64_t expires_at) {
  blocklist_check_result r = BLOCKLIST_CHECK_RESULT_INIT, c = BLOCKLIST_CHECK_RESULT_INIT;
  char canonical[BLOCKLIST_MATCHED_MAX];
  size_t n = 0;
  memset(&r, 0xAB, sizeof r);
  memset(&c, 0xCD, sizeof c);
  r.size = c.size = sizeof r; /* the marker spares the size */
  CHECK_RC(blocklist_check(h, kind, text, strlen(text), &r), BLOCKLIST_OK);
  /* normalising once, then checking the canonical form, answers the same */
  CHECK_RC(blocklist_normalise(h, kind, text, strlen(text), canonical, sizeof canonical, &n),
           BLOCKLIST_OK);
  CHECK(n == strlen(canonical));
  CHECK_RC(blocklist_check_canonical(h, kind, canonical, n, &c), BLOCKLIST_OK);
  CHECK(c.status == r.status && c.listed == r.listed && c.kind == r.kind &&
        c.freshness == r.freshness && c.list_version == r.list_version && c.reason == r.reason &&
        c.listed_at == r.listed_at && c.expires_at == r.expires_at &&
        strcmp(c.agency, r.agency) == 0 && strcmp(c.matched, r.matched) == 0);
  if (r.status != BLOCKLIST_OK || r.listed != listed || r.kind != kind ||
      r.freshness != BLOCKLIST_FRESHNESS_FRESH || r.list_version != 5) {
    fprintf(stderr, "%s: status %d listed %d kind %d freshness %d version %llu\n", text,
            (int)r.status, r.listed, r.kind, r.freshness, (unsigned long long)r.list_version);
    failures++;
    return;
  }
  if (listed) {
    CHECK(r.reason == reason);
    CHECK(strcmp(r.agency, agency) == 0);
    CHECK(strcmp(r.matched, matched) == 0);
    CHECK(r.matched_len == strlen(matched));
    CHECK(r.listed_at == listed_at);
    CHECK(r.expires_at == expires_at);
  } else {
    CHECK(r.reason == 0 && r.agency[0] == 0 && r.matched[0] == 0 && r.matched_len == 0);
    CHECK(r.listed_at == 0 && r.expires_at == 0);
  }
}

static void every_kind_through_blocklist_check(const blocklist_handle *h) {
  /* numbers, however written */
  expect(h, BLOCKLIST_KIND_NUMBER, "081-234-5678", 1, 2, "th-aoc", "+66812345678", 1700000000u, 0);
  expect(h, BLOCKLIST_KIND_NUMBER, "+66 81 234 5678", 1, 2, "th-aoc", "+66812345678", 1700000000u, 0);
  expect(h, BLOCKLIST_KIND_NUMBER, "  0066812345678 ", 1, 2, "th-aoc", "+66812345678", 1700000000u, 0);
  expect(h, BLOCKLIST_KIND_NUMBER, "0812345679", 0, 0, "", "", 0, 0);
  /* an expired listing does not match */
  expect(h, BLOCKLIST_KIND_NUMBER, "089-876-5432", 0, 0, "", "", 0, 0);
  /* accounts: domestic and IBAN */
  expect(h, BLOCKLIST_KIND_ACCOUNT, "004 123-4-56789-0", 1, 1, "bank-004", "TH:004:1234567890",
         1700000200u, 4000000000u);
  expect(h, BLOCKLIST_KIND_ACCOUNT, "004/1234567890", 1, 1, "bank-004", "TH:004:1234567890",
         1700000200u, 4000000000u);
  expect(h, BLOCKLIST_KIND_ACCOUNT, "GB82 WEST 1234 5698 7654 32", 1, 1, "uk-nca",
         "GB82WEST12345698765432", 1700000300u, 0);
  expect(h, BLOCKLIST_KIND_ACCOUNT, "004 123-4-56789-1", 0, 0, "", "", 0, 0);
  /* domains: case, trailing dot, URL, subdomains caught by the listed parent */
  expect(h, BLOCKLIST_KIND_DOMAIN, "Scam.Example.", 1, 4, "th-dga", "scam.example", 1700000400u, 0);
  expect(h, BLOCKLIST_KIND_DOMAIN, "https://WWW.Scam.Example/login?x=1", 1, 4, "th-dga",
         "scam.example", 1700000400u, 0);
  expect(h, BLOCKLIST_KIND_DOMAIN, "a.b.scam.example", 1, 4, "th-dga", "scam.example", 1700000400u, 0);
  expect(h, BLOCKLIST_KIND_DOMAIN, "notscam.example", 0, 0, "", "", 0, 0);
  /* the same text as another kind is not listed */
  expect(h, BLOCKLIST_KIND_DOMAIN, "example.com", 0, 0, "", "", 0, 0);
}

static void convenience_calls_match_blocklist_check(const blocklist_handle *h) {
  blocklist_check_result r = BLOCKLIST_CHECK_RESULT_INIT;
  const char *account = "004 123-4-56789-0", *number = "+66812345678",
             *domain = "scam.example", *url = "http://login.scam.example:8080/a";
  CHECK_RC(blocklist_check_account(h, account, strlen(account), &r), BLOCKLIST_OK);
  CHECK(r.listed == 1 && r.kind == BLOCKLIST_KIND_ACCOUNT && r.reason == 1);
  CHECK_RC(blocklist_check_number(h, number, strlen(number), &r), BLOCKLIST_OK);
  CHECK(r.listed == 1 && r.kind == BLOCKLIST_KIND_NUMBER && r.reason == 2);
  CHECK_RC(blocklist_check_domain(h, domain, strlen(domain), &r), BLOCKLIST_OK);
  CHECK(r.listed == 1 && r.kind == BLOCKLIST_KIND_DOMAIN && r.reason == 4);
  CHECK_RC(blocklist_check_url(h, url, strlen(url), &r), BLOCKLIST_OK);
  CHECK(r.listed == 1 && r.kind == BLOCKLIST_KIND_DOMAIN && strcmp(r.matched, "scam.example") == 0);
  /* the length is honoured: no NUL needed, bytes past `len` are not read */
  CHECK_RC(blocklist_check_number(h, "+668123456789999", 12, &r), BLOCKLIST_OK);
  CHECK(r.listed == 1);
  /* UTF-8 domains (IDNA) */
  CHECK_RC(blocklist_check_domain(h, "ตัวอย่าง.com", strlen("ตัวอย่าง.com"), &r), BLOCKLIST_OK);
  CHECK(r.listed == 0);
}

static void batch_answers_each_query_and_reports_bad_items_in_place(const blocklist_handle *h) {
  blocklist_query q[6] = {
      {BLOCKLIST_KIND_NUMBER, "081-234-5678", 12},
      {BLOCKLIST_KIND_ACCOUNT, "004 123-4-56789-1", 17},
      {BLOCKLIST_KIND_DOMAIN, "x.scam.example", 14},
      {BLOCKLIST_KIND_DOMAIN, "co.th", 5},
      {99, "whatever", 8},
      {BLOCKLIST_KIND_ACCOUNT, "GB82WEST12345698765432", 22},
  };
  blocklist_check_result r[6] = { BLOCKLIST_CHECK_RESULT_INIT };
  char msg[256];
  size_t n;
  memset(r, 0xAB, sizeof r);
  r[0].size = sizeof r[0]; /* the marker spares the size */
  CHECK_RC(blocklist_check_batch(h, q, 6, r), BLOCKLIST_OK);
  CHECK(r[0].status == BLOCKLIST_OK && r[0].listed == 1 && r[0].reason == 2);
  CHECK(r[1].status == BLOCKLIST_OK && r[1].listed == 0);
  CHECK(r[2].status == BLOCKLIST_OK && r[2].listed == 1 && strcmp(r[2].matched, "scam.example") == 0);
  CHECK(r[3].status == BLOCKLIST_ERR_NOT_LISTABLE_DOMAIN && r[3].listed == 0);
  CHECK(r[4].status == BLOCKLIST_ERR_UNKNOWN_KIND && r[4].listed == 0);
  CHECK(r[5].status == BLOCKLIST_OK && r[5].listed == 1 && strcmp(r[5].agency, "uk-nca") == 0);
  for (int i = 0; i < 6; i++) CHECK(r[i].freshness == BLOCKLIST_FRESHNESS_FRESH && r[i].list_version == 5);
  /* the first bad item's message is the thread's last error */
  CHECK_RC(blocklist_last_error(msg, sizeof msg, &n), BLOCKLIST_OK);
  CHECK(strncmp(msg, "batch item 3:", 13) == 0);
  /* an empty batch is fine */
  CHECK_RC(blocklist_check_batch(h, q, 0, r), BLOCKLIST_OK);
}

static void canonical_batch_answers_like_the_single_check(const blocklist_handle *h) {
  blocklist_query q[6] = {
      {BLOCKLIST_KIND_NUMBER, "+66812345678", 12},
      {BLOCKLIST_KIND_ACCOUNT, "TH:004:1234567891", 17},
      {BLOCKLIST_KIND_DOMAIN, "x.scam.example", 14},
      {BLOCKLIST_KIND_NUMBER, "081-234-5678", 12}, /* as typed: not canonical */
      {99, "whatever", 8},
      {BLOCKLIST_KIND_ACCOUNT, "GB82WEST12345698765432", 22},
  };
  blocklist_check_result r[6] = { BLOCKLIST_CHECK_RESULT_INIT }, one = BLOCKLIST_CHECK_RESULT_INIT;
  char msg[256];
  size_t n;
  memset(r, 0xAB, sizeof r);
  r[0].size = sizeof r[0]; /* the marker spares the size */
  CHECK_RC(blocklist_check_canonical_batch(h, q, 6, r), BLOCKLIST_OK);
  CHECK(r[0].status == BLOCKLIST_OK && r[0].listed == 1 && r[0].reason == 2);
  CHECK(r[1].status == BLOCKLIST_OK && r[1].listed == 0);
  CHECK(r[2].status == BLOCKLIST_OK && r[2].listed == 1 && strcmp(r[2].matched, "scam.example") == 0);
  CHECK(r[3].status == BLOCKLIST_ERR_NOT_CANONICAL && r[3].listed == 0);
  CHECK(r[4].status == BLOCKLIST_ERR_UNKNOWN_KIND && r[4].listed == 0);
  CHECK(r[5].status == BLOCKLIST_OK && r[5].listed == 1 && strcmp(r[5].agency, "uk-nca") == 0);
  /* every valid item's answer is the single canonical check's, field by field */
  for (int i = 0; i < 6; i++) {
    if (r[i].status != BLOCKLIST_OK) continue;
    CHECK_RC(blocklist_check_canonical(h, q[i].kind, q[i].data, q[i].len, &one), BLOCKLIST_OK);
    CHECK(one.listed == r[i].listed && one.kind == r[i].kind && one.reason == r[i].reason &&
          one.listed_at == r[i].listed_at && one.expires_at == r[i].expires_at &&
          one.list_version == r[i].list_version && one.matched_len == r[i].matched_len &&
          strcmp(one.agency, r[i].agency) == 0 && strcmp(one.matched, r[i].matched) == 0);
  }
  CHECK_RC(blocklist_last_error(msg, sizeof msg, &n), BLOCKLIST_OK);
  CHECK(strncmp(msg, "batch item 3:", 13) == 0 && strstr(msg, "blocklist_normalise") != NULL);
  CHECK_RC(blocklist_check_canonical_batch(h, q, 0, r), BLOCKLIST_OK);
}

/* `matched` of a result passed back as the text of the check that fills that
 * same result, or of a batch whose results array holds it, and a buffer
 * normalised in place: each answers as if the text had been copied first. */
static void text_passed_back_into_its_own_result(const blocklist_handle *h) {
  blocklist_check_result r = BLOCKLIST_CHECK_RESULT_INIT,
                         batch[3] = {BLOCKLIST_CHECK_RESULT_INIT, BLOCKLIST_CHECK_RESULT_INIT,
                                     BLOCKLIST_CHECK_RESULT_INIT};
  blocklist_query q[3];
  char buf[BLOCKLIST_MATCHED_MAX] = "081-234-5678";
  size_t n = 0;
  CHECK_RC(blocklist_check_domain(h, "x.scam.example", 14, &r), BLOCKLIST_OK);
  CHECK(r.listed == 1 && strcmp(r.matched, "scam.example") == 0);
  CHECK_RC(blocklist_check_canonical(h, r.kind, r.matched, r.matched_len, &r), BLOCKLIST_OK);
  CHECK(r.listed == 1 && strcmp(r.matched, "scam.example") == 0 && r.reason == 4);
  CHECK_RC(blocklist_check(h, r.kind, r.matched, r.matched_len, &r), BLOCKLIST_OK);
  CHECK(r.listed == 1 && strcmp(r.matched, "scam.example") == 0);
  /* a batch re-checking the hits of an earlier batch, in the same array */
  CHECK_RC(blocklist_check_number(h, "081-234-5678", 12, &batch[0]), BLOCKLIST_OK);
  CHECK_RC(blocklist_check_account(h, "004 123-4-56789-0", 17, &batch[1]), BLOCKLIST_OK);
  CHECK_RC(blocklist_check_domain(h, "x.scam.example", 14, &batch[2]), BLOCKLIST_OK);
  for (int i = 0; i < 3; i++) {
    CHECK(batch[i].listed == 1);
    q[i].kind = batch[i].kind;
    q[i].data = batch[i].matched;
    q[i].len = batch[i].matched_len;
  }
  CHECK_RC(blocklist_check_canonical_batch(h, q, 3, batch), BLOCKLIST_OK);
  CHECK(batch[0].status == BLOCKLIST_OK && batch[0].listed == 1 && strcmp(batch[0].matched, "+66812345678") == 0);
  CHECK(batch[1].status == BLOCKLIST_OK && batch[1].listed == 1 && strcmp(batch[1].matched, "TH:004:1234567890") == 0);
  CHECK(batch[2].status == BLOCKLIST_OK && batch[2].listed == 1 && strcmp(batch[2].matched, "scam.example") == 0);
  CHECK_RC(blocklist_check_batch(h, q, 3, batch), BLOCKLIST_OK);
  for (int i = 0; i < 3; i++) CHECK(batch[i].status == BLOCKLIST_OK && batch[i].listed == 1);
  /* mixed: a text inside the results, one outside, an unknown kind over the results */
  q[0].kind = 99;
  q[1].data = "+66812345678";
  q[1].len = 12;
  q[1].kind = BLOCKLIST_KIND_NUMBER;
  CHECK_RC(blocklist_check_canonical_batch(h, q, 3, batch), BLOCKLIST_OK);
  CHECK(batch[0].status == BLOCKLIST_ERR_UNKNOWN_KIND && batch[0].listed == 0);
  CHECK(batch[1].status == BLOCKLIST_OK && batch[1].listed == 1 && strcmp(batch[1].matched, "+66812345678") == 0);
  CHECK(batch[2].status == BLOCKLIST_OK && batch[2].listed == 1 && strcmp(batch[2].matched, "scam.example") == 0);
  /* normalising a buffer in place */
  CHECK_RC(blocklist_normalise(h, BLOCKLIST_KIND_NUMBER, buf, strlen(buf), buf, sizeof buf, &n), BLOCKLIST_OK);
  CHECK(n == 12 && strcmp(buf, "+66812345678") == 0);
}

static void status_reports_version_age_and_entries(const blocklist_handle *h) {
  blocklist_status s = BLOCKLIST_STATUS_INIT;
  CHECK_RC(blocklist_handle_status(h, &s), BLOCKLIST_OK);
  CHECK(s.list_version == 5 && s.entries == 5 && s.freshness == BLOCKLIST_FRESHNESS_FRESH);
  CHECK(s.created_at > 1700000000u && s.age_seconds < 600);
  CHECK(s.reloads == 0 && s.reload_failures == 0 && s.last_reload_error == BLOCKLIST_OK);
}

static void old_data_is_answered_but_flagged_stale(const char *dir) {
  char path[1024];
  blocklist_options o = BLOCKLIST_OPTIONS_INIT;
  blocklist_check_result r = BLOCKLIST_CHECK_RESULT_INIT;
  blocklist_status s = BLOCKLIST_STATUS_INIT;
  blocklist_handle *h;
  CHECK_RC(blocklist_options_default(&o), BLOCKLIST_OK);
  CHECK(o.max_age_seconds == BLOCKLIST_DEFAULT_MAX_AGE_SECONDS);
  o.reload_interval_ms = 0;
  join(path, sizeof path, dir, "aged.idx");
  h = open_or_die(path, &o);
  CHECK_RC(blocklist_check_number(h, "0812345678", 10, &r), BLOCKLIST_OK);
  CHECK(r.listed == 1 && r.freshness == BLOCKLIST_FRESHNESS_STALE && r.list_version == 1);
  CHECK_RC(blocklist_handle_status(h, &s), BLOCKLIST_OK);
  CHECK(s.freshness == BLOCKLIST_FRESHNESS_STALE && s.age_seconds > 86400);
  blocklist_close(h);
  /* max_age_seconds = 0: never stale */
  o.max_age_seconds = 0;
  h = open_or_die(path, &o);
  CHECK_RC(blocklist_check_number(h, "0812345678", 10, &r), BLOCKLIST_OK);
  CHECK(r.freshness == BLOCKLIST_FRESHNESS_FRESH);
  blocklist_close(h);
}

static void a_missing_index_answers_no_data_until_it_is_published(const char *dir) {
  char folder[1024], target[1024], newer[1024];
  blocklist_options o = BLOCKLIST_OPTIONS_INIT;
  blocklist_check_result r = BLOCKLIST_CHECK_RESULT_INIT;
  blocklist_status s = BLOCKLIST_STATUS_INIT;
  blocklist_handle *h;
  CHECK_RC(blocklist_options_default(&o), BLOCKLIST_OK);
  o.reload_interval_ms = 0;
  o.allow_missing = 1;
  join(folder, sizeof folder, dir, "empty");
  join(target, sizeof target, folder, "lookup.idx");
  join(newer, sizeof newer, dir, "newer.idx");
  h = open_or_die(folder, &o);
  CHECK_RC(blocklist_check_number(h, "0812345678", 10, &r), BLOCKLIST_OK);
  CHECK(r.listed == 0 && r.freshness == BLOCKLIST_FRESHNESS_NO_DATA && r.list_version == 0);
  /* both batches too: every item answered "not listed", without data */
  for (int canonical = 0; canonical < 2; canonical++) {
    blocklist_query q[2] = {{BLOCKLIST_KIND_NUMBER, "+66812345678", 12}, {BLOCKLIST_KIND_DOMAIN, "scam.example", 12}};
    blocklist_check_result b[2] = { BLOCKLIST_CHECK_RESULT_INIT };
    memset(b, 0xAB, sizeof b);
    b[0].size = sizeof b[0]; /* the marker spares the size */
    CHECK_RC((canonical ? blocklist_check_canonical_batch : blocklist_check_batch)(h, q, 2, b), BLOCKLIST_OK);
    for (int i = 0; i < 2; i++)
      CHECK(b[i].status == BLOCKLIST_OK && b[i].listed == 0 && b[i].freshness == BLOCKLIST_FRESHNESS_NO_DATA &&
            b[i].list_version == 0);
  }
  /* text that is no identifier is refused as with data, alone or in a batch */
  {
    blocklist_query q = {BLOCKLIST_KIND_NUMBER, "hello", 5};
    blocklist_check_result b = BLOCKLIST_CHECK_RESULT_INIT;
    blocklist_result rc = blocklist_check_number(h, "hello", 5, &r);
    CHECK(rc >= 200 && rc < 300);
    CHECK_RC(blocklist_check_batch(h, &q, 1, &b), BLOCKLIST_OK);
    CHECK(b.status == rc && b.freshness == BLOCKLIST_FRESHNESS_NO_DATA);
  }
  CHECK_RC(blocklist_handle_status(h, &s), BLOCKLIST_OK);
  CHECK(s.freshness == BLOCKLIST_FRESHNESS_NO_DATA && s.list_version == 0);
  CHECK_RC(blocklist_handle_reload(h), BLOCKLIST_ERR_INDEX_NOT_FOUND);
  /* a corrupt first file is refused once, then left alone until replaced */
  {
    size_t len;
    unsigned char *bytes = read_file(newer, &len);
    bytes[len / 2] ^= 0x01;
    publish(target, bytes, len);
    free(bytes);
  }
  CHECK_RC(blocklist_handle_reload(h), BLOCKLIST_ERR_INDEX_CORRUPT);
  CHECK_RC(blocklist_handle_reload(h), BLOCKLIST_OK);
  CHECK_RC(blocklist_handle_status(h, &s), BLOCKLIST_OK);
  CHECK(s.reload_failures == 1 && s.last_reload_error == BLOCKLIST_ERR_INDEX_CORRUPT &&
        s.freshness == BLOCKLIST_FRESHNESS_NO_DATA);
  publish_copy(newer, target);
  CHECK_RC(blocklist_handle_reload(h), BLOCKLIST_OK);
  CHECK_RC(blocklist_check_number(h, "0812345678", 10, &r), BLOCKLIST_OK);
  CHECK(r.listed == 1 && r.freshness == BLOCKLIST_FRESHNESS_FRESH && r.list_version == 6);
  CHECK_RC(blocklist_handle_status(h, &s), BLOCKLIST_OK);
  CHECK(s.reloads == 1 && s.reload_failures == 1 && s.last_reload_error == BLOCKLIST_OK);
  blocklist_close(h);

  /* a data folder the daemon has not even created yet */
  join(folder, sizeof folder, dir, "not-yet");
  join(target, sizeof target, folder, "lookup.idx");
  h = open_or_die(folder, &o);
  CHECK_RC(blocklist_handle_reload(h), BLOCKLIST_ERR_INDEX_NOT_FOUND);
  CHECK(mkdir(folder, 0755) == 0);
  CHECK_RC(blocklist_handle_reload(h), BLOCKLIST_ERR_INDEX_NOT_FOUND);
  publish_copy(newer, target);
  CHECK_RC(blocklist_handle_reload(h), BLOCKLIST_OK);
  CHECK_RC(blocklist_check_number(h, "0812345678", 10, &r), BLOCKLIST_OK);
  CHECK(r.listed == 1 && r.list_version == 6);
  blocklist_close(h);
}

static void the_background_thread_picks_up_a_newer_index(const char *dir) {
  char work[1024], target[1024], newer[1024], source[1024];
  blocklist_options o = BLOCKLIST_OPTIONS_INIT;
  blocklist_check_result r = BLOCKLIST_CHECK_RESULT_INIT;
  blocklist_handle *h;
  int waited = 0;
  join(work, sizeof work, dir, "work");
  join(target, sizeof target, work, "lookup.idx");
  join(newer, sizeof newer, dir, "newer.idx");
  join(source, sizeof source, dir, "data/lookup.idx");
  publish_copy(source, target);
  CHECK_RC(blocklist_options_default(&o), BLOCKLIST_OK);
  o.reload_interval_ms = 5;
  h = open_or_die(work, &o);
  CHECK_RC(blocklist_check_number(h, "0899999999", 10, &r), BLOCKLIST_OK);
  CHECK(r.listed == 0 && r.list_version == 5);
  publish_copy(newer, target);
  for (;;) {
    struct timespec ms = {0, 1000000};
    CHECK_RC(blocklist_check_number(h, "0899999999", 10, &r), BLOCKLIST_OK);
    if (r.list_version == 6 || ++waited > 5000) break;
    nanosleep(&ms, NULL);
  }
  CHECK(r.list_version == 6 && r.listed == 1);
  blocklist_close(h);
}

/* Whether this process maps a file named lookup.idx. */
static int index_mapped(void) {
  char line[4096];
  int found = 0;
  FILE *maps = fopen("/proc/self/maps", "r");
  if (!maps) return -1;
  while (!found && fgets(line, sizeof line, maps)) found = strstr(line, "/lookup.idx") != NULL;
  fclose(maps);
  return found;
}

/* A child forked from a process with an open handle has the handle's
 * lookups but not its reload thread: it checks, is refused a reload, then
 * closes its copy, which unmaps the index, without a word on stderr (joining
 * the absent thread used to fail and print). */
static void a_forked_child_checks_and_closes_its_copy(const char *dir) {
  char data[1024], said[256];
  blocklist_options o = BLOCKLIST_OPTIONS_INIT;
  blocklist_handle *h;
  int err[2], status;
  ssize_t n;
  pid_t pid;
  join(data, sizeof data, dir, "data");
  CHECK_RC(blocklist_options_default(&o), BLOCKLIST_OK);
  o.reload_interval_ms = 5;
  h = open_or_die(data, &o);
  CHECK(pipe(err) == 0);
  fflush(NULL);
  pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    blocklist_check_result r = BLOCKLIST_CHECK_RESULT_INIT;
    dup2(err[1], 2);
    close(err[0]);
    close(err[1]);
    if (blocklist_check_number(h, "0812345678", 10, &r) != BLOCKLIST_OK || r.listed != 1) _exit(3);
    /* the parent's reload lock may have been copied held: refused, never waited on */
    if (blocklist_handle_reload(h) != BLOCKLIST_ERR_INTERNAL) _exit(4);
    if (!index_mapped()) _exit(5);
    blocklist_close(h);
    if (index_mapped()) _exit(6); /* closing the child's copy unmaps it there too */
    _exit(0);
  }
  close(err[1]);
  n = read(err[0], said, sizeof said - 1); /* 0 once the child exits having said nothing */
  close(err[0]);
  CHECK(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  if (n > 0) {
    said[n] = 0;
    fprintf(stderr, "child wrote to stderr: %s\n", said);
  }
  CHECK(n == 0);
  blocklist_close(h);
}

int main(int argc, char **argv) {
  char data[1024];
  blocklist_handle *h;
  if (argc != 2) {
    fprintf(stderr, "usage: correctness <dir>\n");
    return 2;
  }
  CHECK(strcmp(blocklist_version(), "0.1.0") == 0);
  join(data, sizeof data, argv[1], "data");
  /* the folder form: <data>/lookup.idx */
  h = open_or_die(data, &(blocklist_options){sizeof(blocklist_options), 0, 0, 0, "TH", {0}});
  every_kind_through_blocklist_check(h);
  convenience_calls_match_blocklist_check(h);
  batch_answers_each_query_and_reports_bad_items_in_place(h);
  canonical_batch_answers_like_the_single_check(h);
  text_passed_back_into_its_own_result(h);
  status_reports_version_age_and_entries(h);
  blocklist_close(h);
  /* the file form, with the default options */
  join(data, sizeof data, argv[1], "data/lookup.idx");
  CHECK_RC(blocklist_open(data, &h), BLOCKLIST_OK);
  every_kind_through_blocklist_check(h);
  blocklist_close(h);
  old_data_is_answered_but_flagged_stale(argv[1]);
  a_missing_index_answers_no_data_until_it_is_published(argv[1]);
  the_background_thread_picks_up_a_newer_index(argv[1]);
  /* Under valgrind a forked child holds a copy of memory the parent's reload
   * thread owns, with no such thread: its leak check calls that lost. */
  if (getenv("BLOCKLIST_TEST_NO_FORK") == NULL) a_forked_child_checks_and_closes_its_copy(argv[1]);
  blocklist_close(NULL);
  return finish("correctness");
}
