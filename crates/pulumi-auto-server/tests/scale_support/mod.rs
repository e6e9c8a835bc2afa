//! What the multi-replica tests share: a database of their own (a fresh schema) on the
//! real PostgreSQL of `PULUMI_AUTO_TEST_POSTGRES_URL` (scripts/start-postgres), replicas of
//! `pulumi-auto-server serve` on it (each its own port and data directory, the same master
//! key and programs), JSON calls, SSE and reads of the shared database.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[allow(unused_imports)]
pub use serde_json::{Value, json};

use crate::common::ADMIN_TOKEN;

/// The master key every replica of a test shares (base64 of 32 bytes).
pub const MASTER_KEY: &str = "c2NhbGUtdGVzdHMtbWFzdGVyLWtleS0zMi1ieXRlcyE=";

/// The PostgreSQL server's URL: a failure when there is none (never a skip).
pub fn pg_url() -> String {
    match std::env::var("PULUMI_AUTO_TEST_POSTGRES_URL") {
        Ok(u) if !u.is_empty() => u,
        _ => panic!(
            "PULUMI_AUTO_TEST_POSTGRES_URL is not set: the multi-replica tests need a real \
             PostgreSQL server. Run them with scripts/test, which starts one with \
             scripts/start-postgres (and installs it when CI=true)"
        ),
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A database of this test's own: a fresh schema on the test server, and the server's URL
/// with that schema as the search path (the server's tables, migrations included, go
/// there).
pub fn fresh_database(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let schema = format!("scale_{test}_{}_{nanos}", std::process::id());
    let base = pg_url();
    rt().block_on(async {
        use sqlx::Connection;
        let mut c = sqlx::postgres::PgConnection::connect(&base).await.unwrap();
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut c)
            .await
            .unwrap();
        c.close().await.unwrap();
    });
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-c%20search_path%3D{schema}")
}

/// Rows of `sql` on the test's database, every column read as text.
pub fn query(url: &str, sql: &str) -> Vec<Vec<Option<String>>> {
    rt().block_on(async {
        use sqlx::{Connection, Row};
        let mut c = sqlx::postgres::PgConnection::connect(url).await.unwrap();
        let rows = sqlx::query(sql).fetch_all(&mut c).await.unwrap();
        let out = rows
            .iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| r.try_get::<Option<String>, _>(i).unwrap())
                    .collect()
            })
            .collect();
        c.close().await.unwrap();
        out
    })
}

/// One `pulumi-auto-server serve` replica.
pub struct Replica {
    pub child: Option<Child>,
    pub url: String,
    pub data: PathBuf,
    pub log: PathBuf,
    /// The replica id it logged.
    pub id: String,
}

