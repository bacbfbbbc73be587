//! The streaming snapshot decoder (what a replica applies a snapshot file
//! through): read in batches of any size, it gives exactly what the whole
//! payload decodes to, or refuses it, and never panics.

#![no_main]

use blocklist_core::document::{Document, Snapshot, SnapshotStream};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&batch, payload)) = data.split_first() else {
        return;
    };
    let batch = usize::from(batch % 16) + 1;
    let whole = Snapshot::decode_payload(payload);
    let streamed = SnapshotStream::open(payload, payload.len() as u64).and_then(|(head, mut stream)| {
        let mut entries = Vec::new();
        while stream.read_entries(&mut entries, batch)? {}
        let (extensions, _) = stream.finish()?;
        Ok((head, entries, extensions))
    });
    match (whole, streamed) {
        (Ok(doc), Ok((head, entries, extensions))) => {
            assert_eq!((doc.version, doc.state), (head.version, head.state));
            assert_eq!(doc.entries, entries);
            assert_eq!(doc.extensions, extensions);
        }
        // The stream leaves an identifier named twice to the store.
        (Err(_), Ok((_, entries, _))) => {
            let mut ids: Vec<_> = entries.iter().map(|e| &e.id).collect();
            ids.sort();
            assert!(ids.windows(2).any(|w| w[0] == w[1]), "the stream accepted what the decoder refuses");
        }
        (Ok(_), Err(e)) => panic!("the stream refused what the decoder accepts: {e}"),
        (Err(_), Err(_)) => {}
    }
});
