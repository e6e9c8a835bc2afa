//! [`ModelError`] and the shared JSON parsing helper that produces it.

use serde::de::DeserializeOwned;

/// Longest snippet, in characters, that a [`ModelError`] carries.
pub const MAX_SNIPPET_CHARS: usize = 200;

/// Longest serde message, in characters, that a [`ModelError`] carries.
const MAX_MESSAGE_CHARS: usize = 200;

/// Text put in place of the contents of a JSON string literal when a snippet or
/// message is masked. One character, so masking never makes a snippet longer.
const MASK: &str = "…";

/// An error from one of the parsers in [`crate::model`].
///
/// It names the document that failed to parse (`what`, e.g.
/// ``"`pulumi stack output --json` output"``) and carries at most
/// [`MAX_SNIPPET_CHARS`] characters of the input around the failure, never the
/// whole document. For documents that may hold secrets (outputs, config, history,
/// deployments) the contents of JSON strings in the snippet and in the message are
/// masked as `…`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// The input was empty or only whitespace.
    #[error("{what}: no JSON document in the input (it is empty or only whitespace)")]
    Empty {
        /// The document that was expected.
        what: &'static str,
    },
    /// The input is not valid JSON, or does not have the expected shape.
    #[error(
        "{what}: cannot parse JSON at line {line}, column {column}: {message}; near: {snippet:?}"
    )]
    Json {
        /// The document that failed to parse.
        what: &'static str,
        /// 1-based line of the failure (0 if unknown).
        line: usize,
        /// 1-based column of the failure (0 if unknown or at the start of a line).
        column: usize,
        /// What serde reported, without its position suffix, truncated.
        message: String,
        /// At most [`MAX_SNIPPET_CHARS`] characters of input around the failure.
        snippet: String,
    },
    /// The input is valid JSON but is a different kind of document than expected.
    #[error("{what}: {message}; near: {snippet:?}")]
    Unexpected {
        /// The document that was expected.
        what: &'static str,
        /// What was found instead.
        message: String,
        /// At most [`MAX_SNIPPET_CHARS`] characters of the start of the input.
        snippet: String,
    },
    /// A config entry has neither `value` nor `objectValue`, so it cannot be written
    /// as `pulumi config set-all --json` input. Secrets listed without
    /// `--show-secrets` look like this.
    #[error(
        "config key {key:?} has no value; `pulumi config set-all --json` needs a value for every key \
         (secrets listed without --show-secrets have none)"
    )]
    MissingConfigValue {
        /// The config key (e.g. `proj:name`).
        key: String,
    },
    /// A value could not be serialised to JSON.
    #[error("{what}: cannot serialise to JSON: {message}")]
    Serialize {
        /// The document that was being written.
        what: &'static str,
        /// What serde reported.
        message: String,
    },
}

impl ModelError {
    /// The name of the document involved, if the error concerns one.
    pub fn what(&self) -> Option<&'static str> {
        match self {
            ModelError::Empty { what }
            | ModelError::Json { what, .. }
            | ModelError::Unexpected { what, .. }
            | ModelError::Serialize { what, .. } => Some(what),
            ModelError::MissingConfigValue { .. } => None,
        }
    }
}

/// Whether a document may carry secret values, which decides snippet masking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sensitivity {
    /// The document holds no secrets: snippets are raw.
    Plain,
    /// The document may hold plaintext secrets: string contents are masked.
    Secret,
}

/// Parses `input` as one JSON document of type `T`.
///
/// Whitespace-only input gives [`ModelError::Empty`]; anything else that fails gives
/// [`ModelError::Json`] with a snippet around the failure.
pub(crate) fn parse_json<T: DeserializeOwned>(
    what: &'static str,
    input: &str,
    sensitivity: Sensitivity,
) -> Result<T, ModelError> {
    if input.trim().is_empty() {
        return Err(ModelError::Empty { what });
    }
    serde_json::from_str(input).map_err(|e| json_error(what, input, &e, sensitivity))
}

/// Converts a `serde_json` error about `input` into a [`ModelError::Json`].
pub(crate) fn json_error(
    what: &'static str,
    input: &str,
    err: &serde_json::Error,
    sensitivity: Sensitivity,
) -> ModelError {
    let line = err.line();
    let column = err.column();
    let offset = byte_offset(input, line, column);
    let mut message = strip_position(&err.to_string());
    if sensitivity == Sensitivity::Secret {
        message = mask_quoted(&message);
    }
    ModelError::Json {
        what,
        line,
        column,
        message: truncate_chars(&message, MAX_MESSAGE_CHARS),
        snippet: snippet_around(input, offset, sensitivity),
    }
}

