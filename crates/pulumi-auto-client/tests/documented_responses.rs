//! The example responses of Pulumi's REST API reference page (tests/fixtures/*.json, one per
//! documented example; the page's `"..."` elisions of the resource summaries left out), and
//! its documented empty answers, served over loopback HTTP as Pulumi Cloud documents them:
//! the client's methods read every one of them into its types.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use pulumi_auto_client::Client;
use pulumi_auto_types::rest::{
    ListUpdatesQuery, ResourceSummaryResponse, StackRef, StackTag, TeamStackPermission,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every fixture file, so none is left unread by the test below.
fn fixture_names() -> Vec<String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    names
}

/// A loopback server answering `METHOD PATH` (query ignored) with a status and a body.
struct Fake {
    url: String,
    seen: Arc<Mutex<Vec<String>>>,
}

async fn serve(routes: BTreeMap<String, (u16, String)>) -> Fake {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let routes = Arc::new(routes);
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let routes = routes.clone();
            let log = log.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let head_end = loop {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse().ok())?
                    })
                    .unwrap_or(0);
                while buf.len() < head_end + length {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let mut first = head.lines().next().unwrap_or("").split(' ');
                let method = first.next().unwrap_or("");
                let target = first.next().unwrap_or("");
                let path = target.split('?').next().unwrap_or("");
                let key = format!("{method} {path}");
                log.lock().unwrap().push(key.clone());
                let (status, body) = routes
                    .get(&key)
                    .cloned()
                    .unwrap_or((404, r#"{"code":404,"message":"Not Found"}"#.into()));
                let reason = if status < 300 { "OK" } else { "Error" };
                let resp = format!(
                    "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    Fake { url, seen }
}

const S: &str = "/api/stacks/org1/project1/dev";
const U: &str = "938cd018-3ecc-4a9e-86dd-42e84fefcc9c";

fn routes() -> BTreeMap<String, (u16, String)> {
    let ok = |f: &str| (200, fixture(f));
    let empty = |status: u16| (status, String::new());
    [
        ("GET /api/user/stacks".to_owned(), ok("list_stacks.json")),
        (format!("GET {S}"), ok("get_stack.json")),
        (format!("GET {S}/export"), ok("export_stack.json")),
        (format!("POST {S}/transfer"), empty(204)),
        (format!("DELETE {S}"), empty(204)),
        (format!("POST {S}/tags"), empty(204)),
        (format!("DELETE {S}/tags/owner"), empty(204)),
        (format!("GET {S}/updates"), ok("list_updates.json")),
        (format!("GET {S}/update/{U}"), ok("get_update_status.json")),
        (
            format!("GET {S}/update/{U}/events"),
            ok("list_update_events.json"),
        ),
        (
            format!("GET {S}/updates/latest/previews"),
            ok("list_previews.json"),
        ),
        ("GET /api/orgs/org1/members".into(), ok("list_members.json")),
        ("POST /api/orgs/org1/members/user2".into(), empty(204)),
        ("PATCH /api/orgs/org1/members/user2".into(), empty(200)),
        ("DELETE /api/orgs/org1/members/user2".into(), empty(200)),
        ("GET /api/orgs/org1/teams".into(), ok("list_teams.json")),
        (
            "POST /api/orgs/org1/teams/pulumi".into(),
            ok("create_team.json"),
        ),
        ("DELETE /api/orgs/org1/teams/team1".into(), empty(200)),
        ("PATCH /api/orgs/org1/teams/team1".into(), empty(204)),
        ("GET /api/user/tokens".into(), ok("list_tokens.json")),
        // The page says "204" over this body; an HTTP 204 carries no body, so it is served
        // as the 200 it must be.
        ("POST /api/user/tokens".into(), ok("create_token.json")),
        (
            "DELETE /api/user/tokens/74529ccd-27c0-40f7-bc4a-589f145ba67f".into(),
            empty(204),
        ),
        (
            "POST /api/orgs/org1/hooks".into(),
            (201, fixture("create_webhook.json")),
        ),
        ("GET /api/orgs/org1/hooks".into(), ok("list_webhooks.json")),
        (
            "GET /api/orgs/org1/hooks/hook1".into(),
            ok("get_webhook.json"),
        ),
        (
            "POST /api/orgs/org1/hooks/hook1/ping".into(),
            ok("ping_webhook.json"),
        ),
        (
            "GET /api/orgs/org1/hooks/hook1/deliveries".into(),
            ok("list_webhook_deliveries.json"),
        ),
        (
            "GET /api/orgs/org1/auditlogs".into(),
            ok("list_audit_logs.json"),
        ),
    ]
    .into_iter()
    .collect()
}

#[tokio::test]
async fn the_client_reads_every_documented_response() {
    let fake = serve(routes()).await;
    let c = Client::new(&fake.url, "pul-0123456789abcdef".to_owned()).unwrap();
    let mut read = Vec::new();

    let page = c.list_stacks(&Default::default()).await.unwrap();
    assert_eq!(page.stacks.len(), 2);
    assert_eq!(page.stacks[1].stack_name, "prod");
    assert_eq!(page.stacks[0].last_update, Some(1612481387));
    assert_eq!(page.continuation_token.as_deref(), Some("5-"));
    read.push("list_stacks.json");

    let s = c.get_stack("org1", "project1", "dev").await.unwrap();
    assert_eq!(s.version, 91);
    assert_eq!(s.current_operation.as_ref().unwrap().author, "user1");
    assert_eq!(s.tags["pulumi:runtime"], "nodejs");
    read.push("get_stack.json");

    let d = c.export_stack("org1", "project1", "dev").await.unwrap();
    assert_eq!(d.version, 3);
    assert_eq!(d.deployment["resources"].as_array().unwrap().len(), 3);
    read.push("export_stack.json");

    c.transfer_stack("org1", "project1", "dev", "org2")
        .await
        .unwrap();
    c.delete_stack("org1", "project1", "dev", false)
        .await
        .unwrap();
    let tag = StackTag {
        name: "owner".into(),
        value: "me".into(),
    };
    c.set_stack_tag("org1", "project1", "dev", &tag)
        .await
        .unwrap();
    c.delete_stack_tag("org1", "project1", "dev", "owner")
        .await
        .unwrap();

    let ups = c
        .list_updates("org1", "project1", "dev", &ListUpdatesQuery::default())
        .await
        .unwrap();
    assert_eq!(
        (ups.updates.len(), ups.items_per_page, ups.total),
        (2, 10, 95)
    );
    assert_eq!(ups.updates[0].update_id, U);
    assert_eq!(
        ups.updates[0].info.resource_changes.as_ref().unwrap()["create"],
        2
    );
    assert_eq!(ups.updates[0].policy_packs.len(), 6);
    assert_eq!(ups.updates[1].info.kind, "destroy");
    assert_eq!(
        ups.updates[1].requested_by.as_ref().unwrap().github_login,
        "user1"
    );
    read.push("list_updates.json");

    let st = c.update_status("org1", "project1", "dev", U).await.unwrap();
    assert_eq!(st.status, "succeeded");
    read.push("get_update_status.json");

    let ev = c
        .update_events_page("org1", "project1", "dev", U, None)
        .await
        .unwrap();
    assert_eq!(ev.events.len(), 7);
    assert_eq!(ev.events[6]["type"], "summaryEvent");
    assert_eq!(ev.continuation_token, None);
    read.push("list_update_events.json");

    let pv = c.latest_previews("org1", "project1", "dev").await.unwrap();
    assert_eq!(pv.updates.len(), 4);
    assert_eq!(pv.updates[3].info.result, "succeeded");
    read.push("list_previews.json");

    let m = c.list_members("org1").await.unwrap();
    assert_eq!(m.members.len(), 2);
    assert_eq!(m.members[1].role, "admin");
    assert_eq!(m.members[0].user.email.as_deref(), Some("user@example.com"));
    read.push("list_members.json");

    // Documented as answering an empty body.
    let added = c.add_member("org1", "user2", "member").await.unwrap();
    assert_eq!(
        (added.role.as_str(), added.user.github_login.as_str()),
        ("member", "user2")
    );
    let changed = c.set_member_role("org1", "user2", "admin").await.unwrap();
    assert_eq!(
        (changed.role.as_str(), changed.user.github_login.as_str()),
        ("admin", "user2")
    );
    c.remove_member("org1", "user2").await.unwrap();

    let teams = c.list_teams("org1").await.unwrap();
    assert_eq!(teams.teams.len(), 2);
    assert_eq!(teams.teams[1].name, "team2");
    read.push("list_teams.json");

    let t = c
        .create_team(
            "org1",
            &pulumi_auto_types::rest::CreateTeamRequest {
                name: "example-team".into(),
                display_name: "example display name".into(),
                description: "example description".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(t.members[0].github_login, "user1");
    read.push("create_team.json");
    c.add_team_member("org1", "team1", "user2").await.unwrap();
    c.set_team_stack_permission(
        "org1",
        "team1",
        &TeamStackPermission {
            project_name: "project1".into(),
            stack_name: "dev".into(),
            permission: 101,
        },
    )
    .await
    .unwrap();
    c.remove_team_stack(
        "org1",
        "team1",
        &StackRef {
            project_name: "project1".into(),
            stack_name: "dev".into(),
        },
    )
    .await
    .unwrap();
    c.delete_team("org1", "team1").await.unwrap();

    let tokens = c.list_tokens().await.unwrap();
    assert_eq!(tokens.len(), 2);
    assert_eq!(tokens[0].last_used, 1627590233);
    read.push("list_tokens.json");
    let created = c.create_token("ci").await.unwrap();
    assert_eq!(
        created.token_value.expose(),
        "pul-75a564ac7f3a48079a0c448c1e1ec95c4cfed141"
    );
    read.push("create_token.json");
    c.delete_token(&created.id).await.unwrap();

    let hook = c
        .create_webhook(
            "org1",
            &pulumi_auto_types::rest::CreateWebhookRequest {
                organization_name: "org1".into(),
                display_name: "My Webhook".into(),
                payload_url: "https://example.com".into(),
                secret: Some("mysecret".into()),
                active: true,
            },
        )
        .await
        .unwrap();
    assert_eq!(hook.name, "bd7e0a35");
    read.push("create_webhook.json");
    let hooks = c.list_webhooks("org1").await.unwrap();
    assert_eq!(hooks[1].display_name, "My secret webhook");
    read.push("list_webhooks.json");
    assert!(c.get_webhook("org1", "hook1").await.unwrap().active);
    read.push("get_webhook.json");
    let ping = c.ping_webhook("org1", "hook1").await.unwrap();
    assert_eq!((ping.kind.as_str(), ping.response_code), ("ping", 200));
    assert!(ping.request_headers.contains("Pulumi-Webhook-Kind: ping"));
    read.push("ping_webhook.json");
    let deliveries = c.webhook_deliveries("org1", "hook1").await.unwrap();
    assert_eq!(deliveries[0].duration, 196);
    read.push("list_webhook_deliveries.json");

    let log = c
        .audit_log("org1", Some(1615872240), None, None)
        .await
        .unwrap();
    assert_eq!(log.audit_log_events.len(), 3);
    assert_eq!(log.audit_log_events[1].event, "Stack Exported");
    assert_eq!(log.audit_log_events[0].source_ip, "10.0.0.1");
    assert_eq!(log.continuation_token.as_deref(), Some("1615413365"));
    read.push("list_audit_logs.json");

    // The client has no call of its own for these: the shape it shares.
    for (granularity, check) in [
        ("hourly", (Some(8), Some(31), None, Some(20), 27378)),
        ("daily", (Some(8), Some(30), None, None, 27379)),
        ("weekly", (None, None, Some(31), None, 26432)),
        ("monthly", (Some(6), None, None, None, 24520)),
        ("yearly", (None, None, None, None, 24380)),
    ] {
        let name = format!("resource_summary_{granularity}.json");
        let r: ResourceSummaryResponse = serde_json::from_str(&fixture(&name)).unwrap();
        let e = &r.summary[0];
        assert_eq!(e.year, 2022, "{name}");
        assert_eq!(
            (e.month, e.day, e.week_number, e.hour, e.resources),
            check,
            "{name}"
        );
        read.push(Box::leak(name.into_boxed_str()));
    }

    // Every call reached the fake as documented, and every fixture was read.
    let seen = fake.seen.lock().unwrap().clone();
    for key in routes().keys() {
        assert!(seen.contains(key), "no call of {key}: {seen:?}");
    }
    read.sort();
    assert_eq!(read, fixture_names());
}
