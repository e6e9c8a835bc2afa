//! The OpenAPI document, checked against the running server:
//!
//! - `GET /api/openapi.json` (no token) is `docs/openapi.json` byte for byte, and what
//!   `pulumi-auto-server openapi` prints. After a change of the API, regenerate the file
//!   with `pulumi-auto-server openapi > docs/openapi.json`, or run this test with
//!   `PULUMI_AUTO_UPDATE_OPENAPI=1`, which rewrites it.
//! - The router mounts exactly the documented operations: every documented method of every
//!   documented path reaches a handler (never the router's "no such route" or 405), and
//!   every other method of those paths is 405.
//! - Every operation, over data the real CLI wrote (a stack, its update and events, a stack
//!   of the custom API): without a token 401; with the token of a member without any
//!   permission 403 or 404 as the access rules say (404 for a stack they may not read, 403
//!   for what needs the admin role); for each JSON request body, malformed and wrongly typed
//!   bodies 400 `{code, message}`; never a 5xx.

mod common;
mod custom_support;
mod rest_common;

use std::collections::BTreeMap;
use std::process::Command;

use axum::http::Method;
use common::{ADMIN_TOKEN, Api, Cli, Server, repo};
use custom_support::Served;
use pulumi_auto_server::rest::{Need, need};
use pulumi_auto_types::rest::CreateTeamRequest;
use rest_common::{admin, block, offline, token_for};
use serde_json::{Value, json};

const PROGRAM: &str = "files";
const DOC_ENV: &str = "PULUMI_AUTO_UPDATE_OPENAPI";

/// Every operation of the document: (method, path template, operation).
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if ["get", "put", "post", "delete", "patch", "head"].contains(&method.as_str()) {
                ops.push((method.to_uppercase(), path.clone(), op.clone()));
            }
        }
    }
    ops
}

/// A concrete path of a template: the names of `vals` for its `{param}`s.
fn concrete(template: &str, vals: &BTreeMap<&str, String>) -> String {
    template
        .split('/')
        .map(
            |seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => vals
                    .get(name)
                    .cloned()
                    .unwrap_or_else(|| panic!("{template}: no value for {{{name}}}")),
                None => seg.to_owned(),
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

fn message_of(status: u16, text: &str, what: &str) -> String {
    let v: Value =
        serde_json::from_str(text).unwrap_or_else(|_| panic!("{what}: not JSON: {text:?}"));
    assert_eq!(v["code"], status, "{what}: {text}");
    let m = v["message"].as_str().unwrap_or_default().to_owned();
    assert!(!m.is_empty(), "{what}: {text}");
    m
}

fn check(fails: &mut Vec<String>, ok: bool, what: &str) {
    if !ok {
        fails.push(what.to_owned());
    }
}

/// Records an error answer whose body is not `{code: <status>, message}`.
fn check_message(fails: &mut Vec<String>, status: u16, text: &str, what: &str) {
    let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let ok = v["code"] == status && v["message"].as_str().is_some_and(|m| !m.is_empty());
    check(fails, ok, &format!("not {{code, message}}: {what}"));
}

fn send(api: &Api, method: &str, path: &str, auth: &str, body: Option<&[u8]>) -> (u16, String) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut r = api.client.request(m, format!("{}{path}", api.server.url));
    if !auth.is_empty() {
        r = r.header("Authorization", auth);
    }
    if let Some(b) = body {
        r = r
            .header("Content-Type", "application/json")
            .body(b.to_vec());
    }
    let resp = r.send().unwrap();
    let status = resp.status().as_u16();
    (status, resp.text().unwrap_or_default())
}

/// A value of the wrong JSON type for `schema` (resolved against the document).
fn wrong_value(doc: &Value, schema: &Value) -> Value {
    let schema = resolve(doc, schema);
    // `type` is a name, or a list of them (`["string", "null"]` for an optional field).
    let ty = match &schema["type"] {
        Value::Array(types) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null"),
        t => t.as_str(),
    };
    match ty {
        Some("string") => json!(12345),
        Some("integer") | Some("number") => json!("not a number"),
        Some("boolean") => json!("not a boolean"),
        Some("array") => json!({"not": "an array"}),
        _ => json!(["not", "an", "object"]),
    }
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.trim_start_matches("#/components/schemas/");
            &doc["components"]["schemas"][name]
        }
        None => schema,
    }
}

