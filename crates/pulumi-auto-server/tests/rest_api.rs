//! The documented REST API's stack and update endpoints, through the typed client, over
//! what the real CLI wrote: listing with filters and continuation tokens, get (with the
//! running operation), export (latest and by version), tags, updates with paging, update
//! status, engine events in order and complete, previews, transfer and delete rules.

mod common;
mod rest_common;

use common::{ADMIN_TOKEN, Api, Cli, Server};
use futures_util::TryStreamExt;
use pulumi_auto_client::Error;
use pulumi_auto_types::rest::{ListStacksQuery, ListUpdatesQuery, StackTag};
use rest_common::{admin, block, offline};
use serde_json::Value;

on_both_databases! {
#[test]
fn stacks_and_updates_over_cli_data() {
    let server = Server::start();
    let cli = Cli::new(&server, "files");
    cli.init_stack("dev");
    cli.ok(&["preview"]);
    cli.ok(&["up", "--yes", "--message", "first"]);
    cli.ok(&["config", "set", "greeting", "hello again"]);
    let log = cli.root.path().join("second.events");
    let log_arg = log.display().to_string();
    // `--event-log` is registered only with PULUMI_DEBUG_COMMANDS.
    let out = cli
        .command(&[
            "up",
            "--yes",
            "--skip-preview",
            "--message",
            "second",
            "--event-log",
            &log_arg,
        ])
        .env("PULUMI_DEBUG_COMMANDS", "true")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    cli.ok(&["preview"]);
    cli.init_stack("other");
    let c = admin(&server);

    block(async {
        // get: the documented fields.
        let s = c.get_stack("organization", "files", "dev").await.unwrap();
        assert_eq!(
            (
                s.org_name.as_str(),
                s.project_name.as_str(),
                s.stack_name.as_str()
            ),
            ("organization", "files", "dev")
        );
        assert_eq!(s.version, 2);
        assert!(s.current_operation.is_none());
        assert!(!s.active_update.is_empty());
        assert_eq!(
            s.tags.get("pulumi:project").map(String::as_str),
            Some("files")
        );

        // list, with filters.
        let all: Vec<_> = c
            .stacks(ListStacksQuery::default())
            .try_collect()
            .await
            .unwrap();
        assert_eq!(all.len(), 2);
        let dev = all.iter().find(|s| s.stack_name == "dev").unwrap();
        assert!(dev.last_update.is_some());
        let q =
            |org: Option<&str>, project: Option<&str>, tag: Option<(&str, &str)>| ListStacksQuery {
                organization: org.map(Into::into),
                project: project.map(Into::into),
                tag_name: tag.map(|t| t.0.into()),
                tag_value: tag.map(|t| t.1.into()),
                continuation_token: None,
            };
        assert_eq!(
            c.list_stacks(&q(Some("organization"), Some("files"), None))
                .await
                .unwrap()
                .stacks
                .len(),
            2
        );
        assert_eq!(
            c.list_stacks(&q(Some("nope"), None, None))
                .await
                .unwrap()
                .stacks
                .len(),
            0
        );
        assert_eq!(
            c.list_stacks(&q(None, Some("nope"), None))
                .await
                .unwrap()
                .stacks
                .len(),
            0
        );

        // tags, one at a time; visible to the CLI and the tag filter.
        c.set_stack_tag(
            "organization",
            "files",
            "dev",
            &StackTag {
                name: "team".into(),
                value: "infra".into(),
            },
        )
        .await
        .unwrap();
        let tags: Value =
            serde_json::from_str(&cli.ok(&["stack", "tag", "ls", "--json", "--stack", "dev"]))
                .unwrap();
        assert_eq!(tags["team"], "infra");
        let tagged = c
            .list_stacks(&q(None, None, Some(("team", "infra"))))
            .await
            .unwrap()
            .stacks;
        assert_eq!(
            tagged
                .iter()
                .map(|s| s.stack_name.as_str())
                .collect::<Vec<_>>(),
            ["dev"]
        );
        assert!(
            c.list_stacks(&q(None, None, Some(("team", "web"))))
                .await
                .unwrap()
                .stacks
                .is_empty()
        );
        c.delete_stack_tag("organization", "files", "dev", "team")
            .await
            .unwrap();
        assert!(matches!(
            c.delete_stack_tag("organization", "files", "dev", "team")
                .await,
            Err(Error::NotFound(_))
        ));
        assert!(
            !c.get_stack("organization", "files", "dev")
                .await
                .unwrap()
                .tags
                .contains_key("team")
        );
        let bad = c
            .set_stack_tag(
                "organization",
                "files",
                "dev",
                &StackTag {
                    name: "bad name".into(),
                    value: "x".into(),
                },
            )
            .await;
        assert!(matches!(bad, Err(Error::BadRequest(_))), "{bad:?}");

        // export: latest and each version, as the CLI exports them.
        let latest = c
            .export_stack("organization", "files", "dev")
            .await
            .unwrap();
        assert_eq!(latest.version, 3);
        let n = latest.deployment["resources"].as_array().unwrap().len() as i64;
        assert!(n >= 3, "the stack, the provider, the files");
        let dev = all.iter().find(|s| s.stack_name == "dev").unwrap();
        assert_eq!(dev.resource_count, Some(n), "{dev:?}");
        let cli_export: Value =
            serde_json::from_str(&cli.ok(&["stack", "export", "--stack", "dev"])).unwrap();
        assert_eq!(
            cli_export["deployment"]["resources"],
            latest.deployment["resources"]
        );
        let v1 = c
            .export_stack_version("organization", "files", "dev", 1)
            .await
            .unwrap();
        let cli_v1: Value =
            serde_json::from_str(&cli.ok(&["stack", "export", "--stack", "dev", "--version", "1"]))
                .unwrap();
        assert_eq!(
            cli_v1["deployment"]["resources"],
            v1.deployment["resources"]
        );
        assert_ne!(
            v1.deployment["resources"], latest.deployment["resources"],
            "the greeting changed"
        );
        assert!(matches!(
            c.export_stack_version("organization", "files", "dev", 9)
                .await,
            Err(Error::NotFound(_))
        ));

        // updates: newest first, paged, with the documented fields.
        let all = c
            .list_updates(
                "organization",
                "files",
                "dev",
                &ListUpdatesQuery {
                    output_type: Some("service".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(all.total, 2);
        assert_eq!(all.updates.len(), 2);
        let newest = &all.updates[0];
        assert_eq!(newest.info.message, "second");
        assert_eq!(newest.info.kind, "update");
        assert_eq!(newest.info.result, "succeeded");
        assert_eq!(newest.version, 2);
        assert_eq!(newest.latest_version, 2);
        assert_eq!(newest.requested_by.as_ref().unwrap().github_login, "admin");
        assert_eq!(
            newest.info.resource_changes.as_ref().unwrap().get("update"),
            Some(&1),
            "{newest:?}"
        );
        let page2 = c
            .list_updates(
                "organization",
                "files",
                "dev",
                &ListUpdatesQuery {
                    page: Some(2),
                    page_size: Some(1),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(page2.updates.len(), 1);
        assert_eq!(page2.updates[0].info.message, "first");
        assert_eq!(page2.items_per_page, 1);
        assert_eq!(page2.total, 2);
        let bad = c
            .list_updates(
                "organization",
                "files",
                "dev",
                &ListUpdatesQuery {
                    output_type: Some("xml".into()),
                    ..Default::default()
                },
            )
            .await;
        assert!(matches!(bad, Err(Error::BadRequest(_))), "{bad:?}");

        // The engine events of the second update: what the CLI wrote to its own event log,
        // in order, the same kinds, resources, operations and change counts. (The CLI numbers its uploads itself and does not
        // upload diagnostics, provider resources' events or the log's closing cancelEvent.)
        let payloads = |v: &[Value]| -> Vec<Value> {
            v.iter()
                .filter(|e| e.get("diagnosticEvent").is_none() && e.get("cancelEvent").is_none())
                .map(|e| {
                    let (kind, body) = e
                        .as_object()
                        .unwrap()
                        .iter()
                        .find(|(k, _)| k.ends_with("Event"))
                        .unwrap();
                    let md = &body["metadata"];
                    serde_json::json!([kind, md["urn"], md["op"], body["resourceChanges"]])
                })
                .collect()
        };
        let logged: Vec<Value> = std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let served: Vec<Value> = c
            .update_events("organization", "files", "dev", &newest.update_id)
            .try_collect()
            .await
            .unwrap();
        let seqs: Vec<i64> = served
            .iter()
            .map(|e| e["sequence"].as_i64().unwrap())
            .collect();
        assert_eq!(
            seqs,
            (0..served.len() as i64).collect::<Vec<_>>(),
            "none lost"
        );
        // The CLI uploads no provider-resource events either: what it served is the log's
        // events of the program's resources, in order.
        let own = |v: Vec<Value>| -> Vec<Value> {
            v.into_iter()
                .filter(|k| {
                    !k[1]
                        .as_str()
                        .is_some_and(|u| u.contains("::pulumi:providers:"))
                })
                .collect()
        };
        assert_eq!(own(payloads(&served)), own(payloads(&logged)));

        // status and engine events of the first update.
        let id = &page2.updates[0].update_id;
        let st = c
            .update_status("organization", "files", "dev", id)
            .await
            .unwrap();
        assert_eq!(st.status, "succeeded");
        assert!(st.continuation_token.is_none());
        let events: Vec<Value> = c
            .update_events("organization", "files", "dev", id)
            .try_collect()
            .await
            .unwrap();
        let seqs: Vec<i64> = events
            .iter()
            .map(|e| e["sequence"].as_i64().unwrap())
            .collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
        assert!(events.first().unwrap().get("cancelEvent").is_none());
        assert!(
            events.iter().any(|e| e.get("summaryEvent").is_some()),
            "a summary event"
        );
        assert!(events.iter().any(|e| e.get("resOutputsEvent").is_some()));
        assert!(events.iter().all(|e| e["timestamp"].as_i64().unwrap() > 0));
        assert!(matches!(
            c.update_status("organization", "files", "dev", "no-such-update")
                .await,
            Err(Error::NotFound(_))
        ));

        // previews since the last update: the one after "second".
        let previews = c
            .latest_previews("organization", "files", "dev")
            .await
            .unwrap();
        assert_eq!(previews.updates.len(), 1, "{previews:?}");
        assert_eq!(previews.updates[0].info.kind, "preview");

        // delete: refused while resources remain, with the CLI's text; 404 for none.
        let e = c
            .delete_stack("organization", "files", "dev", false)
            .await
            .unwrap_err();
        assert!(
            matches!(&e, Error::BadRequest(m) if m == "Bad Request: Stack still contains resources."),
            "{e:?}"
        );
        c.delete_stack("organization", "files", "other", false)
            .await
            .unwrap();
        assert!(matches!(
            c.get_stack("organization", "files", "other").await,
            Err(Error::NotFound(_))
        ));
        assert!(matches!(
            c.delete_stack("organization", "files", "other", false)
                .await,
            Err(Error::NotFound(_))
        ));

        // transfer to another organization (whose admin the caller is); the CLI follows.
        offline(&server, &["org-create", "second", "--admin", "admin"]);
        let e = c
            .transfer_stack("organization", "files", "dev", "nowhere")
            .await
            .unwrap_err();
        assert!(matches!(e, Error::NotFound(_)), "{e:?}");
        c.add_member("organization", "oldadmin", "admin")
            .await
            .unwrap();
        c.transfer_stack("organization", "files", "dev", "second")
            .await
            .unwrap();
        assert!(matches!(
            c.get_stack("organization", "files", "dev").await,
            Err(Error::NotFound(_))
        ));
        let moved = c.get_stack("second", "files", "dev").await.unwrap();
        assert_eq!(moved.version, 2);
    });
    // The former name reaches the stack's secrets for those who may reach the stack where
    // it is now: an admin of the old organization only is not one of them.
    let old_admin = rest_common::token_for(&server, "oldadmin");
    let api = Api::new(&server);
    let (status, text) = api.call(
        "POST",
        "/api/stacks/organization/files/dev/decrypt",
        &format!("token {old_admin}"),
        Some(r#"{"ciphertext":"AAAA"}"#),
    );
    assert_eq!(status, 404, "{text}");
    let (status, _) = api.call(
        "POST",
        "/api/stacks/organization/files/dev/encrypt",
        &format!("token {ADMIN_TOKEN}"),
        Some(r#"{"plaintext":"aGk="}"#),
    );
    assert_eq!(
        status, 200,
        "an admin of the stack's organization still can"
    );
    // The CLI works with the moved stack: its service secrets and state came along.
    let out = cli.ok(&["stack", "output", "--stack", "second/dev", "--json"]);
    assert!(out.contains("greetingPath"), "{out}");
    cli.ok(&["destroy", "--yes", "--stack", "second/dev"]);
    cli.ok(&["stack", "rm", "--yes", "--stack", "second/dev"]);
}
}

on_both_databases! {
/// While the CLI runs an update: `currentOperation` names it, transfer and delete are 409,
/// and the events already uploaded page with a continuation token.
#[test]
fn a_running_update_shows_and_blocks_transfer_and_delete() {
    let server = Server::start();
    offline(&server, &["org-create", "second", "--admin", "admin"]);
    let cli = Cli::new(&server, "slow");
    cli.init_stack("s");
    cli.ok(&["config", "set", "delay", "6"]);
    cli.ok(&["config", "set", "count", "1"]);
    let mut up = cli
        .command(&["up", "--yes", "--skip-preview"])
        .spawn()
        .unwrap();
    let c = admin(&server);
    block(async {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let s = loop {
            let s = c.get_stack("organization", "slow", "s").await.unwrap();
            if s.current_operation.is_some() {
                break s;
            }
            assert!(std::time::Instant::now() < deadline, "no currentOperation");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        };
        let op = s.current_operation.unwrap();
        assert_eq!((op.kind.as_str(), op.author.as_str()), ("update", "admin"));
        assert!(op.started > 0);
        let e = c
            .transfer_stack("organization", "slow", "s", "second")
            .await
            .unwrap_err();
        assert!(
            matches!(&e, Error::Conflict(m) if m.contains("Another update is currently in progress")),
            "{e:?}"
        );
        let e = c
            .delete_stack("organization", "slow", "s", true)
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Conflict(_)), "{e:?}");
        let st = c
            .update_status("organization", "slow", "s", &s.active_update)
            .await
            .unwrap();
        assert_eq!(st.status, "running");
        let page = c
            .update_events_page("organization", "slow", "s", &s.active_update, None)
            .await
            .unwrap();
        assert!(
            page.continuation_token.is_some(),
            "a running update's events continue"
        );
    });
    assert!(up.wait().unwrap().success());
    block(async {
        assert!(
            c.get_stack("organization", "slow", "s")
                .await
                .unwrap()
                .current_operation
                .is_none()
        );
        c.transfer_stack("organization", "slow", "s", "second")
            .await
            .unwrap();
    });
}
}

on_both_databases! {
/// Thousands of stacks page in a stable order: every stack exactly once, also when stacks
/// are created while the listing runs.
#[test]
fn thousands_of_stacks_page_stably() {
    let server = Server::start();
    let api = Api::new(&server);
    const N: usize = 2100;
    for i in 0..N {
        api.create_stack(&format!("s{i:05}"));
    }
    let c = admin(&server);
    let first = block(c.list_stacks(&ListStacksQuery::default())).unwrap();
    assert!(first.stacks.len() < N, "more than one page");
    let token = first.continuation_token.clone().unwrap();
    // A stack sorting before the cursor and one after, made mid-listing.
    api.create_stack("a-early");
    api.create_stack("z-late");
    block(async {
        let rest: Vec<_> = c
            .stacks(ListStacksQuery {
                continuation_token: Some(token),
                ..Default::default()
            })
            .try_collect()
            .await
            .unwrap();
        let mut names: Vec<String> = first
            .stacks
            .iter()
            .chain(rest.iter())
            .map(|s| s.stack_name.clone())
            .collect();
        assert!(names.contains(&"z-late".to_owned()));
        assert!(!names.contains(&"a-early".to_owned()), "before the cursor");
        names.retain(|n| n.starts_with('s'));
        let want: Vec<String> = (0..N).map(|i| format!("s{i:05}")).collect();
        assert_eq!(names, want, "each once, in order");
        let e = c
            .list_stacks(&ListStacksQuery {
                continuation_token: Some("%%%".into()),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert!(matches!(e, Error::BadRequest(_)), "{e:?}");
    });
    let _ = ADMIN_TOKEN;
}
}
