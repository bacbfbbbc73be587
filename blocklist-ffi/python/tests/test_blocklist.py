"""The Python module `blocklist` on real index files and heartbeats.

Run by tests/python.rs (`cargo test -p blocklist-python`), which writes the
fixtures and points BLOCKLIST_PY_FIXTURES at them: see `write_fixtures`
there for what each holds. Codes are libblocklist's (include/blocklist.h).
"""

import ast
import contextlib
import inspect
import io
import os
import pathlib
import shutil
import tempfile
import threading
import time
import unittest

import blocklist

FIXTURES = os.environ["BLOCKLIST_PY_FIXTURES"]

# How long a background reload may take before a test gives up waiting: a
# bound on a wait, not a timing assertion (reloads take milliseconds).
PATIENCE_SECONDS = 30


def fixture(name):
    return os.path.join(FIXTURES, name)


def wait_until(condition, what):
    deadline = time.monotonic() + PATIENCE_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.01)


class Scratch(unittest.TestCase):
    """A test with a private copy of the `data` fixture it may change."""

    def setUp(self):
        self.scratch = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.scratch)
        self.data = os.path.join(self.scratch, "data")
        shutil.copytree(fixture("data"), self.data)

    def publish(self, source):
        """Publishes `source` as the index, as the daemon does: by rename."""
        staged = os.path.join(self.scratch, "staged.idx")
        shutil.copyfile(source, staged)
        os.replace(staged, os.path.join(self.data, "lookup.idx"))


class Checks(unittest.TestCase):
    def setUp(self):
        self.handle = blocklist.open(fixture("data"))
        self.addCleanup(self.handle.close)

    def test_a_listed_number_written_as_people_do_is_a_hit_with_its_listing(self):
        for text in ["081-234-5678", "+66 81 234 5678", "0066812345678"]:
            r = self.handle.check("number", text)
            self.assertTrue(r.listed, text)
            self.assertEqual(r.kind, "number")
            self.assertEqual(r.matched, "+66812345678")
            self.assertEqual(r.reason, "scam_call")
            self.assertEqual(r.reason_code, 2)
            self.assertEqual(r.agency, "th-aoc")
            self.assertEqual(r.listed_at, 1_700_000_000)
            self.assertIsNone(r.expires_at)
            self.assertEqual(r.list_version, 1)
            self.assertEqual(r.freshness, "fresh")
            self.assertIsNone(r.error)

    def test_an_unlisted_identifier_is_a_miss_with_no_listing_fields(self):
        r = self.handle.check("number", "081-999-0000")
        self.assertFalse(r.listed)
        self.assertEqual(
            (r.matched, r.reason, r.agency, r.listed_at, r.expires_at),
            (None, None, None, None, None),
        )
        self.assertEqual(r.list_version, 1)
        self.assertEqual(r.freshness, "fresh")
        self.assertIn("listed=False", repr(r))

    def test_a_subdomain_and_a_url_are_caught_by_the_listed_parent(self):
        for kind, text in [
            ("domain", "a.b.scam.example"),
            ("domain", "WWW.Scam.Example."),
            ("url", "https://login.scam.example/reset?x=1"),
        ]:
            r = self.handle.check(kind, text)
            self.assertTrue(r.listed, text)
            self.assertEqual(r.kind, "domain")
            self.assertEqual(r.matched, "scam.example")
            self.assertEqual(r.reason, "phishing")
        self.assertFalse(self.handle.check("domain", "notscam.example").listed)

    def test_an_account_listing_carries_its_expiry(self):
        r = self.handle.check("account", "004 123-4-56789-0")
        self.assertTrue(r.listed)
        self.assertEqual(r.matched, "TH:004:1234567890")
        self.assertEqual((r.reason, r.agency), ("mule_account", "bank-004"))
        self.assertEqual(r.expires_at, 4_000_000_000)

    def test_an_expired_listing_no_longer_matches(self):
        self.assertFalse(self.handle.check("number", "089-876-5432").listed)

    def test_a_batch_answers_in_order_from_one_version_and_keeps_bad_items_as_errors(self):
        answers = self.handle.check_batch(
            [
                ("number", "081-234-5678"),
                ("number", "12"),
                ("url", "https://x.scam.example/"),
                ("fax", "1234"),
                ("account", "004/1234567890"),
                ("domain", "example.org"),
            ]
        )
        self.assertEqual(
            [a.listed for a in answers], [True, False, True, False, True, False]
        )
        self.assertEqual(answers[0].matched, "+66812345678")
        self.assertEqual(answers[2].matched, "scam.example")
        self.assertEqual({a.list_version for a in answers if a.error is None}, {1})
        bad_number, bad_kind = answers[1].error, answers[3].error
        self.assertIsInstance(bad_number, blocklist.InvalidIdentifier)
        self.assertEqual(bad_number.code, 204)
        self.assertTrue(bad_number.message)
        self.assertIsInstance(bad_kind, blocklist.InvalidArgument)
        self.assertEqual(bad_kind.code, 104)
        self.assertIn("fax", bad_kind.message)
        for ok in (answers[0], answers[2], answers[4], answers[5]):
            self.assertIsNone(ok.error)
        self.assertEqual(self.handle.check_batch([]), [])

    def test_normalise_gives_the_canonical_forms_checks_look_up(self):
        self.assertEqual(self.handle.normalise("number", "081-234-5678"), "+66812345678")
        self.assertEqual(
            self.handle.normalise("account", "004 123-4-56789-0"), "TH:004:1234567890"
        )
        self.assertEqual(
            self.handle.normalise("account", "GB82 WEST 1234 5698 7654 32"),
            "GB82WEST12345698765432",
        )
        self.assertEqual(self.handle.normalise("domain", "WWW.Scam.Example."), "www.scam.example")
        self.assertEqual(
            self.handle.normalise("url", "https://login.scam.example/x"), "login.scam.example"
        )
        self.assertEqual(self.handle.normalise("domain", "ตัวอย่าง.com"), "xn--72c1a1bt4awk9o.com")

    def test_the_region_option_reads_national_numbers_by_its_rules(self):
        with blocklist.open(fixture("data"), region="us") as us:
            self.assertEqual(us.normalise("number", "(212) 555-1234"), "+12125551234")
            with self.assertRaises(blocklist.InvalidIdentifier):
                us.check("number", "081-234-5678")
            self.assertTrue(us.check("number", "+66 81 234 5678").listed)


