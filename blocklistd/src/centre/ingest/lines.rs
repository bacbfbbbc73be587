//! The line reading every input syntax shares: byte-order marks, line
//! endings, comments and blank lines, and lines that are not UTF-8.

/// The data lines of a file: `(line number from 1, text)`, trimmed, with
/// blank and comment lines left out. A line that is not UTF-8 is returned as
/// an error so it is reported with its number, not lost.
///
/// A `#` starts a comment at the start of a line or after whitespace
/// (`0.0.0.0 x.example  # seen 2024-05`); a `#` inside a word is kept, as in
/// a URL's fragment.
pub(crate) fn data_lines(bytes: &[u8]) -> impl Iterator<Item = (usize, Result<&str, String>)> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let utf16 = bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF");
    // A file without a final newline has a last line all the same, but a
    // final newline does not start an empty one.
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let lines = (!bytes.is_empty() && !utf16).then(|| bytes.split(|&b| b == b'\n'));
    let utf16_error = utf16.then(|| (1, Err("file is UTF-16: save it as UTF-8".to_owned())));
    utf16_error
        .into_iter()
        .chain(
            lines
                .into_iter()
                .flatten()
                .enumerate()
                .filter_map(move |(index, raw)| {
                    let number = index + 1;
                    let text = match std::str::from_utf8(raw) {
                        Ok(text) => text,
                        Err(_) => return Some((number, Err("line is not valid UTF-8".to_owned()))),
                    };
                    let text = strip_inline_comment(text).trim();
                    (!text.is_empty() && !text.starts_with('#')).then_some((number, Ok(text)))
                }),
        )
}

fn strip_inline_comment(text: &str) -> &str {
    let mut prev_space = true;
    for (i, c) in text.char_indices() {
        if c == '#' && prev_space {
            return &text[..i];
        }
        prev_space = c.is_whitespace();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(bytes: &[u8]) -> Vec<(usize, Result<&str, String>)> {
        data_lines(bytes).collect()
    }

    #[test]
    fn bom_crlf_comments_and_blank_lines_are_skipped_with_numbers_kept() {
        let text = b"\xEF\xBB\xBF# header\r\n\r\na.example\r\n  b.example  # inline\n#c.example\nd.example";
        assert_eq!(
            collect(text),
            vec![
                (3, Ok("a.example")),
                (4, Ok("b.example")),
                (6, Ok("d.example"))
            ]
        );
    }

    #[test]
    fn hash_inside_a_word_is_kept() {
        assert_eq!(
            collect(b"http://x.example/#login\n"),
            vec![(1, Ok("http://x.example/#login"))]
        );
    }

    #[test]
    fn non_utf8_line_is_reported_with_its_number() {
        let lines = collect(b"ok\n\xFF\xFE\x00bad\n");
        assert_eq!(lines[0], (1, Ok("ok")));
        assert_eq!(lines[1].0, 2);
        assert!(lines[1].1.is_err());
    }

    #[test]
    fn utf16_file_is_one_error() {
        let lines = collect(b"\xFF\xFEa\x00");
        assert_eq!(lines.len(), 1);
        assert!(lines[0].1.as_ref().unwrap_err().contains("UTF-16"));
    }
}
