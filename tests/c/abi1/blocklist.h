/*
 * libblocklist: is this identifier (bank account, phone number, domain) on
 * the national fraud blocklist? See README.md, section "C library".
 *
 * Conventions for every function:
 * - Returns a blocklist_result: BLOCKLIST_OK (0) or an error code in a band
 *   (1xx argument, 2xx identifier, 3xx index data, 9xx internal);
 *   blocklist_error_message(code) gives its text, blocklist_last_error() the
 *   calling thread's detailed message of its last failed call.
 * - Outputs are written only on success. Buffers travel with their length.
 * - No function unwinds or aborts on bad input: NULL pointers, bad lengths,
 *   invalid UTF-8 and internal panics all become error codes.
 *
 * Growing structs: blocklist_check_result, blocklist_status,
 * blocklist_options and blocklist_key start with a `size` the caller sets
 * to sizeof before a call (the _INIT macros do; then, for options,
 * blocklist_options_default). The library never writes `size`, writes an
 * output only up to the smaller of `size` and its own struct's size (bytes
 * past it are untouched), reads an input up to the smaller size with
 * defaults for the fields past the caller's, refuses an input that sets
 * bytes past its own size, and refuses a `size` below the struct's size in
 * ABI 1 (*_MIN_SIZE) with BLOCKLIST_ERR_STRUCT_SIZE. A batch walks its
 * results with the stride of the first result's `size`. So a program
 * compiled against an older header keeps working against a newer library
 * of the same BLOCKLIST_ABI_VERSION, and fields are only ever added at the
 * end.
 *
 * Freshness: every answer carries one, read (one atomic load) from the
 * heartbeat blocklistd keeps beside the index (lookup.beat), the same the
 * daemon's HTTP answers carry. Without a heartbeat (an index built without a
 * daemon) the age of the data against max_age_seconds decides instead.
 *
 * New versions: blocklistd announces each index it publishes in the
 * heartbeat (an index generation); a handle's reload thread sleeps on it,
 * is woken and reloads at once, so a new version is answered within
 * milliseconds. Other changes at the path are seen each reload_interval_ms.
 *
 * Index files are replaced by rename, never written in place: the library
 * maps them. A handle checks the served file on every reload (each
 * reload_interval_ms): one overwritten in place (cp, a backup restore) is
 * replaced by the valid file now at the path, or else its answers are
 * withheld with BLOCKLIST_ERR_INDEX_MODIFIED until one is published.
 * Between such a write and that reload, lookups read whatever the writer
 * left, and one touching a page past the end of a file cut short dies of
 * SIGBUS. blocklistd writes index files read-only (0444), so a cp over one
 * fails unless run as root.
 */

#ifndef BLOCKLIST_H
#define BLOCKLIST_H

/* FROZEN: include/blocklist.h as of the ABI-1 minimum layout (each growable
 * struct exactly *_MIN_SIZE bytes), kept unchanged so that tests/c/abi1/
 * programs are compiled as a program built against the first ABI-1 header
 * would be. Never refresh it: a newer library must keep serving it. */

#include <stddef.h>
#include <stdint.h>

/* The version this header belongs to; blocklist_version_number() and
 * blocklist_abi_version() say which library a program runs against. */
#define BLOCKLIST_VERSION_MAJOR 0
#define BLOCKLIST_VERSION_MINOR 1
#define BLOCKLIST_VERSION_PATCH 0
#define BLOCKLIST_VERSION_NUMBER (BLOCKLIST_VERSION_MAJOR * 10000 + BLOCKLIST_VERSION_MINOR * 100 + BLOCKLIST_VERSION_PATCH)

/* Reason codes of blocklist_check_result.reason (the centre may add others). */
#define BLOCKLIST_REASON_UNSPECIFIED 0
#define BLOCKLIST_REASON_MULE_ACCOUNT 1
#define BLOCKLIST_REASON_SCAM_CALL 2
#define BLOCKLIST_REASON_SCAM_SMS 3
#define BLOCKLIST_REASON_PHISHING 4
#define BLOCKLIST_REASON_FRAUD 5
#define BLOCKLIST_REASON_MALWARE 6
#define BLOCKLIST_REASON_IMPERSONATION 7


/*
 Bytes of `blocklist_key` in ABI 1: the least `size` a caller may give.
 */
#define BLOCKLIST_KEY_MIN_SIZE 296

/*
 Default `max_age_seconds`: a day, the daemon's own default bound
 (`freshness.max_age`), for indexes that have no heartbeat beside them.
 */
#define BLOCKLIST_DEFAULT_MAX_AGE_SECONDS 86400

/*
 Default `reload_interval_ms`: one second, for one `stat` per second. A
 version `blocklistd` publishes is served within milliseconds whatever the
 interval (the heartbeat announces it); the interval bounds the rest.
 */
#define BLOCKLIST_DEFAULT_RELOAD_INTERVAL_MS 1000

/*
 Room for the default region code and its terminating NUL.
 */
#define BLOCKLIST_REGION_MAX 8

/*
 Bytes of `blocklist_options` in ABI 1: the least `size` a caller may give.
 */
#define BLOCKLIST_OPTIONS_MIN_SIZE 32

/*
 The largest `size` an input struct may give: far above any struct of
 this library, low enough that a `size` read from uninitialised memory is
 refused rather than followed.
 */
