/* Every result code: each one the C API can return is provoked where the
 * header documents it, outputs stay unwritten on error, every code has its
 * text, and a refused reload keeps the previous index.
 *
 * usage: errors <dir>   (the layout of correctness.c; also <dir>/older.idx,
 * list version 3, and <dir>/work2, a folder this program may scribble in) */
#include "testutil.h"

#include <pthread.h>
#include <sys/stat.h>

/* Codes the C API cannot be made to return on purpose, and why. */
static const blocklist_result UNPROVOKABLE[] = {
    BLOCKLIST_ERR_INVALID_IDENTIFIER, /* catch-all for normaliser errors newer than the table */
    BLOCKLIST_ERR_INDEX_OTHER,        /* catch-all for index errors newer than the table */
    BLOCKLIST_ERR_PANIC,              /* a bug; the boundary is unit-tested in Rust */
    BLOCKLIST_ERR_INTERNAL,           /* the reload thread could not be started */
};

static const blocklist_result ALL[] = {
    BLOCKLIST_OK,
    BLOCKLIST_ERR_NULL_POINTER, BLOCKLIST_ERR_INVALID_UTF8, BLOCKLIST_ERR_EMPTY_INPUT,
    BLOCKLIST_ERR_INPUT_TOO_LONG, BLOCKLIST_ERR_UNKNOWN_KIND, BLOCKLIST_ERR_INVALID_OPTIONS,
    BLOCKLIST_ERR_BATCH_TOO_LARGE, BLOCKLIST_ERR_BUFFER_TOO_SMALL,
    BLOCKLIST_ERR_BLANK_IDENTIFIER, BLOCKLIST_ERR_INVALID_CHARACTER, BLOCKLIST_ERR_WRONG_LENGTH,
    BLOCKLIST_ERR_MALFORMED, BLOCKLIST_ERR_INVALID_NUMBER, BLOCKLIST_ERR_INVALID_ACCOUNT,
    BLOCKLIST_ERR_NOT_LISTABLE_DOMAIN, BLOCKLIST_ERR_UNSUPPORTED_REGION,
    BLOCKLIST_ERR_NOT_CANONICAL, BLOCKLIST_ERR_INVALID_IDENTIFIER,
    BLOCKLIST_ERR_INDEX_NOT_FOUND, BLOCKLIST_ERR_INDEX_IO, BLOCKLIST_ERR_INDEX_CORRUPT,
    BLOCKLIST_ERR_INDEX_UNSUPPORTED_FORMAT, BLOCKLIST_ERR_INDEX_STALE,
    BLOCKLIST_ERR_INDEX_MODIFIED, BLOCKLIST_ERR_INDEX_NOT_A_FILE, BLOCKLIST_ERR_INDEX_OTHER,
    BLOCKLIST_ERR_PANIC, BLOCKLIST_ERR_INTERNAL,
};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int seen[1000];

/* Asserts `call` returns `code` and records it as provoked. */
#define EXPECT_CODE(call, code)        \
  do {                                 \
    CHECK_RC(call, code);              \
    seen[(code)] = 1;                  \
  } while (0)

/* A result filled with a marker: an error must leave it untouched. */
static blocklist_check_result marked(void) {
  blocklist_check_result r;
  memset(&r, 0x5A, sizeof r);
  r.size = sizeof r;
  return r;
}

static int untouched(const blocklist_check_result *r) {
  const unsigned char *p = (const unsigned char *)r;
  if (r->size != sizeof *r) return 0;
  for (size_t i = sizeof r->size; i < sizeof *r; i++)
    if (p[i] != 0x5A) return 0;
  return 1;
}

static void check_is(const blocklist_handle *h, blocklist_kind kind, const char *text,
                     blocklist_result code) {
  blocklist_check_result r = marked();
  blocklist_result rc = blocklist_check(h, kind, text, strlen(text), &r);
  if (rc != code) {
    fprintf(stderr, "check(%d, \"%s\") returned %d, expected %d\n", kind, text, (int)rc, (int)code);
    print_last_error();
    failures++;
  }
  seen[code] = 1;
  CHECK(untouched(&r));
}