/// Bodies a JSON route must refuse with 400: not JSON, and wrongly typed.
fn bad_bodies(doc: &Value, op: &Value) -> Vec<Vec<u8>> {
    let schema = &op["requestBody"]["content"]["application/json"]["schema"];
    let resolved = resolve(doc, schema);
    let mut bodies: Vec<Vec<u8>> = vec![
        b"{".to_vec(),
        b"{\"a\":".to_vec(),
        b"not json".to_vec(),
        vec![0xff, 0xfe, b'{'],
    ];
    let wrong_whole = match resolved["type"].as_str() {
        Some("object") | None => json!(["an", "array"]),
        _ => json!({"an": "object"}),
    };
    bodies.push(wrong_whole.to_string().into_bytes());
    bodies.push(b"\"a string\"".to_vec());
    // Every property of the wrong type, and each one alone.
    if let Some(props) = resolved["properties"].as_object() {
        let mut all = serde_json::Map::new();
        for (name, s) in props {
            let v = wrong_value(doc, s);
            all.insert(name.clone(), v.clone());
            bodies.push(json!({ name: v }).to_string().into_bytes());
        }
        bodies.push(Value::Object(all).to_string().into_bytes());
    }
    if let Some(values) = resolved
        .get("additionalProperties")
        .filter(|v| v.is_object())
    {
        let v = wrong_value(doc, values);
        bodies.push(json!({ "key": v }).to_string().into_bytes());
    }
    bodies
}

/// The routes a running update's lease token calls (the CLI's, during `pulumi up`).
fn lease_route(path: &str) -> bool {
    [
        "/checkpoint",
        "/checkpointverbatim",
        "/checkpointdelta",
        "/events/batch",
        "/events",
        "/complete",
        "/renew_lease",
    ]
    .iter()
    .any(|s| path.ends_with(s))
        && path.contains("/{kind}/{update}")
}

#[test]
fn the_committed_document_is_the_served_one() {
    let server = Server::start();
    let api = Api::new(&server);
    let (status, served) = send(&api, "GET", "/api/openapi.json", "", None);
    assert_eq!(status, 200, "{served}");
    let doc: Value = serde_json::from_str(&served).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let printed = Command::new(env!("CARGO_BIN_EXE_pulumi-auto-server"))
        .arg("openapi")
        .output()
        .unwrap();
    assert!(printed.status.success());
    assert_eq!(String::from_utf8_lossy(&printed.stdout), served);

    let file = repo().join("docs/openapi.json");
    if std::env::var_os(DOC_ENV).is_some() {
        std::fs::write(&file, &served).unwrap();
    }
    let committed = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        committed == served,
        "docs/openapi.json is not the document the server serves: regenerate it with \
         `cargo run -p pulumi-auto-server -- openapi > docs/openapi.json` (or run this test \
         with {DOC_ENV}=1)"
    );
}