#define BLOCKLIST_STRUCT_MAX_SIZE 4096

/*
 The longest identifier accepted, in bytes (a URL with a long path).
 */
#define BLOCKLIST_MAX_INPUT_LEN 4096

/*
 The most queries one `blocklist_check_batch` call takes.
 */
#define BLOCKLIST_MAX_BATCH 65536

/*
 Size of `blocklist_check_result.agency`: agency ids are at most 31 ASCII bytes.
 */
#define BLOCKLIST_AGENCY_MAX 32

/*
 Size of `blocklist_check_result.matched`: canonical identifiers are at
 most 253 ASCII bytes (a domain).
 */
#define BLOCKLIST_MATCHED_MAX 256

/*
 Bytes of `blocklist_check_result` in ABI 1, up to `matched`: the least
 `size` a caller may give (see the growth rule atop the header).
 */
#define BLOCKLIST_CHECK_RESULT_MIN_SIZE 328

/*
 Bytes of `blocklist_status` in ABI 1, up to `freshness` and its padding.
 */
#define BLOCKLIST_STATUS_MIN_SIZE 80

/*
 The ABI version: the `N` of the shared library's SONAME
 (`libblocklist.so.N`). It changes only when a program compiled against an
 older header could break (a struct shrinking or reordered, a function
 removed or changing meaning); structs growing under the rule atop the
 header, and new functions, keep it.
 */
#define BLOCKLIST_ABI_VERSION 1

/*
 An open lookup index. Opaque: create with `blocklist_open` or
 `blocklist_open_with_options`, release with `blocklist_close`.

 Thread-safety: one handle may be used by any number of threads at once for
 every call except `blocklist_close`, which must be the last call on it.
 */
typedef struct blocklist_handle blocklist_handle;

/*
 The outcome of a call: `BLOCKLIST_OK` (0) or an error code.

 Bands: 1xx a bad argument; 2xx an identifier that is not valid for its
 kind; 3xx the index data; 9xx an internal error. Codes are never reused.
 `blocklist_error_message` turns a code into a static text and
 `blocklist_last_error` gives the calling thread's detailed message.
 */
typedef int32_t blocklist_result;

/*
 What an identifier names; the values are the list's wire codes.
 */
typedef uint16_t blocklist_kind;

/*
 How far an answer can be trusted to be current. 0 is never used, so a
 zeroed result is never mistaken for a fresh one.

 Freshness is the health of the *feed*, read on every answer from the
 heartbeat `blocklistd` keeps beside the index (`lookup.beat`, one atomic
 load): a quiet list the centre keeps re-signing stays fresh however old
 its last change, and a frozen feed turns stale even while its data is
 young. The daemon's HTTP answers read the same heartbeat, so the two
 always agree. Where no heartbeat exists (an index built without a
 daemon), the handle falls back on the age of the data: fresh while the
 index's `created_at` is at most `max_age_seconds` old.
 */
typedef uint8_t blocklist_freshness;

/*
 The answer to a check. Set `size` before the call
 (`blocklist_check_result r = BLOCKLIST_CHECK_RESULT_INIT;`); for a batch,
 `size` of the first result gives the stride of the whole array.

 On a miss, `agency` and `matched` are empty strings (only their first
 byte is written) and `reason`, `listed_at`, `expires_at` are 0.
 */
typedef struct blocklist_check_result {
  /*
   `sizeof(blocklist_check_result)` as the caller was compiled, set by
   the caller and never written by the library (see the growth rule).
   */
  uint32_t size;
  /*
   `BLOCKLIST_OK`, or for an item of a batch the item's error code (the
   other fields then say "not listed" but nothing was checked).
   */
  blocklist_result status;
  /*
   1 if listed (and not expired), else 0.
   */
  uint8_t listed;
  /*
   `BLOCKLIST_FRESHNESS_*` of the data that answered.
   */
  blocklist_freshness freshness;
  /*
   The kind checked.
   */
  blocklist_kind kind;
  /*
   On a hit, the reason code (1 mule account, 2 scam call, 3 scam SMS,
   4 phishing, 5 fraud, 6 malware, 7 impersonation, 0 unspecified; other
   codes may be added by the centre).
   */
  uint16_t reason;
  /*
   On a hit, the length of `matched` in bytes.
   */
  uint16_t matched_len;
  /*
   The list version of the data that answered; 0 with no data.
   */
  uint64_t list_version;
  /*
   On a hit, when it was listed, seconds since the Unix epoch.
   */
  uint64_t listed_at;
  /*
   On a hit, when the listing expires, seconds since the Unix epoch; 0: never.
   */
  uint64_t expires_at;
  /*
   On a hit, the listing agency's id, NUL-terminated.
   */
  char agency[BLOCKLIST_AGENCY_MAX];
  /*
   On a hit, the canonical identifier that is listed, NUL-terminated: the
   one checked or, for a domain, the listed parent that caught it.
   */
  char matched[BLOCKLIST_MATCHED_MAX];
} blocklist_check_result;

/*
 One query of a batch: a kind and `len` bytes of identifier text.
 */
typedef struct blocklist_query {
  /*
   `BLOCKLIST_KIND_*`.
   */
  blocklist_kind kind;
  /*
   The identifier text (not necessarily NUL-terminated).
   */
  const char *data;
  /*
   Its length in bytes.
   */
  size_t len;
} blocklist_query;

