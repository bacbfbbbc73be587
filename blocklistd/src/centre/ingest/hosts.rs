//! Hosts files: `<address> <name> [<alias>...]`, every name a listed domain.
//!
//! ```text
//! 0.0.0.0 scam.example
//! 127.0.0.1 phish.example www.phish.example   # aliases are listed too
//! ```
//!
//! The address is checked (IPv4 or IPv6, with an optional `%zone`) but not
//! kept: sinkhole lists use 0.0.0.0 or 127.0.0.1 interchangeably. Names a hosts
//! file carries for the machine itself (`localhost`, `broadcasthost`, ...) are
//! skipped, not listed.

use std::net::IpAddr;

/// Names that describe the local machine in hosts files, never a scam.
const LOCAL_NAMES: &[&str] = &[
    "localhost",
    "localhost.localdomain",
    "local",
    "broadcasthost",
    "ip6-localhost",
    "ip6-loopback",
    "ip6-localnet",
    "ip6-mcastprefix",
    "ip6-allnodes",
    "ip6-allrouters",
    "ip6-allhosts",
    "0.0.0.0",
];

/// The names a hosts line lists (possibly none: a `localhost` line).
pub(crate) fn parse_line(line: &str) -> Result<Vec<&str>, String> {
    let mut words = line.split_whitespace();
    let address = words.next().unwrap_or_default();
    let without_zone = address.split_once('%').map_or(address, |(ip, _)| ip);
    if without_zone.parse::<IpAddr>().is_err() {
        return Err(format!(
            "{address:?} is not an IP address (expected \"0.0.0.0 <domain>\")"
        ));
    }
    let names: Vec<&str> = words.collect();
    if names.is_empty() {
        return Err(format!("no host name after {address}"));
    }
    Ok(names
        .into_iter()
        .filter(|name| {
            !LOCAL_NAMES
                .iter()
                .any(|local| local.eq_ignore_ascii_case(name))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_and_aliases_are_listed_and_local_names_skipped() {
        assert_eq!(parse_line("0.0.0.0 a.example"), Ok(vec!["a.example"]));
        assert_eq!(
            parse_line("127.0.0.1\ta.example  www.a.example"),
            Ok(vec!["a.example", "www.a.example"])
        );
        assert_eq!(parse_line("127.0.0.1 localhost"), Ok(vec![]));
        assert_eq!(parse_line("fe80::1%lo0 localhost"), Ok(vec![]));
        assert_eq!(parse_line("::1 x.example"), Ok(vec!["x.example"]));
    }

    #[test]
    fn bogus_address_or_missing_name_is_an_error() {
        assert!(parse_line("123.123.123 loki").is_err());
        assert!(parse_line("321.321.321.321").is_err());
        assert!(parse_line("0.0.0.0").is_err());
        assert!(parse_line("scam.example").is_err());
    }

    #[test]
    fn go_testdata_hosts_parse_as_expected() {
        let path = crate::centre::ingest::tests::shared_testdata("hosts/hosts");
        let text = std::fs::read(path).unwrap();
        let (mut names, mut errors) = (vec![], 0);
        for (_, line) in crate::centre::ingest::lines::data_lines(&text) {
            match parse_line(line.unwrap()) {
                Ok(found) => names.extend(found.into_iter().map(str::to_owned)),
                Err(_) => errors += 1,
            }
        }
        assert_eq!(names, ["odin", "odin", "odin", "thor", "ullr", "ullrhost"]);
        assert_eq!(errors, 2, "the two bogus lines");
    }

    proptest! {
        #[test]
        fn never_panics(line in "\\PC*") {
            let _ = parse_line(&line);
        }

        #[test]
        fn a_name_round_trips(name in "[a-z0-9][a-z0-9.-]{0,40}") {
            prop_assume!(!LOCAL_NAMES.contains(&name.as_str()));
            let line = format!("0.0.0.0 {name}");
            prop_assert_eq!(parse_line(&line), Ok(vec![name.as_str()]));
        }
    }
}
