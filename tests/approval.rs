//! Destroy approval against the real CLI: every refusal path, each proving that no
//! resource was touched (the files on disk, the stack's state, and no `pulumi destroy`
//! run other than previews), and the approved paths that do destroy.

mod common;

use common::{CountingCli, TestEnv};
use pulumi_auto::approval::{DestroyRefusal, PROTECTED_TAG};
use pulumi_auto::ops::{DestroyOptions, UpOptions};
use pulumi_auto::{DestroyApproval, Error, Stack};

struct Fixture {
    env: TestEnv,
    stack: Stack,
    counting: CountingCli,
}

/// A `files` stack brought up (greeting.txt, note.txt), on a workspace whose `pulumi`
/// is wrapped to record every process started.
async fn up_stack(name: &str) -> Fixture {
    let env = TestEnv::new("files").await;
    let counting = CountingCli::new(env.root.path()).await;
    let cmd = counting.command().await;
    let ws = env.workspace_with(|b| b.pulumi_command(cmd)).await;
    let stack = ws.create_stack(name).await.unwrap();
    stack
        .set_config("dir", env.files.display().to_string())
        .await
        .unwrap();
    let up = stack.up(UpOptions::default()).await.unwrap();
    assert_eq!(up.summary.count("create"), 3);
    counting.reset();
    Fixture {
        env,
        stack,
        counting,
    }
}

/// The resources in the stack's state, as (URN, ID).
async fn state(stack: &Stack) -> Vec<(String, Option<String>)> {
    stack
        .export_stack()
        .await
        .unwrap()
        .resources()
        .iter()
        .map(|r| (r.urn.clone(), r.id.clone()))
        .collect()
}

/// Asserts nothing was deleted: files and state as before, and no destroy ran except
/// previews.
async fn assert_untouched(f: &Fixture, files: &[&str], before: &[(String, Option<String>)]) {
    let destroys: Vec<String> = f
        .counting
        .lines()
        .into_iter()
        .filter(|l| l.starts_with("destroy ") && !l.contains("--preview-only"))
        .collect();
    assert!(destroys.is_empty(), "a destroy ran: {destroys:?}");
    assert_eq!(f.env.file_names(), files);
    assert_eq!(state(&f.stack).await, before);
}

fn refusal(e: Error) -> DestroyRefusal {
    match e {
        Error::DestroyRefused { reason, .. } => reason,
        other => panic!("expected DestroyRefused, got {other:?}"),
    }
}

on_both_backends! {
#[tokio::test]
async fn an_approval_for_another_stack_is_refused() {
    let f = up_stack("dev").await;
    let before = state(&f.stack).await;
    f.counting.reset();
    for wrong in ["prod", "", "organization/files/prod", "other/dev", "DEV"] {
        let err = f
            .stack
            .destroy(
                DestroyOptions::default(),
                &DestroyApproval::for_stack(wrong),
            )
            .await
            .unwrap_err();
        assert!(err.to_string().contains("refused"), "{err}");
        match refusal(err) {
            DestroyRefusal::WrongStack { approved } => assert_eq!(approved, wrong),
            other => panic!("{other:?}"),
        }
    }
    // A wrong name is decided without a destroy or a preview: at most the CLI is asked
    // which stack a name means (`other/dev`: the organization is the backend's to say).
    let lines = f.counting.lines();
    assert!(
        lines.iter().all(|l| l.starts_with("stack --show-name ")),
        "{lines:?}"
    );
    assert!(
        !lines
            .iter()
            .any(|l| l.ends_with(" prod") || l.ends_with(" DEV")),
        "names that surely differ need no process: {lines:?}"
    );
    assert_untouched(&f, &["greeting.txt", "note.txt"], &before).await;
    // A plan approved under a wrong name is refused as well.
    let plan = f
        .stack
        .preview_destroy(DestroyOptions::default())
        .await
        .unwrap();
    let err = f
        .stack
        .destroy(DestroyOptions::default(), &plan.approve("prod"))
        .await
        .unwrap_err();
    assert!(matches!(refusal(err), DestroyRefusal::WrongStack { .. }));
    assert_untouched(&f, &["greeting.txt", "note.txt"], &before).await;
}
}

