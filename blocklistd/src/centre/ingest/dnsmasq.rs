//! dnsmasq configuration lines that block domains:
//!
//! ```text
//! server=/scam.example/
//! address=/phish.example/0.0.0.0
//! local=/a.example/b.example/
//! ```
//!
//! `server=/name/` with no upstream and `local=/name/` answer NXDOMAIN,
//! `address=/name/` the same, and `address=/name/<sinkhole>` a null address
//! (`0.0.0.0`, `::`, `127.0.0.1`, `::1`): each lists every name between the
//! slashes, with the names under them. A line that forwards (`server=/name/10.0.0.1`,
//! `server=/name/#`), answers a real address, or is another directive is
//! refused with the reason: it does not block.

use std::net::IpAddr;

/// The names a line blocks.
pub(crate) fn parse_line(line: &str) -> Result<Vec<&str>, String> {
    let (directive, rest) = line
        .split_once('=')
        .ok_or("expected server=/domain/, local=/domain/ or address=/domain/")?;
    let directive = directive.trim();
    if !["server", "local", "address"].contains(&directive) {
        return Err(format!(
            "{directive}= is not a blocking directive (server, local or address)"
        ));
    }
    let rest = rest
        .trim()
        .strip_prefix('/')
        .ok_or_else(|| format!("{directive}= without /domain/: nothing to list"))?;
    let (names, target) = rest
        .rsplit_once('/')
        .ok_or_else(|| format!("{directive}=/{rest}: the domain list is not closed with /"))?;
    let target = target.trim();
    if !target.is_empty() {
        match directive {
            "address" if is_sinkhole(target) => {}
            "address" => {
                return Err(format!(
                    "address=/…/{target} answers a real address: only null addresses (0.0.0.0, ::, 127.0.0.1, ::1) block"
                ))
            }
            _ => {
                return Err(format!(
                    "{directive}=/…/{target} forwards to a server: it does not block"
                ))
            }
        }
    }
    let names: Vec<&str> = names.split('/').map(str::trim).collect();
    if names.iter().any(|n| n.is_empty()) {
        return Err(format!(
            "{directive}=/{rest}: an empty domain between slashes"
        ));
    }
    Ok(names)
}

fn is_sinkhole(target: &str) -> bool {
    target
        .parse::<IpAddr>()
        .is_ok_and(|ip| ip.is_unspecified() || ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn blocking_lines_list_every_name_between_the_slashes() {
        assert_eq!(
            parse_line("server=/scam.example/"),
            Ok(vec!["scam.example"])
        );
        assert_eq!(
            parse_line("local=/a.example/b.example/"),
            Ok(vec!["a.example", "b.example"])
        );
        assert_eq!(
            parse_line("address=/p.example/0.0.0.0"),
            Ok(vec!["p.example"])
        );
        assert_eq!(parse_line("address=/p.example/::"), Ok(vec!["p.example"]));
        assert_eq!(parse_line("address=/p.example/"), Ok(vec!["p.example"]));
    }

    #[test]
    fn lines_that_do_not_block_are_refused_with_the_reason() {
        for (line, reason) in [
            ("server=/corp.example/10.0.0.1", "forwards"),
            ("server=/corp.example/#", "forwards"),
            ("address=/p.example/203.0.113.7", "real address"),
            ("cache-size=1000", "not a blocking directive"),
            ("server=8.8.8.8", "without /domain/"),
            ("server=/a.example", "not closed"),
            ("server=//", "empty domain"),
            ("scam.example", "expected server="),
        ] {
            let err = parse_line(line).unwrap_err();
            assert!(err.contains(reason), "{line}: {err}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(line in "\\PC*") {
            let _ = parse_line(&line);
        }
    }
}
