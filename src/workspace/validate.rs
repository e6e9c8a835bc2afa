//! Input checks made before any process is spawned.

use crate::error::{Error, Result};

/// The longest stack, project or organization name the CLI accepts.
pub const MAX_NAME_LEN: usize = 100;

fn check_segment(what: &str, s: &str, whole: &str) -> Result<()> {
    if s.is_empty() {
        return Err(Error::invalid(
            what,
            format!("{whole:?}: a name may not be empty"),
        ));
    }
    if s.len() > MAX_NAME_LEN {
        return Err(Error::invalid(
            what,
            format!("{whole:?}: a name cannot exceed {MAX_NAME_LEN} characters"),
        ));
    }
    if let Some((i, c)) = s
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(Error::invalid(
            what,
            format!(
                "{whole:?}: may only contain alphanumerics, hyphens, underscores, or periods (invalid character {c:?} at position {i})"
            ),
        ));
    }
    Ok(())
}

/// What this crate asks of a name on top of Pulumi's rule: it goes to command lines and
/// to paths (the file backend keeps `.pulumi/stacks/<project>/<stack>.json`), so it may not
/// start with `-` (it would read as a flag) and may not be `.` or `..`.
fn check_not_flag_or_dot(what: &str, s: &str, whole: &str) -> Result<()> {
    if s.starts_with('-') {
        return Err(Error::invalid(
            what,
            format!("{whole:?}: a name may not start with `-` (it would read as a flag)"),
        ));
    }
    if s == "." || s == ".." {
        return Err(Error::invalid(
            what,
            format!("{whole:?}: a name may not be `.` or `..` (it would name a directory)"),
        ));
    }
    Ok(())
}

/// Pulumi's rule for the organization (owner) part of a qualified stack name
/// (`stackOwnerRegexp` of the CLI's service backend: 3 to 40 alphanumerics, `-` and `_`,
/// beginning and ending with an alphanumeric). The file backends accept only
/// `organization`, which passes.
fn check_owner(s: &str, whole: &str) -> Result<()> {
    let b = s.as_bytes();
    let ok = (3..=40).contains(&b.len())
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "stack name",
            format!(
                "{whole:?}: invalid organization {s:?} (3 to 40 letters, digits, `-` or `_`, beginning and ending with a letter or digit)"
            ),
        ))
    }
}

/// Checks a stack name: `stack`, `org/stack` or `org/project/stack`, by Pulumi's rules
/// (read from the pinned CLI's source): the stack and project parts `[A-Za-z0-9_.-]`, 1 to
/// 100 characters; the organization 3 to 40 of `[A-Za-z0-9_-]`, beginning and ending with
/// a letter or digit. This crate also refuses a part that begins with `-` (it would read
/// as a flag on a command line) or is `.` or `..` (the file backend makes paths of them),
/// which Pulumi accepts: such a stack, made with the CLI, cannot be used from here.
///
/// ```
/// # use pulumi_auto::workspace::validate_stack_name;
/// assert!(validate_stack_name("dev").is_ok());
/// assert!(validate_stack_name("organization/files/dev").is_ok());
/// assert!(validate_stack_name("dev; rm -rf /").is_err());
/// assert!(validate_stack_name("--force").is_err());
/// assert!(validate_stack_name("../x").is_err());
/// ```
pub fn validate_stack_name(name: &str) -> Result<()> {
    let parts: Vec<&str> = name.split('/').collect();
    let (org, project, stack) = match parts.as_slice() {
        [stack] => (None, None, *stack),
        [org, stack] => (Some(*org), None, *stack),
        [org, project, stack] => (Some(*org), Some(*project), *stack),
        _ => {
            return Err(Error::invalid(
                "stack name",
                format!("{name:?}: expected `stack`, `org/stack` or `org/project/stack`"),
            ));
        }
    };
    check_segment("stack name", stack, name)?;
    check_not_flag_or_dot("stack name", stack, name)?;
    if let Some(project) = project {
        check_segment("stack name", project, name)?;
        check_not_flag_or_dot("stack name", project, name)?;
    }
    if let Some(org) = org {
        check_owner(org, name)?;
    }
    Ok(())
}

/// Checks a project name (`[A-Za-z0-9_.-]{1,100}`, Pulumi's rule).
pub fn validate_project_name(name: &str) -> Result<()> {
    check_segment("project name", name, name)
}

