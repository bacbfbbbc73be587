//! Feeds arbitrary text to every kind's normaliser: it must never panic, and
//! whatever it accepts must be a fixed point that `check_canonical` accepts.

#![no_main]

use blocklist_core::normalise::{check_canonical, domain_candidates, normalise};
use blocklist_core::{Kind, Rules};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let rules = Rules::default();
    for kind in Kind::KNOWN {
        let Ok(out) = normalise(kind, text, &rules) else {
            continue;
        };
        assert_eq!(
            normalise(kind, &out, &rules).as_deref(),
            Ok(out.as_str()),
            "{kind} {text:?}: output is not a fixed point"
        );
        assert_eq!(check_canonical(kind, &out), Ok(()), "{kind} {text:?}");
        if kind == Kind::Domain {
            assert_eq!(domain_candidates(&out).next(), Some(out.as_str()));
        }
    }
    // Unknown kinds and arbitrary text: only must not panic.
    let _ = check_canonical(Kind::Other(9), text);
    let _ = domain_candidates(text).count();
});
