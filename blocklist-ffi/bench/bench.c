/* The C side of the libblocklist benchmark, run by blocklist-ffi/benches/c_lookup.rs
 * (which builds the index, writes the query files and prints the comparison
 * with the same lookups through the Rust API).
 *
 * usage: bench steady  <index> <hits file> <misses file>
 *        bench medians <index> <hits file> <misses file>   (latencies and canonical batches)
 *        bench swaps   <index> <hits file> <misses file> <seconds>
 *        bench follow  <index> <hits file> <misses file> <idle seconds>
 *        bench overlay <index> <hits file> <misses file> <index with an overlay>
 *        bench calls   <index> <hits file> <misses file> <entry point> <hits|misses> <count>
 * follow: the handle has the default options; for each line "<ns>" on stdin
 * (the CLOCK_MONOTONIC time the driver announced a new index in the
 * heartbeat) it waits for the handle's next reload and prints
 * "follow_ns <latency>"; at the end of input it stays idle for the given
 * seconds and prints the CPU time that took, per second.
 * overlay: the canonical latencies and batches through a handle on <index>
 * ("empty_" names), then through one on <index with an overlay> ("recent_").
 * calls: <count> queries of one set through one entry point (check,
 * check_canonical, check_key, check_batch or check_canonical_batch, batches of 1024),
 * untimed, for the driver to count instructions per call under callgrind.
 * Query files: one "kind<TAB>text" per line, the text in canonical form, so
 * both blocklist_check and blocklist_check_canonical take it. Output: "name
 * value" lines, ns. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "blocklist.h"

#if defined(__x86_64__)
#include <emmintrin.h>
/* Between the calls of a timed group: the next call starts when this one has
 * finished, as when each is timed alone, so a group's median is a latency, not
 * the overlap of many calls' cache misses. */
#define FENCE() _mm_lfence()
#else
#define FENCE() atomic_signal_fence(memory_order_seq_cst)
#endif

typedef struct {
  blocklist_query *q;
  /* The same queries made into keys (blocklist_make_key), once the handle is open. */
  blocklist_key *keys;
  size_t n;
} queries;

static blocklist_handle *handle;

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static queries load(const char *path) {
  FILE *f = fopen(path, "rb");
  long size;
  char *text, *line, *save = NULL;
  queries out = {NULL, NULL, 0};
  size_t cap = 1024;
  if (!f || fseek(f, 0, SEEK_END) || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) { perror(path); exit(2); }
  text = malloc((size_t)size + 1);
  if (fread(text, 1, (size_t)size, f) != (size_t)size) { perror(path); exit(2); }
  fclose(f);
  text[size] = 0;
  out.q = malloc(cap * sizeof *out.q);
  for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char *tab = strchr(line, '\t');
    if (!tab) { fprintf(stderr, "bad line %s\n", line); exit(2); }
    if (out.n == cap) out.q = realloc(out.q, (cap *= 2) * sizeof *out.q);
    out.q[out.n].kind = (blocklist_kind)atoi(line);
    out.q[out.n].data = tab + 1;
    out.q[out.n].len = strlen(tab + 1);
    out.n++;
  }
  return out; /* `text` lives until exit */
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static uint64_t timer_cost;

/* Makes every query of `qs` into a key. */
static void make_keys(queries *qs) {
  qs->keys = malloc(qs->n * sizeof *qs->keys);
  for (size_t i = 0; i < qs->n; i++) {
    qs->keys[i].size = sizeof qs->keys[i];
    if (blocklist_make_key(handle, qs->q[i].kind, qs->q[i].data, qs->q[i].len, &qs->keys[i]) != BLOCKLIST_OK) {
      fprintf(stderr, "make_key failed\n");
      exit(1);
    }
  }
}

/* One check of query `i` of `qs`: through blocklist_check, _canonical or _key. */
typedef blocklist_result (*check_fn)(const queries *qs, size_t i, blocklist_check_result *);

static blocklist_result by_check(const queries *qs, size_t i, blocklist_check_result *r) {
  return blocklist_check(handle, qs->q[i].kind, qs->q[i].data, qs->q[i].len, r);
}
static blocklist_result by_canonical(const queries *qs, size_t i, blocklist_check_result *r) {
  return blocklist_check_canonical(handle, qs->q[i].kind, qs->q[i].data, qs->q[i].len, r);
}
static blocklist_result by_key(const queries *qs, size_t i, blocklist_check_result *r) {
  return blocklist_check_key(handle, &qs->keys[i], r);
}

