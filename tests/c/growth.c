/* The growth rule (top of blocklist.h) from a program compiled against the
 * current header, and the key calls: sizes below ABI 1 refused, an older
 * program's smaller result or status written no further than its size, a
 * newer program's larger options accepted only when the fields this library
 * does not know are zero, and keys answering as their text, whatever their
 * bytes, but for a key the library made whose text alone was changed since:
 * it answers a miss for the identifier it was made from (a number's miss
 * reads the key's header alone), never a hit its text does not have. Same
 * fixture as correctness.c.
 *
 * usage: growth <dir> */
#include "testutil.h"

/* A result buffer larger than the struct, all 0x5A but the size. */
typedef struct {
  blocklist_check_result r;
  unsigned char after[64];
} padded_result;

static int all_5a(const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != 0x5A) return 0;
  return 1;
}

/* A pseudo-random generator for the key fuzzing (xorshift64). */
static uint64_t rng = 0x9E3779B97F4A7C15u;
static uint64_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

/* Checks key `k` and compares with checking its text the canonical way. */
static void key_answers_as_its_text(const blocklist_handle *h, const blocklist_key *k) {
  blocklist_check_result by_key = BLOCKLIST_CHECK_RESULT_INIT, by_text = BLOCKLIST_CHECK_RESULT_INIT;
  blocklist_result rk = blocklist_check_key(h, k, &by_key);
  if (k->len == 0 || k->len >= BLOCKLIST_MATCHED_MAX) {
    CHECK(rk == BLOCKLIST_ERR_NOT_CANONICAL || rk == BLOCKLIST_ERR_UNKNOWN_KIND);
    return;
  }
  blocklist_result rt = blocklist_check_canonical(h, k->kind, k->canonical, k->len, &by_text);
  CHECK(rk == rt);
  if (rk == BLOCKLIST_OK && rt == BLOCKLIST_OK) {
    CHECK(by_key.listed == by_text.listed && by_key.reason == by_text.reason);
    CHECK(strcmp(by_key.matched, by_text.matched) == 0);
  }
}

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  char data[4096];
  join(data, sizeof data, argv[1], "data");
  blocklist_handle *h = NULL;
  CHECK_RC(blocklist_open(data, &h), BLOCKLIST_OK);
  if (!h) return finish("growth");

  /* Below the ABI-1 size: refused, nothing written. */
  padded_result p;
  memset(&p, 0x5A, sizeof p);
  p.r.size = BLOCKLIST_CHECK_RESULT_MIN_SIZE - 8;
  CHECK_RC(blocklist_check_number(h, "0812345678", 10, &p.r), BLOCKLIST_ERR_STRUCT_SIZE);
  CHECK(all_5a((const unsigned char *)&p + 4, sizeof p - 4));
  blocklist_status s = BLOCKLIST_STATUS_INIT;
  s.size = 0;
  CHECK_RC(blocklist_handle_status(h, &s), BLOCKLIST_ERR_STRUCT_SIZE);
  blocklist_options o = BLOCKLIST_OPTIONS_INIT;
  o.size = 3;
  CHECK_RC(blocklist_options_default(&o), BLOCKLIST_ERR_STRUCT_SIZE);

  /* An older program's result (ABI-1 size): written up to it, not past. */
  memset(&p, 0x5A, sizeof p);
  p.r.size = BLOCKLIST_CHECK_RESULT_MIN_SIZE;
  CHECK_RC(blocklist_check_number(h, "0812345678", 10, &p.r), BLOCKLIST_OK);
  CHECK(p.r.listed == 1 && p.r.reason == BLOCKLIST_REASON_SCAM_CALL);
  CHECK(all_5a((const unsigned char *)&p + BLOCKLIST_CHECK_RESULT_MIN_SIZE,
               sizeof p - BLOCKLIST_CHECK_RESULT_MIN_SIZE));
  /* ... and this program's: every field, `answered_at` included. */
  blocklist_check_result r = BLOCKLIST_CHECK_RESULT_INIT;
  CHECK_RC(blocklist_check_number(h, "0812345678", 10, &r), BLOCKLIST_OK);
  CHECK(r.answered_at > 1700000000u && r.listings == 1 && r.size == sizeof r);

  /* A newer program's larger result: the bytes past the library's struct untouched. */
  memset(&p, 0x5A, sizeof p);
  p.r.size = sizeof p;
  CHECK_RC(blocklist_check_number(h, "0811111111", 10, &p.r), BLOCKLIST_OK);
  CHECK(p.r.listed == 0 && all_5a(p.after, sizeof p.after));

  /* A newer program's larger options: zeros past the library's struct are
   * accepted, anything else refused (a field this library cannot honour). */
  struct {
    blocklist_options o;
    uint64_t newer_field;
  } newer;
  memset(&newer, 0, sizeof newer);
  newer.o.size = sizeof newer;
  CHECK_RC(blocklist_options_default(&newer.o), BLOCKLIST_OK);
  CHECK(newer.o.size == sizeof newer && newer.newer_field == 0);
  blocklist_handle *h2 = NULL;
  CHECK_RC(blocklist_open_with_options(data, &newer.o, &h2), BLOCKLIST_OK);
  blocklist_close(h2);
  h2 = NULL;
  newer.newer_field = 1;
  CHECK_RC(blocklist_open_with_options(data, &newer.o, &h2), BLOCKLIST_ERR_STRUCT_SIZE);
  CHECK(h2 == NULL);
  newer.o.size = BLOCKLIST_STRUCT_MAX_SIZE + 8;
  CHECK_RC(blocklist_open_with_options(data, &newer.o, &h2), BLOCKLIST_ERR_STRUCT_SIZE);

  /* An older program's status: written up to its size. */
  struct {
    blocklist_status s;
    unsigned char after[16];
  } ps;
  memset(&ps, 0x5A, sizeof ps);
  ps.s.size = BLOCKLIST_STATUS_MIN_SIZE;
  CHECK_RC(blocklist_handle_status(h, &ps.s), BLOCKLIST_OK);
  CHECK(ps.s.list_version == 5);
  CHECK(all_5a((const unsigned char *)&ps + BLOCKLIST_STATUS_MIN_SIZE,
               sizeof ps - BLOCKLIST_STATUS_MIN_SIZE));

  /* Versions and reasons. */
  CHECK(blocklist_abi_version() == BLOCKLIST_ABI_VERSION);
  CHECK(blocklist_version_number() == BLOCKLIST_VERSION_NUMBER);

  /* Keys: made once, answered as their text. */
  static const struct {
    blocklist_kind kind;
    const char *text;
    int listed;
  } made[] = {
      {BLOCKLIST_KIND_NUMBER, "081-234-5678", 1},
      {BLOCKLIST_KIND_NUMBER, "0811111111", 0},
      {BLOCKLIST_KIND_ACCOUNT, "004 123-4-56789-0", 1},
      {BLOCKLIST_KIND_DOMAIN, "login.scam.example", 1},
      {BLOCKLIST_KIND_DOMAIN, "clean.example", 0},
  };
  for (size_t i = 0; i < sizeof made / sizeof made[0]; i++) {
    blocklist_key k = BLOCKLIST_KEY_INIT;
    CHECK_RC(blocklist_make_key(h, made[i].kind, made[i].text, strlen(made[i].text), &k), BLOCKLIST_OK);
    CHECK_RC(blocklist_check_key(h, &k, &r), BLOCKLIST_OK);
    CHECK(r.listed == made[i].listed);
    key_answers_as_its_text(h, &k);
    /* A key whose hash was changed: never a wrong answer. */
    blocklist_key bent = k;
    bent.hash[0] ^= 0x10;
    key_answers_as_its_text(h, &bent);
    bent = k;
    bent.seal ^= 1;
    key_answers_as_its_text(h, &bent);
  }
  /* Keys made by the library, their text alone changed to another number
   * of the same length: neither is listed, whichever way round. */
  const char *swapped[][2] = {{"0811111111", "+66812345678"}, {"+66812345678", "+66811111111"}};
  for (size_t i = 0; i < sizeof swapped / sizeof swapped[0]; i++) {
    blocklist_key changed = BLOCKLIST_KEY_INIT;
    CHECK_RC(blocklist_make_key(h, BLOCKLIST_KIND_NUMBER, swapped[i][0], strlen(swapped[i][0]), &changed),
             BLOCKLIST_OK);
    CHECK(changed.len == strlen(swapped[i][1]));
    memcpy(changed.canonical, swapped[i][1], changed.len);
    CHECK_RC(blocklist_check_key(h, &changed, &r), BLOCKLIST_OK);
    CHECK(r.listed == 0);
  }

  blocklist_key k = BLOCKLIST_KEY_INIT;
  CHECK_RC(blocklist_make_key(h, BLOCKLIST_KIND_NUMBER, "not a number", 12, &k), BLOCKLIST_ERR_INVALID_CHARACTER);
  k.size = 8;
  CHECK_RC(blocklist_check_key(h, &k, &r), BLOCKLIST_ERR_STRUCT_SIZE);
  k.size = sizeof k;
  k.kind = 9;
  k.len = 3;
  CHECK_RC(blocklist_check_key(h, &k, &r), BLOCKLIST_ERR_UNKNOWN_KIND);
  k.kind = BLOCKLIST_KIND_NUMBER;
  k.len = 0;
  CHECK_RC(blocklist_check_key(h, &k, &r), BLOCKLIST_ERR_NOT_CANONICAL);

  /* Keys of random bytes (valid size and kind, random everything else, the
   * text sometimes a listed one): never a crash, never a wrong answer. */
  for (int i = 0; i < 20000; i++) {
    blocklist_key fuzz;
    unsigned char *bytes = (unsigned char *)&fuzz;
    for (size_t j = 0; j < sizeof fuzz; j++) bytes[j] = (unsigned char)next();
    fuzz.size = sizeof fuzz;
    fuzz.kind = (blocklist_kind)(1 + next() % 3);
    fuzz.len = (uint16_t)(next() % 300);
    if (i % 4 == 0) {
      const char *listed = i % 8 ? "+66812345678" : "scam.example";
      fuzz.kind = i % 8 ? BLOCKLIST_KIND_NUMBER : BLOCKLIST_KIND_DOMAIN;
      fuzz.len = (uint16_t)strlen(listed);
      memcpy(fuzz.canonical, listed, fuzz.len);
    }
    key_answers_as_its_text(h, &fuzz);
  }

  blocklist_close(h);
  return finish("growth");
}
