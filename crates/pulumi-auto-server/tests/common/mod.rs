//! What the server's tests share: a server of their own (the real binary, its own data
//! directory and port, a known admin token), and the real pinned `pulumi` CLI with its own
//! PULUMI_HOME, logged in to that server, on a private copy of a fixture program.
//!
//! A missing CLI or virtualenv fails the test (never skips): `scripts/test` installs both and
//! exports `PULUMI_AUTO_CLI` and `PULUMI_AUTO_TEST_VENV`.
//!
//! The server keeps its state in SQLite in its data directory, or in a PostgreSQL database
//! of the test's own: `on_both_databases! { #[test] fn name() { … } }` makes two tests of one
//! body, `name::sqlite` and `name::postgres`, and every [`Server`] the second starts gets a
//! fresh database on the server `PULUMI_AUTO_TEST_POSTGRES_URL` names (`scripts/test` sets it
//! from `scripts/start-postgres`), dropped with the server. Without that variable the
//! PostgreSQL variants fail: they never skip.
#![allow(dead_code)]

use std::cell::Cell;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The admin token every test server starts with.
pub const ADMIN_TOKEN: &str = "pul-test-admin-token-0123456789abcdef";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn pinned_version() -> String {
    std::fs::read_to_string(repo().join("PULUMI_VERSION"))
        .unwrap()
        .trim()
        .to_owned()
}

fn cache_dir() -> PathBuf {
    std::env::var_os("PULUMI_AUTO_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/pulumi-auto"))
}

/// The real pulumi CLI (PULUMI_AUTO_CLI, else the pinned one in the cache); a clear failure
/// when it is missing.
pub fn pulumi_bin() -> PathBuf {
    let p = std::env::var_os("PULUMI_AUTO_CLI")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache_dir().join(format!("pulumi-v{}/bin/pulumi", pinned_version())));
    assert!(
        p.exists(),
        "the real pulumi CLI is needed for this test ({} is missing); run the tests with \
         scripts/test, which installs it (CI={})",
        p.display(),
        std::env::var("CI").unwrap_or_default()
    );
    p
}

/// The shared virtualenv with the pinned pulumi SDK (scripts/prepare-python).
pub fn venv() -> PathBuf {
    let dir = std::env::var_os("PULUMI_AUTO_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache_dir().join(format!("python-venv-{}", pinned_version())));
    assert!(
        dir.join("bin/python").exists(),
        "the fixture virtualenv {} is missing: run the tests with scripts/test",
        dir.display()
    );
    dir
}

/// The database a test's servers keep their state in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    /// SQLite in the server's data directory (the embedded default).
    Sqlite,
    /// A PostgreSQL database of the server's own.
    Postgres,
}

thread_local! {
    static DB: Cell<Db> = const { Cell::new(Db::Sqlite) };
}

/// Makes the servers this thread starts from now on use `db` (the tests that
/// `on_both_databases!` makes call it first).
pub fn use_db(db: Db) {
    DB.with(|d| d.set(db));
}

/// The database new servers of this thread use.
pub fn current_db() -> Db {
    DB.with(|d| d.get())
}

