//! System tests: real files, real processes, real C programs.

// libblocklist from C: the committed header and the built library, compiled with strict warnings and sanitizers.
mod c_library;
