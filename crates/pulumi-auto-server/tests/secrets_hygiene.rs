//! No secret in the server's logs (at trace level), in the database, or in error bodies:
//! access tokens, lease tokens, the master key, and decrypted config values.

mod common;

use common::{ADMIN_TOKEN, Api, Cli, Server, checkpoint_body};

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

on_both_databases! {
#[test]
fn no_secret_in_logs_database_or_errors() {
    let server = Server::start_with_log("trace");
    let secret = "hunter2-hygiene-7f3a9c";

    // A token made offline, a lease token, the master key.
    let out = server.tool()
        .args(["token", "create", "--data"])
        .arg(&server.data)
        .output()
        .unwrap();
    let made = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(made.starts_with("pul-"), "{made}");
    let api = Api::new(&server);
    api.create_stack("s");
    let (u, lease) = api.start_update("s");
    let (status, _) = api.call(
        "PATCH",
        &format!("/api/stacks/organization/proj/s/update/{u}/checkpoint"),
        &format!("update-token {lease}"),
        Some(&checkpoint_body(1)),
    );
    assert_eq!(status, 200);
    let master = std::fs::read_to_string(server.data.join("master-key")).unwrap();
    let master = master.trim().to_owned();
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(server.data.join("master-key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // Bad credentials are not echoed.
    let (_, body) = api.call("GET", "/api/user", &format!("token {made}x"), None);
    assert!(!body.contains(&made), "{body}");
    let (_, body) = api.call("GET", "/api/user", &format!("update-token {lease}x"), None);
    assert!(!body.contains(&lease), "{body}");

    // The CLI with a service-encrypted secret: set, up, read back.
    let cli = Cli::with_token(&server, "files", &made);
    cli.init_stack("dev");
    cli.ok(&["config", "set", "--secret", "token", secret]);
    cli.ok(&["up", "--yes", "--skip-preview"]);
    let outputs = cli.ok(&["stack", "output", "token", "--show-secrets"]);
    assert_eq!(outputs.trim(), secret);
    // Encrypt and decrypt directly too, with bad input around them.
    let b64 = "aHVudGVyMi1oeWdpZW5lLTdmM2E5Yw=="; // base64 of the secret
    let ct = api.admin(
        "POST",
        "/api/stacks/organization/files/dev/encrypt",
        Some(&format!(r#"{{"plaintext":"{b64}"}}"#)),
    );
    assert!(!ct.contains(b64));
    let (s, body) = api.call(
        "POST",
        "/api/stacks/organization/files/dev/encrypt",
        &format!("token {ADMIN_TOKEN}"),
        Some(&format!(r#"{{"plaintext":{{"{secret}":1}}}}"#)),
    );
    assert_eq!(s, 400);
    assert!(!body.contains(secret), "{body}");
    let (s, body) = api.call(
        "POST",
        "/api/stacks/organization/files/dev/decrypt",
        &format!("token {ADMIN_TOKEN}"),
        Some(&format!(r#"{{"ciphertext":"{secret}"}}"#)),
    );
    assert_eq!(s, 400);
    assert!(!body.contains(secret), "{body}");

    drop(cli);
    let mut server = server;
    server.kill();
    let log = std::fs::read(&server.log).unwrap();
    assert!(
        log.len() > 10_000,
        "trace logging is on ({} bytes)",
        log.len()
    );
    let db = server.db_contents();
    assert!(
        !contains(&db, "hunter2"),
        "the plaintext is in the database"
    );
    for (what, value) in [
        ("admin token", ADMIN_TOKEN),
        ("created token", made.as_str()),
        ("lease token", lease.as_str()),
        ("master key", master.as_str()),
        ("secret config value", secret),
        ("secret config value (base64)", b64),
    ] {
        assert!(!contains(&log, value), "the {what} is in the server's log");
        assert!(!contains(&db, value), "the {what} is in the database");
    }
    // What is stored instead: hashes.
    assert!(contains(
        &db,
        &pulumi_auto_server::crypto::token_hash(&made)
    ));
}
}