/// Builds a [`ModelError::Unexpected`] with a snippet of the start of `input`.
pub(crate) fn unexpected(
    what: &'static str,
    input: &str,
    message: impl Into<String>,
    sensitivity: Sensitivity,
) -> ModelError {
    let start = input.len() - input.trim_start().len();
    ModelError::Unexpected {
        what,
        message: message.into(),
        snippet: snippet_around(input, start, sensitivity),
    }
}

/// Builds a [`ModelError::Serialize`].
pub(crate) fn serialize_error(what: &'static str, err: &serde_json::Error) -> ModelError {
    ModelError::Serialize {
        what,
        message: truncate_chars(
            &mask_quoted(&strip_position(&err.to_string())),
            MAX_MESSAGE_CHARS,
        ),
    }
}

/// Removes `serde_json`'s " at line L column C" suffix.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(idx) if message[idx..].contains(" column ") => message[..idx].to_string(),
        _ => message.to_string(),
    }
}

/// Replaces the contents of every `"…"` pair in a serde message with [`MASK`]
/// (serde quotes offending string values as `string "…"`).
fn mask_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut inside = false;
    for ch in message.chars() {
        if ch == '"' {
            if inside {
                out.push_str(MASK);
            }
            inside = !inside;
            out.push(ch);
        } else if !inside {
            out.push(ch);
        }
    }
    if inside {
        out.push_str(MASK);
    }
    out
}