/*
 How a handle behaves. Initialise with `BLOCKLIST_OPTIONS_INIT` and
 `blocklist_options_default`, then change the fields you need:

 ```c
 blocklist_options o = BLOCKLIST_OPTIONS_INIT;
 blocklist_options_default(&o);
 o.reload_interval_ms = 250;
 ```
 */
typedef struct blocklist_options {
  /*
   `sizeof(blocklist_options)` as the caller was compiled (see the
   growth rule): fields past it take their defaults.
   */
  uint32_t size;
  /*
   How often a background thread owned by the handle looks for a newly
   published index file (one `stat`; a changed file is opened, validated
   and swapped in without blocking lookups), checks the served file was
   not overwritten in place (one `fstat` and a 256-byte read), and
   follows a re-created heartbeat (one `stat`). The same thread sleeps
   on the heartbeat's index generation and reloads as soon as
   `blocklistd` announces a new version there, so the daemon's versions
   do not wait for the interval. 0: no thread; call
   `blocklist_handle_reload` yourself, as often. Default
   `BLOCKLIST_DEFAULT_RELOAD_INTERVAL_MS`.
   */
  uint32_t reload_interval_ms;
  /*
   Only where no heartbeat (`lookup.beat`, written by `blocklistd`) lies
   beside the index, as for an index built without a daemon: data older
   than this many seconds (by the list's creation time) makes results
   `BLOCKLIST_FRESHNESS_STALE`. 0: never stale. With a heartbeat the
   daemon's verdict on the feed decides. Default
   `BLOCKLIST_DEFAULT_MAX_AGE_SECONDS`.
   */
  uint64_t max_age_seconds;
  /*
   1: opening succeeds when the index file does not exist yet; results say
   `BLOCKLIST_FRESHNESS_NO_DATA` until it appears (the background thread,
   or `blocklist_handle_reload`, picks it up). 0: opening fails with
   `BLOCKLIST_ERR_INDEX_NOT_FOUND`. Default 0.
   */
  uint8_t allow_missing;
  /*
   ISO 3166 alpha-2 region for national phone numbers and domestic
   accounts, NUL-terminated ASCII, any case: phone numbers are read for
   any region of libphonenumber's metadata ("US", "GB"...), domestic
   accounts for "TH" only. Default "TH".
   */
  char default_region[BLOCKLIST_REGION_MAX];
  uint8_t reserved[7];
} blocklist_options;

/*
 The state of a handle's data and reloads. Set `size` before the call
 (`blocklist_status s = BLOCKLIST_STATUS_INIT;`).
 */
typedef struct blocklist_status {
  /*
   `sizeof(blocklist_status)` as the caller was compiled, set by the
   caller and never written by the library (see the growth rule).
   */
  uint32_t size;
  /*
   The code of the last reload attempt that failed, or `BLOCKLIST_OK` if
   the last attempt that found a new file succeeded (or none has).
   */
  blocklist_result last_reload_error;
  /*
   The list version served; 0 when there is no data yet.
   */
  uint64_t list_version;
  /*
   When the served list data was created, seconds since the Unix epoch; 0 without data.
   */
  uint64_t created_at;
  /*
   Seconds since `created_at`; 0 without data, or when `created_at` is
   later than this host's clock.
   */
  uint64_t age_seconds;
  /*
   Entries in the served index.
   */
  uint64_t entries;
  /*
   Index files swapped in since the handle was opened.
   */
  uint64_t reloads;
  /*
   Reload attempts refused (corrupt, unreadable or older files, a
   heartbeat that cannot be read).
   */
  uint64_t reload_failures;
  /*
   From the heartbeat: when the daemon last confirmed the list version
   it holds, seconds since the Unix epoch; 0 without a heartbeat.
   */
  uint64_t feed_confirmed_at;
  /*
   From the heartbeat: until when answers are fresh, seconds since the
   Unix epoch; 0 without a heartbeat (freshness then comes from
   `max_age_seconds`) or before the daemon's first version.
   */
  uint64_t fresh_until;
  /*
   `BLOCKLIST_FRESHNESS_FRESH`, `_STALE` or `_NO_DATA`, as a lookup now
   would report. `_NO_DATA` too while lookups return
   `BLOCKLIST_ERR_INDEX_MODIFIED`.
   */
  blocklist_freshness freshness;
  uint8_t reserved[7];
} blocklist_status;

/*
 An identifier in canonical form with its hash under the served index's
 seed, made by `blocklist_make_key` and checked by `blocklist_check_key`.
 Caller-owned plain data: store it (with the payee, say), copy it, check
 it from any thread. Set `size` before making one
 (`blocklist_key k = BLOCKLIST_KEY_INIT;`). Read `kind`, `len` and
 `canonical`; never change a field (a changed key is checked the slow
 way, or refused).
 */