impl Replica {
    /// Starts a replica on `db` with its own data directory under `root` (named `name`)
    /// and extra `serve` arguments; returns once it listens.
    pub fn start(root: &Path, name: &str, db: &str, args: &[String]) -> Replica {
        let data = root.join(name).join("data");
        let log = root.join(name).join("server.log");
        std::fs::create_dir_all(root.join(name)).unwrap();
        let logf = std::fs::File::create(&log).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_pulumi-auto-server"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(&data)
            .args(args)
            .env("PULUMI_AUTO_SERVER_DATABASE", db)
            .env("PULUMI_AUTO_SERVER_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("PULUMI_AUTO_SERVER_MASTER_KEY", MASTER_KEY)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(logf)
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line.trim().to_owned();
        assert!(
            url.starts_with("http://127.0.0.1:"),
            "replica {name}: first line of stdout {url:?}; log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        let mut r = Replica {
            child: Some(child),
            url,
            data,
            log,
            id: String::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while r.id.is_empty() {
            r.id = r
                .log()
                .lines()
                .find(|l| l.contains("replica started"))
                .and_then(|l| l.split("replica=").nth(1))
                .and_then(|s| s.split_whitespace().next())
                .unwrap_or_default()
                .trim_matches('"')
                .to_owned();
            assert!(
                Instant::now() < deadline,
                "no replica id logged:\n{}",
                r.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        r
    }

    /// Its log so far, without colour codes.
    pub fn log(&self) -> String {
        let raw = std::fs::read_to_string(&self.log).unwrap_or_default();
        let mut out = String::with_capacity(raw.len());
        let mut chars = raw.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                for c in chars.by_ref() {
                    if c == 'm' {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    /// SIGKILL (no graceful stop: its heartbeat simply ends).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// A call with the admin token: status and body.
    pub fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, String) {
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap();
        let mut r = client
            .request(method.parse().unwrap(), format!("{}{path}", self.url))
            .header("Authorization", format!("token {ADMIN_TOKEN}"));
        if let Some(b) = body {
            r = r
                .header("Content-Type", "application/json")
                .body(b.to_string());
        }
        match r.send() {
            Ok(resp) => {
                let st = resp.status().as_u16();
                (st, resp.text().unwrap_or_default())
            }
            Err(e) => (0, e.to_string()),
        }
    }

    /// A call that must answer `status`; its JSON.
    pub fn expect(&self, status: u16, method: &str, path: &str, body: Option<Value>) -> Value {
        let (st, text) = self.call(method, path, body);
        assert_eq!(st, status, "{method} {path}: {text}\nlog:\n{}", self.log());
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Waits until the programs are prepared (`GET /api/programs` is 200).
    pub fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(240);
        loop {
            let (st, body) = self.call("GET", "/api/programs", None);
            if st == 200 {
                return;
            }
            assert!(st == 503, "GET /api/programs: {st} {body}\n{}", self.log());
            assert!(
                Instant::now() < deadline,
                "the programs were not prepared: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The `serve` arguments of replicas serving fixture programs (private copies under
/// `root`, the same for every replica), with a short heartbeat timeout.
pub fn program_args(root: &Path, programs: &[&str], heartbeat_secs: u32) -> Vec<String> {
    let mut args = Vec::new();
    for p in programs {
        let dir = crate::custom_support::program_copy(root, p);
        args.push("--program".into());
        args.push(format!("{p}={}", dir.display()));
    }
    // The update leases keep their default (the CLI renews them only after minutes): a
    // dead replica's lease is freed by the survivors' repair, not by its expiry.
    args.extend(["--heartbeat-timeout".to_owned(), heartbeat_secs.to_string()]);
    args
}

/// Server-Sent Events, read as the custom API's tests read them (not every test binary
/// reads them).
#[allow(unused_imports)]
pub use crate::custom_support::{SseEvent, SseStream as Sse};

/// Waits up to `secs` for `f` to hold.
pub fn eventually(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The real CLI on a private copy of fixture program `program` (the shared test
/// virtualenv), logged in to the replica at `url` with the admin token.
pub fn cli_at(url: &str, program: &str) -> crate::common::Cli {
    let root = tempfile::Builder::new()
        .prefix("pulumi-auto-scale-cli-")
        .tempdir()
        .unwrap();
    let prog = crate::custom_support::program_copy(root.path(), program);
    let home = root.path().join("home");
    let files = root.path().join("out");
    std::fs::create_dir_all(&files).unwrap();
    let cli = crate::common::Cli {
        root,
        program: prog,
        home,
        files,
        url: url.to_owned(),
        token: ADMIN_TOKEN.to_owned(),
    };
    let out = cli.ok(&["login", url]);
    assert!(out.contains("Logged in to"), "{out}");
    cli
}

/// Configures stack `stack` of the `slow` program through `r`: `count` files under
/// `out/stack`, each create sleeping `delay` seconds; returns that directory.
pub fn put_slow(r: &Replica, out: &Path, stack: &str, count: u32, delay: u32) -> String {
    let dir = out.join(stack).display().to_string();
    r.expect(
        200,
        "PUT",
        &format!("/api/programs/slow/stacks/{stack}"),
        Some(json!({"config": {"dir": dir, "count": count, "delay": delay}})),
    );
    dir
}

/// The job `id` of the `slow` program's stack `stack`, read through `r`.
pub fn job(r: &Replica, stack: &str, id: &str) -> Value {
    r.expect(
        200,
        "GET",
        &format!("/api/programs/slow/stacks/{stack}/updates/{id}"),
        None,
    )
}

/// Polls job `id` through `r` until `done` holds for its status (at most `secs`).
pub fn wait_status(
    r: &Replica,
    stack: &str,
    id: &str,
    secs: u64,
    done: impl Fn(&str) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let v = job(r, stack, id);
        if done(v["status"].as_str().unwrap_or_default()) {
            return v;
        }
        assert!(Instant::now() < deadline, "job {id}: {v}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
