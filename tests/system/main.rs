//! System tests: real files, real processes, real C programs.

// libblocklist from C: the committed header and the built library, compiled with strict warnings and sanitizers.
mod c_library;

// libblocklist.a carries only the read side: its symbols, its crates, a program linking its own SQLite.
mod c_link;

// libblocklist installed by `make install` in Debian, RHEL and default layouts: SONAME, symbol versions, pkg-config, C and C++ programs shared and static.
mod c_install;