/// Two tests of one body: `NAME::sqlite` and `NAME::postgres` (see the module's docs).
#[macro_export]
macro_rules! on_both_databases {
    ($(#[$attr:meta])* fn $name:ident() $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            $(#[$attr])*
            fn sqlite() {
                $crate::common::use_db($crate::common::Db::Sqlite);
                $body
            }

            $(#[$attr])*
            fn postgres() {
                $crate::common::use_db($crate::common::Db::Postgres);
                $body
            }
        }
    };
    ($(#[$attr:meta])* async fn $name:ident() $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            $(#[$attr])*
            async fn sqlite() {
                $crate::common::use_db($crate::common::Db::Sqlite);
                $body
            }

            $(#[$attr])*
            async fn postgres() {
                $crate::common::use_db($crate::common::Db::Postgres);
                $body
            }
        }
    };
}

/// The PostgreSQL server of the tests (`PULUMI_AUTO_TEST_POSTGRES_URL`); a clear failure
/// when there is none.
pub fn postgres_url() -> String {
    match std::env::var("PULUMI_AUTO_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "PULUMI_AUTO_TEST_POSTGRES_URL is not set: the PostgreSQL variants of the server's \
             tests need a real PostgreSQL server. Run them with scripts/test, which starts one \
             with scripts/start-postgres (CI={})",
            std::env::var("CI").unwrap_or_default()
        ),
    }
}

/// `url` (`postgres://user:password@host:port/db?params`) naming database `name` instead.
pub fn with_database(url: &str, name: &str) -> String {
    let (front, params) = match url.split_once('?') {
        Some((f, p)) => (f, Some(p)),
        None => (url, None),
    };
    let authority = front.rsplit_once('/').map_or(front, |(a, _)| a);
    match params {
        Some(p) => format!("{authority}/{name}?{p}"),
        None => format!("{authority}/{name}"),
    }
}

/// Runs SQL statements on a PostgreSQL database, on a thread and runtime of its own (so it
/// can be called from sync and async tests alike).
fn pg_execute(url: &str, statements: Vec<String>) -> Result<(), String> {
    let url = url.to_owned();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async {
            use sqlx::{Connection, Executor};
            let mut c = sqlx::PgConnection::connect(&url)
                .await
                .map_err(|e| e.to_string())?;
            for s in &statements {
                c.execute(s.as_str()).await.map_err(|e| e.to_string())?;
            }
            c.close().await.map_err(|e| e.to_string())
        })
    })
    .join()
    .map_err(|_| "the SQL thread panicked".to_owned())?
}

/// A PostgreSQL database of one test server, dropped with it.
pub struct PgDatabase {
    /// Its URL (with the password: never put it in argv or a message).
    pub url: String,
    name: String,
    server: String,
    /// Whether it is dropped with the server (a database this module made).
    owned: bool,
}

impl PgDatabase {
    /// A fresh, empty database on the test PostgreSQL server.
    pub fn create() -> PgDatabase {
        static N: AtomicUsize = AtomicUsize::new(0);
        let server = postgres_url();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let name = format!(
            "pa_server_test_{}_{nanos}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        if let Err(e) = pg_execute(&server, vec![format!("CREATE DATABASE {name}")]) {
            panic!("cannot create the test database {name}: {e}");
        }
        PgDatabase {
            url: with_database(&server, &name),
            name,
            server,
            owned: true,
        }
    }

    /// A database the test looks after itself (never dropped here).
    pub fn existing(url: &str) -> PgDatabase {
        PgDatabase {
            url: url.to_owned(),
            name: String::new(),
            server: String::new(),
            owned: false,
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if !self.owned {
            return;
        }
        let _ = pg_execute(
            &self.server,
            vec![format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            )],
        );
    }
}

/// A running `pulumi-auto-server serve` of this test.
pub struct Server {
    pub child: Option<Child>,
    pub url: String,
    pub addr: String,
    pub data: PathBuf,
    pub log: PathBuf,
    pub root: tempfile::TempDir,
    pub rust_log: String,
    pub args: Vec<String>,
    /// The PostgreSQL database, when the server keeps its state in one (else SQLite in
    /// `data`).
    pub pg: Option<PgDatabase>,
}

impl Server {
    /// A fresh server on a free port with the test admin token.
    pub fn start() -> Server {
        Self::start_with_log("info")
    }

    /// A fresh server logging at `rust_log` (to `self.log`).
    pub fn start_with_log(rust_log: &str) -> Server {
        Self::start_with(rust_log, &[])
    }

    /// A fresh server logging at `rust_log`, with extra `serve` arguments.
    pub fn start_with(rust_log: &str, args: &[&str]) -> Server {
        let pg = (current_db() == Db::Postgres).then(PgDatabase::create);
        Self::start_on(pg, rust_log, args)
    }

