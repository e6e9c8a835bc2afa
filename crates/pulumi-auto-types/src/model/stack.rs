//! Stacks and their tags: `pulumi stack ls --json` and `pulumi stack tag ls --json`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::error::{ModelError, Sensitivity, parse_json};
use super::serde_util::empty_string_as_none;

/// One entry of `pulumi stack ls --json` (the CLI's `stackSummaryJSON`, Go
/// `auto.StackSummary`).
///
/// `name` is the bare stack name for stacks of the current project and
/// `organization/<project>/<stack>` otherwise on the local backend; pass the global
/// `-Q/--fully-qualify-stack-names` flag to always get fully qualified names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StackSummary {
    /// The stack name.
    pub name: String,
    /// True for the currently selected stack.
    #[serde(default)]
    pub current: bool,
    /// When the stack was last updated (e.g. `2026-08-20T08:44:10.000Z`); absent if
    /// never, or while an update is in progress on backends that track progress.
    #[serde(
        default,
        deserialize_with = "empty_string_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_update: Option<String>,
    /// Whether an update is running; only reported by backends that track progress
    /// (never by the local backend).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_in_progress: Option<bool>,
    /// How many resources the stack has, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_count: Option<u64>,
    /// The stack's console URL (Pulumi Cloud only).
    #[serde(
        default,
        deserialize_with = "empty_string_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub url: Option<String>,
}

const WHAT_LIST: &str = "`pulumi stack ls --json` output";

/// Parses the output of `pulumi stack ls --json`. `null` is read as no stacks.
///
/// ```
/// use pulumi_auto_types::model::{current_stack, parse_stack_list};
///
/// let stacks = parse_stack_list(r#"[
///   {"name": "dev", "current": true, "lastUpdate": "2026-08-20T08:44:10.000Z", "resourceCount": 4},
///   {"name": "prod", "current": false}
/// ]"#)?;
/// assert_eq!(current_stack(&stacks).map(|s| s.name.as_str()), Some("dev"));
/// assert_eq!(stacks[1].resource_count, None);
/// # Ok::<(), pulumi_auto_types::model::ModelError>(())
/// ```
pub fn parse_stack_list(json: &str) -> Result<Vec<StackSummary>, ModelError> {
    let list: Option<Vec<StackSummary>> = parse_json(WHAT_LIST, json, Sensitivity::Plain)?;
    Ok(list.unwrap_or_default())
}

/// The entry marked `current`, if any.
pub fn current_stack(stacks: &[StackSummary]) -> Option<&StackSummary> {
    stacks.iter().find(|s| s.current)
}

/// Stack tags by name (`pulumi:project`, `pulumi:runtime`, user tags, …).
pub type StackTags = BTreeMap<String, String>;

const WHAT_TAGS: &str = "`pulumi stack tag ls --json` output";

/// Parses the output of `pulumi stack tag ls --json`. `null` is read as no tags.
///
/// ```
/// use pulumi_auto_types::model::parse_tags;
///
/// let tags = parse_tags(r#"{"pulumi:project": "files", "owner": "me"}"#)?;
/// assert_eq!(tags["owner"], "me");
/// # Ok::<(), pulumi_auto_types::model::ModelError>(())
/// ```
pub fn parse_tags(json: &str) -> Result<StackTags, ModelError> {
    let tags: Option<StackTags> = parse_json(WHAT_TAGS, json, Sensitivity::Plain)?;
    Ok(tags.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // Local backend (no updateInProgress, no url) and a cloud-style entry.
    const LIST: &str = r#"[
  {
    "name": "dev",
    "current": true,
    "lastUpdate": "2026-08-20T08:44:10.000Z",
    "resourceCount": 4
  },
  {
    "name": "organization/other/ci",
    "current": false,
    "resourceCount": 0
  },
  {
    "name": "acme/web/prod",
    "current": false,
    "updateInProgress": true,
    "resourceCount": 12,
    "url": "https://app.pulumi.com/acme/web/prod",
    "futureField": [1]
  }
]
"#;

    #[test]
    fn parses_stack_list() {
        let stacks = parse_stack_list(LIST).unwrap();
        assert_eq!(stacks.len(), 3);
        assert_eq!(
            stacks[0],
            StackSummary {
                name: "dev".into(),
                current: true,
                last_update: Some("2026-08-20T08:44:10.000Z".into()),
                update_in_progress: None,
                resource_count: Some(4),
                url: None,
            }
        );
        assert_eq!(stacks[1].last_update, None);
        assert_eq!(stacks[1].resource_count, Some(0));
        assert_eq!(stacks[2].update_in_progress, Some(true));
        assert_eq!(
            stacks[2].url.as_deref(),
            Some("https://app.pulumi.com/acme/web/prod")
        );
        assert_eq!(current_stack(&stacks).map(|s| s.name.as_str()), Some("dev"));
    }

    #[test]
    fn empty_lists_and_errors() {
        assert!(parse_stack_list("[]").unwrap().is_empty());
        assert!(parse_stack_list("null").unwrap().is_empty());
        assert_eq!(current_stack(&[]), None);
        let err = parse_stack_list(r#"[{"current": true}]"#).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("missing field `name`"), "{text}");
        assert!(text.contains("stack ls"), "{text}");
    }

    #[test]
    fn serialises_like_the_cli() {
        let stacks = parse_stack_list(LIST).unwrap();
        assert_eq!(
            serde_json::to_value(&stacks[0]).unwrap(),
            json!({"name": "dev", "current": true, "lastUpdate": "2026-08-20T08:44:10.000Z", "resourceCount": 4})
        );
    }

    #[test]
    fn parses_tags() {
        let tags = parse_tags(
            "{\n  \"pulumi:project\": \"files\",\n  \"pulumi:runtime\": \"python\",\n  \"team\": \"infra\"\n}\n",
        )
        .unwrap();
        assert_eq!(tags.len(), 3);
        assert_eq!(tags["pulumi:runtime"], "python");
        assert!(parse_tags("{}").unwrap().is_empty());
        assert!(parse_tags("null").unwrap().is_empty());
        assert!(parse_tags(r#"{"a": 1}"#).is_err());
    }
}
