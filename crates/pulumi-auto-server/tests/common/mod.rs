//! What the server's tests share: a server of their own (the real binary, its own data
//! directory and port, a known admin token), and the real pinned `pulumi` CLI with its own
//! PULUMI_HOME, logged in to that server, on a private copy of a fixture program.
//!
//! A missing CLI or virtualenv fails the test (never skips): `scripts/test` installs both and
//! exports `PULUMI_AUTO_CLI` and `PULUMI_AUTO_TEST_VENV`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
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
        let mut child = Command::new(env!("CARGO_BIN_EXE_pulumi-auto-server"))
            .args(["serve", "--listen", &self.addr, "--data"])
            .arg(&self.data)
            .args(&self.args)
            .env("PULUMI_AUTO_SERVER_ADMIN_TOKEN", ADMIN_TOKEN)
            .env_remove("PULUMI_AUTO_SERVER_MASTER_KEY")
            .env_remove("PULUMI_AUTO_SERVER_DATABASE")
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

    /// The path of the SQLite database.
    pub fn db(&self) -> PathBuf {
        self.data.join("pulumi-auto-server.db")
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
