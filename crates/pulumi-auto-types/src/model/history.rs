//! Update history: `pulumi stack history --json [--show-secrets]`.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use super::config::ConfigMap;
use super::enums::{UpdateKind, UpdateResult};
use super::error::{ModelError, Sensitivity, parse_json};
use super::serde_util::null_as_default;

/// One entry of `pulumi stack history --json` (the CLI's `updateInfoJSON`, Go
/// `auto.UpdateSummary`).
///
/// Times are kept as the CLI prints them: UTC, millisecond precision, e.g.
/// `2026-08-20T08:44:10.000Z`.
///
/// On the local (DIY) backend `version` is 0 for every entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateSummary {
    /// The stack version this update produced (0 on the local backend).
    #[serde(default)]
    pub version: u64,
    /// What kind of update this was.
    pub kind: UpdateKind,
    /// When the update started.
    #[serde(default)]
    pub start_time: String,
    /// The update message (`--message`), often empty.
    #[serde(default, deserialize_with = "null_as_default")]
    pub message: String,
    /// Metadata recorded with the update (`exec.kind`, `git.head`, …).
    #[serde(default, deserialize_with = "null_as_default")]
    pub environment: BTreeMap<String, String>,
    /// The configuration the update ran with. Secrets have no value unless
    /// `--show-secrets` was passed.
    #[serde(default, deserialize_with = "null_as_default")]
    pub config: ConfigMap,
    /// How the update ended; absent if unknown.
    #[serde(
        default,
        deserialize_with = "non_empty_enum",
        skip_serializing_if = "Option::is_none"
    )]
    pub result: Option<UpdateResult>,
    /// When the update ended; absent while it is in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    /// Resource counts per operation (`create`, `same`, …); absent while the update
    /// is in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_changes: Option<BTreeMap<String, u64>>,
}

impl UpdateSummary {
    /// True if the update succeeded.
    pub fn succeeded(&self) -> bool {
        self.result == Some(UpdateResult::Succeeded)
    }

    /// True if the update is still running (or was interrupted before it could
    /// record its end).
    pub fn is_in_progress(&self) -> bool {
        self.result == Some(UpdateResult::InProgress)
    }

    /// The number of resources with operation `op` (e.g. `"create"`), 0 if none.
    pub fn resource_change(&self, op: &str) -> u64 {
        self.resource_changes
            .as_ref()
            .and_then(|m| m.get(op))
            .copied()
            .unwrap_or(0)
    }
}

/// Reads an optional enum from a string, with `null` and `""` as `None`.
fn non_empty_enum<'de, D, E>(deserializer: D) -> Result<Option<E>, D::Error>
where
    D: Deserializer<'de>,
    E: From<String>,
{
    Ok(Option::<String>::deserialize(deserializer)?
        .filter(|s| !s.is_empty())
        .map(E::from))
}

const WHAT: &str = "`pulumi stack history --json` output";

