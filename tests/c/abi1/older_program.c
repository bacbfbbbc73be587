/* A program compiled against the frozen ABI-1 header (tests/c/abi1/blocklist.h,
 * every growable struct at its ABI-1 size), run against the current library:
 * what a bank's binary built on the first ABI-1 release meets after the
 * library is upgraded under it. Each struct sits in a buffer with guard
 * bytes after it, which the newer library must leave alone; batches are
 * walked with this program's smaller stride. Same fixture as correctness.c.
 *
 * usage: older_program <dir> */
#define _POSIX_C_SOURCE 200809L
#include "blocklist.h" /* this folder's frozen copy: it comes first */
#include "../testutil.h"

#define GUARD 64

/* A struct of `size` bytes followed by GUARD bytes of 0xA5. */
typedef struct {
  unsigned char bytes[2048];
} guarded;

static void *guarded_struct(guarded *g, size_t size) {
  memset(g->bytes, 0xA5, sizeof g->bytes);
  memset(g->bytes, 0, size);
  uint32_t s = (uint32_t)size;
  memcpy(g->bytes, &s, sizeof s);
  return g->bytes;
}

static int guard_intact(const guarded *g, size_t size) {
  for (size_t i = size; i < size + GUARD; i++)
    if (g->bytes[i] != 0xA5) return 0;
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  char data[4096];
  join(data, sizeof data, argv[1], "data");

  CHECK(blocklist_abi_version() == BLOCKLIST_ABI_VERSION);
  CHECK(blocklist_version_number() >= BLOCKLIST_VERSION_NUMBER);

  guarded go;
  blocklist_options *o = guarded_struct(&go, sizeof(blocklist_options));
  CHECK_RC(blocklist_options_default(o), BLOCKLIST_OK);
  CHECK(guard_intact(&go, sizeof *o));
  CHECK(o->reload_interval_ms == BLOCKLIST_DEFAULT_RELOAD_INTERVAL_MS);
  blocklist_handle *h = NULL;
  CHECK_RC(blocklist_open_with_options(data, o, &h), BLOCKLIST_OK);
  if (!h) return finish("older_program");

  guarded gr;
  blocklist_check_result *r = guarded_struct(&gr, sizeof(blocklist_check_result));
  CHECK_RC(blocklist_check_number(h, "081-234-5678", 12, r), BLOCKLIST_OK);
  CHECK(r->listed == 1 && r->reason == BLOCKLIST_REASON_SCAM_CALL);
  CHECK(strcmp(r->agency, "th-aoc") == 0 && strcmp(r->matched, "+66812345678") == 0);
  CHECK(r->size == sizeof(blocklist_check_result));
  CHECK(guard_intact(&gr, sizeof *r));
  CHECK_RC(blocklist_check_number(h, "0811111111", 10, r), BLOCKLIST_OK);
  CHECK(r->listed == 0 && guard_intact(&gr, sizeof *r));

  blocklist_key k = BLOCKLIST_KEY_INIT;
  CHECK_RC(blocklist_make_key(h, BLOCKLIST_KIND_DOMAIN, "WWW.Scam.Example", 16, &k), BLOCKLIST_OK);
  CHECK_RC(blocklist_check_key(h, &k, r), BLOCKLIST_OK);
  CHECK(r->listed == 1 && r->reason == BLOCKLIST_REASON_PHISHING && guard_intact(&gr, sizeof *r));

  guarded gs;
  blocklist_status *s = guarded_struct(&gs, sizeof(blocklist_status));
  CHECK_RC(blocklist_handle_status(h, s), BLOCKLIST_OK);
  CHECK(s->list_version == 5 && s->entries == 5 && guard_intact(&gs, sizeof *s));

  /* A batch in this program's stride, a guard after the last result. */
  blocklist_query q[3] = {
      {BLOCKLIST_KIND_NUMBER, "0811111111", 10},
      {BLOCKLIST_KIND_NUMBER, "+66812345678", 12},
      {BLOCKLIST_KIND_ACCOUNT, "004 123-4-56789-0", 17},
  };
  guarded gb;
  blocklist_check_result *b = guarded_struct(&gb, 3 * sizeof(blocklist_check_result));
  b[0].size = sizeof *b;
  CHECK_RC(blocklist_check_batch(h, q, 3, b), BLOCKLIST_OK);
  CHECK(b[0].listed == 0 && b[1].listed == 1 && b[2].listed == 1);
  CHECK(b[1].reason == BLOCKLIST_REASON_SCAM_CALL && b[2].reason == BLOCKLIST_REASON_MULE_ACCOUNT);
  CHECK(strcmp(b[2].matched, "TH:004:1234567890") == 0);
  CHECK(guard_intact(&gb, 3 * sizeof *b));
  CHECK_RC(blocklist_check_canonical_batch(h, q + 1, 1, b), BLOCKLIST_OK);
  CHECK(b[0].listed == 1);

  blocklist_close(h);
  return finish("older_program");
}