typedef struct blocklist_key {
  /*
   `sizeof(blocklist_key)` as the caller was compiled (see the growth rule).
   */
  uint32_t size;
  /*
   `BLOCKLIST_KIND_*`.
   */
  blocklist_kind kind;
  /*
   The length of `canonical` in bytes, without its NUL.
   */
  uint16_t len;
  /*
   The seed of the index the hash was made under (0 with no index);
   a key made under another seed is hashed again on every check, so
   make it again after the daemon writes a new full index
   (`blocklist_status.list_version` tells when a check is slower).
   */
  uint64_t seed;
  /*
   The hash of the canonical form under `seed`.
   */
  uint64_t hash[2];
  /*
   A seal over the fields above, so that a key from corrupt memory is
   not trusted.
   */
  uint64_t seal;
  /*
   The canonical form, NUL-terminated (as `blocklist_normalise` writes it).
   */
  char canonical[BLOCKLIST_MATCHED_MAX];
} blocklist_key;

/*
 Success.
 */
#define BLOCKLIST_OK 0

/*
 A required pointer argument was NULL.
 */
#define BLOCKLIST_ERR_NULL_POINTER 100

/*
 The identifier bytes are not valid UTF-8.
 */
#define BLOCKLIST_ERR_INVALID_UTF8 101

/*
 The identifier has length zero.
 */
#define BLOCKLIST_ERR_EMPTY_INPUT 102

/*
 The identifier is longer than `BLOCKLIST_MAX_INPUT_LEN` bytes.
 */
#define BLOCKLIST_ERR_INPUT_TOO_LONG 103

/*
 The kind is not one of the `BLOCKLIST_KIND_*` values.
 */
#define BLOCKLIST_ERR_UNKNOWN_KIND 104

/*
 A field of `blocklist_options` is invalid (the message names it).
 */
#define BLOCKLIST_ERR_INVALID_OPTIONS 105

/*
 A batch holds more than `BLOCKLIST_MAX_BATCH` queries.
 */
#define BLOCKLIST_ERR_BATCH_TOO_LARGE 106

/*
 An output buffer is too small: length zero, or shorter than the text it
 must hold whole (`blocklist_normalise`).
 */
#define BLOCKLIST_ERR_BUFFER_TOO_SMALL 107

/*
 A struct's `size` field is less than the size of that struct in ABI 1
 (the caller did not set it: use the `_INIT` macro), or not a multiple of
 its alignment in an array, or an input struct larger than this library
 knows sets fields it does not know (nonzero bytes past its size): see
 the growth rule atop the header.
 */
#define BLOCKLIST_ERR_STRUCT_SIZE 108

/*
 The identifier is blank (only white space).
 */
#define BLOCKLIST_ERR_BLANK_IDENTIFIER 200

/*
 The identifier holds a character its kind does not allow (including an
 invalid internationalised domain name or domain label).
 */
#define BLOCKLIST_ERR_INVALID_CHARACTER 201

/*
 The identifier, or a part of it, has the wrong length for its kind.
 */
#define BLOCKLIST_ERR_WRONG_LENGTH 202

/*
 The identifier's structure is wrong (an e-mail address or an IP address
 given as a domain, an ambiguous "00" number, ...).
 */
#define BLOCKLIST_ERR_MALFORMED 203

/*
 A phone number that is not a reachable E.164 number (short code, unknown
 country code, unallocated range, missing trunk prefix).
 */
#define BLOCKLIST_ERR_INVALID_NUMBER 204

/*
 A bank account whose institution code or IBAN check digits are wrong.
 */
#define BLOCKLIST_ERR_INVALID_ACCOUNT 205

/*
 A domain that cannot be listed: a single label or a public suffix.
 */
#define BLOCKLIST_ERR_NOT_LISTABLE_DOMAIN 206

/*
 National input needs rules for a region this build does not know.
 */
#define BLOCKLIST_ERR_UNSUPPORTED_REGION 207

/*
 Text given to `blocklist_check_canonical` is not in its kind's canonical
 form (normalise it first with `blocklist_normalise`).
 */
#define BLOCKLIST_ERR_NOT_CANONICAL 208

/*
 The identifier is invalid for a reason newer than this list of codes.
 */
#define BLOCKLIST_ERR_INVALID_IDENTIFIER 299

/*
 There is no index file at the path (and the handle was not opened with
 `allow_missing`).
 */
#define BLOCKLIST_ERR_INDEX_NOT_FOUND 300

/*
 The index file could not be read (permissions, I/O error, map failure).
 */
#define BLOCKLIST_ERR_INDEX_IO 301

/*
 The index file failed validation (truncated, bad magic, checksum,
 inconsistent sections). A reload keeps the previous index.
 */
#define BLOCKLIST_ERR_INDEX_CORRUPT 302

/*
 The index file has a format version this library cannot read.
 */
#define BLOCKLIST_ERR_INDEX_UNSUPPORTED_FORMAT 303

/*
 A reload found an index with an older list version than the one served;
 it was refused and the previous index is kept.
 */
#define BLOCKLIST_ERR_INDEX_STALE 304

/*
 The index file being served was overwritten in place (by `cp`, a backup
 restore) instead of being replaced by rename, and no valid file has taken
 its place: its mapped bytes are no longer the ones validated, so every
 lookup returns this code (nothing written) until a valid index, not older
 than the one served, is published at the path.
 */
#define BLOCKLIST_ERR_INDEX_MODIFIED 305

/*
 The path, or `lookup.idx` in the data folder, is not a regular file (a
 FIFO, a device, a socket): refused without reading from it.
 */
#define BLOCKLIST_ERR_INDEX_NOT_A_FILE 306

/*
 The index could not be used for a reason newer than this list of codes.
 */
