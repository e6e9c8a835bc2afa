//! Every route but /healthz needs a valid token: without one, or with a bad one, it is 401
//! with `{"code":401,"message":…}`. Lease tokens are valid only for their own update's
//! calls, and only while it runs. Tokens revoked offline stop working at once.

mod common;

use common::{ADMIN_TOKEN, Api, Server, checkpoint_body};

/// Every route of the server, with concrete paths (`U` is replaced by a real update id).
const ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/capabilities"),
    ("GET", "/api/cli/version"),
    ("GET", "/api/user"),
    ("GET", "/api/user/organizations/default"),
    ("GET", "/api/user/stacks"),
    ("HEAD", "/api/stacks/organization/proj"),
    ("POST", "/api/stacks/organization/proj"),
    ("GET", "/api/stacks/organization/proj/s"),
    ("DELETE", "/api/stacks/organization/proj/s"),
    ("GET", "/api/stacks/organization/proj/s/export"),
    ("GET", "/api/stacks/organization/proj/s/export/1"),
    ("POST", "/api/stacks/organization/proj/s/import"),
    ("POST", "/api/stacks/organization/proj/s/rename"),
    ("PATCH", "/api/stacks/organization/proj/s/tags"),
    ("PUT", "/api/stacks/organization/proj/s/config"),
    ("GET", "/api/stacks/organization/proj/s/updates"),
    ("GET", "/api/stacks/organization/proj/s/updates/latest"),
    (
        "GET",
        "/api/stacks/organization/proj/s/updates/latest/previews",
    ),
    ("GET", "/api/stacks/organization/proj/s/updates/1"),
    ("POST", "/api/stacks/organization/proj/s/encrypt"),
    ("POST", "/api/stacks/organization/proj/s/decrypt"),
    (
        "POST",
        "/api/stacks/organization/proj/s/decrypt/log-decryption",
    ),
    (
        "POST",
        "/api/stacks/organization/proj/s/decrypt/log-batch-decryption",
    ),
    ("POST", "/api/stacks/organization/proj/s/batch-encrypt"),
    ("POST", "/api/stacks/organization/proj/s/batch-decrypt"),
    ("POST", "/api/stacks/organization/proj/s/update"),
    ("POST", "/api/stacks/organization/proj/s/preview"),
    ("POST", "/api/stacks/organization/proj/s/refresh"),
    ("POST", "/api/stacks/organization/proj/s/destroy"),
    ("GET", "/api/stacks/organization/proj/s/update/U"),
    ("POST", "/api/stacks/organization/proj/s/update/U"),
    ("POST", "/api/stacks/organization/proj/s/update/U/cancel"),
    (
        "POST",
        "/api/stacks/organization/proj/s/update/U/renew_lease",
    ),
    (
        "PATCH",
        "/api/stacks/organization/proj/s/update/U/checkpoint",
    ),
    (
        "PATCH",
        "/api/stacks/organization/proj/s/update/U/checkpointverbatim",
    ),
    (
        "PATCH",
        "/api/stacks/organization/proj/s/update/U/checkpointdelta",
    ),
    (
        "POST",
        "/api/stacks/organization/proj/s/update/U/events/batch",
    ),
    ("POST", "/api/stacks/organization/proj/s/update/U/events"),
    ("GET", "/api/stacks/organization/proj/s/update/U/events"),
    ("POST", "/api/stacks/organization/proj/s/update/U/complete"),
    // Not a route: the fallback is behind authentication too.
    ("GET", "/api/no/such/route"),
];

