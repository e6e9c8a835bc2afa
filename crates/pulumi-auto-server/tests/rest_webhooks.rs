//! Webhooks end to end: deliveries received on a loopback listener for the stack and update
//! events the real CLI causes (created, preview, update succeeded and failed, deleted), the
//! signature checked, a failed delivery retried and logged, ping, a hook that never answers
//! not slowing an update, only http(s) URLs, and the secret never answered or logged.

mod common;
mod rest_common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Api, Cli, Server};
use hmac::{Hmac, Mac};
use pulumi_auto_client::Error;
use pulumi_auto_types::rest::CreateWebhookRequest;
use rest_common::{admin, block, client, token_for};
use serde_json::Value;

const SECRET: &str = "hook-secret-Zq81x";

#[derive(Debug, Clone)]
struct Got {
    path: String,
    headers: HashMap<String, String>,
    body: String,
}

/// A loopback HTTP receiver; answers 500 to the first `fail_first` requests, then 200.
fn receiver(fail_first: usize) -> (String, Arc<Mutex<Vec<Got>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    std::thread::spawn(move || {
        let mut n = 0;
        for stream in l.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut r = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if r.read_line(&mut line).is_err() {
                continue;
            }
            let path = line.split(' ').nth(1).unwrap_or("").to_owned();
            let mut headers = HashMap::new();
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).is_err() || h.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = h.trim().split_once(':') {
                    headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
                }
            }
            let len: usize = headers
                .get("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; len];
            let _ = r.read_exact(&mut body);
            n += 1;
            let code = if n <= fail_first {
                "500 Internal Server Error"
            } else {
                "200 OK"
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {code}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
            );
            g.lock().unwrap().push(Got {
                path,
                headers,
                body: String::from_utf8_lossy(&body).into_owned(),
            });
        }
    });
    (url, got)
}

/// A listener that accepts and never answers.
fn black_hole() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/never", l.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in l.incoming().flatten() {
            held.push(s);
        }
    });
    url
}

