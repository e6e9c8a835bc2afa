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
    /// name is checked at destroy time, with the stack's state; so is the stack the
    /// preview ran on, which must be the one destroyed.
    pub fn approve(&self, typed_stack_name: impl Into<String>) -> DestroyApproval {
        DestroyApproval {
            stack: typed_stack_name.into(),
            override_protection: false,
            plan: Some(self.deletions.clone()),
            previewed_on: Some(self.stack.clone()),
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
    previewed_on: Option<String>,
    ephemeral: bool,
}

impl fmt::Debug for DestroyApproval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DestroyApproval")
            .field("stack", &self.stack)
            .field("override_protection", &self.override_protection)
            .field("bound_to_preview", &self.plan.as_ref().map(Vec::len))
            .field("previewed_on", &self.previewed_on)
            .field("ephemeral", &self.ephemeral)
            .finish()
    }
}

impl DestroyApproval {
    /// Approves destroying the stack of this name, whatever it holds at the time. Any
    /// spelling the CLI resolves to the same stack is accepted: `dev`, `organization/dev`
    /// or `organization/<project>/dev` for a handle made with any of them; never another
    /// stack.
    pub fn for_stack(name: impl Into<String>) -> Self {
        DestroyApproval {
            stack: name.into(),
            override_protection: false,
            plan: None,
            previewed_on: None,
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

    /// The stack the bound preview ran on (as its handle was named), if bound.
    pub fn previewed_stack(&self) -> Option<&str> {
        self.previewed_on.as_deref()
    }

    pub(crate) fn is_ephemeral(&self) -> bool {
        self.ephemeral
    }
}

/// Whether two stack names are spelled alike (surrounding whitespace aside): the same
/// stack without asking the CLI. Names spelled differently may still be one stack
/// (`dev` and `organization/<project>/dev`); the check then compares the fully
/// qualified names the CLI resolves them to.
pub(crate) fn spelled_alike(a: &str, b: &str) -> bool {
    let a = a.trim();
    !a.is_empty() && a == b.trim()
}

/// Whether two valid stack names surely name different stacks of the project `project`
/// (pure): their stack parts differ, or their projects (the given one, else `project`),
/// or organizations both given. `false` when only the CLI can tell (one leaves the
/// organization to the backend's default).
pub(crate) fn surely_different(a: &str, b: &str, project: &str) -> bool {
    let parts = |n: &str| -> (Option<String>, String, String) {
        let v: Vec<&str> = n.trim().split('/').collect();
        match v.as_slice() {
            [s] => (None, project.to_owned(), (*s).to_owned()),
            [o, s] => (Some((*o).to_owned()), project.to_owned(), (*s).to_owned()),
            [o, p, s] => (Some((*o).to_owned()), (*p).to_owned(), (*s).to_owned()),
            _ => (None, String::new(), n.to_owned()),
        }
    };
    let (ao, ap, as_) = parts(a);
    let (bo, bp, bs) = parts(b);
    as_ != bs || ap != bp || matches!((ao, bo), (Some(x), Some(y)) if x != y)
}

/// The resources of `current` that a `stack import` of `new` would drop from the state
/// (sorted): each `(URN, ID)` of `current` that `new` does not have (a resource whose ID
/// changed is dropped too: the old one would be forgotten), and each pending create of
/// `current` that `new` does not have as a resource (`stack import` clears every pending
/// operation, and a pending create may exist).
pub fn dropped_by_import(
    current: &crate::model::Deployment,
    new: &crate::model::Deployment,
) -> Vec<PlannedDeletion> {
    let key =
        |r: &crate::model::ResourceState| (r.urn.clone(), r.id.clone().filter(|i| !i.is_empty()));
    let kept: BTreeSet<(String, Option<String>)> = new.resources().iter().map(key).collect();
    let kept_urns: BTreeSet<&str> = new.resources().iter().map(|r| r.urn.as_str()).collect();
    let mut out: Vec<PlannedDeletion> = current
        .resources()
        .iter()
        .filter(|r| !kept.contains(&key(r)))
        .map(|r| {
            let (urn, id) = key(r);
            PlannedDeletion {
                urn,
                id,
                op: "drop".into(),
            }
        })
        .collect();
    out.extend(
        current
            .pending_operations()
            .iter()
            .filter(|p| {
                p.type_.as_str() == "creating" && !kept_urns.contains(p.resource.urn.as_str())
            })
            .map(|p| PlannedDeletion {
                urn: p.resource.urn.clone(),
                id: p.resource.id.clone().filter(|i| !i.is_empty()),
                op: "drop pending create".into(),
            }),
    );
    out.sort();
    out.dedup();
    out
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
    /// The approval is bound to a preview of another stack.
    PreviewOfAnotherStack {
        /// The stack the preview ran on.
        previewed: String,
    },
    /// A `stack import` would drop resources from the state (they would be forgotten,
    /// not deleted) and no approval was given
    /// ([`Stack::import_stack_approved`](crate::Stack::import_stack_approved)).
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
                if let Some(d) = dropped.first() {
                    write!(f, ", e.g. {}", d.urn)?;
                }
                Ok(())
            }
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
    fn only_names_spelled_alike_match_without_the_cli() {
        assert!(spelled_alike("dev", "dev"));
        assert!(spelled_alike(" dev ", "dev"));
        assert!(spelled_alike(
            "organization/files/dev",
            "organization/files/dev"
        ));
        for (a, b) in [
            ("", ""),
            (" ", " "),
            ("dev", "Dev"),
            ("dev", "dev2"),
            ("dev", "organization/files/dev"),
            ("organization/dev", "dev"),
        ] {
            assert!(!spelled_alike(a, b), "{a:?} {b:?}");
        }
    }

    #[test]
    fn names_that_surely_differ() {
        let p = "files";
        for (a, b) in [
            ("dev", "prod"),
            ("dev", "DEV"),
            ("dev", "organization/files/prod"),
            ("dev", "organization/other/dev"),
            ("organization/dev", "acme/dev"),
            ("organization/files/dev", "acme/files/dev"),
        ] {
            assert!(surely_different(a, b, p), "{a} {b}");
            assert!(surely_different(b, a, p), "{b} {a}");
        }
        // Only the CLI knows the default organization.
        for (a, b) in [
            ("dev", "dev"),
            ("dev", "organization/dev"),
            ("dev", "acme/dev"),
            ("dev", "organization/files/dev"),
            ("organization/dev", "organization/files/dev"),
        ] {
            assert!(!surely_different(a, b, p), "{a} {b}");
            assert!(!surely_different(b, a, p), "{b} {a}");
        }
    }

    #[test]
    fn an_import_drops_what_it_lacks_or_replaces() {
        let dep = |rs: &[(&str, Option<&str>)]| -> crate::model::Deployment {
            let resources: Vec<serde_json::Value> = rs
                .iter()
                .map(|(u, i)| serde_json::json!({"urn": u, "type": "t:m:R", "id": i}))
                .collect();
            serde_json::from_value(serde_json::json!({
                "version": 3,
                "deployment": {"manifest": {"time": "2026-01-01T00:00:00Z", "magic": "", "version": ""}, "resources": resources}
            }))
            .unwrap()
        };
        let current = dep(&[("urn:a", Some("1")), ("urn:b", Some("2")), ("urn:c", None)]);
        assert!(dropped_by_import(&current, &current).is_empty());
        let empty: crate::model::Deployment =
            serde_json::from_value(serde_json::json!({"version": 3, "deployment": null})).unwrap();
        assert_eq!(dropped_by_import(&current, &empty).len(), 3);
        let dropped = dropped_by_import(
            &current,
            &dep(&[("urn:a", Some("1")), ("urn:b", Some("9"))]),
        );
        let urns: Vec<&str> = dropped.iter().map(|d| d.urn.as_str()).collect();
        assert_eq!(urns, ["urn:b", "urn:c"]);
        // Adding resources drops nothing.
        assert!(dropped_by_import(&empty, &current).is_empty());
        // A pending create is dropped unless the new state has it as a resource.
        let mut pending: crate::model::Deployment = current.clone();
        let op: crate::model::PendingOperation = serde_json::from_value(
            serde_json::json!({"type": "creating", "resource": {"urn": "urn:p", "type": "t:m:R"}}),
        )
        .unwrap();
        pending
            .deployment
            .as_mut()
            .unwrap()
            .pending_operations
            .push(op);
        let dropped = dropped_by_import(&pending, &current);
        assert_eq!(dropped.len(), 1);
        assert_eq!(
            (dropped[0].urn.as_str(), dropped[0].op.as_str()),
            ("urn:p", "drop pending create")
        );
        let adopted = dep(&[
            ("urn:a", Some("1")),
            ("urn:b", Some("2")),
            ("urn:c", None),
            ("urn:p", Some("x")),
        ]);
        assert!(dropped_by_import(&pending, &adopted).is_empty());
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
        assert_eq!(a.previewed_stack(), None);
        let s = format!("{a:?}");
        assert!(s.contains("dev") && s.contains("override_protection: true"));
    }
}
