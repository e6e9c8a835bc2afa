//! The REST API's routes under malformed input: every refused body a 4xx `{code,
//! message}`, never a 5xx; the server up; the stack, members and hooks unchanged.

mod common;

use common::{ADMIN_TOKEN, Api, Server};
use serde_json::Value;

const ROUTES: &[(&str, &str)] = &[
    ("POST", "/api/stacks/organization/proj/s/tags"),
    ("POST", "/api/stacks/organization/proj/s/transfer"),
    ("POST", "/api/orgs/organization/members/someone"),
    ("PATCH", "/api/orgs/organization/members/admin"),
    ("POST", "/api/orgs/organization/teams/pulumi"),
    ("PATCH", "/api/orgs/organization/teams/t"),
    ("POST", "/api/user/tokens"),
    ("POST", "/api/orgs/organization/hooks"),
];

fn bodies() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = [
        "{", "[]", "null", "1", "\"x\"", "{\"name\":1}", "{\"role\":\"owner\"}",
        "{\"toOrg\":\"../x\"}", "{\"name\":\"a b\",\"value\":\"v\"}", "{\"name\":\"k\",\"value\":7}",
        "{\"memberAction\":\"add\"}", "{\"memberAction\":\"kick\",\"member\":\"admin\"}",
        "{\"addStackPermission\":{\"projectName\":\"proj\",\"stackName\":\"s\",\"permission\":104}}",
        "{\"addStackPermission\":{\"projectName\":\"proj\",\"stackName\":\"nope\",\"permission\":101}}",
        "{\"removeStack\":{\"projectName\":\"../\",\"stackName\":\"s\"}}",
        "{\"memberAction\":\"add\",\"member\":\"admin\",\"removeStack\":{\"projectName\":\"p\",\"stackName\":\"s\"}}",
        "{\"description\":\"a\\u0000b\"}", "{\"payloadUrl\":\"gopher://x\",\"displayName\":\"d\",\"organizationName\":\"organization\"}",
        "{\"payloadUrl\":\"http://127.0.0.1:9/\",\"displayName\":\"d\",\"organizationName\":\"other\"}",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    v.push(vec![0xff, 0xfe, b'{']);
    v.push(format!("{{\"name\":\"{}\",\"value\":\"v\"}}", "n".repeat(100_000)).into_bytes());
    v.push(format!("{{\"description\":\"{}\"}}", "d".repeat(5000)).into_bytes());
    v.push(
        format!(
            "{{\"name\":\"t\",\"displayName\":\"{}\"}}",
            "x".repeat(5000)
        )
        .into_bytes(),
    );
    v
}

on_both_databases! {
#[test]
fn malformed_bodies_are_4xx_never_5xx() {
    let server = Server::start();
    let api = Api::new(&server);
    api.create_stack("s");
    api.admin(
        "POST",
        "/api/orgs/organization/teams/pulumi",
        Some(r#"{"name":"t"}"#),
    );
    let before = server.get_json("/api/stacks/organization/proj/s");
    let auth = format!("token {ADMIN_TOKEN}");
    let mut n = 0;
    for (method, path) in ROUTES {
        for body in bodies() {
            let send = || {
                api.client
                    .request(
                        reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                        format!("{}{path}", server.url),
                    )
                    .header("Authorization", &auth)
                    .header("Content-Type", "application/json")
                    .body(body.clone())
                    .send()
            };
            // One retry of a request the connection lost (a kept-alive connection the
            // server closed as the client reused it); a handler that drops its
            // connection every time still fails here.
            let r = send().or_else(|_| send()).unwrap();
            let status = r.status().as_u16();
            let text = r.text().unwrap();
            let what = format!(
                "{method} {path} {:?}: {status} {text}",
                String::from_utf8_lossy(&body[..body.len().min(80)])
            );
            assert!(status < 500, "{what}");
            if status < 400 {
                // A body some route accepts (unknown fields are ignored, as by Pulumi Cloud).
                continue;
            }
            let v: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{what}"));
            assert_eq!(v["code"], status, "{what}");
            assert!(
                v["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{what}"
            );
            n += 1;
        }
    }
    // Bad path segments.
    for path in [
        "/api/stacks/organization/proj/s/tags/%2e%2e",
        "/api/orgs/organization/teams/%00",
        "/api/orgs/organization/hooks/..",
        "/api/orgs/organization/resources/summary?granularity=minutely",
        "/api/orgs/organization/resources/summary?lookbackDays=-1",
        "/api/orgs/organization/auditlogs?continuationToken=%27%20OR%201%3D1",
        "/api/orgs/organization/auditlogs?userFilter=a%20b",
        "/api/user/tokens/%2e%2e",
    ] {
        for method in ["GET", "DELETE", "POST", "PATCH"] {
            let (status, text) = api.call(method, path, &auth, Some("{"));
            assert!(status < 500, "{method} {path}: {status} {text}");
        }
        n += 4;
    }
    assert!(n > 200);
    // Without a token every REST route is 401.
    for (method, path) in ROUTES.iter().copied().chain([
        ("GET", "/api/user/tokens"),
        ("DELETE", "/api/user/tokens/x"),
        ("GET", "/api/orgs/organization/hooks"),
        ("POST", "/api/orgs/organization/hooks/h/ping"),
        ("GET", "/api/orgs/organization/hooks/h/deliveries"),
        ("GET", "/api/orgs/organization/auditlogs"),
        ("GET", "/api/orgs/organization/auditlogs/export"),
        ("GET", "/api/orgs/organization/resources/summary"),
        ("DELETE", "/api/stacks/organization/proj/s/tags/k"),
    ]) {
        let (status, text) = api.call(method, path, "", Some("{}"));
        assert_eq!(status, 401, "{method} {path}: {text}");
    }
    assert_eq!(
        server.get_json("/api/stacks/organization/proj/s")["tags"],
        before["tags"]
    );
    assert_eq!(
        server.get_json("/api/orgs/organization/members")["members"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(
        server
            .get_json("/api/orgs/organization/hooks")
            .as_array()
            .unwrap()
            .is_empty()
    );
}
}