#define BLOCKLIST_ERR_INDEX_OTHER 399

/*
 A panic was caught at the boundary (a bug in libblocklist; please report).
 */
#define BLOCKLIST_ERR_PANIC 900

/*
 An internal error that should not happen (a bug in libblocklist).
 */
#define BLOCKLIST_ERR_INTERNAL 901

/*
 A bank account: institution code and account number, or an IBAN.
 */
#define BLOCKLIST_KIND_ACCOUNT 1

/*
 A phone number (normalised to E.164).
 */
#define BLOCKLIST_KIND_NUMBER 2

/*
 A domain name, or a URL (reduced to its host).
 */
#define BLOCKLIST_KIND_DOMAIN 3

/*
 The daemon confirmed the newest signed list version recently enough (or,
 without a heartbeat, the index is younger than `max_age_seconds`; data
 created after this host's "now" counts as age 0).
 */
#define BLOCKLIST_FRESHNESS_FRESH 1

/*
 The feed has not been confirmed within its bound (frozen, cut off, or the
 daemon stopped), or, without a heartbeat, the index is older than
 `max_age_seconds`: recent listings may be missing. The answer is still
 the index's answer.
 */
#define BLOCKLIST_FRESHNESS_STALE 2

/*
 No list version yet: either no index has been published (`allow_missing`),
 and every answer is "not listed" without having checked anything, or the
 daemon has not confirmed any version since it started (its heartbeat says
 so), and the answer comes from the index it left. Fail open or closed as
 policy says.
 */
#define BLOCKLIST_FRESHNESS_NO_DATA 3

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

/*
 Writes the canonical form of an identifier of `kind` into `buf`, with a
 NUL, and its length (without the NUL) into `*out_len`: the text
 `blocklist_check_canonical` takes, normalised with the handle's rules
 exactly as `blocklist_check` normalises. `BLOCKLIST_MATCHED_MAX` bytes
 always suffice.

 Errors (nothing written): `BLOCKLIST_ERR_NULL_POINTER`, the argument
 errors of `blocklist_check`, the 2xx codes when the text is not a valid
 identifier of the kind, `BLOCKLIST_ERR_BUFFER_TOO_SMALL` when `cap` is
 less than the canonical length plus one.

 Ownership: borrows `data` for the call; the caller owns `buf`, which may
 be the buffer `data` points into (normalising in place).
 Thread-safety: any number of threads at once.

 # Safety
 `handle` NULL or open; `data` NULL or valid for `len` bytes; `buf` NULL or
 valid for writing `cap` bytes; `out_len` NULL or valid for one `size_t`.
 */
blocklist_result blocklist_normalise(const struct blocklist_handle *handle,
                                     blocklist_kind kind,
                                     const char *data,
                                     size_t len,
                                     char *buf,
                                     size_t cap,
                                     size_t *out_len);

/*
 Checks an identifier already in canonical form (from `blocklist_normalise`,
 or `matched` of an earlier result), skipping normalisation: the fastest
 check. A domain also matches through a listed parent up
 to its registrable domain (never past a public suffix). Check
 `out->freshness` on every answer.

 The text must have its kind's canonical shape (`+66812345678`,
 `TH:004:1234567890`, an IBAN in capitals without spaces, `scam.example`),
 else `BLOCKLIST_ERR_NOT_CANONICAL`: text as people write it is refused, not
 silently "not listed". Text of the right shape is not normalised further,
 so one that is not the canonical form is answered "not listed": pass only
 text this library produced.

 Errors (nothing written to `*out`): `BLOCKLIST_ERR_NULL_POINTER`,
 `BLOCKLIST_ERR_EMPTY_INPUT`, `BLOCKLIST_ERR_INPUT_TOO_LONG`,
 `BLOCKLIST_ERR_INVALID_UTF8`, `BLOCKLIST_ERR_UNKNOWN_KIND`,
 `BLOCKLIST_ERR_NOT_CANONICAL`, `BLOCKLIST_ERR_INDEX_MODIFIED` (as
 `blocklist_check`).

 Ownership and thread-safety: as `blocklist_check`.

 # Safety
 As `blocklist_check`.
 */
blocklist_result blocklist_check_canonical(const struct blocklist_handle *handle,
                                           blocklist_kind kind,
                                           const char *data,
                                           size_t len,
                                           struct blocklist_check_result *out);

/*
 `blocklist_check_batch` for identifiers in canonical form, under the rules
 of `blocklist_check_canonical`: each query whose text does not have its
 kind's canonical shape gets `BLOCKLIST_ERR_NOT_CANONICAL` in its result.
 The fastest way to check many identifiers (a payee file, a night's
 transfers): the memory loads of many queries overlap, and nothing is
 normalised.

 Errors, ownership and thread-safety: as `blocklist_check_batch`.

 # Safety
 As `blocklist_check_batch`.
 */
blocklist_result blocklist_check_canonical_batch(const struct blocklist_handle *handle,
                                                 const struct blocklist_query *queries,
                                                 size_t n,
                                                 struct blocklist_check_result *results);

