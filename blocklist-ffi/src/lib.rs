//! libblocklist: the C ABI over the blocklist lookup index.