/// Converts `serde_json`'s 1-based line and column into a byte offset into `input`,
/// clamped to the input and rounded down to a char boundary.
fn byte_offset(input: &str, line: usize, column: usize) -> usize {
    if line == 0 {
        return 0;
    }
    let mut line_start = 0usize;
    for _ in 1..line {
        match input[line_start..].find('\n') {
            Some(nl) => line_start += nl + 1,
            None => return input.len(),
        }
    }
    let line_end = input[line_start..]
        .find('\n')
        .map_or(input.len(), |nl| line_start + nl);
    // serde_json counts the column in bytes, pointing at the offending byte (1-based).
    let mut offset = (line_start + column.saturating_sub(1)).min(line_end);
    while !input.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// At most [`MAX_SNIPPET_CHARS`] characters of `input` around byte `offset`:
/// up to half before it and the rest after.
fn snippet_around(input: &str, offset: usize, sensitivity: Sensitivity) -> String {
    let offset = offset.min(input.len());
    let half = MAX_SNIPPET_CHARS / 2;
    let before: Vec<(usize, char)> = input[..offset].char_indices().rev().take(half).collect();
    let start = before.last().map_or(offset, |(i, _)| *i);
    let taken_before = before.len();
    let after_budget = MAX_SNIPPET_CHARS - taken_before;
    let end = input[offset..]
        .char_indices()
        .nth(after_budget)
        .map_or(input.len(), |(i, _)| offset + i);
    match sensitivity {
        Sensitivity::Plain => input[start..end].to_string(),
        Sensitivity::Secret => masked_window(input, start, end),
    }
}

/// The window `input[start..end]` with the contents of JSON string literals replaced by
/// [`MASK`]. The scan starts at the beginning of `input` so that a window beginning in
/// the middle of a string is masked too.
fn masked_window(input: &str, start: usize, end: usize) -> String {
    let mut out = String::new();
    let mut in_string = false;
    let mut escaped = false;
    let mut masked_this_string = false;
    for (i, ch) in input[..end].char_indices() {
        let visible = i >= start;
        if in_string {
            if escaped {
                escaped = false;
            } else if ch == '\\' {
                escaped = true;
            } else if ch == '"' {
                in_string = false;
                if visible {
                    out.push('"');
                }
                continue;
            }
            if visible && !masked_this_string {
                out.push_str(MASK);
                masked_this_string = true;
            }
        } else {
            if ch == '"' {
                in_string = true;
                masked_this_string = false;
            }
            if visible {
                out.push(ch);
            }
        }
    }
    out
}

/// The first `max` characters of `s`, with `…` appended if anything was cut.
fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((idx, _)) => format!("{}…", &s[..idx]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn empty_input_is_reported_as_empty() {
        let err = parse_json::<Value>("thing", "  \n\t", Sensitivity::Plain).unwrap_err();
        assert_eq!(err, ModelError::Empty { what: "thing" });
        assert_eq!(err.what(), Some("thing"));
    }

    #[test]
    fn syntax_error_has_position_and_snippet() {
        let input = "{\n  \"a\": 1,\n  \"b\": nope\n}";
        let err = parse_json::<Value>("thing", input, Sensitivity::Plain).unwrap_err();
        match err {
            ModelError::Json {
                what,
                line,
                column,
                message,
                snippet,
            } => {
                assert_eq!(what, "thing");
                assert_eq!(line, 3);
                assert!(column > 0);
                assert!(!message.contains(" at line "), "{message}");
                assert!(snippet.contains("nope"), "{snippet}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn snippet_is_bounded_for_huge_input() {
        let big = format!("[{}x]", "1, ".repeat(10_000));
        let err = parse_json::<Value>("big", &big, Sensitivity::Plain).unwrap_err();
        let ModelError::Json { snippet, .. } = &err else {
            panic!("unexpected {err:?}");
        };
        assert!(snippet.chars().count() <= MAX_SNIPPET_CHARS);
        assert!(snippet.contains('x'));
        assert!(err.to_string().len() < 1000);
    }

    #[test]
    fn snippet_respects_char_boundaries() {
        let input = format!("[\"{}\", ?]", "é".repeat(300));
        let err = parse_json::<Value>("utf8", &input, Sensitivity::Plain).unwrap_err();
        let ModelError::Json { snippet, .. } = err else {
            panic!("not a Json error");
        };
        assert!(snippet.chars().count() <= MAX_SNIPPET_CHARS);
        assert!(snippet.ends_with('?') || snippet.contains('?'));
    }

    #[test]
    fn secret_documents_mask_strings_in_snippet_and_message() {
        let input = r#"{"token": "hunter2-very-secret", "count": "not-a-number"}"#;
        #[derive(Debug, serde::Deserialize)]
        struct Doc {
            #[allow(dead_code)]
            count: u64,
        }
        let err = parse_json::<Doc>("doc", input, Sensitivity::Secret).unwrap_err();
        let text = err.to_string();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(!text.contains("not-a-number"), "{text}");
        assert!(text.contains('…'), "{text}");
        // Without masking the value is visible (the serde message quotes it).
        let err = parse_json::<Doc>("doc", input, Sensitivity::Plain).unwrap_err();
        assert!(err.to_string().contains("not-a-number"));
    }

    #[test]
    fn masked_window_starting_inside_a_string() {
        let input = r#"{"k": "abcdefghijklmnop", "n": 1}"#;
        let start = input.find('h').unwrap_or(0);
        let masked = masked_window(input, start, input.len());
        assert_eq!(masked, r#"…", "…": 1}"#);
        let escaped = r#"["a\"b", "", 2]"#;
        assert_eq!(masked_window(escaped, 0, escaped.len()), r#"["…", "", 2]"#);
        // A window starting at a closing quote shows just the quote.
        let at_quote = input.find("\", \"n").unwrap_or(0);
        assert_eq!(masked_window(input, at_quote, input.len()), r#"", "…": 1}"#);
    }

    #[test]
    fn mask_quoted_masks_serde_quotes() {
        assert_eq!(
            mask_quoted(r#"invalid type: string "xyz", expected u64"#),
            r#"invalid type: string "…", expected u64"#
        );
        assert_eq!(mask_quoted("missing field `urn`"), "missing field `urn`");
    }

    #[test]
    fn byte_offset_handles_odd_positions() {
        assert_eq!(byte_offset("abc", 0, 0), 0);
        assert_eq!(byte_offset("abc", 5, 1), 3);
        assert_eq!(byte_offset("abc\ndef", 2, 2), 5);
        assert_eq!(byte_offset("abc\ndef", 2, 99), 7);
        assert_eq!(byte_offset("é", 1, 2), 0);
    }

    #[test]
    fn truncate_chars_appends_ellipsis() {
        assert_eq!(truncate_chars("abcdef", 3), "abc…");
        assert_eq!(truncate_chars("abc", 3), "abc");
    }
}
