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

use serde::{Deserialize, Serialize};

use crate::model::PreviewDigest;
pub use pulumi_auto_types::approval::{
    DestroyRefusal, PROTECTED_TAG, PlannedDeletion, is_protected,
};
use pulumi_auto_types::summary::OpSummary;

/// What a destroy would do, from a preview-only destroy
/// ([`Stack::preview_destroy`](crate::Stack::preview_destroy)): show it to the human,
/// then [`approve`](Self::approve) it.
///
/// It serialises, so that it can be shown elsewhere, and deserialises: an approval made
/// from a plan read back ([`approve`](Self::approve)) still names the stack as the human
/// typed it and is still compared with a fresh preview at destroy time, so it approves no
/// more than [`DestroyApproval::for_stack`] would.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DestroyPlan {
    /// The stack the preview ran on.
    pub stack: String,
    /// The engine's change summary of the preview.
    pub summary: OpSummary,
    /// The full preview (`destroy --preview-only --json`).
    pub preview: PreviewDigest,
    #[serde(default)]
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
///
/// It is made in this process, by code that names the stack: it can be neither
/// deserialised (read from a request or a file) nor serialised.
///
/// ```
/// fn deserialisable<T: serde::de::DeserializeOwned>() {}
/// deserialisable::<pulumi_auto::approval::DestroyRefusal>();
/// deserialisable::<pulumi_auto::DestroyPlan>();
/// ```
///
/// ```compile_fail,E0277
/// fn deserialisable<T: serde::de::DeserializeOwned>() {}
/// deserialisable::<pulumi_auto::DestroyApproval>();
/// ```
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

    /// The names whose stacks the decision compares with the one destroyed: the
    /// approval's, and the stack its preview ran on.
    pub(crate) fn names(&self) -> Vec<&str> {
        let mut names = vec![self.stack()];
        names.extend(self.previewed_stack());
        names
    }

    /// Decides whether this approval allows destroying a stack, from what is known about
    /// that stack (pure). Names come first: an approval naming another stack is refused
    /// before the tags are read or a fresh preview is run; then, when the tags or the
    /// fresh preview matter to this approval and are not known yet, it says which it
    /// needs ([`Verdict::Needs`]: only facts that are `None`), and decides once given.
    pub(crate) fn decide(&self, facts: &DestroyFacts<'_>) -> Verdict {
        if facts.other_stacks.contains(&self.stack()) {
            return Verdict::Refused(DestroyRefusal::WrongStack {
                approved: self.stack.clone(),
            });
        }
        if let Some(previewed) = self.previewed_stack()
            && facts.other_stacks.contains(&previewed)
        {
            return Verdict::Refused(DestroyRefusal::PreviewOfAnotherStack {
                previewed: previewed.to_owned(),
            });
        }
        // The protection tag matters only to an approval that does not override it.
        let check_tags = !self.ephemeral && !self.override_protection;
        let needs_tags = check_tags && facts.tags.is_none();
        let needs_fresh_preview = self.plan.is_some() && facts.fresh.is_none();
        if needs_tags || needs_fresh_preview {
            return Verdict::Needs {
                tags: needs_tags,
                fresh_preview: needs_fresh_preview,
            };
        }
        if let Some(tags) = facts.tags
            && check_tags
            && is_protected(tags)
        {
            let tag_value = tags.get(PROTECTED_TAG).cloned().unwrap_or_default();
            return Verdict::Refused(DestroyRefusal::Protected { tag_value });
        }
        if let (Some(approved), Some(fresh)) = (self.bound_plan(), facts.fresh)
            && let Some(reason) = plan_difference(approved, fresh)
        {
            return Verdict::Refused(reason);
        }
        Verdict::Allowed
    }
}

/// What is known about the stack to destroy, for [`DestroyApproval::decide`].
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DestroyFacts<'a> {
    /// Which of the approval's [names](DestroyApproval::names) name another stack than
    /// the one to destroy (the others name it).
    pub(crate) other_stacks: &'a [&'a str],
    /// The stack's tags, once read.
    pub(crate) tags: Option<&'a BTreeMap<String, String>>,
    /// What a fresh destroy preview of the stack would delete, once run.
    pub(crate) fresh: Option<&'a [PlannedDeletion]>,
}

