//! Which backend a test's stacks live on: the file backend (the default), or a
//! `pulumi-auto-server` of the test's own (its own port and data directory, started from the
//! built binary, killed with the test's environment).
//!
//! `on_both_backends! { #[tokio::test] async fn name() { … } }` makes two tests of one body,
//! `name::file` and `name::server`; a [`TestEnv`](super::TestEnv) made in the second talks to
//! a server. The server is the binary `scripts/test` builds and names in
//! `PULUMI_AUTO_TEST_SERVER_BIN` (else `target/debug/pulumi-auto-server`); a missing binary
//! fails the test, it never skips it.

use std::cell::Cell;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The backend of a test environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `file://` in the environment's own directory.
    File,
    /// A pulumi-auto-server of the environment's own.
    Server,
}

thread_local! {
    static BACKEND: Cell<Backend> = const { Cell::new(Backend::File) };
}

/// Makes the environments this thread creates from now on use `backend` (the tests that
/// `on_both_backends!` makes call it first; a tokio test's body runs on its own thread).
pub fn use_backend(backend: Backend) {
    BACKEND.with(|b| b.set(backend));
}

/// The backend new environments of this thread use.
pub fn current_backend() -> Backend {
    BACKEND.with(|b| b.get())
}

/// Two tests of one body: `NAME::file` on the file backend and `NAME::server` on a server.
#[macro_export]
macro_rules! on_both_backends {
    ($(#[$attr:meta])* async fn $name:ident() $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            $(#[$attr])*
            async fn file() {
                $crate::common::use_backend($crate::common::Backend::File);
                $body
            }

            $(#[$attr])*
            async fn server() {
                $crate::common::use_backend($crate::common::Backend::Server);
                $body
            }
        }
    };
}

/// The admin token of every test server.
pub const SERVER_TOKEN: &str = "pul-test-admin-token-backend-0123456789";

/// The server binary: `PULUMI_AUTO_TEST_SERVER_BIN`, else the debug build in the target
/// directory; a clear failure when it is missing.
pub fn server_bin() -> PathBuf {
    let bin = std::env::var_os("PULUMI_AUTO_TEST_SERVER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| super::repo().join("target"));
            target.join("debug/pulumi-auto-server")
        });
    assert!(
        bin.is_file(),
        "the server binary {} is missing: run the tests with scripts/test, which builds it \
         (`cargo build -p pulumi-auto-server`) and names it in PULUMI_AUTO_TEST_SERVER_BIN (CI={})",
        bin.display(),
        std::env::var("CI").unwrap_or_default()
    );
    bin
}

/// A running `pulumi-auto-server serve` on a free port, killed when dropped.
pub struct TestServer {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl TestServer {
    /// Starts a server with its data in `data` and waits until `/healthz` answers 200.
    pub fn start(data: &Path) -> TestServer {
        let log = std::fs::File::create(data.with_extension("log")).unwrap();
        let mut child = Command::new(server_bin())
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .env("PULUMI_AUTO_SERVER_ADMIN_TOKEN", SERVER_TOKEN)
            .env_remove("PULUMI_AUTO_SERVER_MASTER_KEY")
            .env_remove("PULUMI_AUTO_SERVER_DATABASE")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line.trim().to_owned();
        assert!(
            url.starts_with("http://127.0.0.1:"),
            "the server printed {url:?}"
        );
        let server = TestServer { child, url };
        let addr = server.url.trim_start_matches("http://").to_owned();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !healthy(&addr) {
            assert!(
                Instant::now() < deadline,
                "the server did not become healthy"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }
}

fn healthy(addr: &str) -> bool {
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).is_ok() && head.ends_with(b"200")
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
