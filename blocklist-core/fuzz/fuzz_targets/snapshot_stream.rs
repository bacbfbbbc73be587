//! The streaming snapshot decoder (what a replica applies a snapshot file
//! through): read in batches of any size, its entries, typed tail and
//! origins one at a time give exactly what the whole payload decodes to, or
//! it refuses it, and never panics.

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
        let mut tail = stream.finish()?;
        let mut origins = Vec::new();
        while let Some(origin) = tail.next_origin()? {
            origins.push(origin);
        }
        let (tail, extensions, _) = tail.finish()?;
        Ok((head, entries, tail, origins, extensions))
    });
    match (whole, streamed) {
        (Ok(doc), Ok((head, entries, tail, origins, extensions))) => {
            assert_eq!((doc.version, doc.state), (head.version, head.state));
            assert_eq!(doc.entries, entries);
            assert_eq!((doc.sequences, doc.overrides), (tail.sequences, tail.overrides));
            assert_eq!(doc.origins, origins);
            assert_eq!(doc.extensions, extensions);
        }
        // The stream leaves an identifier named twice to the store.
        (Err(_), Ok((_, entries, ..))) => {
            let mut ids: Vec<_> = entries.iter().map(|e| &e.id).collect();
            ids.sort();
            assert!(ids.windows(2).any(|w| w[0] == w[1]), "the stream accepted what the decoder refuses");
        }
        (Ok(_), Err(e)) => panic!("the stream refused what the decoder accepts: {e}"),
        (Err(_), Err(_)) => {}
    }
});