on_both_backends! {
#[tokio::test]
async fn a_protected_stack_needs_an_explicit_override() {
    let f = up_stack("guarded").await;
    f.stack.set_protected(true).await.unwrap();
    assert_eq!(f.stack.get_tag(PROTECTED_TAG).await.unwrap(), "true");
    let before = state(&f.stack).await;
    f.counting.reset();

    // A correct name is not enough, bound to a preview or not.
    let err = f
        .stack
        .destroy(
            DestroyOptions::default(),
            &DestroyApproval::for_stack("guarded"),
        )
        .await
        .unwrap_err();
    assert_eq!(
        refusal(err),
        DestroyRefusal::Protected {
            tag_value: "true".into()
        }
    );
    let plan = f
        .stack
        .preview_destroy(DestroyOptions::default())
        .await
        .unwrap();
    let err = f
        .stack
        .destroy(DestroyOptions::default(), &plan.approve("guarded"))
        .await
        .unwrap_err();
    assert!(matches!(refusal(err), DestroyRefusal::Protected { .. }));
    assert_untouched(&f, &["greeting.txt", "note.txt"], &before).await;

    // Overriding protection destroys.
    let done = f
        .stack
        .destroy(
            DestroyOptions::default(),
            &DestroyApproval::for_stack("guarded").override_protection(true),
        )
        .await
        .unwrap();
    assert_eq!(done.summary.count("delete"), 3);
    assert!(f.env.file_names().is_empty());

    // Lifting protection makes a plain approval enough again.
    f.stack.set_protected(false).await.unwrap();
    f.stack.up(UpOptions::default()).await.unwrap();
    let done = f
        .stack
        .destroy(
            DestroyOptions::default(),
            &DestroyApproval::for_stack("organization/files/guarded"),
        )
        .await
        .unwrap();
    assert_eq!(done.summary.count("delete"), 3);
}
}

on_both_backends! {
#[tokio::test]
async fn an_approval_bound_to_a_stale_preview_is_refused() {
    let f = up_stack("dev").await;
    let plan = f
        .stack
        .preview_destroy(DestroyOptions::default())
        .await
        .unwrap();
    assert_eq!(plan.deletions().len(), 3, "{:?}", plan.deletions());
    let approval = plan.approve("dev");

    // The stack gains a resource after the human approved the preview.
    f.stack.set_config("extra", "true").await.unwrap();
    f.stack.up(UpOptions::default()).await.unwrap();
    let before = state(&f.stack).await;
    f.counting.reset();
    let err = f
        .stack
        .destroy(DestroyOptions::default(), &approval)
        .await
        .unwrap_err();
    match refusal(err) {
        DestroyRefusal::PlanChanged { added, removed } => {
            assert_eq!(added.len(), 1, "{added:?}");
            assert!(added[0].urn.ends_with("::extra"), "{added:?}");
            assert!(removed.is_empty(), "{removed:?}");
        }
        other => panic!("{other:?}"),
    }
    assert_untouched(&f, &["extra.txt", "greeting.txt", "note.txt"], &before).await;

    // A resource replaced since (same URN, new ID) is a change too.
    let plan = f
        .stack
        .preview_destroy(DestroyOptions::default())
        .await
        .unwrap();
    let approval = plan.approve("dev");
    f.stack.set_config("noteName", "memo.txt").await.unwrap();
    f.stack.up(UpOptions::default()).await.unwrap();
    let before = state(&f.stack).await;
    f.counting.reset();
    let err = f
        .stack
        .destroy(DestroyOptions::default(), &approval)
        .await
        .unwrap_err();
    match refusal(err) {
        DestroyRefusal::PlanChanged { added, removed } => {
            assert_eq!(added.len(), 1, "{added:?}");
            assert_eq!(removed.len(), 1, "{removed:?}");
            assert_eq!(added[0].urn, removed[0].urn);
            assert!(added[0].id.as_deref().unwrap_or("").ends_with("memo.txt"));
        }
        other => panic!("{other:?}"),
    }
    assert_untouched(&f, &["extra.txt", "greeting.txt", "memo.txt"], &before).await;

    // A fresh preview, approved, destroys exactly what it showed.
    let plan = f
        .stack
        .preview_destroy(DestroyOptions::default())
        .await
        .unwrap();
    let done = f
        .stack
        .destroy(DestroyOptions::default(), &plan.approve("dev"))
        .await
        .unwrap();
    assert_eq!(
        done.summary.count("delete") as usize,
        plan.deletions().len()
    );
    assert!(f.env.file_names().is_empty());
}
}