/// Parses the output of `pulumi stack history --json`: updates, newest first.
/// `null` is read as no updates.
///
/// ```
/// use pulumi_auto_types::model::{parse_history, UpdateKind};
///
/// let history = parse_history(r#"[{
///   "version": 0, "kind": "update", "startTime": "2026-08-20T08:44:10.000Z",
///   "message": "", "environment": {"exec.kind": "cli"}, "config": {},
///   "result": "succeeded", "endTime": "2026-08-20T08:44:12.000Z",
///   "resourceChanges": {"create": 3}
/// }]"#)?;
/// assert_eq!(history[0].kind, UpdateKind::Update);
/// assert!(history[0].succeeded());
/// assert_eq!(history[0].resource_change("create"), 3);
/// # Ok::<(), pulumi_auto_types::model::ModelError>(())
/// ```
pub fn parse_history(json: &str) -> Result<Vec<UpdateSummary>, ModelError> {
    let list: Option<Vec<UpdateSummary>> = parse_json(WHAT, json, Sensitivity::Secret)?;
    Ok(list.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::ConfigValue;
    use serde_json::json;

    // Shape of `stack history --json --show-secrets` on the local backend: version 0,
    // newest first, 2-space indent.
    const HISTORY: &str = r#"[
  {
    "version": 0,
    "kind": "destroy",
    "startTime": "2026-08-20T08:50:01.000Z",
    "message": "",
    "environment": {
      "exec.kind": "cli",
      "pulumi.arch": "x86_64",
      "pulumi.os": "linux",
      "pulumi.version": "v3.259.0"
    },
    "config": {
      "files:dir": {
        "value": "/tmp/files-test",
        "secret": false
      },
      "files:token": {
        "value": "hunter2",
        "secret": true
      }
    },
    "result": "failed",
    "endTime": "2026-08-20T08:50:03.000Z",
    "resourceChanges": {}
  },
  {
    "version": 0,
    "kind": "update",
    "startTime": "2026-08-20T08:44:10.000Z",
    "message": "first deploy",
    "environment": {
      "exec.kind": "auto.local"
    },
    "config": {
      "files:names": {
        "value": "[\"a\"]",
        "objectValue": ["a"],
        "secret": false
      },
      "files:token": {
        "secret": true
      }
    },
    "result": "succeeded",
    "endTime": "2026-08-20T08:44:12.000Z",
    "resourceChanges": {
      "create": 3,
      "same": 0
    }
  },
  {
    "version": 7,
    "kind": "refresh",
    "startTime": "2026-08-20T09:00:00.000Z",
    "message": "",
    "environment": null,
    "config": {},
    "result": "in-progress"
  },
  {
    "version": 8,
    "kind": "teleport",
    "startTime": "2026-08-20T09:10:00.000Z",
    "message": "",
    "environment": {},
    "config": {},
    "result": "rolled-back",
    "endTime": "2026-08-20T09:10:01.000Z",
    "resourceChanges": {"update": 1},
    "someNewField": {"x": 1}
  }
]
"#;

    #[test]
    fn parses_realistic_history() {
        let h = parse_history(HISTORY).unwrap();
        assert_eq!(h.len(), 4);

        assert_eq!(h[0].kind, UpdateKind::Destroy);
        assert_eq!(h[0].result, Some(UpdateResult::Failed));
        assert_eq!(h[0].config["files:token"], ConfigValue::secret("hunter2"));
        assert_eq!(h[0].environment["pulumi.version"], "v3.259.0");
        assert_eq!(h[0].resource_changes, Some(BTreeMap::new()));
        assert!(!h[0].succeeded());

        assert!(h[1].succeeded());
        assert_eq!(h[1].message, "first deploy");
        assert_eq!(h[1].start_time, "2026-08-20T08:44:10.000Z");
        assert_eq!(h[1].end_time.as_deref(), Some("2026-08-20T08:44:12.000Z"));
        assert_eq!(h[1].resource_change("create"), 3);
        assert_eq!(h[1].resource_change("delete"), 0);
        assert!(h[1].config["files:token"].is_hidden());
        assert_eq!(h[1].config["files:names"].object_value, Some(json!(["a"])));

        assert!(h[2].is_in_progress());
        assert!(h[2].environment.is_empty());
        assert_eq!(h[2].end_time, None);
        assert_eq!(h[2].resource_changes, None);
        assert_eq!(h[2].version, 7);

        assert_eq!(h[3].kind, UpdateKind::Other("teleport".into()));
        assert_eq!(h[3].result, Some(UpdateResult::Other("rolled-back".into())));
    }

    #[test]
    fn empty_history() {
        assert!(parse_history("[]\n").unwrap().is_empty());
        assert!(parse_history("null").unwrap().is_empty());
        assert!(matches!(parse_history(" "), Err(ModelError::Empty { .. })));
    }

    #[test]
    fn missing_result_and_empty_result() {
        let h = parse_history(
            r#"[{"version":1,"kind":"update","startTime":"t","message":"","environment":{},"config":{}},
               {"version":1,"kind":"update","startTime":"t","message":"","environment":{},"config":{},"result":""}]"#,
        )
        .unwrap();
        assert_eq!(h[0].result, None);
        assert_eq!(h[1].result, None);
    }

    #[test]
    fn serialises_with_go_names_and_omissions() {
        let h = parse_history(HISTORY).unwrap();
        let v = serde_json::to_value(&h[2]).unwrap();
        assert_eq!(
            v,
            json!({"version": 7, "kind": "refresh", "startTime": "2026-08-20T09:00:00.000Z",
                   "message": "", "environment": {}, "config": {}, "result": "in-progress"})
        );
    }

    #[test]
    fn errors_hide_config_values() {
        let err = parse_history(
            r#"[{"version":"x","kind":"update","config":{"p:t":{"value":"hunter2","secret":true}}}]"#,
        )
        .unwrap_err();
        assert_eq!(err.what(), Some(WHAT));
        assert!(!err.to_string().contains("hunter2"), "{err}");
        let err = parse_history(r#"{"not":"an array"}"#).unwrap_err();
        assert!(matches!(err, ModelError::Json { .. }));
    }
}
