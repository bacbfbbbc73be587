//! The proof bundle's decoder and verifier: arbitrary files never panic,
//! whatever decodes encodes back to the bytes it was read from, and the
//! verifier (against a fixed trust root) refuses cleanly. Memory follows
//! the input: no count the payload declares sizes an allocation.

#![no_main]

use std::sync::OnceLock;

use blocklist_core::document::{Document as _, ListId, TrustRoot};
use blocklist_core::proof::{verify_bundle, ProofBundle};
use blocklist_core::{SecretKey, Timestamp};
use libfuzzer_sys::fuzz_target;

fn root() -> &'static [u8] {
    static ROOT: OnceLock<Vec<u8>> = OnceLock::new();
    ROOT.get_or_init(|| {
        let key = SecretKey::from_seed(&[1; 32]);
        let list = ListId::new("th-test").expect("list");
        TrustRoot::single_key(list, &key, Timestamp(0), Timestamp(u32::MAX.into()))
            .sign(&[&key])
            .expect("root")
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(bundle) = ProofBundle::from_bytes(data) {
        assert_eq!(bundle.to_bytes(), data);
    }
    let _ = verify_bundle(data, root());
});
