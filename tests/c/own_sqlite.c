/* A bank's program that links its own SQLite statically next to
 * libblocklist.a: it must build in either link order (no duplicate symbols:
 * libblocklist.a holds no SQLite) and run the program's SQLite.
 *
 * usage: own_sqlite <data dir>   (lookup.idx holds +66812345678, listed)
 * prints: "sqlite <version>" and "own_sqlite: ok" */
#include "testutil.h"

/* From sqlite3.h, declared here so that only the static library is needed. */
const char *sqlite3_libversion(void);
int sqlite3_libversion_number(void);

int main(int argc, char **argv) {
  blocklist_handle *h = NULL;
  blocklist_check_result r = BLOCKLIST_CHECK_RESULT_INIT;
  if (argc != 2) {
    fprintf(stderr, "usage: own_sqlite <data dir>\n");
    return 2;
  }
  CHECK(sqlite3_libversion_number() > 3000000);
  printf("sqlite %s\n", sqlite3_libversion());
  CHECK_RC(blocklist_open(argv[1], &h), BLOCKLIST_OK);
  if (!h) return finish("own_sqlite");
  CHECK_RC(blocklist_check_number(h, "081-234-5678", 12, &r), BLOCKLIST_OK);
  CHECK(r.listed == 1);
  blocklist_close(h);
  return finish("own_sqlite");
}