    /// A fresh server on the given PostgreSQL database (`None`: SQLite in its data
    /// directory), logging at `rust_log`, with extra `serve` arguments.
    pub fn start_on(pg: Option<PgDatabase>, rust_log: &str, args: &[&str]) -> Server {
        let root = tempfile::Builder::new()
            .prefix("pulumi-auto-server-test-")
            .tempdir()
            .unwrap();
        let data = root.path().join("data");
        let log = root.path().join("server.log");
        let mut s = Server {
            child: None,
            url: String::new(),
            addr: "127.0.0.1:0".into(),
            data,
            log,
            root,
            rust_log: rust_log.to_owned(),
            args: args.iter().map(|a| a.to_string()).collect(),
            pg,
        };
        s.spawn();
        s
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut cmd = self.tool();
        let mut child = cmd
            .args(["serve", "--listen", &self.addr, "--data"])
            .arg(&self.data)
            .args(&self.args)
            .env("PULUMI_AUTO_SERVER_ADMIN_TOKEN", ADMIN_TOKEN)
            .env_remove("PULUMI_AUTO_SERVER_MASTER_KEY")
            .env("RUST_LOG", &self.rust_log)
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
            "first line of stdout: {url:?}"
        );
        self.addr = url.trim_start_matches("http://").to_owned();
        self.url = url;
        self.child = Some(child);
        // Ready: /healthz answers 200.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = reqwest::blocking::get(format!("{}/healthz", self.url))
                && r.status() == 200
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not become healthy"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the server (SIGKILL) and starts it again on the same address and data.
    pub fn kill_and_restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        match &mut self.child {
            Some(c) => c.try_wait().unwrap().is_none(),
            None => false,
        }
    }

    /// The `pulumi-auto-server` command on this server's database (its URL travels in
    /// `PULUMI_AUTO_SERVER_DATABASE`, never in argv); give it `--data` for the directory.
    pub fn tool(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_pulumi-auto-server"));
        match &self.pg {
            Some(pg) => c.env("PULUMI_AUTO_SERVER_DATABASE", &pg.url),
            None => c.env_remove("PULUMI_AUTO_SERVER_DATABASE"),
        };
        c
    }

    /// The server's database URL for sqlx (its SQLite file, or its PostgreSQL database).
    pub fn db_url(&self) -> String {
        match &self.pg {
            Some(pg) => pg.url.clone(),
            None => format!(
                "sqlite://{}",
                self.data.join("pulumi-auto-server.db").display()
            ),
        }
    }

    /// Everything the database holds, as bytes to search: the SQLite files (database and
    /// write-ahead log), or every row of every PostgreSQL table as text.
    pub fn db_contents(&self) -> Vec<u8> {
        let Some(pg) = &self.pg else {
            let mut all = Vec::new();
            for f in std::fs::read_dir(&self.data).unwrap() {
                let f = f.unwrap();
                if f.file_name()
                    .to_string_lossy()
                    .starts_with("pulumi-auto-server.db")
                {
                    all.extend(std::fs::read(f.path()).unwrap());
                }
            }
            return all;
        };
        let url = pg.url.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                use sqlx::Connection;
                let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
                let tables: Vec<(String,)> = sqlx::query_as(
                    "SELECT table_name::text FROM information_schema.tables \
                     WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
                )
                .fetch_all(&mut c)
                .await
                .unwrap();
                assert!(!tables.is_empty(), "no tables in the server's database");
                let mut all = Vec::new();
                for (t,) in tables {
                    let rows: Vec<(String,)> =
                        sqlx::query_as(&format!(r#"SELECT t::text FROM "{t}" AS t"#))
                            .fetch_all(&mut c)
                            .await
                            .unwrap();
                    for (r,) in rows {
                        all.extend(r.into_bytes());
                        all.push(b'\n');
                    }
                }
                all
            })
        })
        .join()
        .unwrap()
    }

    /// Runs one SQL statement on the server's database, `?` placeholders bound to `binds`
    /// in order (written `$1`, `$2`… on PostgreSQL).
    pub fn sql(&self, sql: &str, binds: &[&str]) {
        let mut text = String::new();
        let mut n = 0;
        for ch in sql.chars() {
            if ch == '?' && self.pg.is_some() {
                n += 1;
                text.push_str(&format!("${n}"));
            } else {
                text.push(ch);
            }
        }
        let url = self.db_url();
        let binds: Vec<String> = binds.iter().map(|b| b.to_string()).collect();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                use sqlx::Connection;
                sqlx::any::install_default_drivers();
                let mut c = sqlx::AnyConnection::connect(&url).await.unwrap();
                let mut q = sqlx::query(&text);
                for b in &binds {
                    q = q.bind(b.as_str());
                }
                q.execute(&mut c)
                    .await
                    .unwrap_or_else(|e| panic!("{text}: {e}"));
                c.close().await.unwrap();
            })
        })
        .join()
        .unwrap()
    }

    /// The first column of the first row of a query on the server's database, as text.
    pub fn sql_text(&self, sql: &str) -> String {
        let url = self.db_url();
        let sql = sql.to_owned();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                use sqlx::{Connection, Row};
                sqlx::any::install_default_drivers();
                let mut c = sqlx::AnyConnection::connect(&url).await.unwrap();
                let row = sqlx::query(&sql).fetch_one(&mut c).await.unwrap();
                let v: String = row.try_get(0).unwrap();
                c.close().await.unwrap();
                v
            })
        })
        .join()
        .unwrap()
    }

    /// A blocking HTTP client.
    pub fn http(&self) -> reqwest::blocking::Client {
        reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap()
    }

    /// GET with the admin token; the JSON answer.
    pub fn get_json(&self, path: &str) -> serde_json::Value {
        let r = self
            .http()
            .get(format!("{}{path}", self.url))
            .header("Authorization", format!("token {ADMIN_TOKEN}"))
            .send()
            .unwrap();
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        let s = name.to_string_lossy();
        if s == "venv" || s == "__pycache__" || s.starts_with("Pulumi.") && s != "Pulumi.yaml" {
            continue;
        }
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to.join(&name));
        } else {
            std::fs::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
}