static void argument_errors(const blocklist_handle *h) {
  blocklist_check_result r = marked();
  char big[BLOCKLIST_MAX_INPUT_LEN + 1];
  blocklist_query q = {BLOCKLIST_KIND_NUMBER, "0812345678", 10};
  char buf[8];
  size_t n = 12345;
  memset(big, 'a', sizeof big);
  EXPECT_CODE(blocklist_check(NULL, BLOCKLIST_KIND_NUMBER, "0812345678", 10, &r), BLOCKLIST_ERR_NULL_POINTER);
  EXPECT_CODE(blocklist_check(h, BLOCKLIST_KIND_NUMBER, NULL, 10, &r), BLOCKLIST_ERR_NULL_POINTER);
  EXPECT_CODE(blocklist_check(h, BLOCKLIST_KIND_NUMBER, NULL, 0, &r), BLOCKLIST_ERR_NULL_POINTER);
  EXPECT_CODE(blocklist_check(h, BLOCKLIST_KIND_NUMBER, "0812345678", 10, NULL), BLOCKLIST_ERR_NULL_POINTER);
  EXPECT_CODE(blocklist_check(h, BLOCKLIST_KIND_NUMBER, "\xff\xfe", 2, &r), BLOCKLIST_ERR_INVALID_UTF8);
  EXPECT_CODE(blocklist_check_domain(h, "scam.exampl\xc3", 12, &r), BLOCKLIST_ERR_INVALID_UTF8);
  EXPECT_CODE(blocklist_check(h, BLOCKLIST_KIND_NUMBER, "0812345678", 0, &r), BLOCKLIST_ERR_EMPTY_INPUT);
  EXPECT_CODE(blocklist_check_url(h, big, sizeof big, &r), BLOCKLIST_ERR_INPUT_TOO_LONG);
  EXPECT_CODE(blocklist_check(h, BLOCKLIST_KIND_NUMBER, big, (size_t)-1, &r), BLOCKLIST_ERR_INPUT_TOO_LONG);
  EXPECT_CODE(blocklist_check(h, 0, "0812345678", 10, &r), BLOCKLIST_ERR_UNKNOWN_KIND);
  EXPECT_CODE(blocklist_check(h, 4, "0812345678", 10, &r), BLOCKLIST_ERR_UNKNOWN_KIND);
  CHECK(untouched(&r));
  {
    /* A first result whose size was never set (stack garbage): refused,
     * never taken as the array's stride. */
    blocklist_check_result wild = BLOCKLIST_CHECK_RESULT_INIT;
    wild.size = 0x10000008u;
    EXPECT_CODE(blocklist_check_batch(h, &q, 1, &wild), BLOCKLIST_ERR_STRUCT_SIZE);
    EXPECT_CODE(blocklist_check_canonical_batch(h, &q, 1, &wild), BLOCKLIST_ERR_STRUCT_SIZE);
  }
  EXPECT_CODE(blocklist_check_batch(h, &q, (size_t)BLOCKLIST_MAX_BATCH + 1, &r), BLOCKLIST_ERR_BATCH_TOO_LARGE);
  EXPECT_CODE(blocklist_check_batch(h, NULL, 1, &r), BLOCKLIST_ERR_NULL_POINTER);
  EXPECT_CODE(blocklist_check_batch(h, &q, 1, NULL), BLOCKLIST_ERR_NULL_POINTER);
  EXPECT_CODE(blocklist_check_batch(NULL, &q, 1, &r), BLOCKLIST_ERR_NULL_POINTER);
  EXPECT_CODE(blocklist_check_canonical_batch(h, &q, (size_t)BLOCKLIST_MAX_BATCH + 1, &r),
              BLOCKLIST_ERR_BATCH_TOO_LARGE);
  EXPECT_CODE(blocklist_check_canonical_batch(h, NULL, 1, &r), BLOCKLIST_ERR_NULL_POINTER);
  EXPECT_CODE(blocklist_check_canonical_batch(h, &q, 1, NULL), BLOCKLIST_ERR_NULL_POINTER);
  EXPECT_CODE(blocklist_check_canonical_batch(NULL, &q, 1, &r), BLOCKLIST_ERR_NULL_POINTER);
  CHECK(untouched(&r));
  EXPECT_CODE(blocklist_last_error(buf, 0, &n), BLOCKLIST_ERR_BUFFER_TOO_SMALL);
  EXPECT_CODE(blocklist_last_error(NULL, 8, &n), BLOCKLIST_ERR_NULL_POINTER);
  EXPECT_CODE(blocklist_last_error(buf, 8, NULL), BLOCKLIST_ERR_NULL_POINTER);
  CHECK(n == 12345);
  /* ...and those failures kept the message of the last failed call */
  {
    char full[256];
    CHECK_RC(blocklist_last_error(full, sizeof full, &n), BLOCKLIST_OK);
    CHECK(strstr(full, "handle") != NULL);
    EXPECT_CODE(blocklist_handle_reload_error(h, full, 0, &n), BLOCKLIST_ERR_BUFFER_TOO_SMALL);
    CHECK_RC(blocklist_last_error(full, sizeof full, &n), BLOCKLIST_OK);
    CHECK(strstr(full, "handle") != NULL);
    /* a size past what any buffer can be is not a fault: only the bytes
     * written are used */
    CHECK_RC(blocklist_last_error(full, SIZE_MAX, &n), BLOCKLIST_OK);
    CHECK(strlen(full) == n);
    CHECK_RC(blocklist_normalise(h, BLOCKLIST_KIND_NUMBER, "081-234-5678", 12, full, SIZE_MAX, &n),
             BLOCKLIST_OK);
    CHECK(n == 12 && strcmp(full, "+66812345678") == 0);
  }
  /* truncation: the full length is reported */
  CHECK_RC(blocklist_last_error(buf, sizeof buf, &n), BLOCKLIST_OK);
  CHECK(strlen(buf) == 7 && n > 7);
  EXPECT_CODE(blocklist_options_default(NULL), BLOCKLIST_ERR_NULL_POINTER);
  EXPECT_CODE(blocklist_handle_status(NULL, NULL), BLOCKLIST_ERR_NULL_POINTER);
  EXPECT_CODE(blocklist_handle_reload(NULL), BLOCKLIST_ERR_NULL_POINTER);
  EXPECT_CODE(blocklist_handle_reload_error(h, buf, 0, &n), BLOCKLIST_ERR_BUFFER_TOO_SMALL);
}

