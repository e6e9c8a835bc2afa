//! The YAML helpers the settings share: reading one document (with a bound on flow
//! nesting), taking typed fields out of a map, refusing an `extra` field that repeats a
//! typed one, and naming a value's kind in messages. Pure functions.

use yaml_serde::{Mapping, Value};

use crate::error::{Error, Result};

/// Deeper than this, flow collections (`[`, `{`) are refused before parsing: the YAML
/// parser refuses more than 128 levels anyway, but only after a scan whose time grows with
/// the square of the depth (about a second for 16,000 levels).
const MAX_FLOW_DEPTH: usize = 1000;

/// The deepest nesting of `[`/`{` outside quoted scalars and comments (an estimate: a
/// bracket in a plain scalar counts too, which only matters past the limit).
fn flow_depth(text: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    let mut quote: Option<char> = None;
    let mut comment = false;
    for c in text.chars() {
        if comment {
            comment = c != '\n';
            continue;
        }
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '#') => comment = true,
            (None, '[' | '{') => {
                depth += 1;
                max = max.max(depth);
            }
            (None, ']' | '}') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// The YAML document in `text` (a leading byte order mark is ignored), or an
/// [`Error::InvalidInput`] naming `origin`.
pub(super) fn parse_document(text: &str, origin: &str) -> Result<Value> {
    if flow_depth(text) > MAX_FLOW_DEPTH {
        return Err(Error::invalid(
            origin,
            format!("not valid YAML: collections nested more than {MAX_FLOW_DEPTH} levels deep"),
        ));
    }
    yaml_serde::from_str(strip_bom(text))
        .map_err(|e| Error::invalid(origin, format!("not valid YAML: {e}")))
}

/// Removes `key` from `map` and converts its value; a missing or null value is `None`.
/// Errors name the key.
pub(super) fn take<T: serde::de::DeserializeOwned>(
    map: &mut Mapping,
    key: &str,
) -> Result<Option<T>, String> {
    match map.shift_remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => yaml_serde::from_value(value)
            .map(Some)
            .map_err(|e| format!("{key}: {e}")),
    }
}

pub(super) fn into_mapping(value: Value, what: &str) -> Result<Mapping, String> {
    match value {
        Value::Mapping(map) => Ok(map),
        other => Err(format!("expected {what}, found {}", kind(&other))),
    }
}

/// An `InvalidInput` error when `extra` has one of the typed keys (it would be written
/// twice).
pub(super) fn check_reserved(extra: &Mapping, typed: &[&str], what: &str) -> Result<()> {
    match reserved_key(extra, typed) {
        Some(key) => Err(Error::invalid(
            what,
            format!("`extra` has the field `{key}`, which is a typed field; set it there"),
        )),
        None => Ok(()),
    }
}

pub(super) fn reserved_key<'a>(extra: &'a Mapping, typed: &[&str]) -> Option<&'a str> {
    extra
        .keys()
        .filter_map(Value::as_str)
        .find(|k| typed.contains(k))
}

pub(super) fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// A short name for the kind of a YAML value, for error messages.
pub(super) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing (null)",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a map",
        Value::Tagged(_) => "a tagged value",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workspace::settings::*;

    #[test]
    fn comments_are_not_preserved() {
        // Documented limitation: the file is written anew (as the Python and Node.js SDKs
        // do; the CLI and the Go SDK try to keep comments).
        let text = "# top comment\nname: a # trailing\nruntime: go\n";
        let p = parse_project(text).unwrap();
        let out = render_project(&p).unwrap();
        assert_eq!(out, "name: a\nruntime: go\n");
        assert!(!out.contains('#'));
    }

    #[test]
    fn aliases_are_expanded() {
        let p = parse_project("name: a\nruntime: go\nx: &v [1, 2]\ny: *v\n").unwrap();
        let out = render_project(&p).unwrap();
        assert!(!out.contains('&') && !out.contains('*'), "{out}");
        assert_eq!(p.extra.get("x"), p.extra.get("y"));
    }

    #[test]
    fn bom_is_ignored() {
        let p = parse_project("\u{feff}name: a\nruntime: go\n").unwrap();
        assert_eq!(p.name, "a");
        let s = parse_stack_settings("\u{feff}secretsprovider: passphrase\n").unwrap();
        assert_eq!(s.secrets_provider.as_deref(), Some("passphrase"));
    }

    #[test]
    fn malformed_documents() {
        for text in [
            "",
            "# only a comment\n",
            "---\n",
            "- a\n- b\n",
            "just a string",
            "name: [unclosed\n",
            "a: 1\na: 2\n",
            "name: a\nruntime: go\n---\nname: b\n",
        ] {
            let e = parse_project(text).unwrap_err();
            assert!(matches!(e, Error::InvalidInput { .. }), "{text:?}: {e:?}");
            assert!(e.to_string().contains("Pulumi.yaml"), "{text:?}: {e}");
        }
        // Typed fields of the wrong type say which field.
        let e = parse_project("name: a\nruntime: go\nbackend: [1]\n").unwrap_err();
        assert!(e.to_string().contains("backend"), "{e}");
    }

    #[test]
    fn never_panics_on_odd_input() {
        let deep = format!(
            "name: a\nruntime: go\nx: {}{}\n",
            "[".repeat(5000),
            "]".repeat(5000)
        );
        let laughs = "name: a\nruntime: go\na: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\ni: [*h, *h, *h, *h, *h, *h, *h, *h, *h]\n";
        let inputs = [
            deep.as_str(),
            laughs,
            "\0\u{1}\u{2}",
            "name: !!binary aGVsbG8=\nruntime: go\n",
            "? [complex, key]\n: value\nname: a\nruntime: go\n",
            "name: a\nruntime: go\n1: int-key\nnull: null-key\n",
            "name: a\nruntime: !custom python\n",
            "name: a\nruntime: go\nconfig: 5\n",
            "name: a\nruntime: go\nconfig: [1]\n",
            "&x name: a\n",
            "name: *undefined\n",
            "name: a\nruntime: go\n<<: {x: 1}\n",
            "\t\tname: a",
            "name: \"\\uD800\"\nruntime: go\n",
        ];
        for text in inputs {
            // Any outcome but a panic is fine; a successful parse must render and re-parse.
            if let Ok(p) = parse_project(text)
                && let Ok(out) = render_project(&p)
            {
                assert_eq!(parse_project(&out).unwrap(), p, "{text:?}");
            }
            let _ = parse_stack_settings(text);
        }
    }

    #[test]
    fn deep_flow_nesting_is_refused_fast() {
        let deep = format!("name: {}{}", "[".repeat(50_000), "]".repeat(50_000));
        let err = parse_project(&deep).unwrap_err();
        assert!(err.to_string().contains("nested more than"), "{err}");
        // Just under the limit, the parser itself answers (its own 128-level limit).
        let ok_depth = format!("name: {}{}", "[".repeat(1000), "]".repeat(1000));
        let err = parse_project(&ok_depth).unwrap_err();
        assert!(!err.to_string().contains("nested more than"), "{err}");
        assert_eq!(flow_depth("a: '[[['  # {{{\nb: [1, {c: 2}]"), 2);
    }
}