/*
 Checks whether an identifier of `kind` is listed.

 `data` holds `len` bytes of UTF-8 text as a person or a system wrote it
 (no NUL needed); it is normalised inside with the same rules as the list
 (numbers to E.164, accounts to `TH:<bank>:<digits>` or an IBAN, domains
 and URLs to the lower-case ASCII host). A domain also matches through a
 Check `out->freshness` on every answer.

 Errors (nothing written to `*out`): `BLOCKLIST_ERR_NULL_POINTER`,
 `BLOCKLIST_ERR_EMPTY_INPUT`, `BLOCKLIST_ERR_INPUT_TOO_LONG`,
 `BLOCKLIST_ERR_INVALID_UTF8`, `BLOCKLIST_ERR_UNKNOWN_KIND`, the 2xx
 codes when the text is not a valid identifier of the kind, and
 `BLOCKLIST_ERR_INDEX_MODIFIED` while the served index file is known to
 have been overwritten in place (see the header's top).

 Ownership: borrows `data` for the call only; `data` may lie inside `*out`
 (`matched` of the result being refilled). Thread-safety: any number of
 threads may check on one handle at once; lock-free, never blocked by a
 reload.

 # Safety
 `handle` NULL or open; `data` NULL or valid for `len` bytes; `out` NULL
 or valid for writing one `blocklist_check_result`.
 */
blocklist_result blocklist_check(const struct blocklist_handle *handle,
                                 blocklist_kind kind,
                                 const char *data,
                                 size_t len,
                                 struct blocklist_check_result *out);

/*
 `blocklist_check` for a bank account (`BLOCKLIST_KIND_ACCOUNT`):
 "004 123-4-56789-0", "004/1234567890", an IBAN.

 # Safety
 As `blocklist_check`.
 */
blocklist_result blocklist_check_account(const struct blocklist_handle *handle,
                                         const char *data,
                                         size_t len,
                                         struct blocklist_check_result *out);

/*
 `blocklist_check` for a phone number (`BLOCKLIST_KIND_NUMBER`):
 "081-234-5678", "+66 81 234 5678".

 # Safety
 As `blocklist_check`.
 */
blocklist_result blocklist_check_number(const struct blocklist_handle *handle,
                                        const char *data,
                                        size_t len,
                                        struct blocklist_check_result *out);

/*
 `blocklist_check` for a domain name (`BLOCKLIST_KIND_DOMAIN`):
 "WWW.Scam.Example.", "ตัวอย่าง.com".

 # Safety
 As `blocklist_check`.
 */
blocklist_result blocklist_check_domain(const struct blocklist_handle *handle,
                                        const char *data,
                                        size_t len,
                                        struct blocklist_check_result *out);

/*
 `blocklist_check` for a URL: its host is checked as a domain
 (`"https://scam.example/login"` checks `"scam.example"`), so `out->kind` is
 `BLOCKLIST_KIND_DOMAIN`.

 # Safety
 As `blocklist_check`.
 */
blocklist_result blocklist_check_url(const struct blocklist_handle *handle,
                                     const char *data,
                                     size_t len,
                                     struct blocklist_check_result *out);

/*
 Checks `n` queries at once, writing `results[i]` for `queries[i]`; faster
 per identifier than one call each (the memory loads overlap).

 Each query is judged on its own: an invalid query gets its error code in
 `results[i].status` (the first such item's message becomes the thread's
 last error) and the call still returns `BLOCKLIST_OK`. All answers come
 from the same index.

 Errors (nothing written): `BLOCKLIST_ERR_NULL_POINTER` (`handle`,
 `queries` or `results` NULL, even when `n` is 0),
 `BLOCKLIST_ERR_BATCH_TOO_LARGE` (`n > BLOCKLIST_MAX_BATCH`),
 `BLOCKLIST_ERR_INDEX_MODIFIED` (as `blocklist_check`).

 Ownership: borrows `queries` and their text for the call only. A text may
 lie inside `results` (`matched` of an earlier answer, re-checked in place):
 every text is read before any result is written.
 Thread-safety: as `blocklist_check`.

 # Safety
 `handle` NULL or open; `queries` NULL or valid for `n` queries, each
 `data` NULL or valid for its `len` bytes; `results` NULL or valid for
 writing `n` results.
 */
blocklist_result blocklist_check_batch(const struct blocklist_handle *handle,
                                       const struct blocklist_query *queries,
                                       size_t n,
                                       struct blocklist_check_result *results);

/*
 Opens the lookup index at `path` with default options (see
 `blocklist_open_with_options`).

 # Safety
 As `blocklist_open_with_options`.
 */
blocklist_result blocklist_open(const char *path, struct blocklist_handle **out);