/// The real CLI on a private copy of a fixture program, logged in to a server.
pub struct Cli {
    pub root: tempfile::TempDir,
    pub program: PathBuf,
    pub home: PathBuf,
    /// A directory the program's resources write files into.
    pub files: PathBuf,
    pub url: String,
    pub token: String,
}

impl Cli {
    /// A copy of `fixtures/programs/<program>` using the shared venv, logged in to `server`
    /// with the admin token (`pulumi login URL`).
    pub fn new(server: &Server, program: &str) -> Cli {
        Self::with_token(server, program, ADMIN_TOKEN)
    }

    /// Like `new`, with another token.
    pub fn with_token(server: &Server, program: &str, token: &str) -> Cli {
        let root = tempfile::Builder::new()
            .prefix("pulumi-auto-server-cli-")
            .tempdir()
            .unwrap();
        let prog = root.path().join(program);
        copy_dir(&repo().join("fixtures/programs").join(program), &prog);
        let yaml = prog.join("Pulumi.yaml");
        let text = std::fs::read_to_string(&yaml).unwrap();
        std::fs::write(
            &yaml,
            text.replace(
                "virtualenv: venv",
                &format!("virtualenv: {}", venv().display()),
            ),
        )
        .unwrap();
        let home = root.path().join("home");
        let files = root.path().join("out");
        std::fs::create_dir_all(&files).unwrap();
        let cli = Cli {
            root,
            program: prog,
            home,
            files,
            url: server.url.clone(),
            token: token.to_owned(),
        };
        let out = cli.ok(&["login", &server.url]);
        assert!(out.contains("Logged in to"), "{out}");
        cli
    }

