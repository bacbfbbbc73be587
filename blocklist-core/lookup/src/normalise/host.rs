//! Reducing a URL, `host:port` or `user@host` written where a domain was
//! asked for to its host.
//!
//! The host is cut where a WHATWG URL parser cuts it for the special schemes
//! (http, https, ...): after `scheme://`, before the first `/`, `\`, `?` or
//! `#`, after the last `@`, before the `:port`. Disagreeing with browsers
//! here would let a listed host slip through, so the integration tests
//! compare against the WHATWG test data.

/// Why a text has no domain to take.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum NoHost {
    /// `user@host` without a scheme: an e-mail address, whose domain is
    /// usually a mail provider, not the scam.
    EmailAddress,
    /// An IPv6 literal (`[::1]`, or several colons).
    IpLiteral,
    /// A port that is not a number from 0 to 65535.
    BadPort,
    /// A URL with nothing between `//` and the path.
    EmptyHost,
}

/// Whether `s` is a URL scheme: a letter, then letters, digits, `+`, `-`, `.`.
fn is_scheme(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// The host of `text`: the whole text when it is a bare name.
pub(super) fn host_of(text: &str) -> Result<&str, NoHost> {
    let (has_scheme, rest) = match text.find("://") {
        Some(i) if is_scheme(&text[..i]) => (true, &text[i + 3..]),
        _ => (false, text),
    };
    let authority = rest
        .find(['/', '\\', '?', '#'])
        .map_or(rest, |end| &rest[..end]);
    let host_port = match authority.rfind('@') {
        None => authority,
        Some(at) if has_scheme => &authority[at + 1..],
        Some(_) => return Err(NoHost::EmailAddress),
    };
    if host_port.starts_with('[') {
        return Err(NoHost::IpLiteral);
    }
    let host = match host_port.split_once(':') {
        None => host_port,
        Some((_, port)) if port.contains(':') => return Err(NoHost::IpLiteral),
        Some((host, port)) if is_port(port) => host,
        Some(_) => return Err(NoHost::BadPort),
    };
    if host.is_empty() && has_scheme {
        return Err(NoHost::EmptyHost);
    }
    Ok(host)
}

/// Whether `s` is a port: empty (as in `host:`) or 0..=65535.
fn is_port(s: &str) -> bool {
    s.is_empty() || (s.bytes().all(|b| b.is_ascii_digit()) && s.parse::<u16>().is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_host_port_reduce_to_the_host() {
        let cases = [
            ("scam.example", "scam.example"),
            ("https://WWW.Scam.Example/login?x=1", "WWW.Scam.Example"),
            ("http://user:pw@scam.example:8080/", "scam.example"),
            ("scam.example:443", "scam.example"),
            ("scam.example?q=1", "scam.example"),
            ("http://evil.example\\@good.example/", "evil.example"),
            ("http://good.example@evil.example/", "evil.example"),
            ("scam.example:", "scam.example"),
        ];
        for (text, host) in cases {
            assert_eq!(host_of(text), Ok(host), "{text}");
        }
    }

    #[test]
    fn texts_without_a_domain_host_are_refused() {
        assert_eq!(host_of("a@b.example"), Err(NoHost::EmailAddress));
        assert_eq!(host_of("mailto:a@b.example"), Err(NoHost::EmailAddress));
        assert_eq!(host_of("http://[::1]/"), Err(NoHost::IpLiteral));
        assert_eq!(host_of("fe80::1"), Err(NoHost::IpLiteral));
        assert_eq!(host_of("a.example:99999"), Err(NoHost::BadPort));
        assert_eq!(host_of("a.example:http"), Err(NoHost::BadPort));
        assert_eq!(host_of("https:///path"), Err(NoHost::EmptyHost));
    }
}