/*
 Opens the lookup index at `path` and stores a new handle in `*out`.

 `path` is a NUL-terminated file name: the index file itself, or a data
 folder holding it as `lookup.idx` (where `blocklistd` publishes it). The
 file is opened, mapped and fully validated before this returns. With
 `reload_interval_ms > 0` the handle starts a background thread that picks
 up newly published files.

 Errors: `BLOCKLIST_ERR_NULL_POINTER`, `BLOCKLIST_ERR_EMPTY_INPUT` (empty
 path), `BLOCKLIST_ERR_STRUCT_SIZE` (see the growth rule),
 `BLOCKLIST_ERR_INVALID_OPTIONS`, `BLOCKLIST_ERR_UNSUPPORTED_REGION`,
 `BLOCKLIST_ERR_INDEX_NOT_FOUND` (unless `allow_missing`),
 `BLOCKLIST_ERR_INDEX_IO`, `BLOCKLIST_ERR_INDEX_CORRUPT`,
 `BLOCKLIST_ERR_INDEX_UNSUPPORTED_FORMAT`, `BLOCKLIST_ERR_INDEX_NOT_A_FILE`
 (a FIFO, device or socket: refused at once, never waited on),
 `BLOCKLIST_ERR_INTERNAL` (the reload thread could not be started). On
 error `*out` is not written. A heartbeat that cannot be read does not
 fail the open: answers say stale and the status says why.

 Ownership: the caller owns the new handle and must release it with
 `blocklist_close`. `path` and `options` are copied; the caller keeps them.
 Thread-safety: any thread. A process forked after the open may check and
 close with the handle, but it has no reload thread (`fork` copies only the
 calling thread) and `blocklist_handle_reload` refuses to run there: a child
 that runs long should open its own handle.

 # Safety
 `path` must be NULL or NUL-terminated; `options` NULL or valid for
 reading `options->size` bytes; `out` NULL or valid for writing a pointer.
 */
blocklist_result blocklist_open_with_options(const char *path,
                                             const struct blocklist_options *options,
                                             struct blocklist_handle **out);

/*
 Closes a handle: stops its reload thread (waiting for a reload in progress
 to finish) and unmaps its index. NULL is accepted and ignored.

 Ownership: takes back the handle; it must not be used afterwards.
 Thread-safety: every other call on the same handle, lookups included, must
 have returned before this one starts, and none may start after it.

 # Safety
 `handle` must be NULL or a handle from `blocklist_open*` not yet closed.
 */
void blocklist_close(struct blocklist_handle *handle);

/*
 Looks for a newly published index file now (one `stat`) and, if the path
 names a new file, opens, validates and swaps it in. Lookups in flight are
 not blocked. Returns `BLOCKLIST_OK` also when nothing changed.

 Errors (the previous index stays in use): `BLOCKLIST_ERR_NULL_POINTER`,
 `BLOCKLIST_ERR_INDEX_NOT_FOUND`, `BLOCKLIST_ERR_INDEX_IO`,
 `BLOCKLIST_ERR_INDEX_CORRUPT`, `BLOCKLIST_ERR_INDEX_UNSUPPORTED_FORMAT`,
 `BLOCKLIST_ERR_INDEX_STALE` (an older list version than the one served),
 `BLOCKLIST_ERR_INDEX_NOT_A_FILE`, `BLOCKLIST_ERR_INDEX_MODIFIED` (the
 served file was overwritten in place and the file there now is refused:
 lookups are withheld until a valid one is published), the index codes for
 a heartbeat that cannot be read (answers then say stale),
 `BLOCKLIST_ERR_INTERNAL` (called in a process forked from the one that
 opened the handle). A refused file is not retried until it is replaced.
 Also maps the heartbeat again when the daemon has re-created it.

 Thread-safety: any thread, concurrently with lookups and other reloads.

 # Safety
 `handle` must be NULL or an open handle.
 */
blocklist_result blocklist_handle_reload(const struct blocklist_handle *handle);

/*
 Stores the state of the handle's data and reloads in `*out`, up to
 `out->size` bytes (set it first: `BLOCKLIST_STATUS_INIT`).

 Errors: `BLOCKLIST_ERR_NULL_POINTER`, `BLOCKLIST_ERR_STRUCT_SIZE`; on
 error `*out` is not written.
 Thread-safety: any thread, concurrently with lookups and reloads.

 # Safety
 `handle` must be NULL or an open handle; `out` NULL or valid for writing
 `out->size` bytes.
 */
blocklist_result blocklist_handle_status(const struct blocklist_handle *handle,
                                         struct blocklist_status *out);

/*
 Copies the detailed message of the handle's last failed reload (empty if
 none) into `buf`, as `blocklist_last_error` does: at most `len - 1` bytes
 and a NUL; `*out_len` receives the full length.

 Errors: `BLOCKLIST_ERR_NULL_POINTER`, `BLOCKLIST_ERR_BUFFER_TOO_SMALL`
 (`len` 0); like `blocklist_last_error`, they leave the thread's last-error
 message as it was. Thread-safety: any thread.

 # Safety
 `handle` NULL or open; `buf` valid for `len` bytes; `out_len` valid for one `size_t`.
 */
blocklist_result blocklist_handle_reload_error(const struct blocklist_handle *handle,
                                               char *buf,
                                               size_t len,
                                               size_t *out_len);

/*
 Normalises an identifier of `kind` (as `blocklist_check` does) and
 stores it in `*key` with its hash under the served index's seed: the
 work every check of it would repeat, done once.

 ```c
 blocklist_key payee = BLOCKLIST_KEY_INIT;
 if (blocklist_make_key(h, BLOCKLIST_KIND_ACCOUNT, text, len, &payee) == BLOCKLIST_OK) {
   blocklist_check_result r = BLOCKLIST_CHECK_RESULT_INIT;
   blocklist_check_key(h, &payee, &r);   // on every payment
 }
 ```

 Errors (nothing written): `BLOCKLIST_ERR_NULL_POINTER`,
 `BLOCKLIST_ERR_STRUCT_SIZE`, the argument errors of `blocklist_check`,
 the 2xx codes when the text is not a valid identifier of the kind,
 `BLOCKLIST_ERR_INDEX_MODIFIED` (as `blocklist_check`).

 Ownership: borrows `data` for the call; the caller owns `*key`.
 Thread-safety: any number of threads at once.

 # Safety
 `handle` NULL or open; `data` NULL or valid for `len` bytes; `key` NULL
 or valid for writing `key->size` bytes.
 */
