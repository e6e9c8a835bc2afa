//! The preview digest: `pulumi preview --json`, and the first document on stdout of
//! `pulumi up|destroy|refresh --json` without `--skip-preview`.
//!
//! The CLI prints one indented JSON document after the preview, even when the
//! preview fails. Secrets in step states are always the string `"[secret]"` and
//! values not yet known are [`crate::model::UNKNOWN_PLACEHOLDER`].

use std::collections::BTreeMap;
use std::time::Duration;

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::deployment::ResourceState;
use super::enums::{DiagnosticSeverity, DiffKind, StepOp};
use super::error::{ModelError, Sensitivity, json_error, parse_json, unexpected};
use super::serde_util::{is_false, is_zero_u64, null_as_default};

/// The output of `pulumi preview --json` (Go `display.PreviewDigest`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreviewDigest {
    /// The configuration the preview ran with; secrets are blinded.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub config: BTreeMap<String, String>,
    /// The resource steps. `same` steps appear only with `--show-sames`, except
    /// for the root stack; replacement halves only with `--show-replacement-steps`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub steps: Vec<PreviewStep>,
    /// Warnings, errors and program output (ephemeral and debug messages are left
    /// out by the CLI).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub diagnostics: Vec<PreviewDiagnostic>,
    /// How long the preview took, in nanoseconds (JSON field `duration`).
    #[serde(rename = "duration", default, skip_serializing_if = "is_zero_u64")]
    pub duration_ns: u64,
    /// Resource counts per operation (`create`, `same`, …).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub change_summary: BTreeMap<String, u64>,
    /// True if one or more resources may be corrupt.
    #[serde(default, skip_serializing_if = "is_false")]
    pub maybe_corrupt: bool,
    /// Fields this crate does not model, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One step of a [`PreviewDigest`] (Go `display.PreviewStep`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreviewStep {
    /// The operation.
    pub op: StepOp,
    /// The resource URN.
    #[serde(default)]
    pub urn: String,
    /// The provider reference that performs the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The state before the step (secrets as `"[secret]"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_state: Option<ResourceState>,
    /// The state after the step (secrets as `"[secret]"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_state: Option<ResourceState>,
    /// Properties that cause a diff (update steps).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub diff_reasons: Vec<String>,
    /// Properties that cause a replacement (replace steps).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub replace_reasons: Vec<String>,
    /// Per-property differences, when the provider reported them. The CLI always
    /// writes this field, as `null` when absent; `None` is written as `null`.
    #[serde(default)]
    pub detailed_diff: Option<BTreeMap<String, PreviewPropertyDiff>>,
    /// Fields this crate does not model, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl PreviewStep {
    /// The resource type from the new state, or else the old state.
    pub fn resource_type(&self) -> Option<&str> {
        self.new_state
            .as_ref()
            .or(self.old_state.as_ref())
            .map(|s| s.type_.as_str())
    }
}

/// A per-property difference in a preview step (Go `display.PropertyDiff`). Note
/// the field is `kind` here, while engine events call it `diffKind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreviewPropertyDiff {
    /// The kind of difference.
    pub kind: DiffKind,
    /// True if the difference is between old and new inputs rather than old state
    /// and new inputs.
    #[serde(default)]
    pub input_diff: bool,
    /// Fields this crate does not model, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A diagnostic message in a [`PreviewDigest`] (Go `display.PreviewDiagnostic`).
/// The CLI folds the prefix into `message` and strips colour codes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreviewDiagnostic {
    /// The resource the message is about, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urn: Option<String>,
    /// A message prefix, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// The message text (program output lines keep their trailing newline).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// The severity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<DiagnosticSeverity>,
    /// Fields this crate does not model, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl PreviewDigest {
    /// How long the preview took.
    pub fn duration(&self) -> Duration {
        Duration::from_nanos(self.duration_ns)
    }

    /// The count for operation `op` in the change summary (0 if absent).
    pub fn change_count(&self, op: &StepOp) -> u64 {
        self.change_summary.get(op.as_str()).copied().unwrap_or(0)
    }

    /// True if the change summary has a non-zero count for any operation that
    /// changes something (see [`StepOp::is_change`]).
    pub fn has_changes(&self) -> bool {
        self.change_summary
            .iter()
            .any(|(op, n)| *n > 0 && StepOp::from(op.as_str()).is_change())
    }

    /// Diagnostics with severity `error`.
    pub fn errors(&self) -> impl Iterator<Item = &PreviewDiagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Some(DiagnosticSeverity::Error))
    }
}

