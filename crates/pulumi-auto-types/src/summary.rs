//! The change summary of an engine operation (up, preview, refresh, destroy, import).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::events::SummaryEvent;
use crate::model::OperationResult;

/// The change summary of an operation, from the engine's summary event.
///
/// Its JSON names follow the event's: `result`, `resourceChanges`, `durationSeconds`,
/// `isPreview`, `maybeCorrupt`.
///
/// ```
/// use pulumi_auto_types::summary::OpSummary;
/// let s: OpSummary = serde_json::from_str(
///     r#"{"result":"succeeded","resourceChanges":{"create":2},"durationSeconds":3}"#,
/// )?;
/// assert_eq!((s.result.as_str(), s.count("create"), s.duration.as_secs()), ("succeeded", 2, 3));
/// assert_eq!(serde_json::from_str::<OpSummary>(&serde_json::to_string(&s)?)?, s);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OpSummary {
    /// `succeeded`, `failed` or `canceled` (an empty `Other` if the engine never
    /// reported).
    pub result: OperationResult,
    /// Resource counts by operation (`create`, `update`, `delete`, `same`, `replace`, …).
    pub resource_changes: BTreeMap<String, u64>,
    /// How long the engine ran (whole seconds, as the engine reports it).
    #[serde(
        rename = "durationSeconds",
        serialize_with = "seconds",
        deserialize_with = "from_seconds"
    )]
    pub duration: Duration,
    /// Whether it was a preview.
    pub is_preview: bool,
    /// Whether the state may be corrupt (the engine says so).
    pub maybe_corrupt: bool,
}

fn seconds<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_secs())
}

fn from_seconds<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    u64::deserialize(d).map(Duration::from_secs)
}

impl OpSummary {
    /// The number of resources with this operation (`create`, `same`, …), 0 if none.
    pub fn count(&self, op: &str) -> u64 {
        self.resource_changes.get(op).copied().unwrap_or(0)
    }

    /// True when nothing but `same` steps happened.
    pub fn is_no_op(&self) -> bool {
        self.resource_changes
            .iter()
            .all(|(op, n)| op == "same" || *n == 0)
    }
}

impl From<&SummaryEvent> for OpSummary {
    fn from(s: &SummaryEvent) -> Self {
        OpSummary {
            result: s.result.clone(),
            resource_changes: s.resource_changes.clone(),
            duration: Duration::from_secs(s.duration_seconds),
            is_preview: s.is_preview,
            maybe_corrupt: s.maybe_corrupt,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_the_summary_event_and_back_through_json() {
        let ev: SummaryEvent = serde_json::from_str(
            r#"{"maybeCorrupt":false,"durationSeconds":7,"resourceChanges":{"create":2,"same":1},"PolicyPacks":{},"isPreview":true,"result":"succeeded"}"#,
        )
        .unwrap();
        let s = OpSummary::from(&ev);
        assert_eq!(s.result, OperationResult::Succeeded);
        assert_eq!((s.count("create"), s.count("delete")), (2, 0));
        assert!(s.is_preview && !s.is_no_op());
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"result": "succeeded", "resourceChanges": {"create": 2, "same": 1},
                "durationSeconds": 7, "isPreview": true, "maybeCorrupt": false})
        );
        assert_eq!(serde_json::from_value::<OpSummary>(v).unwrap(), s);
        let empty: OpSummary = serde_json::from_str("{}").unwrap();
        assert_eq!(empty, OpSummary::default());
        assert!(empty.is_no_op());
    }
}