static void identifier_errors(const blocklist_handle *h) {
  char msg[512];
  size_t n;
  check_is(h, BLOCKLIST_KIND_NUMBER, "   ", BLOCKLIST_ERR_BLANK_IDENTIFIER);
  check_is(h, BLOCKLIST_KIND_NUMBER, "081-234-567x", BLOCKLIST_ERR_INVALID_CHARACTER);
  check_is(h, BLOCKLIST_KIND_DOMAIN, "bad_label.com", BLOCKLIST_ERR_INVALID_CHARACTER);
  check_is(h, BLOCKLIST_KIND_DOMAIN, "xn--a.com", BLOCKLIST_ERR_INVALID_CHARACTER);
  check_is(h, BLOCKLIST_KIND_NUMBER, "08123", BLOCKLIST_ERR_WRONG_LENGTH);
  check_is(h, BLOCKLIST_KIND_ACCOUNT, "GB82WEST123456987654", BLOCKLIST_ERR_WRONG_LENGTH);
  check_is(h, BLOCKLIST_KIND_ACCOUNT, "hello", BLOCKLIST_ERR_MALFORMED);
  check_is(h, BLOCKLIST_KIND_DOMAIN, "someone@scam.example", BLOCKLIST_ERR_MALFORMED);
  check_is(h, BLOCKLIST_KIND_DOMAIN, "1.2.3.4", BLOCKLIST_ERR_MALFORMED);
  check_is(h, BLOCKLIST_KIND_NUMBER, "1191", BLOCKLIST_ERR_INVALID_NUMBER);
  check_is(h, BLOCKLIST_KIND_NUMBER, "+999 1234", BLOCKLIST_ERR_INVALID_NUMBER);
  check_is(h, BLOCKLIST_KIND_ACCOUNT, "999 1234567890", BLOCKLIST_ERR_INVALID_ACCOUNT);
  check_is(h, BLOCKLIST_KIND_ACCOUNT, "GB00WEST12345698765432", BLOCKLIST_ERR_INVALID_ACCOUNT);
  check_is(h, BLOCKLIST_KIND_DOMAIN, "co.th", BLOCKLIST_ERR_NOT_LISTABLE_DOMAIN);
  check_is(h, BLOCKLIST_KIND_DOMAIN, "localhost", BLOCKLIST_ERR_NOT_LISTABLE_DOMAIN);
  /* the per-thread message gives the detail */
  check_is(h, BLOCKLIST_KIND_NUMBER, "081-234-567x", BLOCKLIST_ERR_INVALID_CHARACTER);
  CHECK_RC(blocklist_last_error(msg, sizeof msg, &n), BLOCKLIST_OK);
  CHECK(strstr(msg, "'x'") != NULL && n == strlen(msg));
}