/* What is read of query `i` before its timed call, if anything. */
typedef void (*touch_fn)(const queries *qs, size_t i);

/* A key as a payment has it: its fixed fields just read from the payee's
 * row, so the call is timed without the cache miss of fetching the key. */
static volatile uint64_t touched;
static void touch_key(const queries *qs, size_t i) {
  touched += qs->keys[i].size + qs->keys[i].seal;
}

/* Median of per-call time over groups of 16 fenced calls, and p99 / p99.9 /
 * max of single calls, the timer's own cost subtracted; `touch` (or NULL)
 * runs on each query before the timer starts. Checks every answer. */
static void latency(const char *name, const queries *qs, const queries *warm, int expect_listed,
                    check_fn check, touch_fn touch) {
  enum { GROUP = 16 };
  size_t groups = qs->n / GROUP;
  uint64_t *t = malloc(qs->n * sizeof *t);
  blocklist_check_result r = BLOCKLIST_CHECK_RESULT_INIT;
  size_t wrong = 0;
  /* As the driver's Rust side: an untimed pass over the other query set, so
   * that no call is timed on a structure left cold, without caching the lines
   * the timed keys read; then single calls, then groups. */
  for (size_t i = 0; i < warm->n; i++) {
    if (check(warm, i, &r) != BLOCKLIST_OK) wrong++;
  }
  for (size_t i = 0; i < qs->n; i++) {
    if (touch) touch(qs, i);
    uint64_t t0 = now_ns(), dt;
    if (check(qs, i, &r) != BLOCKLIST_OK || r.listed != expect_listed) wrong++;
    dt = now_ns() - t0;
    t[i] = dt > timer_cost ? dt - timer_cost : 0;
  }
  qsort(t, qs->n, sizeof *t, cmp_u64);
  printf("%s_p99 %llu\n%s_p999 %llu\n%s_max %llu\n", name, (unsigned long long)t[qs->n * 99 / 100], name,
         (unsigned long long)t[qs->n * 999 / 1000], name, (unsigned long long)t[qs->n - 1]);
  for (size_t g = 0; g < groups; g++) {
    for (size_t k = 0; touch && k < GROUP; k++) touch(qs, g * GROUP + k);
    uint64_t t0 = now_ns();
    for (size_t k = 0; k < GROUP; k++) {
      if (check(qs, g * GROUP + k, &r) != BLOCKLIST_OK || r.listed != expect_listed) wrong++;
      FENCE();
    }
    t[g] = (now_ns() - t0 - timer_cost) / GROUP;
  }
  qsort(t, groups, sizeof *t, cmp_u64);
  printf("%s_median %llu\n%s_wrong %zu\n", name, (unsigned long long)t[groups / 2], name, wrong);
  free(t);
}

/* blocklist_check_batch or blocklist_check_canonical_batch. */
typedef blocklist_result (*batch_fn)(const blocklist_handle *, const blocklist_query *, size_t,
                                     blocklist_check_result *);

static void batch(const char *name, const queries *qs, batch_fn check) {
  enum { BATCH = 1024 };
  blocklist_check_result *r = malloc(BATCH * sizeof *r);
  r[0].size = sizeof *r;
  size_t done = 0;
  uint64_t t0 = now_ns();
  for (size_t at = 0; at + BATCH <= qs->n; at += BATCH) {
    if (check(handle, qs->q + at, BATCH, r) != BLOCKLIST_OK) { fprintf(stderr, "batch failed\n"); exit(1); }
    done += BATCH;
  }
  printf("%s_batch_per_id %.1f\n", name, (double)(now_ns() - t0) / (double)done);
  free(r);
}

typedef struct {
  const queries *hits, *misses;
  double seconds;
  uint64_t calls;
} worker;

static void *run_worker(void *arg) {
  worker *w = arg;
  blocklist_check_result r = BLOCKLIST_CHECK_RESULT_INIT;
  uint64_t end = now_ns() + (uint64_t)(w->seconds * 1e9), calls = 0;
  size_t i = 0;
  while (now_ns() < end) {
    for (int k = 0; k < 256; k++, i++) {
      const queries *qs = (i & 1) ? w->misses : w->hits;
      const blocklist_query *q = &qs->q[(i >> 1) % qs->n];
      blocklist_check(handle, q->kind, q->data, q->len, &r);
    }
    calls += 256;
  }
  w->calls = calls;
  return NULL;
}

