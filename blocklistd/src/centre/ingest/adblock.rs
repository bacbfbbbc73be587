//! Adblock-style filter lists (Adblock Plus, uBlock Origin, AdGuard), domains
//! only:
//!
//! ```text
//! [Adblock Plus 2.0]
//! ! Title: Scam Block List
//! ||scam.example^
//! ||phish.example^$important
//! ```
//!
//! `||name^` blocks `name` and every name under it, which is how a listed
//! domain matches. `!` comments and the `[...]` header are skipped. The
//! options `$important` and `$all` are taken (they do not narrow what is
//! blocked); any other rule is refused with the reason, because it does not
//! mean "this domain": exceptions (`@@`), other options (`$third-party`),
//! paths, wildcards, regular expressions and element-hiding rules.

/// Options that keep a rule's meaning "block this domain".
const TAKEN_OPTIONS: &[&str] = &["important", "all"];

/// The domain a rule lists, or `None` for a comment or header line.
pub(crate) fn parse_line(line: &str) -> Result<Option<&str>, String> {
    if line.starts_with('!') || (line.starts_with('[') && line.ends_with(']')) {
        return Ok(None);
    }
    if line.starts_with("@@") {
        return Err("an exception rule (@@) allows, it does not list".to_owned());
    }
    if line.contains("##") || line.contains("#@#") || line.contains("#?#") {
        return Err(
            "an element-hiding rule hides page content, it does not list a domain".to_owned(),
        );
    }
    let rule = line
        .strip_prefix("||")
        .ok_or("expected ||domain^ (a rule for a whole domain)")?;
    let (rule, options) = rule.split_once('$').unwrap_or((rule, ""));
    for option in options.split(',').filter(|o| !o.is_empty()) {
        if !TAKEN_OPTIONS.iter().any(|o| o.eq_ignore_ascii_case(option)) {
            return Err(format!(
                "option ${option} narrows the rule: only a whole domain can be listed"
            ));
        }
    }
    let name = rule
        .strip_suffix('^')
        .or_else(|| rule.strip_suffix("^|"))
        .unwrap_or(rule);
    if name.is_empty() || name.contains(['/', '*', '^', '|', '?', '=']) {
        return Err(format!(
            "{rule:?} is not a domain (paths, wildcards and patterns cannot be listed)"
        ));
    }
    Ok(Some(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn domain_rules_comments_and_headers() {
        assert_eq!(parse_line("||scam.example^"), Ok(Some("scam.example")));
        assert_eq!(
            parse_line("||scam.example^$important"),
            Ok(Some("scam.example"))
        );
        assert_eq!(parse_line("||scam.example"), Ok(Some("scam.example")));
        assert_eq!(parse_line("! Title: list"), Ok(None));
        assert_eq!(parse_line("[Adblock Plus 2.0]"), Ok(None));
    }

    #[test]
    fn rules_that_do_not_list_a_domain_are_refused_with_the_reason() {
        for (line, reason) in [
            ("@@||bank.example^", "exception"),
            ("||ads.example^$third-party", "$third-party"),
            ("||scam.example/login^", "not a domain"),
            ("||*.scam.example^", "not a domain"),
            ("/banner[0-9]+/", "expected ||domain^"),
            ("scam.example##.popup", "element-hiding"),
            ("scam.example", "expected ||domain^"),
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
