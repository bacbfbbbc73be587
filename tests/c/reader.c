/* A lookup client as a bank would run one, for the chain suite
 * (blocklistd/tests/system/chain.rs): opens the data folder blocklistd
 * publishes into, then checks a reference set over and over for SECONDS
 * (at least one pass) while the handle's reload thread picks up new
 * versions. Counts call errors and wrong answers, times every call, and
 * checks that bad arguments get their documented codes.
 *
 * Usage: reader DATA_DIR REFERENCE SECONDS
 * REFERENCE lines: "KIND EXPECTED VALUE", KIND a BLOCKLIST_KIND_* number,
 * EXPECTED 1 (listed), 0 (not listed) or - (changes while running; not judged).
 * Output: one "key value" line per figure. Exit 0 unless it could not run. */
#include "testutil.h" /* first: it sets _POSIX_C_SOURCE */

#define MAX_REFS 4096
#define MAX_VALUE 256

struct reference {
  blocklist_kind kind;
  char expected; /* '0', '1' or '-' */
  char value[MAX_VALUE];
  size_t len;
};

static struct reference refs[MAX_REFS];

static size_t load(const char *path) {
  FILE *f = fopen(path, "r");
  size_t n = 0;
  unsigned kind;
  char expected;
  if (!f) { perror(path); exit(2); }
  while (n < MAX_REFS &&
         fscanf(f, "%u %c %255s", &kind, &expected, refs[n].value) == 3) {
    refs[n].kind = (blocklist_kind)kind;
    refs[n].expected = expected;
    refs[n].len = strlen(refs[n].value);
    n++;
  }
  fclose(f);
  return n;
}

/* Bad arguments at the C edge: each must return its documented code. */
static unsigned bad_args_wrong(const blocklist_handle *h) {
  static char long_input[BLOCKLIST_MAX_INPUT_LEN + 2];
  blocklist_check_result r = BLOCKLIST_CHECK_RESULT_INIT;
  blocklist_handle *none = NULL;
  unsigned wrong = 0;
  memset(long_input, 'a', sizeof long_input - 1);
  wrong += blocklist_check(NULL, BLOCKLIST_KIND_DOMAIN, "a.example", 9, &r) != BLOCKLIST_ERR_NULL_POINTER;
  wrong += blocklist_check(h, BLOCKLIST_KIND_DOMAIN, NULL, 9, &r) != BLOCKLIST_ERR_NULL_POINTER;
  wrong += blocklist_check(h, BLOCKLIST_KIND_DOMAIN, "a.example", 9, NULL) != BLOCKLIST_ERR_NULL_POINTER;
  wrong += blocklist_check(h, 99, "a.example", 9, &r) != BLOCKLIST_ERR_UNKNOWN_KIND;
  wrong += blocklist_check(h, BLOCKLIST_KIND_DOMAIN, "", 0, &r) != BLOCKLIST_ERR_EMPTY_INPUT;
  wrong += blocklist_check(h, BLOCKLIST_KIND_DOMAIN, long_input, sizeof long_input - 1, &r) != BLOCKLIST_ERR_INPUT_TOO_LONG;
  wrong += blocklist_check(h, BLOCKLIST_KIND_DOMAIN, "\xff\xfe.example", 10, &r) != BLOCKLIST_ERR_INVALID_UTF8;
  wrong += blocklist_check(h, BLOCKLIST_KIND_NUMBER, "not a number", 12, &r) == BLOCKLIST_OK;
  wrong += blocklist_open("", &none) != BLOCKLIST_ERR_EMPTY_INPUT;
  wrong += blocklist_open("/nonexistent/blocklist/data", &none) != BLOCKLIST_ERR_INDEX_NOT_FOUND;
  wrong += none != NULL;
  return wrong;
}

int main(int argc, char **argv) {
  blocklist_options options = BLOCKLIST_OPTIONS_INIT;
  blocklist_handle *h = NULL;
  blocklist_result rc;
  size_t n, i;
  uint64_t checks = 0, errors = 0, wrong = 0, worst = 0, min_version = UINT64_MAX,
           max_version = 0, deadline;
  if (argc != 4) {
    fprintf(stderr, "usage: %s DATA_DIR REFERENCE SECONDS\n", argv[0]);
    return 2;
  }
  n = load(argv[2]);
  blocklist_options_default(&options);
  options.reload_interval_ms = 20;
  rc = blocklist_open_with_options(argv[1], &options, &h);
  if (rc != BLOCKLIST_OK) {
    fprintf(stderr, "open %s: %s\n", argv[1], blocklist_error_message(rc));
    return 2;
  }
  deadline = now_ns() + (uint64_t)atof(argv[3]) * 1000000000u;
  do {
    for (i = 0; i < n; i++) {
      blocklist_check_result r = BLOCKLIST_CHECK_RESULT_INIT;
      uint64_t t0 = now_ns(), took;
      rc = blocklist_check(h, refs[i].kind, refs[i].value, refs[i].len, &r);
      took = now_ns() - t0;
      checks++;
      if (took > worst) worst = took;
      if (rc != BLOCKLIST_OK) {
        if (errors++ < 5) fprintf(stderr, "error %s: %s\n", refs[i].value, blocklist_error_message(rc));
        continue;
      }
      if (r.list_version < min_version) min_version = r.list_version;
      if (r.list_version > max_version) max_version = r.list_version;
      if (refs[i].expected != '-' && r.listed != (uint8_t)(refs[i].expected - '0')) {
        if (wrong++ < 5)
          fprintf(stderr, "wrong %s: listed %u at version %llu, expected %c\n", refs[i].value,
                  (unsigned)r.listed, (unsigned long long)r.list_version, refs[i].expected);
      }
    }
  } while (now_ns() < deadline);
  {
    /* How reloads went: a reader that saw no new version says why. */
    blocklist_status status = BLOCKLIST_STATUS_INIT;
    char why[512] = "";
    size_t why_len = 0;
    blocklist_handle_status(h, &status);
    if (status.reload_failures > 0 &&
        blocklist_handle_reload_error(h, why, sizeof why, &why_len) == BLOCKLIST_OK)
      fprintf(stderr, "last reload error: %s\n", why);
    printf("references %zu\nchecks %llu\nerrors %llu\nwrong %llu\nworst_ns %llu\n"
           "min_version %llu\nmax_version %llu\nbad_args_wrong %u\nreloads %llu\n"
           "reload_failures %llu\nlast_reload_error %d\n",
           n, (unsigned long long)checks, (unsigned long long)errors, (unsigned long long)wrong,
           (unsigned long long)worst, (unsigned long long)min_version,
           (unsigned long long)max_version, bad_args_wrong(h),
           (unsigned long long)status.reloads, (unsigned long long)status.reload_failures,
           (int)status.last_reload_error);
  }
  blocklist_close(h);
  return 0;
}