/* Calls per second over all threads, half hits, half misses. */
static void throughput(int threads, const queries *hits, const queries *misses) {
  pthread_t t[8];
  worker w[8];
  uint64_t total = 0;
  for (int i = 0; i < threads; i++) {
    w[i] = (worker){hits, misses, 2.0, 0};
    pthread_create(&t[i], NULL, run_worker, &w[i]);
  }
  for (int i = 0; i < threads; i++) {
    pthread_join(t[i], NULL);
    total += w[i].calls;
  }
  printf("throughput_%dt %.0f\n", threads, (double)total / 2.0);
}

/* Single checks while the driver replaces the index: errors and the worst case. */
static void swaps(const queries *hits, const queries *misses, double seconds) {
  uint64_t end = now_ns() + (uint64_t)(seconds * 1e9), worst = 0, calls = 0, errors = 0, wrong = 0;
  size_t cap = 1 << 22, n = 0, i = 0;
  uint64_t *t = malloc(cap * sizeof *t);
  blocklist_status s = BLOCKLIST_STATUS_INIT;
  while (now_ns() < end) {
    const queries *qs = (i & 1) ? misses : hits;
    const blocklist_query *q = &qs->q[(i >> 1) % qs->n];
    blocklist_check_result r = BLOCKLIST_CHECK_RESULT_INIT;
    uint64_t t0 = now_ns(), dt;
    blocklist_result rc = blocklist_check(handle, q->kind, q->data, q->len, &r);
    dt = now_ns() - t0;
    if (rc != BLOCKLIST_OK) errors++;
    else if (r.listed != !(i & 1)) wrong++;
    if (dt > worst) worst = dt;
    if (n < cap) t[n++] = dt;
    calls++;
    i++;
  }
  qsort(t, n, sizeof *t, cmp_u64);
  blocklist_handle_status(handle, &s);
  printf("swaps_calls %llu\nswaps_errors %llu\nswaps_wrong %llu\nswaps_reloads %llu\nswaps_p99 %llu\nswaps_p999 %llu\nswaps_max %llu\n",
         (unsigned long long)calls, (unsigned long long)errors, (unsigned long long)wrong,
         (unsigned long long)s.reloads, (unsigned long long)t[n * 99 / 100], (unsigned long long)t[n * 999 / 1000],
         (unsigned long long)worst);
  free(t);
}