on_both_databases! {
#[test]
fn every_route_needs_a_valid_token() {
    let server = Server::start();
    let api = Api::new(&server);
    api.create_stack("s");
    let (update, lease) = api.start_update("s");
    let revoked = {
        let out = server.tool()
            .args(["token", "create", "--description", "soon revoked", "--data"])
            .arg(&server.data)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    assert_eq!(
        api.call("GET", "/api/user", &format!("token {revoked}"), None)
            .0,
        200
    );
    let list = server.tool()
        .args(["token", "list", "--data"])
        .arg(&server.data)
        .output()
        .unwrap();
    let list = String::from_utf8(list.stdout).unwrap();
    assert!(
        !list.contains(&revoked),
        "token list never shows values: {list}"
    );
    let id = list
        .lines()
        .find(|l| l.contains("soon revoked"))
        .and_then(|l| l.split('\t').next())
        .unwrap()
        .to_owned();
    let out = server.tool()
        .args(["token", "revoke", &id, "--data"])
        .arg(&server.data)
        .output()
        .unwrap();
    assert!(out.status.success());

    let bad_credentials = [
        String::new(),
        "token".to_owned(),
        "token ".to_owned(),
        "token pul-0000000000000000000000000000000000000000".to_owned(),
        format!("token {revoked}"),
        format!("Bearer {ADMIN_TOKEN}"),
        format!("token {}", &ADMIN_TOKEN[..ADMIN_TOKEN.len() - 1]),
        "update-token pul-nope".to_owned(),
        format!("update-token {ADMIN_TOKEN}"),
    ];
    let mut checked = 0;
    for (method, path) in ROUTES {
        let path = path.replace("/U", &format!("/{update}"));
        for auth in &bad_credentials {
            let (status, body) = api.call(method, &path, auth, Some("{}"));
            assert_eq!(status, 401, "{method} {path} with {auth:?}: {body}");
            if *method != "HEAD" {
                let v: serde_json::Value = serde_json::from_str(&body)
                    .unwrap_or_else(|_| panic!("{method} {path}: not JSON: {body}"));
                assert_eq!(v["code"], 401, "{body}");
                assert!(
                    v["message"].as_str().is_some_and(|m| !m.is_empty()),
                    "{body}"
                );
                assert!(!body.contains(&revoked[4..]), "no token in error bodies");
            }
            checked += 1;
        }
        // With a valid token the route exists (the list above is the server's).
        if !path.contains("no/such") {
            let (status, body) = api.call(method, &path, &format!("token {ADMIN_TOKEN}"), None);
            assert!(
                !body.contains("no such route") && status != 405,
                "{method} {path} is not a route: {status} {body}"
            );
        }
    }
    assert_eq!(checked, ROUTES.len() * bad_credentials.len());
    // Health needs no token.
    assert_eq!(api.call("GET", "/healthz", "", None).0, 200);
    let _ = lease;
}
}

on_both_databases! {
#[test]
fn lease_tokens_are_valid_only_for_their_own_running_update() {
    let server = Server::start();
    let api = Api::new(&server);
    api.create_stack("one");
    api.create_stack("two");
    let (u1, lease1) = api.start_update("one");
    let (u2, lease2) = api.start_update("two");
    let cp = checkpoint_body(2);
    let one = format!("/api/stacks/organization/proj/one/update/{u1}/checkpoint");
    let two = format!("/api/stacks/organization/proj/two/update/{u2}/checkpoint");
    // Its own update: accepted.
    assert_eq!(
        api.call("PATCH", &one, &format!("update-token {lease1}"), Some(&cp))
            .0,
        200
    );
    // Another update's calls, or user calls: 401.
    assert_eq!(
        api.call("PATCH", &two, &format!("update-token {lease1}"), Some(&cp))
            .0,
        401
    );
    let wrong_stack = format!("/api/stacks/organization/proj/two/update/{u1}/checkpoint");
    assert_eq!(
        api.call(
            "PATCH",
            &wrong_stack,
            &format!("update-token {lease1}"),
            Some(&cp)
        )
        .0,
        401
    );
    assert_eq!(
        api.call("GET", "/api/user", &format!("update-token {lease1}"), None)
            .0,
        401
    );
    assert_eq!(
        api.call(
            "GET",
            "/api/stacks/organization/proj/one/export",
            &format!("update-token {lease1}"),
            None
        )
        .0,
        401
    );
    // A user token does not stand in for a lease.
    assert_eq!(
        api.call("PATCH", &one, &format!("token {ADMIN_TOKEN}"), Some(&cp))
            .0,
        401
    );
    // Renewal keeps the token working.
    let renew = format!("/api/stacks/organization/proj/one/update/{u1}/renew_lease");
    let (s, b) = api.call(
        "POST",
        &renew,
        &format!("update-token {lease1}"),
        Some(r#"{"token":"x","duration":120}"#),
    );
    assert_eq!(s, 200, "{b}");
    // Completed: the lease is worth nothing any more.
    let complete = format!("/api/stacks/organization/proj/one/update/{u1}/complete");
    assert_eq!(
        api.call(
            "POST",
            &complete,
            &format!("update-token {lease1}"),
            Some(r#"{"status":"succeeded"}"#)
        )
        .0,
        200
    );
    let (s, _) = api.call("PATCH", &one, &format!("update-token {lease1}"), Some(&cp));
    assert!(s == 409 || s == 401, "{s}");
    let (s, _) = api.call(
        "POST",
        &renew,
        &format!("update-token {lease1}"),
        Some(r#"{"duration":120}"#),
    );
    assert!(s == 409 || s == 401, "{s}");
    // The state is the checkpoint the lease wrote.
    let export = api.admin("GET", "/api/stacks/organization/proj/one/export", None);
    let v: serde_json::Value = serde_json::from_str(&export).unwrap();
    assert_eq!(v["deployment"]["resources"].as_array().unwrap().len(), 2);
    let stacks: serde_json::Value = server.get_json("/api/user/stacks");
    let one = stacks["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stackName"] == "one")
        .unwrap();
    assert_eq!(one["resourceCount"], 2);
    let _ = lease2;
}
}
