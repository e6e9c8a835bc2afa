//! Bad input never panics and never gives a 5xx: a few thousand mutated bodies (broken and
//! truncated JSON, wrong types, huge numbers, deep nesting, corrupt and truncated gzip,
//! oversized bodies) and bad names and ids in paths, on every route that reads a body. The
//! server stays up and a bystander stack is unchanged.

mod common;

use std::io::Write;

use common::{ADMIN_TOKEN, Api, Server, checkpoint_body};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const JUNK: &[&str] = &[
    "null",
    "true",
    "-1",
    "0",
    "1e999",
    "9223372036854775808",
    "-9223372036854775809",
    "\"\"",
    "\"x\"",
    "[]",
    "{}",
    "[null]",
    "{\"a\":1}",
    "\"\\ud800\"",
    "\"\\u0000\"",
    "NaN",
    "1.5",
];

fn mutate(rng: &mut StdRng, valid: &str) -> Vec<u8> {
    let mut b = valid.as_bytes().to_vec();
    match rng.gen_range(0..9) {
        0 if !b.is_empty() => {
            let i = rng.gen_range(0..b.len());
            b[i] = rng.r#gen();
        }
        1 if !b.is_empty() => {
            let i = rng.gen_range(0..b.len());
            b.truncate(i);
        }
        2 if !b.is_empty() => {
            let i = rng.gen_range(0..b.len());
            let j = rng.gen_range(i..b.len());
            b.drain(i..j);
        }
        3 => {
            // Replace a JSON value (after a colon) with junk of another type.
            let colons: Vec<usize> = b
                .iter()
                .enumerate()
                .filter(|(_, c)| **c == b':')
                .map(|(i, _)| i)
                .collect();
            if let Some(&i) = colons.get(rng.gen_range(0..colons.len().max(1))) {
                let end = b[i + 1..]
                    .iter()
                    .position(|c| *c == b',' || *c == b'}')
                    .map(|p| i + 1 + p)
                    .unwrap_or(b.len());
                let junk = JUNK[rng.gen_range(0..JUNK.len())].as_bytes();
                b.splice(i + 1..end, junk.iter().copied());
            }
        }
        4 => {
            let junk = JUNK[rng.gen_range(0..JUNK.len())];
            b = junk.as_bytes().to_vec();
        }
        5 => {
            let depth = rng.gen_range(100..5000);
            b = format!("{}{}", "[".repeat(depth), "]".repeat(depth)).into_bytes();
        }
        6 => {
            let n = rng.gen_range(1..64);
            b = (0..n).map(|_| rng.r#gen()).collect();
        }
        7 if !b.is_empty() => {
            let i = rng.gen_range(0..b.len());
            b.insert(i, b'"');
        }
        _ => {
            let i = rng.gen_range(0..=b.len());
            let junk = JUNK[rng.gen_range(0..JUNK.len())];
            b.splice(i..i, junk.bytes());
        }
    }
    b
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

on_both_databases! {
#[test]
fn mutated_bodies_never_give_5xx() {
    let server = Server::start_with("info", &["--max-body-mib", "8"]);
    let api = Api::new(&server);
    api.create_stack("victim");
    api.create_stack("bystander");
    api.admin(
        "PATCH",
        "/api/stacks/organization/proj/bystander/tags",
        Some(r#"{"pulumi:project":"proj","keep":"me"}"#),
    );
    let (bid, blease) = api.start_update("bystander");
    api.call(
        "PATCH",
        &format!("/api/stacks/organization/proj/bystander/update/{bid}/checkpoint"),
        &format!("update-token {blease}"),
        Some(&checkpoint_body(3)),
    );
    let bystander_before = api.admin(
        "GET",
        "/api/stacks/organization/proj/bystander/export",
        None,
    );
    let bystander_stack = api.admin("GET", "/api/stacks/organization/proj/bystander", None);

    let (uid, lease) = api.start_update("victim");
    let s = "/api/stacks/organization/proj/victim";
    let u = format!("{s}/update/{uid}");
    let user = format!("token {ADMIN_TOKEN}");
    let upd = format!("update-token {lease}");
    let program = r#"{"name":"proj","runtime":"python","main":"","description":"d","options":{"dryRun":false,"parallel":4},"config":{"proj:a":{"string":"b","secret":false,"object":false}},"metadata":{"message":"m","environment":{"k":"v"}}}"#;
    let events = r#"{"events":[{"sequence":1,"timestamp":1,"stdoutEvent":{"message":"hi","color":"raw"}},{"sequence":2,"timestamp":2,"summaryEvent":{"resourceChanges":{"create":1}}}]}"#;
    let routes: Vec<(&str, String, &str, String)> = vec![
        ("POST", "/api/stacks/organization/proj".into(), user.as_str(), r#"{"stackName":"x1","tags":{"a":"b"},"teams":[],"config":{"environment":""}}"#.into()),
        ("POST", format!("{s}/import"), user.as_str(), checkpoint_body(2)),
        ("POST", format!("{s}/rename"), user.as_str(), r#"{"newName":"victim","newProject":"proj"}"#.into()),
        ("PATCH", format!("{s}/tags"), user.as_str(), r#"{"pulumi:project":"proj","a":"b"}"#.into()),
        ("PUT", format!("{s}/config"), user.as_str(), r#"{"environment":"e"}"#.into()),
        ("POST", format!("{s}/encrypt"), user.as_str(), r#"{"plaintext":"aGVsbG8="}"#.into()),
        ("POST", format!("{s}/decrypt"), user.as_str(), r#"{"ciphertext":"aGVsbG8="}"#.into()),
        ("POST", format!("{s}/batch-encrypt"), user.as_str(), r#"{"plaintexts":["aGVsbG8=","eA=="]}"#.into()),
        ("POST", format!("{s}/batch-decrypt"), user.as_str(), r#"{"ciphertexts":["aGVsbG8="]}"#.into()),
        ("POST", format!("{s}/preview"), user.as_str(), program.into()),
        ("POST", format!("{s}/update/{uid}"), user.as_str(), r#"{"tags":{"a":"b"},"journalVersion":1}"#.into()),
        ("POST", format!("{u}/renew_lease"), upd.as_str(), r#"{"token":"t","duration":300}"#.into()),
        ("PATCH", format!("{u}/checkpoint"), upd.as_str(), r#"{"version":3,"features":["x"],"deployment":{"manifest":{"time":"2024-01-01T00:00:00Z","magic":"","version":""}}}"#.into()),
        ("PATCH", format!("{u}/checkpointverbatim"), upd.as_str(), format!(r#"{{"version":3,"untypedDeployment":{},"sequenceNumber":1}}"#, checkpoint_body(1))),
        ("PATCH", format!("{u}/checkpointdelta"), upd.as_str(), r#"{"version":3,"checkpointHash":"00","sequenceNumber":2,"deploymentDelta":[{"Span":{"uri":"","start":{"line":1,"column":0,"offset":0},"end":{"line":1,"column":0,"offset":1}},"NewText":"{"}]}"#.into()),
        ("POST", format!("{u}/events/batch"), upd.as_str(), events.into()),
        ("POST", format!("{u}/events"), upd.as_str(), r#"{"sequence":9,"timestamp":1,"stdoutEvent":{"message":"x","color":"raw"}}"#.into()),
    ];
    let mut rng = StdRng::seed_from_u64(14);
    let client = server.http();
    let mut total = 0;
    let mut fives = Vec::new();
    for (method, path, auth, valid) in &routes {
        for i in 0..200 {
            let body = mutate(&mut rng, valid);
            let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            let mut req = client
                .request(m, format!("{}{path}", server.url))
                .header("Authorization", *auth)
                .header("Content-Type", "application/json");
            req = match i % 10 {
                // gzip, whole, truncated, or a body that claims gzip but is not.
                0 => req.header("Content-Encoding", "gzip").body(gzip(&body)),
                1 => {
                    let g = gzip(&body);
                    let cut = rng.gen_range(0..g.len());
                    req.header("Content-Encoding", "gzip")
                        .body(g[..cut].to_vec())
                }
                2 => req.header("Content-Encoding", "gzip").body(body),
                3 => req.header("Content-Encoding", "br").body(body),
                _ => req.body(body),
            };
            let resp = req.send().unwrap();
            let status = resp.status().as_u16();
            let text = resp.text().unwrap_or_default();
            if status >= 500 {
                fives.push(format!("{method} {path}: {status} {text}"));
            }
            if status >= 400 {
                let v: serde_json::Value = serde_json::from_str(&text)
                    .unwrap_or_else(|_| panic!("{method} {path}: {status} not JSON: {text:?}"));
                assert_eq!(v["code"], status, "{text}");
            }
            total += 1;
        }
    }
    // Bad names and ids in paths.
    for path in [
        "/api/stacks/organization/proj/bad%20name",
        "/api/stacks/organization/proj/..%2f..",
        "/api/stacks/organization/proj/%00",
        "/api/stacks/organization/proj/victim/update/nope%zz",
        "/api/stacks/organization/proj/victim/update/00000000000000000000000000000000",
        "/api/stacks/organization/proj/victim/export/-1",
        "/api/stacks/organization/proj/victim/export/99999999999999999999",
        "/api/stacks/organization/proj/victim/updates/x",
        "/api/stacks/no-such-org/proj/victim",
        "/api/stacks/organization/proj/victim/update/../../x",
        "/api/stacks/organization/proj/victim/bogus/123",
        "/api/user/stacks?continuationToken=!!!",
        "/api/stacks/organization/proj/victim/updates?page=-3&pageSize=x",
        "/api/stacks/organization/proj/victim/update/123/events?continuationToken=abc",
    ] {
        for method in ["GET", "POST", "PATCH", "DELETE"] {
            let (status, body) = api.call(method, path, &user, Some("{}"));
            assert!(status < 500, "{method} {path}: {status} {body}");
            total += 1;
        }
    }
    // An oversized body (the limit is the server's --max-body-mib, 8 here; a 40 MiB gzip
    // bomb is refused while decompressing, not buffered whole).
    let zeros = vec![b' '; 40 * 1024 * 1024];
    let bomb = gzip(&zeros);
    drop(zeros);
    let resp = client
        .patch(format!("{}{u}/checkpoint", server.url))
        .header("Authorization", &upd)
        .header("Content-Encoding", "gzip")
        .body(bomb)
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 413, "{:?}", resp.text());
    assert!(total > 3000, "{total}");
    assert!(
        fives.is_empty(),
        "{} of {total} answers were 5xx:\n{}",
        fives.len(),
        fives.join("\n")
    );
    assert!(
        server
            .http()
            .get(format!("{}/healthz", server.url))
            .send()
            .unwrap()
            .status()
            .is_success()
    );
    assert_eq!(
        api.admin(
            "GET",
            "/api/stacks/organization/proj/bystander/export",
            None
        ),
        bystander_before
    );
    assert_eq!(
        api.admin("GET", "/api/stacks/organization/proj/bystander", None),
        bystander_stack
    );
}
}