const WHAT: &str = "`pulumi preview --json` output";

/// Parses the output of `pulumi preview --json`: exactly one digest document.
///
/// ```
/// use pulumi_auto_types::model::{parse_preview, StepOp};
///
/// let digest = parse_preview(r#"{
///     "steps": [{"op": "create", "urn": "urn:pulumi:dev::p::t:m:R::a", "detailedDiff": null}],
///     "duration": 1500000000,
///     "changeSummary": {"create": 1}
/// }"#)?;
/// assert_eq!(digest.steps[0].op, StepOp::Create);
/// assert_eq!(digest.duration().as_millis(), 1500);
/// assert!(digest.has_changes());
/// # Ok::<(), pulumi_auto_types::model::ModelError>(())
/// ```
pub fn parse_preview(json: &str) -> Result<PreviewDigest, ModelError> {
    let digest: PreviewDigest = parse_json(WHAT, json, Sensitivity::Secret)?;
    check_not_event(json, digest)
}

/// Parses the preview digest at the start of `stdout` and ignores whatever follows
/// it: the stdout of `pulumi up --json` (or `destroy`/`refresh`) without
/// `--skip-preview` is the indented digest followed by engine events, one per line.
///
/// Fails with [`ModelError::Unexpected`] if the first document is an engine event
/// (the command ran with `--skip-preview`, or with
/// `PULUMI_ENABLE_STREAMING_JSON_PREVIEW=true`).
///
/// ```
/// use pulumi_auto_types::model::parse_preview_output;
///
/// let stdout = "{\n    \"changeSummary\": {\"create\": 2}\n}\n\
///     {\"sequence\":0,\"timestamp\":1,\"preludeEvent\":{\"config\":{}}}\n\
///     {\"sequence\":3,\"timestamp\":2,\"cancelEvent\":{}}\n";
/// let digest = parse_preview_output(stdout)?;
/// assert_eq!(digest.change_summary["create"], 2);
/// # Ok::<(), pulumi_auto_types::model::ModelError>(())
/// ```
pub fn parse_preview_output(stdout: &str) -> Result<PreviewDigest, ModelError> {
    if stdout.trim().is_empty() {
        return Err(ModelError::Empty { what: WHAT });
    }
    let mut stream = serde_json::Deserializer::from_str(stdout).into_iter::<IgnoredAny>();
    match stream.next() {
        Some(Ok(_)) => {}
        Some(Err(e)) => return Err(json_error(WHAT, stdout, &e, Sensitivity::Secret)),
        None => return Err(ModelError::Empty { what: WHAT }),
    }
    let first = stdout.get(..stream.byte_offset()).unwrap_or(stdout);
    let digest: PreviewDigest = parse_json(WHAT, first, Sensitivity::Secret)?;
    check_not_event(first, digest)
}

