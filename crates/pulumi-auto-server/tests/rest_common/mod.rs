//! What the REST API's tests share beyond `tests/common`: the offline commands of the
//! server binary (tokens for other users, more organizations), a typed client, and a
//! runtime to drive it from a plain test.
#![allow(dead_code)]

use crate::common::{ADMIN_TOKEN, Server};
use pulumi_auto_client::Client;

/// Runs `pulumi-auto-server ARGS --data DIR` offline next to the running server; stdout.
pub fn offline(server: &Server, args: &[&str]) -> String {
    let out = server
        .tool()
        .args(args)
        .arg("--data")
        .arg(&server.data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pulumi-auto-server {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A new token for `login` (who must exist: add them as a member first).
pub fn token_for(server: &Server, login: &str) -> String {
    offline(server, &["token", "create", "--user", login])
        .trim()
        .to_owned()
}

/// A client of the server with `token`.
pub fn client(server: &Server, token: &str) -> Client {
    Client::new(&server.url, token.to_owned()).unwrap()
}

/// A client with the admin token.
pub fn admin(server: &Server) -> Client {
    client(server, ADMIN_TOKEN)
}

/// Runs a future to its end on a runtime of its own.
pub fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}