/// What [`DestroyApproval::decide`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The destroy may run.
    Allowed,
    /// The destroy is refused.
    Refused(DestroyRefusal),
    /// The decision needs these facts: read them, then decide again.
    Needs {
        /// The stack's tags.
        tags: bool,
        /// A fresh destroy preview.
        fresh_preview: bool,
    },
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

    fn tags(protected: Option<&str>) -> BTreeMap<String, String> {
        let mut t = BTreeMap::from([("owner".to_owned(), "me".to_owned())]);
        if let Some(v) = protected {
            t.insert(PROTECTED_TAG.to_owned(), v.to_owned());
        }
        t
    }

    fn plan_of(stack: &str, deletions: Vec<PlannedDeletion>) -> DestroyPlan {
        DestroyPlan {
            stack: stack.into(),
            summary: OpSummary::default(),
            preview: PreviewDigest::default(),
            deletions,
        }
    }

    #[test]
    fn names_are_decided_first_without_other_facts() {
        let unbound = DestroyApproval::for_stack("prod");
        assert_eq!(unbound.names(), ["prod"]);
        let wrong = DestroyFacts {
            other_stacks: &["prod"],
            ..Default::default()
        };
        assert_eq!(
            unbound.decide(&wrong),
            Verdict::Refused(DestroyRefusal::WrongStack {
                approved: "prod".into()
            })
        );
        // Bound to a preview of another stack, under the right name.
        let bound = plan_of("other", vec![d("urn:a", "1")]).approve("dev");
        assert_eq!(bound.names(), ["dev", "other"]);
        let facts = DestroyFacts {
            other_stacks: &["other"],
            ..Default::default()
        };
        assert_eq!(
            bound.decide(&facts),
            Verdict::Refused(DestroyRefusal::PreviewOfAnotherStack {
                previewed: "other".into()
            })
        );
        // The name wins over everything else.
        let facts = DestroyFacts {
            other_stacks: &["dev", "other"],
            tags: Some(&tags(Some("true"))),
            fresh: Some(&[]),
        };
        assert!(matches!(
            bound.decide(&facts),
            Verdict::Refused(DestroyRefusal::WrongStack { .. })
        ));
    }

    #[test]
    fn protection_needs_the_tags_unless_overridden() {
        let a = DestroyApproval::for_stack("dev");
        let none = DestroyFacts::default();
        assert_eq!(
            a.decide(&none),
            Verdict::Needs {
                tags: true,
                fresh_preview: false
            }
        );
        let protected = tags(Some("yes"));
        let facts = DestroyFacts {
            tags: Some(&protected),
            ..none
        };
        assert_eq!(
            a.decide(&facts),
            Verdict::Refused(DestroyRefusal::Protected {
                tag_value: "yes".into()
            })
        );
        for value in [None, Some("false"), Some("")] {
            let t = tags(value);
            let facts = DestroyFacts {
                tags: Some(&t),
                ..none
            };
            assert_eq!(a.decide(&facts), Verdict::Allowed, "{value:?}");
        }
        // An override, and an ephemeral stack's own approval, need no tags at all.
        let overriding = a.clone().override_protection(true);
        assert_eq!(overriding.decide(&none), Verdict::Allowed);
        assert_eq!(overriding.decide(&facts_with(&protected)), Verdict::Allowed);
        assert_eq!(
            DestroyApproval::ephemeral("dev").decide(&none),
            Verdict::Allowed
        );
    }

    fn facts_with(tags: &BTreeMap<String, String>) -> DestroyFacts<'_> {
        DestroyFacts {
            tags: Some(tags),
            ..Default::default()
        }
    }

    #[test]
    fn a_bound_approval_needs_a_fresh_preview_that_matches() {
        let approved = vec![d("urn:a", "1"), d("urn:b", "2")];
        let a = plan_of("dev", approved.clone()).approve("dev");
        assert_eq!(
            a.decide(&DestroyFacts::default()),
            Verdict::Needs {
                tags: true,
                fresh_preview: true
            }
        );
        let plain = tags(None);
        assert_eq!(
            a.decide(&facts_with(&plain)),
            Verdict::Needs {
                tags: false,
                fresh_preview: true
            },
            "only what is still unknown is asked for"
        );
        let same = DestroyFacts {
            tags: Some(&plain),
            fresh: Some(&approved),
            ..Default::default()
        };
        assert_eq!(a.decide(&same), Verdict::Allowed);
        let replaced = [d("urn:a", "1"), d("urn:b", "9")];
        let changed = DestroyFacts {
            fresh: Some(&replaced),
            ..same
        };
        assert!(matches!(
            a.decide(&changed),
            Verdict::Refused(DestroyRefusal::PlanChanged { .. })
        ));
        // Protection is decided before the plan.
        let protected = tags(Some("true"));
        let both = DestroyFacts {
            tags: Some(&protected),
            ..changed
        };
        assert!(matches!(
            a.decide(&both),
            Verdict::Refused(DestroyRefusal::Protected { .. })
        ));
        // Overriding protection still needs the plan to match.
        let o = a.override_protection(true);
        assert_eq!(
            o.decide(&DestroyFacts::default()),
            Verdict::Needs {
                tags: false,
                fresh_preview: true
            }
        );
        assert!(matches!(
            o.decide(&both),
            Verdict::Refused(DestroyRefusal::PlanChanged { .. })
        ));
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
