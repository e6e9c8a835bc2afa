//! Destroy approval: no stack is destroyed without an explicit, named opt-in.
//!
//! [`Stack::destroy`](crate::Stack::destroy) takes a [`DestroyApproval`] as a required
//! argument, so there is no default path that deletes resources. An approval names the
//! stack it approves; a stack tagged [`PROTECTED_TAG`] refuses even an approval unless it
//! [overrides protection](DestroyApproval::override_protection); and an approval can be
//! bound to a destroy preview, so that what is deleted is exactly what a human saw.
//!
//! ```no_run
//! # async fn demo(stack: pulumi_auto::Stack) -> pulumi_auto::Result<()> {
//! use pulumi_auto::ops::DestroyOptions;
//! // 1. Show the human what would be deleted.
//! let plan = stack.preview_destroy(DestroyOptions::default()).await?;
//! for d in plan.deletions() {
//!     println!("will delete {} ({})", d.urn, d.id.as_deref().unwrap_or("-"));
//! }
//! // 2. The human types the stack's name; the approval is bound to that preview.
//! let typed = "dev";
//! let approval = plan.approve(typed);
//! // 3. Destroy refuses if the name is wrong or the stack changed since the preview.
//! let result = stack.destroy(DestroyOptions::default(), &approval).await?;
//! println!("{:?}", result.summary.resource_changes);
//! # Ok(()) }
//! ```
//!
//! Refusals are [`Error::DestroyRefused`](crate::Error::DestroyRefused), decided before
//! `pulumi destroy` is started: a refused destroy touches no resource and no state.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::model::PreviewDigest;
use crate::ops::OpSummary;

/// The stack tag that protects a stack from destroy: any value but `false` (or empty)
/// protects. Set it with [`Stack::set_protected`](crate::Stack::set_protected).
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
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PlannedDeletion {
    /// The resource URN.
    pub urn: String,
    /// The resource's provider ID (custom resources), as recorded in the state.
    pub id: Option<String>,
    /// The step (`delete` for a plain destroy; other steps when the preview shows them).
    pub op: String,
}

/// What a destroy would do, from a preview-only destroy
/// ([`Stack::preview_destroy`](crate::Stack::preview_destroy)): show it to the human,
/// then [`approve`](Self::approve) it.
#[derive(Debug, Clone)]
pub struct DestroyPlan {
    /// The stack the preview ran on.
    pub stack: String,
    /// The engine's change summary of the preview.
    pub summary: OpSummary,
    /// The full preview (`destroy --preview-only --json`).
    pub preview: PreviewDigest,
    deletions: Vec<PlannedDeletion>,
}

impl DestroyPlan {
    pub(crate) fn new(stack: String, summary: OpSummary, preview: PreviewDigest) -> Self {
        let deletions = deletions_of(&preview);
        DestroyPlan {
            stack,
            summary,
            preview,
            deletions,
        }
    }

    /// What would change, sorted by URN: the resources a destroy deletes.
    pub fn deletions(&self) -> &[PlannedDeletion] {
        &self.deletions
    }

    /// True when the destroy would change nothing.
    pub fn is_empty(&self) -> bool {
        self.deletions.is_empty()
    }

    /// An approval bound to this preview, naming the stack as the human typed it. The
    /// name is checked at destroy time, with the stack's state.
    pub fn approve(&self, typed_stack_name: impl Into<String>) -> DestroyApproval {
        DestroyApproval {
            stack: typed_stack_name.into(),
            override_protection: false,
            plan: Some(self.deletions.clone()),
            ephemeral: false,
        }
    }
}