/* Normalising once and checking the canonical form: text as people write it
 * is refused by the canonical check, and a short buffer by the normaliser. */
static void canonical_errors(const blocklist_handle *h) {
  static const struct { blocklist_kind kind; const char *text; } raw[] = {
      {BLOCKLIST_KIND_NUMBER, "081-234-5678"},   {BLOCKLIST_KIND_NUMBER, "0812345678"},
      {BLOCKLIST_KIND_ACCOUNT, "004 1234567890"}, {BLOCKLIST_KIND_ACCOUNT, "th:004:1234567890"},
      {BLOCKLIST_KIND_DOMAIN, "WWW.Scam.Example."}, {BLOCKLIST_KIND_DOMAIN, "https://scam.example/"},
      {BLOCKLIST_KIND_DOMAIN, "scam..example"},
  };
  blocklist_check_result r = marked();
  char buf[BLOCKLIST_MATCHED_MAX];
  size_t n = 12345;
  for (size_t i = 0; i < COUNT(raw); i++) {
    EXPECT_CODE(blocklist_check_canonical(h, raw[i].kind, raw[i].text, strlen(raw[i].text), &r),
                BLOCKLIST_ERR_NOT_CANONICAL);
    CHECK(untouched(&r));
  }
  EXPECT_CODE(blocklist_check_canonical(NULL, BLOCKLIST_KIND_NUMBER, "+66812345678", 12, &r),
              BLOCKLIST_ERR_NULL_POINTER);
  EXPECT_CODE(blocklist_check_canonical(h, 9, "+66812345678", 12, &r), BLOCKLIST_ERR_UNKNOWN_KIND);
  EXPECT_CODE(blocklist_check_canonical(h, BLOCKLIST_KIND_NUMBER, "+66812345678", 0, &r),
              BLOCKLIST_ERR_EMPTY_INPUT);
  EXPECT_CODE(blocklist_check_canonical(h, BLOCKLIST_KIND_NUMBER, "+66812345678", 12, NULL),
              BLOCKLIST_ERR_NULL_POINTER);
  CHECK(untouched(&r));
  /* "+66812345678" needs 13 bytes with its NUL */
  memset(buf, 0x5A, sizeof buf);
  EXPECT_CODE(blocklist_normalise(h, BLOCKLIST_KIND_NUMBER, "081-234-5678", 12, buf, 12, &n),
              BLOCKLIST_ERR_BUFFER_TOO_SMALL);
  CHECK(buf[0] == 0x5A && n == 12345);
  EXPECT_CODE(blocklist_normalise(h, BLOCKLIST_KIND_NUMBER, "081-234-567x", 12, buf, sizeof buf, &n),
              BLOCKLIST_ERR_INVALID_CHARACTER);
  EXPECT_CODE(blocklist_normalise(h, BLOCKLIST_KIND_NUMBER, "081-234-5678", 12, NULL, 16, &n),
              BLOCKLIST_ERR_NULL_POINTER);
  EXPECT_CODE(blocklist_normalise(h, BLOCKLIST_KIND_NUMBER, "081-234-5678", 12, buf, 16, NULL),
              BLOCKLIST_ERR_NULL_POINTER);
  CHECK(buf[0] == 0x5A && n == 12345);
  CHECK_RC(blocklist_normalise(h, BLOCKLIST_KIND_NUMBER, "081-234-5678", 12, buf, 13, &n),
           BLOCKLIST_OK);
  CHECK(n == 12 && strcmp(buf, "+66812345678") == 0);
}