/// Rejects a "digest" that is really an engine event: every field of the digest
/// is optional, so an event would otherwise parse as an empty digest.
fn check_not_event(input: &str, digest: PreviewDigest) -> Result<PreviewDigest, ModelError> {
    if digest.extra.contains_key("sequence") && digest.extra.contains_key("timestamp") {
        return Err(unexpected(
            WHAT,
            input,
            "found an engine event, not a preview digest (was --skip-preview passed, or \
             PULUMI_ENABLE_STREAMING_JSON_PREVIEW set?)",
            Sensitivity::Secret,
        ));
    }
    Ok(digest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // `pulumi preview --json` for the `files` fixture after changing `greeting`
    // and `noteName` (4-space indent, as the CLI prints it).
    const DIGEST: &str = r#"{
    "config": {
        "files:dir": "/tmp/files-test",
        "files:token": "[secret]"
    },
    "steps": [
        {
            "op": "same",
            "urn": "urn:pulumi:dev::files::pulumi:pulumi:Stack::files-dev",
            "oldState": {
                "urn": "urn:pulumi:dev::files::pulumi:pulumi:Stack::files-dev",
                "custom": false,
                "type": "pulumi:pulumi:Stack",
                "outputs": {
                    "count": 2,
                    "token": "[secret]"
                }
            },
            "newState": {
                "urn": "urn:pulumi:dev::files::pulumi:pulumi:Stack::files-dev",
                "custom": false,
                "type": "pulumi:pulumi:Stack"
            },
            "detailedDiff": null
        },
        {
            "op": "update",
            "urn": "urn:pulumi:dev::files::pulumi-python:dynamic:Resource::greeting",
            "provider": "urn:pulumi:dev::files::pulumi:providers:pulumi-python::default::8b5c3a2e-0000-4000-8000-000000000001",
            "oldState": {
                "urn": "urn:pulumi:dev::files::pulumi-python:dynamic:Resource::greeting",
                "custom": true,
                "id": "/tmp/files-test/greeting.txt",
                "type": "pulumi-python:dynamic:Resource",
                "inputs": {"content": "hello", "path": "/tmp/files-test/greeting.txt"},
                "outputs": {"content": "hello", "path": "/tmp/files-test/greeting.txt", "size": 5},
                "parent": "urn:pulumi:dev::files::pulumi:pulumi:Stack::files-dev",
                "provider": "urn:pulumi:dev::files::pulumi:providers:pulumi-python::default::8b5c3a2e-0000-4000-8000-000000000001"
            },
            "newState": {
                "urn": "urn:pulumi:dev::files::pulumi-python:dynamic:Resource::greeting",
                "custom": true,
                "id": "/tmp/files-test/greeting.txt",
                "type": "pulumi-python:dynamic:Resource",
                "inputs": {"content": "bonjour", "path": "/tmp/files-test/greeting.txt"},
                "outputs": {"size": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"},
                "parent": "urn:pulumi:dev::files::pulumi:pulumi:Stack::files-dev"
            },
            "diffReasons": ["content"],
            "detailedDiff": {
                "content": {"kind": "update", "inputDiff": true}
            }
        },
        {
            "op": "replace",
            "urn": "urn:pulumi:dev::files::pulumi-python:dynamic:Resource::note",
            "newState": {
                "urn": "urn:pulumi:dev::files::pulumi-python:dynamic:Resource::note",
                "custom": true,
                "type": "pulumi-python:dynamic:Resource",
                "inputs": {"path": "/tmp/files-test/memo.txt"}
            },
            "replaceReasons": ["path"],
            "detailedDiff": {
                "path": {"kind": "update-replace", "inputDiff": false},
                "mode": {"kind": "sideways", "inputDiff": false}
            },
            "futureStepField": 1
        }
    ],
    "diagnostics": [
        {
            "message": "writing files to /tmp/files-test\n",
            "severity": "info"
        },
        {
            "urn": "urn:pulumi:dev::files::pulumi-python:dynamic:Resource::note",
            "message": "note will be replaced",
            "severity": "warning"
        },
        {
            "message": "oops\n",
            "severity": "info#err"
        }
    ],
    "duration": 2345678901,
    "changeSummary": {
        "replace": 1,
        "same": 1,
        "update": 1
    }
}
"#;

    #[test]
    fn parses_realistic_digest() {
        let d = parse_preview(DIGEST).unwrap();
        assert_eq!(d.config["files:token"], "[secret]");
        assert_eq!(d.steps.len(), 3);

        let root = &d.steps[0];
        assert_eq!(root.op, StepOp::Same);
        assert_eq!(root.detailed_diff, None);
        assert_eq!(root.resource_type(), Some("pulumi:pulumi:Stack"));
        assert_eq!(
            root.old_state.as_ref().unwrap().outputs["token"],
            json!("[secret]")
        );

        let greeting = &d.steps[1];
        assert_eq!(greeting.op, StepOp::Update);
        assert_eq!(greeting.diff_reasons, vec!["content"]);
        let dd = greeting.detailed_diff.as_ref().unwrap();
        assert_eq!(dd["content"].kind, DiffKind::Update);
        assert!(dd["content"].input_diff);
        assert!(greeting.provider.is_some());

        let note = &d.steps[2];
        assert_eq!(note.op, StepOp::Replace);
        assert!(note.old_state.is_none());
        let dd = note.detailed_diff.as_ref().unwrap();
        assert!(dd["path"].kind.is_replace());
        assert_eq!(dd["mode"].kind, DiffKind::Other("sideways".into()));
        assert_eq!(note.extra["futureStepField"], json!(1));

        assert_eq!(d.diagnostics.len(), 3);
        assert_eq!(d.diagnostics[2].severity, Some(DiagnosticSeverity::InfoErr));
        assert_eq!(d.errors().count(), 0);
        assert_eq!(d.duration_ns, 2_345_678_901);
        assert_eq!(d.duration(), Duration::new(2, 345_678_901));
        assert_eq!(d.change_count(&StepOp::Update), 1);
        assert_eq!(d.change_count(&StepOp::Create), 0);
        assert!(d.has_changes());
        assert!(!d.maybe_corrupt);
    }

    #[test]
    fn digest_round_trips() {
        let d = parse_preview(DIGEST).unwrap();
        let original: Value = serde_json::from_str(DIGEST).unwrap();
        assert_eq!(serde_json::to_value(&d).unwrap(), original);
    }

    #[test]
    fn no_changes_and_failed_preview() {
        // A failed preview still prints a digest; with nothing to show it is tiny.
        let d = parse_preview(
            r#"{
    "diagnostics": [
        {"message": "error: Program failed with an unhandled exception:\nKeyError: 'dir'\n", "severity": "error"}
    ],
    "duration": 812000000,
    "changeSummary": {"same": 1}
}"#,
        )
        .unwrap();
        assert!(!d.has_changes());
        assert_eq!(d.errors().count(), 1);
        assert!(d.steps.is_empty());

        let d = parse_preview("{}\n").unwrap();
        assert_eq!(d, PreviewDigest::default());
        assert_eq!(d.duration(), Duration::ZERO);
    }

    #[test]
    fn up_stdout_digest_then_events() {
        let mut stdout = DIGEST.to_string();
        stdout.push_str(
            "{\"sequence\":0,\"timestamp\":1755679450,\"preludeEvent\":{\"config\":{\"files:dir\":\"/tmp/files-test\"}}}\n",
        );
        stdout.push_str("{\"sequence\":9,\"timestamp\":1755679452,\"summaryEvent\":{\"maybeCorrupt\":false,\"durationSeconds\":2,\"resourceChanges\":{\"update\":1},\"PolicyPacks\":{}}}\n");
        stdout.push_str("{\"sequence\":10,\"timestamp\":1755679452,\"cancelEvent\":{}}\n");
        let d = parse_preview_output(&stdout).unwrap();
        assert_eq!(d, parse_preview(DIGEST).unwrap());
        // Strict parsing rejects the trailing events.
        assert!(matches!(
            parse_preview(&stdout),
            Err(ModelError::Json { .. })
        ));
        // Trailing garbage after the digest is ignored too.
        let d = parse_preview_output("{\"duration\": 5}\nnot json at all").unwrap();
        assert_eq!(d.duration_ns, 5);
    }

    #[test]
    fn engine_event_is_not_a_digest() {
        let stdout = "{\"sequence\":0,\"timestamp\":1,\"preludeEvent\":{\"config\":{}}}\n{\"sequence\":1,\"timestamp\":1,\"cancelEvent\":{}}\n";
        let err = parse_preview_output(stdout).unwrap_err();
        assert!(matches!(err, ModelError::Unexpected { .. }), "{err:?}");
        assert!(err.to_string().contains("engine event"));
        assert!(parse_preview("{\"sequence\":0,\"timestamp\":1,\"cancelEvent\":{}}").is_err());
    }

    #[test]
    fn bad_input() {
        assert!(matches!(
            parse_preview_output(""),
            Err(ModelError::Empty { .. })
        ));
        assert!(matches!(
            parse_preview_output(" \n"),
            Err(ModelError::Empty { .. })
        ));
        assert!(matches!(parse_preview(""), Err(ModelError::Empty { .. })));
        let err = parse_preview_output("error: no stack named 'dev' found\n").unwrap_err();
        let ModelError::Json { snippet, .. } = &err else {
            panic!("unexpected {err:?}");
        };
        assert!(snippet.contains("no stack named"));
        assert!(parse_preview_output("{\"steps\": [{\"urn\": 1}]}").is_err());
        assert!(parse_preview_output("[1, 2]").is_err());
        assert!(parse_preview_output("{\"duration\": 1").is_err());
    }

    /// A preview carries config values, inputs and outputs (in clear with
    /// `--show-secrets`): the snippet of a parse error masks every string's contents.
    #[test]
    fn parse_error_snippets_mask_string_contents() {
        let doc = "{\"config\": {\"files:token\": \"hunter2-preview\"},\n\
                   \"steps\": [{\"op\": \"create\", \"urn\": 1}]}";
        for err in [
            parse_preview_output(doc).unwrap_err(),
            parse_preview(doc).unwrap_err(),
            parse_preview_output("{\"token\": \"hunter2-preview\"").unwrap_err(),
            parse_preview(
                "{\"sequence\": 1, \"timestamp\": 2, \"diagnosticEvent\": {\"message\": \"hunter2-preview\"}}",
            )
            .unwrap_err(),
        ] {
            let text = format!("{err} {err:?}");
            assert!(!text.contains("hunter2"), "{text}");
        }
        // Outside string literals the text stays readable.
        let err = parse_preview_output("error: no stack named 'dev' found\n").unwrap_err();
        assert!(err.to_string().contains("no stack named"), "{err}");
    }
}