class Errors(unittest.TestCase):
    def setUp(self):
        self.handle = blocklist.open(fixture("data"))
        self.addCleanup(self.handle.close)

    def assertRaisesCode(self, cls, code, call, *args, **kwargs):
        with self.assertRaises(cls) as caught:
            call(*args, **kwargs)
        error = caught.exception
        self.assertIsInstance(error, blocklist.BlocklistError)
        self.assertEqual(error.code, code)
        self.assertTrue(error.message)
        self.assertEqual(str(error), error.message)
        return error

    def test_text_that_is_no_identifier_raises_invalid_identifier_with_the_c_code(self):
        self.assertRaisesCode(blocklist.InvalidIdentifier, 204, self.handle.check, "number", "12")
        self.assertRaisesCode(blocklist.InvalidIdentifier, 200, self.handle.check, "number", "   ")
        self.assertRaisesCode(
            blocklist.InvalidIdentifier, 206, self.handle.check, "domain", "co.uk"
        )
        self.assertRaisesCode(
            blocklist.InvalidIdentifier, 205, self.handle.normalise, "account", "GB00 WEST 1234 5698 7654 32"
        )

    def test_bad_arguments_raise_invalid_argument_with_the_c_code(self):
        error = self.assertRaisesCode(
            blocklist.InvalidArgument, 104, self.handle.check, "fax", "1234"
        )
        self.assertIn("url", error.message)
        self.assertRaisesCode(blocklist.InvalidArgument, 102, self.handle.check, "number", "")
        self.assertRaisesCode(
            blocklist.InvalidArgument, 103, self.handle.check, "url", "https://x.example/" + "a" * 5000
        )
        self.assertRaisesCode(
            blocklist.InvalidArgument, 105, blocklist.open, fixture("data"), region="Thailand"
        )
        self.assertRaisesCode(blocklist.InvalidArgument, 105, blocklist.open, fixture("data"), region="T1")

    def test_a_missing_index_raises_index_file_error_300(self):
        error = self.assertRaisesCode(
            blocklist.IndexFileError, 300, blocklist.open, fixture("no-such-folder")
        )
        self.assertIn("no-such-folder", error.message)

    def test_a_closed_handle_refuses_calls_and_closing_twice_is_harmless(self):
        with blocklist.open(fixture("data")) as handle:
            self.assertTrue(handle.check("number", "081-234-5678").listed)
        self.assertRaisesCode(blocklist.InvalidArgument, 100, handle.check, "number", "081-234-5678")
        self.assertRaisesCode(blocklist.InvalidArgument, 100, handle.status)
        handle.close()