static void open_errors(const char *dir) {
  char path[1024], work[1024], good[1024];
  blocklist_options o = BLOCKLIST_OPTIONS_INIT;
  blocklist_handle *h = (blocklist_handle *)&o; /* a marker: must stay unwritten */
  unsigned char *bytes;
  size_t len;
  CHECK_RC(blocklist_options_default(&o), BLOCKLIST_OK);
  o.reload_interval_ms = 0;
  join(good, sizeof good, dir, "data/lookup.idx");
  join(work, sizeof work, dir, "work2/broken.idx");
  EXPECT_CODE(blocklist_open(NULL, &h), BLOCKLIST_ERR_NULL_POINTER);
  EXPECT_CODE(blocklist_open(good, NULL), BLOCKLIST_ERR_NULL_POINTER);
  EXPECT_CODE(blocklist_open_with_options(good, NULL, &h), BLOCKLIST_ERR_NULL_POINTER);
  EXPECT_CODE(blocklist_open("", &h), BLOCKLIST_ERR_EMPTY_INPUT);
  join(path, sizeof path, dir, "no-such-file.idx");
  EXPECT_CODE(blocklist_open(path, &h), BLOCKLIST_ERR_INDEX_NOT_FOUND);
  join(path, sizeof path, dir, "empty"); /* a folder without lookup.idx */
  EXPECT_CODE(blocklist_open_with_options(path, &o, &h), BLOCKLIST_ERR_INDEX_NOT_FOUND);
  /* a path through a regular file: not "missing", unreadable */
  join(path, sizeof path, good, "lookup.idx");
  EXPECT_CODE(blocklist_open_with_options(path, &o, &h), BLOCKLIST_ERR_INDEX_IO);
  /* a FIFO, given as the file or as the folder's lookup.idx: refused at
   * once (it used to block the open forever, waiting for a writer) */
  join(path, sizeof path, dir, "work2/fifo.idx");
  CHECK(mkfifo(path, 0600) == 0);
  EXPECT_CODE(blocklist_open_with_options(path, &o, &h), BLOCKLIST_ERR_INDEX_NOT_A_FILE);
  join(path, sizeof path, dir, "fifo");
  CHECK(mkdir(path, 0700) == 0);
  join(path, sizeof path, dir, "fifo/lookup.idx");
  CHECK(mkfifo(path, 0600) == 0);
  join(path, sizeof path, dir, "fifo");
  EXPECT_CODE(blocklist_open_with_options(path, &o, &h), BLOCKLIST_ERR_INDEX_NOT_A_FILE);
  /* options */
  o.default_region[0] = 'Z'; o.default_region[1] = 'Z';
  EXPECT_CODE(blocklist_open_with_options(good, &o, &h), BLOCKLIST_ERR_UNSUPPORTED_REGION);
  /* Any region of libphonenumber's metadata reads national numbers. */
  memcpy(o.default_region, "us", 3);
  {
    blocklist_handle *us = NULL;
    char canonical[BLOCKLIST_MATCHED_MAX];
    size_t n = 0;
    blocklist_check_result r = BLOCKLIST_CHECK_RESULT_INIT;
    CHECK_RC(blocklist_open_with_options(good, &o, &us), BLOCKLIST_OK);
    CHECK_RC(blocklist_normalise(us, BLOCKLIST_KIND_NUMBER, "(212) 555-1234", 14, canonical,
                                 sizeof canonical, &n), BLOCKLIST_OK);
    CHECK(n == 12 && strcmp(canonical, "+12125551234") == 0);
    CHECK_RC(blocklist_check_canonical(us, BLOCKLIST_KIND_NUMBER, canonical, n, &r), BLOCKLIST_OK);
    blocklist_close(us);
  }
  memcpy(o.default_region, "THX", 4);
  EXPECT_CODE(blocklist_open_with_options(good, &o, &h), BLOCKLIST_ERR_INVALID_OPTIONS);
  memset(o.default_region, 'T', sizeof o.default_region);
  EXPECT_CODE(blocklist_open_with_options(good, &o, &h), BLOCKLIST_ERR_INVALID_OPTIONS);
  memcpy(o.default_region, "th", 3);
  o.allow_missing = 2;
  EXPECT_CODE(blocklist_open_with_options(good, &o, &h), BLOCKLIST_ERR_INVALID_OPTIONS);
  o.allow_missing = 0;
  o.reserved[6] = 1; /* a field of a later library */
  EXPECT_CODE(blocklist_open_with_options(good, &o, &h), BLOCKLIST_ERR_INVALID_OPTIONS);
  o.reserved[6] = 0;
  /* damaged files */
  bytes = read_file(good, &len);
  publish(work, bytes, 100); /* truncated */
  EXPECT_CODE(blocklist_open_with_options(work, &o, &h), BLOCKLIST_ERR_INDEX_CORRUPT);
  bytes[len / 2] ^= 0x01; /* one flipped bit: checksum */
  publish(work, bytes, len);
  EXPECT_CODE(blocklist_open_with_options(work, &o, &h), BLOCKLIST_ERR_INDEX_CORRUPT);
  bytes[len / 2] ^= 0x01;
  bytes[0] = 'X'; /* not an index file */
  publish(work, bytes, len);
  EXPECT_CODE(blocklist_open_with_options(work, &o, &h), BLOCKLIST_ERR_INDEX_CORRUPT);
  bytes[0] = 'B';
  bytes[8] = 99; /* a future format version */
  publish(work, bytes, len);
  EXPECT_CODE(blocklist_open_with_options(work, &o, &h), BLOCKLIST_ERR_INDEX_UNSUPPORTED_FORMAT);
  free(bytes);
  CHECK(h == (blocklist_handle *)&o);
  /* lowercase region is accepted */
  CHECK_RC(blocklist_open_with_options(good, &o, &h), BLOCKLIST_OK);
  blocklist_close(h);
}

