//! Integration tests of blocklist-lookup: one binary, one module per stage.

// Raw text of every kind to its canonical form, against real-world data.
mod normalise;
// The lookup index: files, filters, corruption, live reload, incremental updates.
mod index;