static uint64_t cpu_us(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return (uint64_t)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000000u +
         (uint64_t)(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

/* How long after its announcement each new index is served, then the
 * handle's CPU time while nothing happens. */
static void follow(double idle_seconds) {
  unsigned long long announced;
  blocklist_status s = BLOCKLIST_STATUS_INIT;
  struct timespec pause = {0, 100000};
  uint64_t before, start;
  blocklist_handle_status(handle, &s);
  printf("ready\n");
  fflush(stdout);
  while (scanf("%llu", &announced) == 1) {
    uint64_t reloads = s.reloads, deadline = now_ns() + 5000000000u;
    do {
      nanosleep(&pause, NULL);
      blocklist_handle_status(handle, &s);
    } while (s.reloads == reloads && now_ns() < deadline);
    printf("follow_ns %llu\n", (unsigned long long)(now_ns() - announced));
    fflush(stdout);
  }
  before = cpu_us();
  start = now_ns();
  pause.tv_sec = (time_t)idle_seconds;
  pause.tv_nsec = (long)((idle_seconds - (double)pause.tv_sec) * 1e9);
  nanosleep(&pause, NULL);
  printf("idle_cpu_us_per_s %.1f\n", (double)(cpu_us() - before) / ((double)(now_ns() - start) / 1e9));
}

/* Every query of `qs` (up to `count`) once through `name`, untimed. */
static void calls(const char *name, const queries *qs, size_t count) {
  enum { BATCH = 1024 };
  static blocklist_check_result r[BATCH] = { BLOCKLIST_CHECK_RESULT_INIT };
  size_t n = count < qs->n ? count : qs->n;
  check_fn single = strcmp(name, "check") == 0             ? by_check
                    : strcmp(name, "check_canonical") == 0 ? by_canonical
                    : strcmp(name, "check_key") == 0       ? by_key
                                                           : NULL;
  batch_fn many = strcmp(name, "check_batch") == 0 ? blocklist_check_batch
                  : strcmp(name, "check_canonical_batch") == 0 ? blocklist_check_canonical_batch
                                                               : NULL;
  if (single) {
    for (size_t i = 0; i < n; i++) single(qs, i, r);
  } else if (many) {
    n -= n % BATCH;
    for (size_t at = 0; at < n; at += BATCH) many(handle, qs->q + at, BATCH, r);
  } else {
    fprintf(stderr, "unknown entry point %s\n", name);
    exit(2);
  }
  printf("calls_items %zu\n", n);
}

int main(int argc, char **argv) {
  blocklist_options o = BLOCKLIST_OPTIONS_INIT;
  queries hits, misses;
  uint64_t cost[1001];
  if (argc < 5) { fprintf(stderr, "usage: bench steady|medians|swaps|follow|calls <index> <hits> <misses> [...]\n"); return 2; }
  /* The default options, as deployed: the reload thread keeps the clock
   * checks read. The swaps pass reloads every 10 ms (no daemon announces
   * its files). */
  blocklist_options_default(&o);
  if (strcmp(argv[1], "swaps") == 0) o.reload_interval_ms = 10;
  if (blocklist_open_with_options(argv[2], &o, &handle) != BLOCKLIST_OK) { fprintf(stderr, "open failed\n"); return 1; }
  hits = load(argv[3]);
  misses = load(argv[4]);
  /* Keys cost a normalisation each: made only where checked. */
  if (strcmp(argv[1], "swaps") != 0 && strcmp(argv[1], "follow") != 0 &&
      (strcmp(argv[1], "calls") != 0 || (argc > 5 && strcmp(argv[5], "check_key") == 0))) {
    make_keys(&hits);
    make_keys(&misses);
  }
  for (int i = 0; i < 1001; i++) { uint64_t t0 = now_ns(); cost[i] = now_ns() - t0; }
  qsort(cost, 1001, sizeof *cost, cmp_u64);
  timer_cost = cost[500];
  printf("timer_cost %llu\n", (unsigned long long)timer_cost);
  if (strcmp(argv[1], "calls") == 0 && argc > 7) {
    calls(argv[5], strcmp(argv[6], "hits") == 0 ? &hits : &misses, (size_t)atol(argv[7]));
  } else if (strcmp(argv[1], "swaps") == 0) {
    swaps(&hits, &misses, argc > 5 ? atof(argv[5]) : 10.0);
  } else if (strcmp(argv[1], "follow") == 0) {
    follow(argc > 5 ? atof(argv[5]) : 5.0);
  } else if (strcmp(argv[1], "overlay") == 0) {
    blocklist_handle *both[2] = {handle, NULL};
    const char *names[2] = {"empty_", "recent_"};
    char name[64];
    if (argc < 6 || blocklist_open_with_options(argv[5], &o, &both[1]) != BLOCKLIST_OK) { fprintf(stderr, "open failed\n"); return 1; }
    for (int i = 0; i < 2; i++) {
      handle = both[i];
      snprintf(name, sizeof name, "%scanonical_miss", names[i]);
      latency(name, &misses, &hits, 0, by_canonical, NULL);
      snprintf(name, sizeof name, "%scanonical_hit", names[i]);
      latency(name, &hits, &misses, 1, by_canonical, NULL);
      snprintf(name, sizeof name, "%scanonical_miss", names[i]);
      batch(name, &misses, blocklist_check_canonical_batch);
      snprintf(name, sizeof name, "%scanonical_hit", names[i]);
      batch(name, &hits, blocklist_check_canonical_batch);
    }
    blocklist_close(both[1]);
    handle = both[0];
  } else {
    latency("miss", &misses, &hits, 0, by_check, NULL);
    latency("hit", &hits, &misses, 1, by_check, NULL);
    latency("canonical_miss", &misses, &hits, 0, by_canonical, NULL);
    latency("canonical_hit", &hits, &misses, 1, by_canonical, NULL);
    latency("key_miss", &misses, &hits, 0, by_key, NULL);
    latency("key_hit", &hits, &misses, 1, by_key, NULL);
    latency("key_warm_miss", &misses, &hits, 0, by_key, touch_key);
    batch("canonical_miss", &misses, blocklist_check_canonical_batch);
    batch("canonical_hit", &hits, blocklist_check_canonical_batch);
    if (strcmp(argv[1], "steady") == 0) {
      batch("miss", &misses, blocklist_check_batch);
      batch("hit", &hits, blocklist_check_batch);
      throughput(1, &hits, &misses);
      throughput(2, &hits, &misses);
    }
  }
  blocklist_close(handle);
  return 0;
}