/* A refused reload keeps answering from the previous index. */
static void refused_reloads_keep_the_previous_index(const char *dir) {
  char target[1024], good[1024], older[1024], msg[512];
  blocklist_options o = BLOCKLIST_OPTIONS_INIT;
  blocklist_handle *h = NULL;
  blocklist_check_result r = BLOCKLIST_CHECK_RESULT_INIT;
  blocklist_status s = BLOCKLIST_STATUS_INIT;
  unsigned char *bytes;
  size_t len, n;
  join(target, sizeof target, dir, "work2/lookup.idx");
  join(good, sizeof good, dir, "data/lookup.idx");
  join(older, sizeof older, dir, "older.idx");
  publish_copy(good, target);
  CHECK_RC(blocklist_options_default(&o), BLOCKLIST_OK);
  o.reload_interval_ms = 0;
  CHECK_RC(blocklist_open_with_options(target, &o, &h), BLOCKLIST_OK);
  if (!h) return;
  CHECK_RC(blocklist_handle_reload(h), BLOCKLIST_OK); /* unchanged */
  /* a corrupt file is published */
  bytes = read_file(good, &len);
  bytes[len - 1] ^= 0x80;
  publish(target, bytes, len);
  free(bytes);
  EXPECT_CODE(blocklist_handle_reload(h), BLOCKLIST_ERR_INDEX_CORRUPT);
  CHECK_RC(blocklist_check_number(h, "0812345678", 10, &r), BLOCKLIST_OK);
  CHECK(r.listed == 1 && r.list_version == 5);
  CHECK_RC(blocklist_handle_status(h, &s), BLOCKLIST_OK);
  CHECK(s.list_version == 5 && s.last_reload_error == BLOCKLIST_ERR_INDEX_CORRUPT && s.reload_failures == 1);
  CHECK_RC(blocklist_handle_reload_error(h, msg, sizeof msg, &n), BLOCKLIST_OK);
  CHECK(strstr(msg, "corrupt") != NULL);
  /* the same refused file is not retried */
  CHECK_RC(blocklist_handle_reload(h), BLOCKLIST_OK);
  /* an older list version is refused */
  publish_copy(older, target);
  EXPECT_CODE(blocklist_handle_reload(h), BLOCKLIST_ERR_INDEX_STALE);
  CHECK_RC(blocklist_check_number(h, "0812345678", 10, &r), BLOCKLIST_OK);
  CHECK(r.listed == 1 && r.list_version == 5);
  /* the file disappears: the handle keeps serving */
  CHECK(remove(target) == 0);
  EXPECT_CODE(blocklist_handle_reload(h), BLOCKLIST_ERR_INDEX_NOT_FOUND);
  CHECK_RC(blocklist_check_number(h, "0812345678", 10, &r), BLOCKLIST_OK);
  CHECK(r.listed == 1 && r.list_version == 5);
  /* and a good file is taken again */
  publish_copy(good, target);
  CHECK_RC(blocklist_handle_reload(h), BLOCKLIST_OK);
  CHECK_RC(blocklist_handle_status(h, &s), BLOCKLIST_OK);
  CHECK(s.reloads == 1 && s.reload_failures == 3 && s.last_reload_error == BLOCKLIST_OK);
  /* an older index copied over the served file in place (a careless backup
   * restore): the served map changed under the handle, and the file there
   * is refused, so answers are withheld until a valid file is published */
  overwrite_in_place(target, older);
  EXPECT_CODE(blocklist_handle_reload(h), BLOCKLIST_ERR_INDEX_MODIFIED);
  r = marked();
  EXPECT_CODE(blocklist_check_number(h, "0812345678", 10, &r), BLOCKLIST_ERR_INDEX_MODIFIED);
  CHECK(untouched(&r));
  CHECK_RC(blocklist_handle_status(h, &s), BLOCKLIST_OK);
  CHECK(s.freshness == BLOCKLIST_FRESHNESS_NO_DATA && s.list_version == 0 &&
        s.last_reload_error == BLOCKLIST_ERR_INDEX_MODIFIED);
  CHECK_RC(blocklist_handle_reload_error(h, msg, sizeof msg, &n), BLOCKLIST_OK);
  CHECK(strstr(msg, "overwritten in place") != NULL && strstr(msg, "older") != NULL);
  publish_copy(good, target);
  CHECK_RC(blocklist_handle_reload(h), BLOCKLIST_OK);
  CHECK_RC(blocklist_check_number(h, "0812345678", 10, &r), BLOCKLIST_OK);
  CHECK(r.listed == 1 && r.list_version == 5);
  blocklist_close(h);
}