/// The resources a preview's steps change (no-op steps left out), sorted.
pub(crate) fn deletions_of(preview: &PreviewDigest) -> Vec<PlannedDeletion> {
    let mut out: Vec<PlannedDeletion> = preview
        .steps
        .iter()
        .filter(|s| s.op.is_change())
        .map(|s| PlannedDeletion {
            urn: s.urn.clone(),
            id: s
                .old_state
                .as_ref()
                .and_then(|st| st.id.clone())
                .filter(|id| !id.is_empty()),
            op: s.op.as_str().to_owned(),
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// An explicit opt-in to destroy one named stack. Create it with
/// [`for_stack`](Self::for_stack) (unbound) or [`DestroyPlan::approve`] (bound to a
/// preview).
#[derive(Clone, PartialEq, Eq)]
#[must_use]
pub struct DestroyApproval {
    stack: String,
    override_protection: bool,
    plan: Option<Vec<PlannedDeletion>>,
    ephemeral: bool,
}

impl fmt::Debug for DestroyApproval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DestroyApproval")
            .field("stack", &self.stack)
            .field("override_protection", &self.override_protection)
            .field("bound_to_preview", &self.plan.as_ref().map(Vec::len))
            .field("ephemeral", &self.ephemeral)
            .finish()
    }
}

impl DestroyApproval {
    /// Approves destroying the stack of this name (its short or fully qualified name),
    /// whatever it holds at the time.
    pub fn for_stack(name: impl Into<String>) -> Self {
        DestroyApproval {
            stack: name.into(),
            override_protection: false,
            plan: None,
            ephemeral: false,
        }
    }

    /// The approval an ephemeral stack carries for itself: it skips the protection check
    /// (the crate created the stack, untagged).
    pub(crate) fn ephemeral(name: impl Into<String>) -> Self {
        DestroyApproval {
            ephemeral: true,
            ..Self::for_stack(name)
        }
    }

    /// Also destroy a stack tagged [`PROTECTED_TAG`].
    pub fn override_protection(mut self, on: bool) -> Self {
        self.override_protection = on;
        self
    }

    /// The stack name this approval names.
    pub fn stack(&self) -> &str {
        &self.stack
    }

    /// Whether it overrides protection.
    pub fn overrides_protection(&self) -> bool {
        self.override_protection
    }

    /// The previewed deletions it is bound to, if any.
    pub fn bound_plan(&self) -> Option<&[PlannedDeletion]> {
        self.plan.as_deref()
    }

    pub(crate) fn is_ephemeral(&self) -> bool {
        self.ephemeral
    }

    /// Whether it names the stack with this short name and fully qualified name
    /// (`org/project/stack`); `org/stack` forms match on their last part and organization.
    pub fn names(&self, short: &str, fully_qualified: &str) -> bool {
        let a = self.stack.trim();
        if a.is_empty() {
            return false;
        }
        if a == short || a == fully_qualified {
            return true;
        }
        // `org/stack` against `org/project/stack`.
        let parts: Vec<&str> = fully_qualified.split('/').collect();
        match (a.split_once('/'), parts.as_slice()) {
            (Some((org, stack)), [f_org, _, f_stack]) if !stack.contains('/') => {
                org == *f_org && stack == *f_stack
            }
            _ => false,
        }
    }
}

/// Why a destroy was refused. Nothing was run against the stack's resources.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// The stack changed since the preview the approval is bound to.
    PlanChanged {
        /// What would now be deleted that was not previewed.
        added: Vec<PlannedDeletion>,
        /// What was previewed and would no longer be deleted.
        removed: Vec<PlannedDeletion>,
    },
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
            DestroyRefusal::PlanChanged { added, removed } => {
                write!(
                    f,
                    "the stack changed since the approved preview ({} not previewed, {} previewed but gone)",
                    added.len(),
                    removed.len()
                )?;
                if let Some(d) = added.first().or(removed.first()) {
                    write!(f, ", e.g. {}", d.urn)?;
                }
                Ok(())
            }
        }
    }
}

/// Compares an approved plan with a fresh one: `None` when they are the same.
pub(crate) fn plan_difference(
    approved: &[PlannedDeletion],
    now: &[PlannedDeletion],
) -> Option<DestroyRefusal> {
    let a: BTreeSet<&PlannedDeletion> = approved.iter().collect();
    let n: BTreeSet<&PlannedDeletion> = now.iter().collect();
    if a == n {
        return None;
    }
    Some(DestroyRefusal::PlanChanged {
        added: n.difference(&a).map(|d| (*d).clone()).collect(),
        removed: a.difference(&n).map(|d| (*d).clone()).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(urn: &str, id: &str) -> PlannedDeletion {
        PlannedDeletion {
            urn: urn.into(),
            id: Some(id.into()),
            op: "delete".into(),
        }
    }

    #[test]
    fn names_matches_short_and_qualified_forms_only() {
        let fq = "organization/files/dev";
        assert!(DestroyApproval::for_stack("dev").names("dev", fq));
        assert!(DestroyApproval::for_stack(fq).names("dev", fq));
        assert!(DestroyApproval::for_stack("organization/dev").names("dev", fq));
        for wrong in [
            "prod",
            "",
            " ",
            "Dev",
            "dev2",
            "other/dev",
            "organization/other/dev",
        ] {
            assert!(
                !DestroyApproval::for_stack(wrong).names("dev", fq),
                "{wrong:?} must not approve dev"
            );
        }
    }

    #[test]
    fn protection_tag_values() {
        let tags = |v: &str| BTreeMap::from([(PROTECTED_TAG.to_owned(), v.to_owned())]);
        assert!(is_protected(&tags("true")));
        assert!(is_protected(&tags("yes")));
        assert!(is_protected(&tags("TRUE")));
        assert!(!is_protected(&tags("false")));
        assert!(!is_protected(&tags("")));
        assert!(!is_protected(&BTreeMap::new()));
    }

    #[test]
    fn plan_difference_reports_both_sides() {
        let a = vec![d("urn:a", "1"), d("urn:b", "2")];
        assert_eq!(plan_difference(&a, &a.clone()), None);
        let now = vec![d("urn:a", "1"), d("urn:c", "3")];
        match plan_difference(&a, &now) {
            Some(DestroyRefusal::PlanChanged { added, removed }) => {
                assert_eq!(added, vec![d("urn:c", "3")]);
                assert_eq!(removed, vec![d("urn:b", "2")]);
            }
            other => panic!("{other:?}"),
        }
        // Same URN, new ID (replaced out of band): a change.
        assert!(plan_difference(&a, &[d("urn:a", "1"), d("urn:b", "9")]).is_some());
    }

    #[test]
    fn debug_does_not_dump_the_plan() {
        let a = DestroyApproval::for_stack("dev").override_protection(true);
        let s = format!("{a:?}");
        assert!(s.contains("dev") && s.contains("override_protection: true"));
    }
}