/// Checks a config key: `key` or `namespace:key`, non-empty parts, no control characters.
/// With `path`, the part after the namespace may use `.`/`[n]`/`["k"]` path syntax, whose
/// brackets and quotes must balance.
///
/// ```
/// # use pulumi_auto::workspace::validate_config_key;
/// assert!(validate_config_key("aws:region", false).is_ok());
/// assert!(validate_config_key("--foo", false).is_ok()); // flag-like keys are passed safely
/// assert!(validate_config_key("", false).is_err());
/// assert!(validate_config_key("a:b:c", false).is_err());
/// assert!(validate_config_key("db.hosts[0", true).is_err());
/// ```
pub fn validate_config_key(key: &str, path: bool) -> Result<()> {
    let bad = |reason: &str| Err(Error::invalid("config key", format!("{key:?}: {reason}")));
    if key.is_empty() {
        return bad("a config key may not be empty");
    }
    if key.chars().any(char::is_control) {
        return bad("a config key may not contain control characters (newlines, tabs, NUL)");
    }
    if key.trim() != key {
        return bad("a config key may not start or end with whitespace");
    }
    // With --path the namespace is what precedes the first `:` before any path syntax.
    let head_end = if path {
        key.find(['.', '[']).unwrap_or(key.len())
    } else {
        key.len()
    };
    let head = &key[..head_end];
    let colons = head.matches(':').count();
    if colons > 1 {
        return bad("expected `key` or `namespace:key` (more than one `:`)");
    }
    if let Some((ns, name)) = head.split_once(':')
        && (ns.is_empty() || (name.is_empty() && head_end == key.len()))
    {
        return bad("namespace and key around `:` may not be empty");
    }
    if path {
        if head.contains(']') {
            return bad("unbalanced `]`");
        }
        let rest = &key[head_end..];
        if head.is_empty() || head.ends_with(':') && rest.is_empty() {
            return bad("a path key needs a name before its path");
        }
        check_path_syntax(rest).or_else(|reason| bad(&reason))?;
    }
    Ok(())
}

/// Checks `.a[0]["b.c"]`-style path syntax.
fn check_path_syntax(rest: &str) -> std::result::Result<(), String> {
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '.' => match chars.peek() {
                None | Some('.') | Some('[') => return Err("empty path segment".into()),
                _ => {}
            },
            '[' => {
                match chars.peek() {
                    Some('"') => {
                        chars.next();
                        let mut closed = false;
                        while let Some(c) = chars.next() {
                            if c == '\\' {
                                chars.next();
                            } else if c == '"' {
                                closed = true;
                                break;
                            }
                        }
                        if !closed {
                            return Err("unterminated quoted path segment".into());
                        }
                    }
                    Some(d) if d.is_ascii_digit() => {
                        while chars.peek().is_some_and(|c| c.is_ascii_digit()) {
                            chars.next();
                        }
                    }
                    _ => return Err("`[` must be followed by an index or a quoted key".into()),
                }
                if chars.next() != Some(']') {
                    return Err("unbalanced `[`".into());
                }
            }
            ']' => return Err("unbalanced `]`".into()),
            _ => {}
        }
    }
    Ok(())
}

/// Checks a stack tag name (non-empty, at most 255 bytes, no control characters).
pub fn validate_tag_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > 255 || name.chars().any(char::is_control) {
        return Err(Error::invalid(
            "tag name",
            format!("{name:?}: must be 1 to 255 bytes with no control characters"),
        ));
    }
    Ok(())
}

/// Checks a value that goes to the CLI attached to its flag (`--flag=value`).
pub(crate) fn check_flag_value(what: &str, v: &str) -> Result<()> {
    if v.is_empty() || v.chars().any(char::is_control) {
        return Err(Error::invalid(
            what,
            format!("{v:?}: must be non-empty, with no control characters"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_names() {
        for ok in [
            "dev",
            "a.b_c-1",
            "dev-",
            "a..b",
            ".hidden",
            "organization/proj/dev",
            "organization/dev",
            "org/dev",
            "my_org-1/p.q/s",
            &"x".repeat(100),
            &format!("{}/p/s", "o".repeat(40)),
        ] {
            assert!(validate_stack_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "a b",
            "dev\n",
            "a/b/c/d",
            "org//dev",
            "dév",
            "$(id)",
            &"x".repeat(101),
            // Flags and paths.
            "-",
            "--force",
            "--help",
            "-s",
            "organization/p/-x",
            "organization/-p/x",
            ".",
            "..",
            "../x",
            "../../x",
            "organization/../x",
            "organization/p/..",
            "organization/./x",
            // Organizations by the service's rule.
            "-o/x",
            "o/x",
            "ab/x",
            "_org/x",
            "org_/x",
            "o.rg/x",
            &format!("{}/s", "o".repeat(41)),
        ] {
            assert!(
                matches!(validate_stack_name(bad), Err(Error::InvalidInput { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn config_keys() {
        for ok in ["k", "proj:k", "--foo", "ünï", "a.b"] {
            assert!(validate_config_key(ok, false).is_ok(), "{ok}");
        }
        for ok in ["a.b", "a[0]", "proj:a.b[0][\"c.d\"]", "a[\"x]y\"]"] {
            assert!(validate_config_key(ok, true).is_ok(), "{ok}");
        }
        for bad in ["", " k", "k\n", "a:b:c", ":k", "k:", "a\0b"] {
            assert!(validate_config_key(bad, false).is_err(), "{bad:?}");
        }
        for bad in ["a[", "a]", "a[x]", "a..b", "a.", "a[\"b]", "a[0"] {
            assert!(validate_config_key(bad, true).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn error_message_is_clear() {
        let e = validate_stack_name("my stack").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid stack name: \"my stack\": may only contain alphanumerics, hyphens, underscores, or periods (invalid character ' ' at position 2)"
        );
    }
}