/* A check from a thread-local destructor that runs after the library's
 * own thread-local storage is gone (glibc runs pthread key destructors
 * after those of C++ and Rust thread_locals): answered, not aborted. */
static const blocklist_handle *late_handle;
static pthread_key_t late_key;
static blocklist_result late_results[2];

static void late_check(void *unused) {
  blocklist_check_result r = BLOCKLIST_CHECK_RESULT_INIT;
  (void)unused;
  late_results[0] = blocklist_check_number(late_handle, "081-234-5678", 12, &r);
  late_results[1] = blocklist_check_number(late_handle, "\xff\xfe", 2, &r);
}

static void *check_then_exit(void *unused) {
  blocklist_check_result r = BLOCKLIST_CHECK_RESULT_INIT;
  (void)unused;
  /* use the library's thread-locals (scratch buffer, last error) first */
  CHECK_RC(blocklist_check_number(late_handle, "081-234-5678", 12, &r), BLOCKLIST_OK);
  EXPECT_CODE(blocklist_check_number(late_handle, "\xff\xfe", 2, &r), BLOCKLIST_ERR_INVALID_UTF8);
  pthread_setspecific(late_key, &late_key);
  return NULL;
}

static void checks_from_thread_local_destructors(const blocklist_handle *h) {
  pthread_t thread;
  late_handle = h;
  late_results[0] = late_results[1] = -1;
  CHECK(pthread_key_create(&late_key, late_check) == 0);
  CHECK(pthread_create(&thread, NULL, check_then_exit, NULL) == 0);
  CHECK(pthread_join(thread, NULL) == 0);
  CHECK(late_results[0] == BLOCKLIST_OK);
  CHECK(late_results[1] == BLOCKLIST_ERR_INVALID_UTF8);
  pthread_key_delete(late_key);
}

