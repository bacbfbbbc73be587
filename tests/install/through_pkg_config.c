/* A program built against an installed libblocklist through pkg-config, as C11
 * and as C++17 (the same source: the header must serve both). It opens the
 * index folder given as argv[1] and normalises a phone number, calls whose
 * signatures take no result struct. tests/system/c_install.rs builds and runs it.
 *
 * Prints the library version and "through_pkg_config: ok"; exit status 1 on
 * any failure. */
#include <stdio.h>
#include <string.h>

#include <blocklist.h>

int main(int argc, char **argv) {
  static const char number[] = "081-234-5678";
  static const char canonical[] = "+66812345678";
  blocklist_handle *handle = NULL;
  char buf[BLOCKLIST_MATCHED_MAX];
  size_t len = 0;
  blocklist_result rc;

  if (argc != 2) {
    fprintf(stderr, "usage: %s <index folder>\n", argv[0]);
    return 1;
  }
  printf("libblocklist %s\n", blocklist_version());
  rc = blocklist_open(argv[1], &handle);
  if (rc != BLOCKLIST_OK) {
    fprintf(stderr, "blocklist_open: %d (%s)\n", (int)rc, blocklist_error_message(rc));
    return 1;
  }
  rc = blocklist_normalise(handle, BLOCKLIST_KIND_NUMBER, number, strlen(number), buf, sizeof buf, &len);
  blocklist_close(handle);
  if (rc != BLOCKLIST_OK || len != strlen(canonical) || memcmp(buf, canonical, len) != 0) {
    fprintf(stderr, "blocklist_normalise: %d, got %.*s\n", (int)rc, (int)len, buf);
    return 1;
  }
  printf("through_pkg_config: ok\n");
  return 0;
}
