/* Helpers shared by the C test programs: assertions that report the failing
 * line and the library's messages, and small file operations the tests use
 * to publish, corrupt and replace index files. */
#ifndef BLOCKLIST_TESTUTIL_H
#define BLOCKLIST_TESTUTIL_H

#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blocklist.h"

static int failures = 0;

/* The monotonic clock in nanoseconds, for deadlines and call timings. */
static inline uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void print_last_error(void) {
  char buf[512];
  size_t n = 0;
  if (blocklist_last_error(buf, sizeof buf, &n) == BLOCKLIST_OK) {
    fprintf(stderr, "    last error: %s\n", buf);
  }
}

/* Fails the test (but keeps going) when `cond` is false. */
#define CHECK(cond)                                                        \
  do {                                                                     \
    if (!(cond)) {                                                         \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      failures++;                                                          \
    }                                                                      \
  } while (0)

/* Fails the test when a call does not return the expected code. */
#define CHECK_RC(call, expected)                                           \
  do {                                                                     \
    blocklist_result rc_ = (call);                                         \
    if (rc_ != (expected)) {                                               \
      fprintf(stderr, "%s:%d: %s returned %d (%s), expected %d (%s)\n",    \
              __FILE__, __LINE__, #call, (int)rc_,                         \
              blocklist_error_message(rc_), (int)(expected),               \
              blocklist_error_message(expected));                          \
      print_last_error();                                                  \
      failures++;                                                          \
    }                                                                      \
  } while (0)

/* Ends the program with the test's verdict. */
static inline int finish(const char *name) {
  if (failures) {
    fprintf(stderr, "%s: %d failure(s)\n", name, failures);
    return 1;
  }
  printf("%s: ok\n", name);
  return 0;
}

/* "dir/name" into the caller's buffer. */
static inline void join(char *out, size_t len, const char *dir, const char *name) {
  int n = snprintf(out, len, "%s/%s", dir, name);
  if (n < 0 || (size_t)n >= len) {
    fprintf(stderr, "path too long: %s/%s\n", dir, name);
    exit(2);
  }
}

/* Reads a whole file into a malloc'd buffer. */
static inline unsigned char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  unsigned char *buf;
  long size;
  if (!f) { perror(path); exit(2); }
  if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
    perror(path); exit(2);
  }
  buf = malloc((size_t)size + 1);
  if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size) { perror(path); exit(2); }
  fclose(f);
  *len = (size_t)size;
  return buf;
}

/* Publishes `len` bytes at `path` as the daemon does: a temporary file
 * renamed over the target, so readers see the old file or the new one. */
static inline void publish(const char *path, const unsigned char *data, size_t len) {
  char tmp[1024];
  FILE *f;
  int n = snprintf(tmp, sizeof tmp, "%s.tmp", path);
  if (n < 0 || (size_t)n >= sizeof tmp) { fprintf(stderr, "path too long\n"); exit(2); }
  f = fopen(tmp, "wb");
  if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) { perror(tmp); exit(2); }
  if (rename(tmp, path) != 0) { perror("rename"); exit(2); }
}

/* Writes the file at `from` over `to` in place, as `cp` does over an existing
 * file: truncated, then rewritten, on the same inode (never how an index
 * should be replaced). */
static inline void overwrite_in_place(const char *to, const char *from) {
  size_t len;
  unsigned char *data = read_file(from, &len);
  FILE *f = fopen(to, "wb");
  if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) { perror(to); exit(2); }
  free(data);
}

/* Copies the file at `from` to `to` through `publish`. */
static inline void publish_copy(const char *from, const char *to) {
  size_t len;
  unsigned char *data = read_file(from, &len);
  publish(to, data, len);
  free(data);
}

#endif
