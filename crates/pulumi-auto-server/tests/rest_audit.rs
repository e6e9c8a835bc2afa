//! The audit log: every mutating call (the CLI's too) and every authentication failure is
//! recorded with time, source address, user, event and description; the JSON endpoint pages
//! with continuation tokens and filters by user and startTime; the export is gzip CSV (the
//! documented columns) or CEF; only admins read it.

mod common;
mod rest_common;

use std::io::Read;

use common::{ADMIN_TOKEN, Api, Cli, Server};
use rest_common::{admin, block, token_for};
use serde_json::Value;

fn page(api: &Api, query: &str) -> Value {
    let (s, body) = api.call(
        "GET",
        &format!("/api/orgs/organization/auditlogs{query}"),
        &format!("token {ADMIN_TOKEN}"),
        None,
    );
    assert_eq!(s, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

on_both_databases! {
#[test]
fn calls_and_failures_are_recorded_paged_and_exported() {
    let server = Server::start();
    let api = Api::new(&server);
    let cli = Cli::new(&server, "files");
    cli.init_stack("dev");
    cli.ok(&["up", "--yes"]);
    block(admin(&server).add_member("organization", "reader", "member")).unwrap();
    let reader = token_for(&server, "reader");
    // An authentication failure and a refused call.
    assert_eq!(
        api.call("GET", "/api/user", "token not-a-valid-token-000000", None)
            .0,
        401
    );
    assert_eq!(
        api.call(
            "DELETE",
            "/api/stacks/organization/files/dev",
            &format!("token {reader}"),
            None
        )
        .0,
        404
    );

    let all = page(&api, "");
    let events = all["auditLogEvents"].as_array().unwrap();
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    for want in [
        "stack.create",
        "update.create",
        "update.start",
        "member.create",
        "auth.failure",
        "stack.delete",
    ] {
        assert!(names.contains(&want), "{want} in {names:?}");
    }
    let failure = events
        .iter()
        .find(|e| e["event"] == "auth.failure")
        .unwrap();
    assert_eq!(failure["sourceIP"], "127.0.0.1");
    assert_eq!(failure["user"]["githubLogin"], "");
    let create = events
        .iter()
        .find(|e| e["event"] == "stack.create")
        .unwrap();
    assert_eq!(create["user"]["githubLogin"], "admin");
    assert!(
        create["description"]
            .as_str()
            .unwrap()
            .starts_with("POST /api/stacks/organization/files"),
        "{create}"
    );
    let ts: Vec<i64> = events
        .iter()
        .map(|e| e["timestamp"].as_i64().unwrap())
        .collect();
    assert!(ts.windows(2).all(|w| w[0] >= w[1]), "newest first");
    assert!(
        !all.to_string().contains("not-a-valid-token"),
        "no credential is recorded"
    );

    // Filters.
    let mine = page(&api, "?userFilter=reader");
    let mine = mine["auditLogEvents"].as_array().unwrap();
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(mine[0]["event"], "stack.delete");
    assert!(mine[0]["description"].as_str().unwrap().ends_with("→ 404"));
    assert!(
        page(&api, "?startTime=1")["auditLogEvents"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Paging: more than a page of entries, each once.
    for i in 0..120 {
        api.admin(
            "POST",
            "/api/stacks/organization/files/dev/tags",
            Some(&format!(r#"{{"name":"k{i}","value":"v"}}"#)),
        );
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let q = token
            .as_ref()
            .map(|t| format!("?continuationToken={t}"))
            .unwrap_or_default();
        let p = page(&api, &q);
        for e in p["auditLogEvents"].as_array().unwrap() {
            seen.push(e.clone());
        }
        match p["continuationToken"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    assert!(seen.len() > 130, "{}", seen.len());
    assert_eq!(
        seen.iter()
            .filter(|e| e["event"] == "stack.tags.create")
            .count(),
        120
    );

    // Exports: gzip, CSV with the documented columns, or CEF.
    let get = |q: &str| {
        let r = api
            .client
            .get(format!(
                "{}/api/orgs/organization/auditlogs/export{q}",
                server.url
            ))
            .header("Authorization", format!("token {ADMIN_TOKEN}"))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
        let gz = r.bytes().unwrap();
        let mut text = String::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_string(&mut text)
            .unwrap();
        text
    };
    let csv = get("");
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "Timestamp,Name,Login,Event,Description,SourceIP,RequireOrgAdmin,RequireStackAdmin,AuthenticationFailure"
    );
    assert_eq!(lines.count(), seen.len());
    assert!(csv.contains(",auth.failure,"), "{csv}");
    let cef = get("?format=cef");
    assert!(cef.lines().all(|l| l.starts_with("CEF:0|")), "{cef}");
    assert_eq!(cef.lines().count(), seen.len());
    assert_eq!(
        api.call(
            "GET",
            "/api/orgs/organization/auditlogs/export?format=xml",
            &format!("token {ADMIN_TOKEN}"),
            None
        )
        .0,
        400
    );

    // Only admins read it.
    let (s, body) = api.call(
        "GET",
        "/api/orgs/organization/auditlogs",
        &format!("token {reader}"),
        None,
    );
    assert_eq!(s, 403, "{body}");
}
}