blocklist_result blocklist_make_key(const struct blocklist_handle *handle,
                                    blocklist_kind kind,
                                    const char *data,
                                    size_t len,
                                    struct blocklist_key *key);

/*
 Checks a key from `blocklist_make_key`: the answer `blocklist_check`
 gives for the text it was made from, without normalising or hashing it
 again (unless the daemon has since written a new full index under
 another seed: then it is hashed on each check, as
 `blocklist_check_canonical` would, until made again). Check
 `out->freshness` on every answer.

 Errors (nothing written to `*out`): `BLOCKLIST_ERR_NULL_POINTER`,
 `BLOCKLIST_ERR_STRUCT_SIZE`, `BLOCKLIST_ERR_UNKNOWN_KIND` and
 `BLOCKLIST_ERR_NOT_CANONICAL` (a key that was not made by
 `blocklist_make_key`, or was changed since), `BLOCKLIST_ERR_INDEX_MODIFIED`
 (as `blocklist_check`).

 Ownership: borrows `key` for the call. Thread-safety: as `blocklist_check`.

 # Safety
 `handle` NULL or open; `key` NULL or valid for reading `key->size` bytes;
 `out` NULL or valid for writing `out->size` bytes.
 */
blocklist_result blocklist_check_key(const struct blocklist_handle *handle,
                                     const struct blocklist_key *key,
                                     struct blocklist_check_result *out);

/*
 The static text of a result code.

 Returns a NUL-terminated string with static lifetime (never free it), for
 any `code`: an unknown code gives "unknown result code".

 Thread-safety: safe to call from any thread at any time.
 */
const char *blocklist_error_message(blocklist_result code);

/*
 Copies the calling thread's detailed message of its last failed call
 (empty if none has failed) into `buf`.

 Writes at most `len - 1` bytes and a terminating NUL (truncating on a
 UTF-8 character boundary), and stores in `*out_len` the full length of the
 message in bytes, without the NUL: `*out_len >= len` means it was
 truncated. Successful calls do not clear the message (as `errno`).

 Errors: `BLOCKLIST_ERR_NULL_POINTER` if `buf` or `out_len` is NULL,
 `BLOCKLIST_ERR_BUFFER_TOO_SMALL` if `len` is 0. On error nothing is
 written and the message stays as it was (this call's own failure does
 not replace it). Ownership: the caller owns `buf`. Thread-safety: reads
 only the calling thread's message.

 # Safety
 `buf` must be valid for writes of `len` bytes and `out_len` for one `size_t`.
 */
blocklist_result blocklist_last_error(char *buf, size_t len, size_t *out_len);

/*
 Fills `*out` with the default options, up to `out->size` bytes (set it
 first: `BLOCKLIST_OPTIONS_INIT`).

 Errors: `BLOCKLIST_ERR_NULL_POINTER`, `BLOCKLIST_ERR_STRUCT_SIZE`.
 Ownership: the caller owns `*out` (a plain struct, nothing to free).
 Thread-safety: any thread.

 # Safety
 `out` must be NULL or valid for writing `out->size` bytes.
 */
blocklist_result blocklist_options_default(struct blocklist_options *out);

/*
 The library version ("0.1.0"), a static NUL-terminated string (never free it).

 Thread-safety: any thread.
 */
const char *blocklist_version(void);

/*
 The library's version as one number, `major * 10000 + minor * 100 +
 patch`: compare it with `BLOCKLIST_VERSION_NUMBER`, the version the
 program was compiled against.

 ```c
 if (blocklist_abi_version() != BLOCKLIST_ABI_VERSION) abort();
 if (blocklist_version_number() < BLOCKLIST_VERSION_NUMBER)
   fprintf(stderr, "libblocklist %s is older than the header\n", blocklist_version());
 ```

 Thread-safety: any thread.
 */
uint32_t blocklist_version_number(void);

/*
 The library's ABI version (`BLOCKLIST_ABI_VERSION` of the header it was
 built with): a program compiled against another ABI version must not use it.

 Thread-safety: any thread.
 */
uint32_t blocklist_abi_version(void);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* BLOCKLIST_H */

/* Initialisers that set `size` (see the growth rule at the top), the
 * other fields zero. */
#ifdef __cplusplus
#define BLOCKLIST_SIZED_INIT_(type) { (uint32_t)sizeof(type) }
#else
#define BLOCKLIST_SIZED_INIT_(type) { .size = (uint32_t)sizeof(type) }
#endif
#define BLOCKLIST_CHECK_RESULT_INIT BLOCKLIST_SIZED_INIT_(blocklist_check_result)
#define BLOCKLIST_STATUS_INIT BLOCKLIST_SIZED_INIT_(blocklist_status)
#define BLOCKLIST_OPTIONS_INIT BLOCKLIST_SIZED_INIT_(blocklist_options)
#define BLOCKLIST_KEY_INIT BLOCKLIST_SIZED_INIT_(blocklist_key)
