/* A program built against an installed libblocklist through pkg-config, as C11
 * and as C++17 (the same source: the header, its _INIT macros included, must
 * serve both under -Wall -Wextra -Werror). It opens the index folder given as
 * argv[1] with options, normalises a phone number, checks it as text and as a
 * key, and reads the handle's status: every struct the ABI grows.
 * tests/system/c_install.rs builds and runs it.
 *
 * Prints the library version and "through_pkg_config: ok"; exit status 1 on
 * any failure. */
#include <stdio.h>
#include <string.h>

#include <blocklist.h>

static int failed(const char *call, blocklist_result rc) {
  fprintf(stderr, "%s: %d (%s)\n", call, (int)rc, blocklist_error_message(rc));
  return 1;
}

int main(int argc, char **argv) {
  static const char number[] = "081-234-5678";
  static const char canonical[] = "+66812345678";
  blocklist_options options = BLOCKLIST_OPTIONS_INIT;
  blocklist_check_result result = BLOCKLIST_CHECK_RESULT_INIT;
  blocklist_status status = BLOCKLIST_STATUS_INIT;
  blocklist_key key = BLOCKLIST_KEY_INIT;
  blocklist_handle *handle = NULL;
  char buf[BLOCKLIST_MATCHED_MAX];
  size_t len = 0;
  blocklist_result rc;

  if (argc != 2) {
    fprintf(stderr, "usage: %s <index folder>\n", argv[0]);
    return 1;
  }
  printf("libblocklist %s\n", blocklist_version());
  if ((rc = blocklist_options_default(&options)) != BLOCKLIST_OK) return failed("blocklist_options_default", rc);
  if ((rc = blocklist_open_with_options(argv[1], &options, &handle)) != BLOCKLIST_OK)
    return failed("blocklist_open_with_options", rc);
  rc = blocklist_normalise(handle, BLOCKLIST_KIND_NUMBER, number, strlen(number), buf, sizeof buf, &len);
  if (rc != BLOCKLIST_OK || len != strlen(canonical) || memcmp(buf, canonical, len) != 0) {
    fprintf(stderr, "blocklist_normalise: %d, got %.*s\n", (int)rc, (int)len, buf);
    return 1;
  }
  if ((rc = blocklist_check(handle, BLOCKLIST_KIND_NUMBER, number, strlen(number), &result)) != BLOCKLIST_OK)
    return failed("blocklist_check", rc);
  if (!result.listed) return failed("blocklist_check: not listed", rc);
  if ((rc = blocklist_make_key(handle, BLOCKLIST_KIND_NUMBER, number, strlen(number), &key)) != BLOCKLIST_OK)
    return failed("blocklist_make_key", rc);
  if ((rc = blocklist_check_key(handle, &key, &result)) != BLOCKLIST_OK) return failed("blocklist_check_key", rc);
  if (!result.listed) return failed("blocklist_check_key: not listed", rc);
  if ((rc = blocklist_handle_status(handle, &status)) != BLOCKLIST_OK) return failed("blocklist_handle_status", rc);
  if (status.list_version != 1) return failed("blocklist_handle_status: not version 1", rc);
  blocklist_close(handle);
  printf("through_pkg_config: ok\n");
  return 0;
}
