//! The Prometheus text format, written by hand (a few dozen lines need no
//! library): shared by the daemon's `/metrics` and the intake service's.

use std::fmt::Write as _;

/// `text` as a Prometheus label value: backslash, quote and newline escaped.
///
/// ```
/// assert_eq!(blocklistd::prometheus::label_value("a\"b"), "a\\\"b");
/// ```
pub fn label_value(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Writes the `# HELP` and `# TYPE` lines of metric `name`.
///
/// ```
/// let mut out = String::new();
/// blocklistd::prometheus::header(&mut out, "up", "gauge", "Whether it runs.");
/// assert_eq!(out, "# HELP up Whether it runs.\n# TYPE up gauge\n");
/// ```
pub fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}
