//! The shapes of destroy approvals that cross process boundaries: what a destroy preview
//! would delete, why a destroy was refused, and the tag that protects a stack.
//!
//! The approval itself, and the decision, are the `pulumi-auto` library's
//! (`pulumi_auto::approval`), which re-exports these under the same names.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The stack tag that protects a stack from destroy: any value but `false` (or empty)
/// protects.
pub const PROTECTED_TAG: &str = "pulumi-auto:protected";

/// True when a stack with these tags is protected from destroy.
pub fn is_protected(tags: &BTreeMap<String, String>) -> bool {
    tags.get(PROTECTED_TAG)
        .map(|v| {
            let v = v.trim();
            !(v.is_empty() || v.eq_ignore_ascii_case("false"))
        })
        .unwrap_or(false)
}

/// One resource a destroy preview would delete (or otherwise change).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PlannedDeletion {
    /// The resource URN.
    pub urn: String,
    /// The resource's provider ID (custom resources), as recorded in the state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The step (`delete` for a plain destroy; other steps when the preview shows them).
    pub op: String,
}

/// Why a destroy was refused. Nothing was run against the stack's resources.
///
/// As JSON, the variant is named by `reason`:
///
/// ```
/// use pulumi_auto_types::approval::DestroyRefusal;
/// let r = DestroyRefusal::WrongStack { approved: "prod".into() };
/// let json = serde_json::to_string(&r)?;
/// assert_eq!(json, r#"{"reason":"wrong-stack","approved":"prod"}"#);
/// assert_eq!(serde_json::from_str::<DestroyRefusal>(&json)?, r);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum DestroyRefusal {
    /// The approval names another stack.
    WrongStack {
        /// The name the approval carries.
        approved: String,
    },
    /// The stack is tagged [`PROTECTED_TAG`] and the approval does not override it.
    Protected {
        /// The tag's value.
        tag_value: String,
    },
    /// The approval is bound to a preview of another stack.
    PreviewOfAnotherStack {
        /// The stack the preview ran on.
        previewed: String,
    },
    /// A `stack import` would drop resources from the state (they would be forgotten,
    /// not deleted) and no approval was given (`Stack::import_stack_approved`).
    ImportDropsResources {
        /// What the import would drop.
        dropped: Vec<PlannedDeletion>,
    },
    /// The stack changed since the preview the approval is bound to.
    PlanChanged {
        /// What would now be deleted that was not previewed.
        added: Vec<PlannedDeletion>,
        /// What was previewed and would no longer be deleted.
        removed: Vec<PlannedDeletion>,
    },
}

/// `, e.g. <urn>` for the first of `ds`, if any.
fn example(f: &mut fmt::Formatter<'_>, ds: &[&PlannedDeletion]) -> fmt::Result {
    match ds.first() {
        Some(d) => write!(f, ", e.g. {}", d.urn),
        None => Ok(()),
    }
}

impl fmt::Display for DestroyRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DestroyRefusal::WrongStack { approved } => {
                write!(f, "the approval names {approved:?}, not this stack")
            }
            DestroyRefusal::Protected { tag_value } => write!(
                f,
                "the stack is protected (tag {PROTECTED_TAG}={tag_value:?}) and the approval does not override protection"
            ),
            DestroyRefusal::PreviewOfAnotherStack { previewed } => write!(
                f,
                "the approval is bound to a preview of {previewed:?}, not of this stack"
            ),
            DestroyRefusal::ImportDropsResources { dropped } => {
                write!(
                    f,
                    "the import would drop {} resource(s) from the state without an approval",
                    dropped.len()
                )?;
                example(f, &dropped.iter().collect::<Vec<_>>())
            }
            DestroyRefusal::PlanChanged { added, removed } => {
                write!(
                    f,
                    "the stack changed since the approved preview ({} not previewed, {} previewed but gone)",
                    added.len(),
                    removed.len()
                )?;
                example(f, &added.iter().chain(removed).collect::<Vec<_>>())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protection_tag_values() {
        let tags = |v: &str| BTreeMap::from([(PROTECTED_TAG.to_owned(), v.to_owned())]);
        assert!(is_protected(&tags("true")));
        assert!(is_protected(&tags("yes")));
        assert!(is_protected(&tags("TRUE")));
        assert!(!is_protected(&tags("false")));
        assert!(!is_protected(&tags(" False ")));
        assert!(!is_protected(&tags("")));
        assert!(!is_protected(&BTreeMap::new()));
    }

    #[test]
    fn refusals_round_trip_and_explain_themselves() {
        let d = |urn: &str| PlannedDeletion {
            urn: urn.into(),
            id: None,
            op: "delete".into(),
        };
        let changed = DestroyRefusal::PlanChanged {
            added: vec![],
            removed: vec![d("urn:b")],
        };
        let json = serde_json::to_value(&changed).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"reason": "plan-changed", "added": [],
                "removed": [{"urn": "urn:b", "op": "delete"}]})
        );
        assert_eq!(
            serde_json::from_value::<DestroyRefusal>(json).unwrap(),
            changed
        );
        assert_eq!(
            changed.to_string(),
            "the stack changed since the approved preview (0 not previewed, 1 previewed but gone), e.g. urn:b"
        );
        let protected = DestroyRefusal::Protected {
            tag_value: "yes".into(),
        };
        assert!(
            protected
                .to_string()
                .contains("pulumi-auto:protected=\"yes\"")
        );
        let dropped = DestroyRefusal::ImportDropsResources { dropped: vec![] };
        assert_eq!(
            dropped.to_string(),
            "the import would drop 0 resource(s) from the state without an approval"
        );
    }
}