    /// A `pulumi` command in the program's directory, with this CLI's environment.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(pulumi_bin());
        c.args(args)
            .current_dir(&self.program)
            .env("PULUMI_HOME", &self.home)
            .env("PULUMI_ACCESS_TOKEN", &self.token)
            .env("PULUMI_SKIP_UPDATE_CHECK", "true")
            .env("PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION", "true")
            .env_remove("PULUMI_BACKEND_URL")
            .env_remove("PULUMI_CONFIG_PASSPHRASE")
            .env_remove("PULUMI_CONFIG_PASSPHRASE_FILE")
            .stdin(Stdio::null());
        c
    }

    /// Runs a command to its end.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Runs a command that must succeed; its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "pulumi {args:?} failed:\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs a command that must fail; its stdout and stderr together.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !out.status.success(),
            "pulumi {args:?} should have failed:\n{text}"
        );
        text
    }

    /// The names of the files the program's resources wrote, sorted.
    pub fn file_names(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.files)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    /// `stack init NAME` and the `dir` config pointing at `self.files`.
    pub fn init_stack(&self, name: &str) {
        self.ok(&["stack", "init", name]);
        let dir = self.files.display().to_string();
        self.ok(&["config", "set", "--stack", name, "dir", &dir]);
    }
}

/// Direct HTTP calls with a token (for tests that do not need the CLI).
pub struct Api<'a> {
    pub server: &'a Server,
    pub client: reqwest::blocking::Client,
}

impl<'a> Api<'a> {
    pub fn new(server: &'a Server) -> Api<'a> {
        Api {
            server,
            client: server.http(),
        }
    }

    /// A request with `Authorization: <auth>` (none when empty) and a JSON body.
    pub fn call(&self, method: &str, path: &str, auth: &str, body: Option<&str>) -> (u16, String) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut r = self.client.request(m, format!("{}{path}", self.server.url));
        if !auth.is_empty() {
            r = r.header("Authorization", auth);
        }
        if let Some(b) = body {
            r = r
                .header("Content-Type", "application/json")
                .body(b.to_owned());
        }
        let resp = r.send().unwrap();
        let status = resp.status().as_u16();
        (status, resp.text().unwrap_or_default())
    }

    /// Like `call` with the admin token; asserts a 2xx and returns the body.
    pub fn admin(&self, method: &str, path: &str, body: Option<&str>) -> String {
        let (s, b) = self.call(method, path, &format!("token {ADMIN_TOKEN}"), body);
        assert!((200..300).contains(&s), "{method} {path}: {s} {b}");
        b
    }

    /// Creates stack `organization/proj/<name>`.
    pub fn create_stack(&self, name: &str) {
        self.admin(
            "POST",
            "/api/stacks/organization/proj",
            Some(&format!(
                r#"{{"stackName":"{name}","tags":{{"pulumi:project":"proj"}}}}"#
            )),
        );
    }

    /// Creates and starts an update of `organization/proj/<stack>`; (update id, lease token).
    pub fn start_update(&self, stack: &str) -> (String, String) {
        let b = self.admin(
            "POST",
            &format!("/api/stacks/organization/proj/{stack}/update"),
            Some(r#"{"name":"proj","runtime":"python","main":"","description":"","options":{},"config":{},"metadata":{"message":"m","environment":{}}}"#),
        );
        let v: serde_json::Value = serde_json::from_str(&b).unwrap();
        let id = v["updateID"].as_str().unwrap().to_owned();
        let b = self.admin(
            "POST",
            &format!("/api/stacks/organization/proj/{stack}/update/{id}"),
            Some(r#"{"tags":{"pulumi:project":"proj"}}"#),
        );
        let v: serde_json::Value = serde_json::from_str(&b).unwrap();
        (id, v["token"].as_str().unwrap().to_owned())
    }
}

/// A checkpoint body with `n` fake resources.
pub fn checkpoint_body(n: usize) -> String {
    let resources: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            serde_json::json!({
                "urn": format!("urn:pulumi:s::proj::test:index:Thing::r{i}"),
                "custom": true, "type": "test:index:Thing", "id": format!("id{i}"),
            })
        })
        .collect();
    serde_json::json!({
        "version": 3,
        "deployment": {
            "manifest": {"time": "2024-01-01T00:00:00Z", "magic": "", "version": ""},
            "resources": resources,
        }
    })
    .to_string()
}