#[test]
fn every_operation_against_real_data() {
    let s = Served::start(&[PROGRAM]);
    let server = &s.server;
    // Real data: a stack the CLI created and updated (an update with its events), a stack
    // of the custom API, a running update of another stack (for its lease token).
    let cli = Cli::new(server, PROGRAM);
    cli.init_stack("s");
    cli.ok(&["up", "--yes"]);
    s.put_stack(PROGRAM, "s", json!({}));
    let api = Api::new(server);
    api.create_stack("leased");
    let (lease_update, lease) = api.start_update("leased");
    let c = admin(server);
    block(async {
        c.add_member("organization", "outsider", "member")
            .await
            .unwrap();
        c.create_team(
            "organization",
            &CreateTeamRequest {
                name: "devs".into(),
                display_name: "devs".into(),
                description: String::new(),
            },
        )
        .await
        .unwrap();
    });
    let outsider = format!("token {}", token_for(server, "outsider"));
    offline(server, &["org-create", "second", "--admin", "stranger"]);
    let stranger = format!("token {}", token_for(server, "stranger"));
    let admin_auth = format!("token {ADMIN_TOKEN}");
    let update = block(c.list_updates("organization", PROGRAM, "s", &Default::default()))
        .unwrap()
        .updates[0]
        .update_id
        .clone();

    let (_, text) = send(&api, "GET", "/api/openapi.json", "", None);
    let doc: Value = serde_json::from_str(&text).unwrap();
    let ops = operations(&doc);
    assert!(ops.len() > 70, "{} operations", ops.len());

    let real: BTreeMap<&str, String> = [
        ("org", "organization".to_owned()),
        ("project", PROGRAM.to_owned()),
        ("stack", "s".to_owned()),
        ("kind", "update".to_owned()),
        ("update", update.clone()),
        ("version", "1".to_owned()),
        ("tag", "t".to_owned()),
        ("login", "outsider".to_owned()),
        ("team", "pulumi".to_owned()),
        ("name", "h".to_owned()),
        ("id", "no-such-id".to_owned()),
        ("program", PROGRAM.to_owned()),
    ]
    .into_iter()
    .collect();
    // Names that exist nowhere, so that even an admin's call changes nothing.
    let mut nowhere = real.clone();
    for (k, v) in [
        ("stack", "no-such-stack"),
        ("update", "no-such-update"),
        ("login", "no-such-user"),
        ("team", "no-such-team"),
        ("name", "no-such-hook"),
        ("program", "no-such-program"),
    ] {
        nowhere.insert(k, v.to_owned());
    }

    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let methods = ["GET", "POST", "PUT", "PATCH", "DELETE"];
    let mut by_path: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (method, path, _) in &ops {
        by_path.entry(path).or_default().push(method);
    }

    // The router mounts exactly the documented operations.
    for (path, documented) in &by_path {
        let p = concrete(path, &nowhere);
        for method in methods {
            let (status, text) = send(&api, method, &p, &admin_auth, None);
            let what = format!("admin {method} {p}: {status} {text}");
            assert!(status < 500, "{what}");
            if documented.contains(&method) {
                assert_ne!(status, 405, "documented, not mounted: {what}");
                if status == 404 {
                    assert!(
                        !message_of(status, &text, &what).contains("no such route"),
                        "documented, not mounted: {what}"
                    );
                }
                *counts.entry("mounted").or_default() += 1;
            } else if !(method == "GET" && documented.contains(&"HEAD")) {
                assert_eq!(status, 405, "mounted, not documented: {what}");
                message_of(status, &text, &what);
            }
        }
    }

    let mut fails: Vec<String> = Vec::new();
    for (method, path, op) in &ops {
        let mut vals = real.clone();
        if path.ends_with("/teams/{team}") && method != "POST" {
            // POST …/teams/{team} creates a team of that kind; the others name one.
            vals.insert("team", "devs".into());
        }
        let p = concrete(path, &vals);
        let public = op["security"].as_array().is_some_and(|s| {
            s.iter()
                .all(|r| r.as_object().is_some_and(|o| o.is_empty()))
        });
        let head = method == "HEAD";

        // No token.
        let (status, text) = send(&api, method, &p, "", None);
        let what = format!("no token: {method} {p}: {status} {text}");
        if public {
            check(&mut fails, status == 200, &what);
            continue;
        }
        check(&mut fails, status == 401, &what);
        if !head {
            check_message(&mut fails, status, &text, &what);
        }
        *counts.entry("401").or_default() += 1;

        // A member without any permission, and a user of another organization.
        let rule = need(&Method::from_bytes(method.as_bytes()).unwrap(), &p);
        let custom = path.starts_with("/api/programs");
        for (who, auth) in [("outsider", &outsider), ("stranger", &stranger)] {
            let (status, text) = send(&api, method, &p, auth, None);
            let what = format!("{who}: {method} {p}: {status} {text}");
            check(&mut fails, status < 500, &what);
            // The custom API: a member of the organization may list its programs and
            // their stacks (only the stacks they may read: none here); anything else,
            // and anything of another organization, is denied.
            let member_listing = custom
                && who == "outsider"
                && method == "GET"
                && matches!(
                    path.as_str(),
                    "/api/programs" | "/api/programs/{program}" | "/api/programs/{program}/stacks"
                );
            if member_listing {
                check(&mut fails, status == 200, &what);
                check(
                    &mut fails,
                    !text.contains("\"s\""),
                    &format!("a stack leaked: {what}"),
                );
                continue;
            }
            let expect: &[u16] = match (&rule, who) {
                _ if custom => &[403, 404],
                (Need::Nothing, _) => &[],
                (_, "stranger") => &[404],
                (Need::Stack { .. }, _) => &[404],
                (Need::OrgAdmin(_), _) => &[403],
                (Need::OrgMember(_), _) => &[],
            };
            if expect.is_empty() {
                // Open to them (their own things, or a member's reads).
                check(&mut fails, status != 401 && status != 403, &what);
                continue;
            }
            check(
                &mut fails,
                expect.contains(&status),
                &format!("expected {expect:?}: {what}"),
            );
            if !head {
                check_message(&mut fails, status, &text, &what);
            }
            *counts.entry("denied").or_default() += 1;
        }

        // Malformed and wrongly typed bodies.
        if op.get("requestBody").is_none() {
            continue;
        }
        let auth = if lease_route(path) {
            format!("update-token {lease}")
        } else {
            admin_auth.clone()
        };
        let mut target = vals.clone();
        if lease_route(path) {
            target.insert("project", "proj".into());
            target.insert("stack", "leased".into());
            target.insert("update", lease_update.clone());
        }
        let p = concrete(path, &target);
        for body in bad_bodies(&doc, op) {
            let (status, text) = send(&api, method, &p, &auth, Some(&body));
            let what = format!(
                "{method} {p} {:?}: {status} {text}",
                String::from_utf8_lossy(&body)
            );
            check(&mut fails, status == 400, &what);
            check_message(&mut fails, status, &text, &what);
            *counts.entry("400").or_default() += 1;
        }
    }
    assert!(
        fails.is_empty(),
        "{} wrong answers:\n{}",
        fails.len(),
        fails.join("\n")
    );
    eprintln!("checked: {counts:?}");
    assert!(counts["denied"] > 100 && counts["400"] > 100, "{counts:?}");

    // Nothing changed: the stack and its update are there, the server is up.
    let st = server.get_json(&format!("/api/stacks/organization/{PROGRAM}/s"));
    assert_eq!(st["version"], 1);
}