int main(int argc, char **argv) {
  char data[1024];
  blocklist_handle *h = NULL;
  if (argc != 2) {
    fprintf(stderr, "usage: errors <dir>\n");
    return 2;
  }
  join(data, sizeof data, argv[1], "data");
  CHECK_RC(blocklist_open(data, &h), BLOCKLIST_OK);
  if (!h) return finish("errors");
  argument_errors(h);
  identifier_errors(h);
  canonical_errors(h);
  checks_from_thread_local_destructors(h);
  blocklist_close(h);
  open_errors(argv[1]);
  refused_reloads_keep_the_previous_index(argv[1]);
  /* every code has a distinct static text; unknown codes have one too */
  for (size_t i = 0; i < COUNT(ALL); i++) {
    const char *text = blocklist_error_message(ALL[i]);
    CHECK(text != NULL && text[0] != 0 && strcmp(text, "unknown result code") != 0);
    for (size_t j = 0; j < i; j++) CHECK(strcmp(text, blocklist_error_message(ALL[j])) != 0);
  }
  CHECK(strcmp(blocklist_error_message(-1), "unknown result code") == 0);
  CHECK(strcmp(blocklist_error_message(555), "unknown result code") == 0);
  /* every code was provoked, except the documented few */
  seen[BLOCKLIST_OK] = 1;
  for (size_t i = 0; i < COUNT(UNPROVOKABLE); i++) seen[UNPROVOKABLE[i]] = 1;
  for (size_t i = 0; i < COUNT(ALL); i++) {
    if (!seen[ALL[i]]) {
      fprintf(stderr, "code %d (%s) was never provoked\n", (int)ALL[i], blocklist_error_message(ALL[i]));
      failures++;
    }
  }
  printf("codes provoked: %zu of %zu\n", COUNT(ALL) - COUNT(UNPROVOKABLE) - 1, COUNT(ALL) - 1);
  return finish("errors");
}