class Freshness(unittest.TestCase):
    def test_without_a_heartbeat_the_age_of_the_data_decides_against_max_age(self):
        with blocklist.open(fixture("old")) as handle:
            self.assertEqual(handle.check("number", "081-234-5678").freshness, "stale")
            status = handle.status()
            self.assertEqual(status.freshness, "stale")
            self.assertGreaterEqual(status.age_seconds, 2 * 86_400)
            self.assertIsNone(status.fresh_until)
        with blocklist.open(fixture("old"), max_age_seconds=3 * 86_400) as handle:
            self.assertEqual(handle.check("number", "081-234-5678").freshness, "fresh")
        with blocklist.open(fixture("old"), max_age_seconds=0) as handle:
            self.assertEqual(handle.check("number", "081-234-5678").freshness, "fresh")

    def test_with_a_heartbeat_the_daemons_verdict_decides_however_old_the_data(self):
        for name, expected in [("beating", "fresh"), ("frozen", "stale"), ("unconfirmed", "no_data")]:
            with blocklist.open(fixture(name), max_age_seconds=60) as handle:
                r = handle.check("number", "081-234-5678")
                self.assertTrue(r.listed, name)
                self.assertEqual(r.freshness, expected, name)
                self.assertEqual(handle.status().freshness, expected, name)
        with blocklist.open(fixture("beating")) as handle:
            status = handle.status()
            self.assertGreater(status.fresh_until, time.time())
            self.assertLess(status.feed_confirmed_at, time.time())

    def test_allow_missing_answers_no_data_until_the_index_appears(self):
        with tempfile.TemporaryDirectory() as scratch:
            data = os.path.join(scratch, "data")
            with blocklist.open(data, allow_missing=True, reload_interval_ms=10) as handle:
                r = handle.check("number", "081-234-5678")
                self.assertEqual((r.listed, r.freshness, r.list_version), (False, "no_data", 0))
                with self.assertRaises(blocklist.InvalidIdentifier):
                    handle.check("number", "12")
                self.assertEqual(handle.status().list_version, 0)
                shutil.copytree(fixture("data"), data)
                wait_until(lambda: handle.status().list_version == 1, "the first index")
                self.assertTrue(handle.check("number", "081-234-5678").listed)


