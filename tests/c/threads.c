/* Many threads check a reference set on one handle while the Rust harness
 * publishes new index files (and now and then a corrupt one) as fast as it
 * can. Every answer must be right, no call may fail, and the worst single
 * check latency is reported.
 *
 * usage: threads <index file> <reference file> <seconds> <threads>
 * The reference file has one query per line: kind<TAB>text<TAB>listed<TAB>reason.
 * Output (one line): checks= errors= wrong= max_ns= first_version= last_version=
 * reloads= reload_failures= */
#include "testutil.h" /* first: it sets _POSIX_C_SOURCE */

#include <pthread.h>
#include <stdatomic.h>

typedef struct {
  blocklist_kind kind;
  char *text;
  size_t len;
  /* `text` normalised once, as a bank keeps a payee, for the canonical batch */
  char canonical[BLOCKLIST_MATCHED_MAX];
  size_t canonical_len;
  int listed;
  unsigned reason;
} reference;

static reference *refs;
static size_t nrefs;
static const blocklist_handle *handle;
static double seconds;
static atomic_ullong total_checks, total_errors, total_wrong, worst_ns, first_version, last_version;
static atomic_int stop;

static void load_references(const char *path) {
  size_t len, cap = 1024;
  unsigned char *data = read_file(path, &len);
  char *line, *save = NULL;
  data[len] = 0;
  refs = malloc(cap * sizeof *refs);
  for (line = strtok_r((char *)data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char *kind = line, *text = strchr(kind, '\t'), *listed, *reason;
    if (!text || !(listed = strchr(text + 1, '\t')) || !(reason = strchr(listed + 1, '\t'))) {
      fprintf(stderr, "bad reference line: %s\n", line);
      exit(2);
    }
    *text++ = 0; *listed++ = 0; *reason++ = 0;
    if (nrefs == cap) refs = realloc(refs, (cap *= 2) * sizeof *refs);
    refs[nrefs].kind = (blocklist_kind)atoi(kind);
    refs[nrefs].text = strdup(text);
    refs[nrefs].len = strlen(text);
    refs[nrefs].listed = atoi(listed);
    refs[nrefs].reason = (unsigned)atoi(reason);
    nrefs++;
  }
  free(data);
}

static void note_version(uint64_t v) {
  unsigned long long seen = atomic_load(&first_version);
  while ((seen == 0 || v < seen) && !atomic_compare_exchange_weak(&first_version, &seen, v)) {}
  seen = atomic_load(&last_version);
  while (v > seen && !atomic_compare_exchange_weak(&last_version, &seen, v)) {}
}

static int right(const reference *ref, const blocklist_check_result *r) {
  return r->status == BLOCKLIST_OK && r->listed == ref->listed &&
         (!ref->listed || r->reason == ref->reason) && r->freshness == BLOCKLIST_FRESHNESS_FRESH;
}

static void *checker(void *arg) {
  unsigned long long checks = 0, errors = 0, wrong = 0, worst = 0;
  unsigned long long end = now_ns() + (unsigned long long)(seconds * 1e9);
  size_t i = (size_t)(uintptr_t)arg * 7919 % nrefs;
  blocklist_query batch[64];
  blocklist_check_result results[64] = { BLOCKLIST_CHECK_RESULT_INIT };
  int canonical = 0;
  while (now_ns() < end) {
    /* single checks, timed one by one */
    for (int k = 0; k < 256; k++, i = (i + 1) % nrefs) {
      blocklist_check_result r = BLOCKLIST_CHECK_RESULT_INIT;
      unsigned long long t0 = now_ns(), dt;
      blocklist_result rc = blocklist_check(handle, refs[i].kind, refs[i].text, refs[i].len, &r);
      dt = now_ns() - t0;
      if (dt > worst) worst = dt;
      checks++;
      if (rc != BLOCKLIST_OK) {
        if (errors++ == 0) { fprintf(stderr, "check failed: %d\n", (int)rc); print_last_error(); }
        continue;
      }
      if (!right(&refs[i], &r)) {
        if (wrong++ == 0) fprintf(stderr, "wrong answer for %s: listed %d reason %d\n", refs[i].text, r.listed, r.reason);
      }
      note_version(r.list_version);
    }
    /* and a batch, of the text as typed or of its canonical form in turn */
    for (int k = 0; k < 64; k++) {
      const reference *ref = &refs[(i + (size_t)k) % nrefs];
      batch[k].kind = ref->kind;
      batch[k].data = canonical ? ref->canonical : ref->text;
      batch[k].len = canonical ? ref->canonical_len : ref->len;
    }
    if ((canonical ? blocklist_check_canonical_batch : blocklist_check_batch)(handle, batch, 64, results) !=
        BLOCKLIST_OK) {
      errors++;
      continue;
    }
    canonical = !canonical;
    for (int k = 0; k < 64; k++) {
      checks++;
      if (!right(&refs[(i + (size_t)k) % nrefs], &results[k])) wrong++;
    }
    i = (i + 64) % nrefs;
  }
  atomic_fetch_add(&total_checks, checks);
  atomic_fetch_add(&total_errors, errors);
  atomic_fetch_add(&total_wrong, wrong);
  unsigned long long seen = atomic_load(&worst_ns);
  while (worst > seen && !atomic_compare_exchange_weak(&worst_ns, &seen, worst)) {}
  return NULL;
}

/* Explicit reloads racing the handle's own reload thread. */
static void *reloader(void *arg) {
  (void)arg;
  while (!atomic_load(&stop)) {
    struct timespec ms = {0, 2000000};
    blocklist_result rc = blocklist_handle_reload(handle);
    /* refusals of the harness's corrupt files are expected; nothing else */
    if (rc != BLOCKLIST_OK && rc != BLOCKLIST_ERR_INDEX_CORRUPT && rc != BLOCKLIST_ERR_INDEX_NOT_FOUND) {
      fprintf(stderr, "reload returned %d\n", (int)rc);
      atomic_fetch_add(&total_errors, 1);
    }
    nanosleep(&ms, NULL);
  }
  return NULL;
}

int main(int argc, char **argv) {
  blocklist_options o = BLOCKLIST_OPTIONS_INIT;
  blocklist_handle *h = NULL;
  blocklist_status s = BLOCKLIST_STATUS_INIT;
  pthread_t threads[64], reload_thread;
  int n;
  if (argc != 5 || (n = atoi(argv[4])) < 1 || n > 64) {
    fprintf(stderr, "usage: threads <index> <references> <seconds> <threads (1-64)>\n");
    return 2;
  }
  seconds = atof(argv[3]);
  load_references(argv[2]);
  CHECK_RC(blocklist_options_default(&o), BLOCKLIST_OK);
  o.reload_interval_ms = 1;
  CHECK_RC(blocklist_open_with_options(argv[1], &o, &h), BLOCKLIST_OK);
  if (!h) return finish("threads");
  handle = h;
  for (size_t i = 0; i < nrefs; i++) {
    CHECK_RC(blocklist_normalise(h, refs[i].kind, refs[i].text, refs[i].len, refs[i].canonical,
                                 sizeof refs[i].canonical, &refs[i].canonical_len),
             BLOCKLIST_OK);
  }
  /* The harness starts swapping the index (corrupt files included) only
   * once it is open. */
  printf("ready\n");
  fflush(stdout);
  pthread_create(&reload_thread, NULL, reloader, NULL);
  for (int t = 0; t < n; t++) pthread_create(&threads[t], NULL, checker, (void *)(uintptr_t)t);
  for (int t = 0; t < n; t++) pthread_join(threads[t], NULL);
  atomic_store(&stop, 1);
  pthread_join(reload_thread, NULL);
  CHECK_RC(blocklist_handle_status(h, &s), BLOCKLIST_OK);
  printf("checks=%llu errors=%llu wrong=%llu max_ns=%llu first_version=%llu last_version=%llu "
         "reloads=%llu reload_failures=%llu\n",
         (unsigned long long)atomic_load(&total_checks), (unsigned long long)atomic_load(&total_errors),
         (unsigned long long)atomic_load(&total_wrong), (unsigned long long)atomic_load(&worst_ns),
         (unsigned long long)atomic_load(&first_version), (unsigned long long)atomic_load(&last_version),
         (unsigned long long)s.reloads, (unsigned long long)s.reload_failures);
  blocklist_close(h);
  for (size_t i = 0; i < nrefs; i++) free(refs[i].text);
  free(refs);
  CHECK(atomic_load(&total_errors) == 0 && atomic_load(&total_wrong) == 0);
  return finish("threads");
}
