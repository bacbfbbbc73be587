//! Reducing a URL, `host:port` or `user@host` written where a domain was
//! asked for to its host.
//!
//! A URL of a special scheme (http, https, ws, wss, ftp) is parsed by the
//! `url` crate, the WHATWG URL Standard browsers follow: its host is the one
//! a browser would connect to, whatever the spelling (`https:/host`,
//! `https:\\host`, `HTTPS://%68ost`, credentials, ports, IDNA). Disagreeing
//! with browsers here would let a listed host slip through, so the
//! integration tests compare against the WHATWG test data. Other text is cut
//! by hand: a bare name, `host:port`, or `user@host` (an e-mail address,
//! refused).

use std::borrow::Cow;

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
    /// A URL the WHATWG parser refuses (a forbidden code point in the host,
    /// an invalid IPv4 form, an IDNA error ...), and its reason.
    BadUrl(url::ParseError),
}

/// The schemes whose URLs have a host the WHATWG standard parses as a domain.
const SPECIAL_SCHEMES: [&str; 5] = ["http", "https", "ws", "wss", "ftp"];

/// Whether `s` is a URL scheme: a letter, then letters, digits, `+`, `-`, `.`.
fn is_scheme(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// Whether `text` starts with a special scheme and `:`.
fn has_special_scheme(text: &str) -> bool {
    text.split_once(':').is_some_and(|(scheme, _)| {
        SPECIAL_SCHEMES
            .iter()
            .any(|special| special.eq_ignore_ascii_case(scheme))
    })
}

/// The host of `text`: the whole text when it is a bare name.
pub(super) fn host_of(text: &str) -> Result<Cow<'_, str>, NoHost> {
    if has_special_scheme(text) {
        if let Some(host) = plain_host(text) {
            return Ok(Cow::Borrowed(host));
        }
        let url = url::Url::parse(text).map_err(|e| match e {
            url::ParseError::EmptyHost => NoHost::EmptyHost,
            url::ParseError::InvalidPort => NoHost::BadPort,
            other => NoHost::BadUrl(other),
        })?;
        return match url.host() {
            Some(url::Host::Domain(domain)) => Ok(Cow::Owned(domain.to_owned())),
            // Said as an address, so the domain rules refuse it as one.
            Some(url::Host::Ipv4(ip)) => Ok(Cow::Owned(ip.to_string())),
            Some(url::Host::Ipv6(_)) => Err(NoHost::IpLiteral),
            None => Err(NoHost::EmptyHost),
        };
    }
    let (has_scheme, rest) = match text.find("://") {
        Some(i) if is_scheme(&text[..i]) => (true, &text[i + 3..]),
        _ => (false, text),
    };
    let authority = authority(rest);
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
    Ok(Cow::Borrowed(host))
}

/// The host of a URL written plainly, `scheme://host[:port]` then a path,
/// query or fragment (or nothing), with a host of letters, digits, `-`, `.`
/// and `_`: the WHATWG parser takes the same host (lower-cased later), so
/// such URLs, nearly all that are checked, are cut without parsing or
/// allocating. Anything else (`%`, `@`, `\\` after the scheme, a tab or
/// newline the standard strips, Unicode) is left to the parser.
fn plain_host(text: &str) -> Option<&str> {
    let (_, rest) = text.split_once(':')?;
    let rest = rest.strip_prefix("//")?;
    if text.bytes().any(|b| matches!(b, b'\t' | b'\n' | b'\r')) {
        return None;
    }
    let authority = authority(rest);
    let (host, port) = authority.split_once(':').unwrap_or((authority, ""));
    let plain = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    (plain && is_port(port)).then_some(host)
}

/// What follows `scheme://` up to the path, query or fragment: where the
/// WHATWG parser ends a special URL's authority (`\\` counts as `/`).
fn authority(rest: &str) -> &str {
    rest.find(['/', '\\', '?', '#'])
        .map_or(rest, |end| &rest[..end])
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
            // Cut as written (the domain rules lower-case it).
            ("https://WWW.Scam.Example/login?x=1", "WWW.Scam.Example"),
            ("https:/scam.example/x", "scam.example"),
            ("https:\\\\scam.example\\x", "scam.example"),
            ("HTTPS://%73cam.example/", "scam.example"),
            ("wss://scam.example:8443/socket", "scam.example"),
            ("http://user:pw@scam.example:8080/", "scam.example"),
            ("scam.example:443", "scam.example"),
            ("scam.example?q=1", "scam.example"),
            ("http://evil.example\\@good.example/", "evil.example"),
            ("http://good.example@evil.example/", "evil.example"),
            ("scam.example:", "scam.example"),
        ];
        for (text, host) in cases {
            assert_eq!(host_of(text).as_deref(), Ok(host), "{text}");
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
        assert_eq!(host_of("https://"), Err(NoHost::EmptyHost));
        // Browsers read the path as the host: https:///path is https://path/.
        assert_eq!(host_of("https:///path").as_deref(), Ok("path"));
        assert!(matches!(
            host_of("https://a b.example/"),
            Err(NoHost::BadUrl(_))
        ));
    }
}