class Versions(Scratch):
    def test_a_new_version_is_answered_without_reopening(self):
        with blocklist.open(self.data, reload_interval_ms=10) as handle:
            self.assertFalse(handle.check("number", "089-111-2222").listed)
            self.publish(fixture("next.idx"))
            wait_until(lambda: handle.status().list_version == 2, "version 2")
            r = handle.check("number", "089-111-2222")
            self.assertTrue(r.listed)
            self.assertEqual((r.reason, r.list_version), ("fraud", 2))
            self.assertEqual(handle.status().reloads, 1)
            self.assertEqual(handle.path, pathlib.Path(self.data))

    def test_a_refused_file_keeps_the_version_served_and_says_why(self):
        with blocklist.open(self.data, reload_interval_ms=0) as handle:
            # A valid file with one byte of its table flipped: the checksum fails.
            corrupt = os.path.join(self.scratch, "corrupt.idx")
            with open(fixture("next.idx"), "rb") as f:
                data = bytearray(f.read())
            data[len(data) // 2] ^= 0xFF
            with open(corrupt, "wb") as f:
                f.write(data)
            self.publish(corrupt)
            with self.assertRaises(blocklist.IndexFileError) as caught:
                handle.reload()
            self.assertEqual(caught.exception.code, 302)
            self.assertTrue(handle.check("number", "081-234-5678").listed)
            status = handle.status()
            self.assertEqual((status.list_version, status.reload_failures), (1, 1))
            self.assertIsInstance(status.last_reload_error, blocklist.IndexFileError)
            self.assertEqual(status.last_reload_error.code, 302)
            self.assertEqual(status.last_reload_error.message, caught.exception.message)
            # A valid newer file is taken again.
            self.publish(fixture("next.idx"))
            handle.reload()
            self.assertEqual(handle.status().list_version, 2)
            self.assertIsNone(handle.status().last_reload_error)

    def test_threads_check_at_once_while_a_new_version_is_swapped_in(self):
        items = [("number", "081-234-5678"), ("url", "https://a.scam.example/"), ("number", "081-999-0000")]
        seen, failures = set(), []
        stop = threading.Event()

        def checker():
            try:
                while not stop.is_set():
                    answers = handle.check_batch(items)
                    if [a.listed for a in answers] != [True, True, False]:
                        failures.append(answers)
                    seen.add(answers[0].list_version)
                    if not handle.check("domain", "x.scam.example").listed:
                        failures.append("single check missed")
            except Exception as e:  # reported below, failing the test
                failures.append(e)

        with blocklist.open(self.data, reload_interval_ms=10) as handle:
            threads = [threading.Thread(target=checker) for _ in range(4)]
            for t in threads:
                t.start()
            self.publish(fixture("next.idx"))
            wait_until(lambda: 2 in seen, "a checker to see version 2")
            stop.set()
            for t in threads:
                t.join()
        self.assertEqual(failures, [])
        self.assertLessEqual(seen, {1, 2})


class Stubs(unittest.TestCase):
    """blocklist.pyi names exactly what the module defines (a stale stub misleads)."""

    def test_the_stub_names_every_public_function_class_and_member_and_no_other(self):
        with open(os.environ["BLOCKLIST_PY_STUB"], encoding="utf-8") as f:
            tree = ast.parse(f.read())
        stub = {}
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                stub[node.name] = {
                    getattr(member, "name", None) or member.target.id
                    for member in node.body
                    if isinstance(member, (ast.FunctionDef, ast.AnnAssign))
                }
            elif isinstance(node, ast.FunctionDef):
                stub[node.name] = None
            elif isinstance(node, ast.AnnAssign):
                stub[node.target.id] = None
        # The wheel's package also holds the compiled module as `blocklist.blocklist`.
        public = {
            n
            for n in dir(blocklist)
            if not n.startswith("_") and not inspect.ismodule(getattr(blocklist, n))
        } | {"__version__"}
        self.assertEqual(set(stub), public)
        for name in ["Handle", "Check", "Status"]:
            members = {n for n in dir(getattr(blocklist, name)) if not n.startswith("_")}
            self.assertEqual({n for n in stub[name] if not n.startswith("_")}, members, name)


class Readme(unittest.TestCase):
    def test_the_readme_example_runs_and_prints_what_it_says(self):
        with open(os.environ["BLOCKLIST_PY_README"], encoding="utf-8") as f:
            readme = f.read()
        section = readme[readme.index("\n## Python\n") :]
        start = section.index("```python\n") + len("```python\n")
        example = section[start : section.index("```", start)]
        example = example.replace('"/var/lib/blocklistd"', repr(fixture("data")))
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(example, "README.md", "exec"), {})
        lines = printed.getvalue().splitlines()
        self.assertTrue(lines[0].startswith("+66812345678 scam_call th-aoc "), lines)
        self.assertEqual(lines[1], "True None")
        # A bad item prints as its exception's message.
        self.assertRegex(lines[2], r"^False \S")
        self.assertEqual(lines[3], "TH:004:1234567890")
        self.assertTrue(lines[4].startswith("Status(list_version=1,"), lines)


if __name__ == "__main__":
    unittest.main()