on_both_backends! {
#[tokio::test]
async fn an_approval_matches_the_stack_in_any_spelling_and_no_other() {
    let f = up_stack("two").await;
    let ws = f.stack.workspace().clone();
    let three = ws.create_stack("three").await.unwrap();
    let three_files = f.env.root.path().join("three-out");
    three
        .set_config("dir", three_files.display().to_string())
        .await
        .unwrap();
    three.up(UpOptions::default()).await.unwrap();
    let before = state(&f.stack).await;

    // A fully qualified handle, approved by the short name and the `org/stack` form.
    let qualified = ws.select_stack("organization/files/two").await.unwrap();
    for wrong in [
        "three",
        "organization/files/three",
        "organization/two2",
        "organization/other/two",
        "acme/files/two",
        "--two",
        "../two",
    ] {
        let err = qualified
            .destroy(
                DestroyOptions::default(),
                &DestroyApproval::for_stack(wrong),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(refusal(err), DestroyRefusal::WrongStack { .. }),
            "{wrong}"
        );
    }
    assert_untouched(&f, &["greeting.txt", "note.txt"], &before).await;
    // A preview of another stack, approved under this stack's name, is refused.
    let other_plan = three
        .preview_destroy(DestroyOptions::default())
        .await
        .unwrap();
    let err = qualified
        .destroy(DestroyOptions::default(), &other_plan.approve("two"))
        .await
        .unwrap_err();
    assert_eq!(
        refusal(err),
        DestroyRefusal::PreviewOfAnotherStack {
            previewed: "three".into()
        }
    );
    assert_untouched(&f, &["greeting.txt", "note.txt"], &before).await;

    // A plan of the qualified handle, approved by the short name, destroys.
    let plan = qualified
        .preview_destroy(DestroyOptions::default())
        .await
        .unwrap();
    let done = qualified
        .destroy(DestroyOptions::default(), &plan.approve("two"))
        .await
        .unwrap();
    assert_eq!(done.summary.count("delete"), 3);
    assert!(f.env.file_names().is_empty());
    // So does an unbound approval in another spelling.
    f.stack.up(UpOptions::default()).await.unwrap();
    qualified
        .destroy(
            DestroyOptions::default(),
            &DestroyApproval::for_stack("organization/two"),
        )
        .await
        .unwrap();
    assert!(f.env.file_names().is_empty());
    // The short handle, approved by the qualified name; a bound plan of the short handle
    // used on the qualified one.
    f.stack.up(UpOptions::default()).await.unwrap();
    let plan = f
        .stack
        .preview_destroy(DestroyOptions::default())
        .await
        .unwrap();
    qualified
        .destroy(
            DestroyOptions::default(),
            &plan.approve("organization/files/two"),
        )
        .await
        .unwrap();
    assert!(f.env.file_names().is_empty());

    // A forced removal of a fully qualified name, approved by the short name.
    ws.remove_stack(
        "organization/files/three",
        pulumi_auto::workspace::RemoveOptions::default().force(DestroyApproval::for_stack("two")),
    )
    .await
    .unwrap_err();
    ws.remove_stack(
        "organization/files/three",
        pulumi_auto::workspace::RemoveOptions::default().force(DestroyApproval::for_stack("three")),
    )
    .await
    .unwrap();
    let names: Vec<String> = ws
        .list_stacks()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["two"]);
}
}

on_both_backends! {
#[tokio::test]
async fn an_import_that_drops_resources_needs_an_approval() {
    let f = up_stack("dev").await;
    let before = state(&f.stack).await;
    let full = f.stack.export_stack().await.unwrap();
    let mut empty = full.clone();
    if let Some(d) = empty.deployment.as_mut() {
        d.resources.clear();
    }
    let mut fewer = full.clone();
    if let Some(d) = fewer.deployment.as_mut() {
        d.resources.retain(|r| !r.urn.ends_with("::note"));
    }

    // Refused without an approval: nothing imported.
    // The empty one drops the root stack and the provider too.
    for (dep, dropped) in [(&empty, 4), (&fewer, 1)] {
        let err = f.stack.import_stack(dep).await.unwrap_err();
        match refusal(err) {
            DestroyRefusal::ImportDropsResources { dropped: d } => {
                assert_eq!(d.len(), dropped, "{d:?}")
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(
        !f.counting
            .lines()
            .iter()
            .any(|l| l.starts_with("stack import")),
        "{:?}",
        f.counting.lines()
    );
    assert_untouched(&f, &["greeting.txt", "note.txt"], &before).await;
    // A lossless import needs none.
    f.stack.import_stack(&full).await.unwrap();
    assert_eq!(state(&f.stack).await, before);

    // The approval is a forced removal's: the right name, protection, no bound plan.
    let wrong = f
        .stack
        .import_stack_approved(&empty, &DestroyApproval::for_stack("prod"))
        .await
        .unwrap_err();
    assert!(matches!(refusal(wrong), DestroyRefusal::WrongStack { .. }));
    let plan = f
        .stack
        .preview_destroy(DestroyOptions::default())
        .await
        .unwrap();
    assert!(matches!(
        f.stack
            .import_stack_approved(&empty, &plan.approve("dev"))
            .await,
        Err(Error::InvalidInput { .. })
    ));
    f.stack.set_protected(true).await.unwrap();
    let protected = f
        .stack
        .import_stack_approved(&empty, &DestroyApproval::for_stack("dev"))
        .await
        .unwrap_err();
    assert!(matches!(
        refusal(protected),
        DestroyRefusal::Protected { .. }
    ));
    assert_eq!(state(&f.stack).await, before);

    // Approved: the state loses the resources; the files stay (forgotten, not deleted).
    f.stack
        .import_stack_approved(
            &empty,
            &DestroyApproval::for_stack("dev").override_protection(true),
        )
        .await
        .unwrap();
    assert!(state(&f.stack).await.is_empty());
    assert_eq!(f.env.file_names(), ["greeting.txt", "note.txt"]);
}
}