fn wait_for(got: &Arc<Mutex<Vec<Got>>>, what: &str, pred: impl Fn(&[Got]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !pred(&got.lock().unwrap()) {
        assert!(
            Instant::now() < deadline,
            "no {what}: {:?}",
            got.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn kinds(got: &[Got], path: &str) -> Vec<(String, Value)> {
    got.iter()
        .filter(|g| g.path == path)
        .map(|g| {
            (
                g.headers["pulumi-webhook-kind"].clone(),
                serde_json::from_str(&g.body).unwrap(),
            )
        })
        .collect()
}

on_both_databases! {
#[test]
fn deliveries_for_cli_events_signed_retried_and_logged() {
    let server = Server::start();
    let (url, got) = receiver(1);
    let c = admin(&server);
    let req = |path: &str, secret: Option<&str>| CreateWebhookRequest {
        organization_name: "organization".into(),
        display_name: format!("hook {path}"),
        payload_url: format!("{url}{path}"),
        secret: secret.map(Into::into),
        active: true,
    };
    let signed = block(c.create_webhook("organization", &req("/signed", Some(SECRET)))).unwrap();
    assert!(signed.has_secret);
    let plain = block(c.create_webhook("organization", &req("/plain", None))).unwrap();
    assert!(!plain.has_secret);
    let api = Api::new(&server);
    let (_, listing) = api.call(
        "GET",
        "/api/orgs/organization/hooks",
        &format!("token {}", common::ADMIN_TOKEN),
        None,
    );
    assert!(!listing.contains(SECRET), "{listing}");
    let one = block(c.get_webhook("organization", &signed.name)).unwrap();
    assert_eq!(one, signed);

    // The CLI: stack created, preview, update, a failing update, stack deleted.
    let cli = Cli::new(&server, "files");
    cli.init_stack("dev");
    cli.ok(&["preview"]);
    cli.ok(&["up", "--yes"]);
    let failing = Cli::new(&server, "failing");
    failing.init_stack("bad");
    failing.fails(&["up", "--yes", "--skip-preview"]);
    cli.ok(&["destroy", "--yes"]);
    cli.ok(&["stack", "rm", "--yes"]);

    wait_for(&got, "deleted event", |g| {
        kinds(g, "/plain")
            .iter()
            .any(|(k, b)| k == "stack" && b["action"] == "deleted")
    });
    let plain_events = kinds(&got.lock().unwrap(), "/plain");
    let find = |kind: &str, f: &dyn Fn(&Value) -> bool| {
        plain_events.iter().any(|(k, b)| k == kind && f(b))
    };
    assert!(
        find("stack", &|b| b["action"] == "created"
            && b["stackName"] == "dev"
            && b["projectName"] == "files"),
        "{plain_events:?}"
    );
    assert!(find("stack_preview", &|b| b["result"] == "succeeded"
        && b["isPreview"] == true));
    assert!(
        find("stack_update", &|b| b["kind"] == "update"
            && b["result"] == "succeeded"
            && b["resourceChanges"]["create"].as_i64() >= Some(2)),
        "{plain_events:?}"
    );
    assert!(
        find("stack_update", &|b| b["stackName"] == "bad"
            && b["result"] == "failed"),
        "{plain_events:?}"
    );
    assert!(find("stack_update", &|b| b["kind"] == "destroy"));
    assert!(find("stack", &|b| b["action"] == "deleted"
        && b["user"]["githubLogin"] == "admin"));

    // Signatures: hex HMAC-SHA256 of the body with the secret; none without a secret.
    wait_for(&got, "signed deleted event", |g| {
        kinds(g, "/signed")
            .iter()
            .any(|(k, b)| k == "stack" && b["action"] == "deleted")
    });
    for g in got.lock().unwrap().iter() {
        assert!(g.headers.contains_key("pulumi-webhook-id"));
        if g.path == "/signed" {
            let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(SECRET.as_bytes()).unwrap();
            mac.update(g.body.as_bytes());
            let want: String = mac
                .finalize()
                .into_bytes()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(g.headers.get("pulumi-webhook-signature"), Some(&want));
        } else {
            assert!(!g.headers.contains_key("pulumi-webhook-signature"));
        }
    }

    // The first delivery got a 500 and was retried: both attempts are in the log.
    // A delivery is logged once its answer is in, after the receiver saw it:
    // wait until every attempt the receiver saw is in the log.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (log, log_plain) = loop {
        let seen = got.lock().unwrap().len();
        let log = block(c.webhook_deliveries("organization", &signed.name)).unwrap();
        let log_plain = block(c.webhook_deliveries("organization", &plain.name)).unwrap();
        if log.len() + log_plain.len() >= seen || Instant::now() > deadline {
            break (log, log_plain);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let all: Vec<_> = log.iter().chain(log_plain.iter()).collect();
    let failed: Vec<_> = all.iter().filter(|d| d.response_code == 500).collect();
    assert_eq!(failed.len(), 1, "{all:?}");
    assert!(
        all.iter()
            .any(|d| d.response_code == 200 && d.payload == failed[0].payload),
        "retried"
    );
    assert!(log.iter().all(|d| !d.request_headers.contains(SECRET)));
    assert_eq!(got.lock().unwrap().len(), all.len(), "every attempt logged");

    // Ping: a delivery now.
    let ping = block(c.ping_webhook("organization", &plain.name)).unwrap();
    assert_eq!((ping.kind.as_str(), ping.response_code), ("ping", 200));

    // A hook that never answers does not hold an update up.
    block(c.create_webhook(
        "organization",
        &CreateWebhookRequest {
            payload_url: black_hole(),
            ..req("/x", None)
        },
    ))
    .unwrap();
    api.create_stack("quick");
    let (id, lease) = api.start_update("quick");
    let t = Instant::now();
    let (s, _) = api.call(
        "POST",
        &format!("/api/stacks/organization/proj/quick/update/{id}/complete"),
        &format!("update-token {lease}"),
        Some(r#"{"status":"succeeded"}"#),
    );
    assert_eq!(s, 200);
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());

    // Only http(s); admins only; the secret nowhere in the server's log or database.
    let bad = block(c.create_webhook(
        "organization",
        &CreateWebhookRequest {
            payload_url: "file:///etc/passwd".into(),
            ..req("/y", None)
        },
    ));
    assert!(matches!(bad, Err(Error::BadRequest(_))), "{bad:?}");
    block(c.add_member("organization", "member1", "member")).unwrap();
    let m = client(&server, &token_for(&server, "member1"));
    assert!(matches!(
        block(m.list_webhooks("organization")),
        Err(Error::Forbidden(_))
    ));
    let log = std::fs::read_to_string(&server.log).unwrap();
    assert!(!log.contains(SECRET));
    let db = server.db_contents();
    assert!(!db.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()));
    block(c.delete_webhook("organization", &plain.name)).unwrap();
    assert!(matches!(
        block(c.get_webhook("organization", &plain.name)),
        Err(Error::NotFound(_))
    ));
}
}
