//! What the custom API's tests share: a server serving fixture programs (private copies
//! whose virtualenv is the shared test one), and JSON calls with the admin token.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::{ADMIN_TOKEN, Server, copy_dir, repo, venv};

pub use serde_json::{Value, json};

/// A server with programs, and where their copies and output files live.
pub struct Served {
    pub server: Server,
    pub root: tempfile::TempDir,
    /// A directory for the programs' files.
    pub out: PathBuf,
}

/// A private copy of `fixtures/programs/<name>` using the shared test virtualenv (which
/// the server then uses as it is).
pub fn program_copy(root: &Path, name: &str) -> PathBuf {
    let dir = root.join("programs").join(name);
    copy_dir(&repo().join("fixtures/programs").join(name), &dir);
    let yaml = dir.join("Pulumi.yaml");
    let text = std::fs::read_to_string(&yaml).unwrap();
    std::fs::write(
        &yaml,
        text.replace(
            "virtualenv: venv",
            &format!("virtualenv: {}", venv().display()),
        ),
    )
    .unwrap();
    dir
}

impl Served {
    /// A server serving the named fixture programs, once they are prepared.
    pub fn start(programs: &[&str]) -> Served {
        Self::start_with(programs, &[])
    }

    /// … with extra `serve` arguments.
    pub fn start_with(programs: &[&str], extra: &[&str]) -> Served {
        let root = tempfile::Builder::new()
            .prefix("pulumi-auto-custom-")
            .tempdir()
            .unwrap();
        let mut args: Vec<String> = Vec::new();
        for p in programs {
            // `NAME+install`: the fixture as it is (`virtualenv: venv`), so the server
            // makes the virtualenv and installs the requirements itself.
            let name = p.trim_end_matches("+install");
            let dir = match p.ends_with("+install") {
                true => {
                    let dir = root.path().join("programs").join(name);
                    copy_dir(&repo().join("fixtures/programs").join(name), &dir);
                    dir
                }
                false => program_copy(root.path(), name),
            };
            args.push("--program".into());
            args.push(format!("{name}={}", dir.display()));
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let server = Server::start_with("info", &refs);
        let out = root.path().join("out");
        std::fs::create_dir_all(&out).unwrap();
        let s = Served { server, root, out };
        s.wait_ready();
        s
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

    /// The server's log so far, without its colour codes.
    pub fn log(&self) -> String {
        let raw = std::fs::read_to_string(&self.server.log).unwrap_or_default();
        let mut out = String::with_capacity(raw.len());
        let mut chars = raw.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                // ESC [ … m
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

    /// A call with the admin token: status, body.
    pub fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, String) {
        self.call_as(&format!("token {ADMIN_TOKEN}"), method, path, body)
    }

    /// A call with `Authorization: <auth>`: status, body.
    pub fn call_as(
        &self,
        auth: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, String) {
        let r = self.send(auth, method, path, body);
        let st = r.status().as_u16();
        (st, r.text().unwrap_or_default())
    }

    /// The raw response of a call.
    pub fn send(
        &self,
        auth: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::blocking::Response {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(300))
            .build()
            .unwrap();
        let mut r = client
            .request(m, format!("{}{path}", self.server.url))
            .header("Authorization", auth);
        if let Some(b) = body {
            r = r
                .header("Content-Type", "application/json")
                .body(b.to_string());
        }
        r.send().unwrap()
    }

    /// A call that must answer `status`; its JSON.
    pub fn expect(&self, status: u16, method: &str, path: &str, body: Option<Value>) -> Value {
        let (st, b) = self.call(method, path, body);
        assert_eq!(st, status, "{method} {path}: {st} {b}");
        serde_json::from_str(&b).unwrap_or(Value::Null)
    }

    /// Creates (or selects) a stack with config.
    pub fn put_stack(&self, program: &str, stack: &str, config: Value) -> Value {
        self.expect(
            200,
            "PUT",
            &format!("/api/programs/{program}/stacks/{stack}"),
            Some(json!({ "config": config })),
        )
    }

    /// Starts an operation; its update id.
    pub fn start_op(&self, program: &str, stack: &str, op: &str) -> String {
        let v = self.expect(
            202,
            "POST",
            &format!("/api/programs/{program}/stacks/{stack}/{op}"),
            Some(json!({})),
        );
        v["updateId"].as_str().unwrap().to_owned()
    }

    /// Waits for an update to end; its JSON.
    pub fn wait_update(&self, program: &str, stack: &str, id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let v = self.expect(
                200,
                "GET",
                &format!("/api/programs/{program}/stacks/{stack}/updates/{id}"),
                None,
            );
            let st = v["status"].as_str().unwrap_or("").to_owned();
            if !matches!(st.as_str(), "queued" | "running") {
                return v;
            }
            assert!(Instant::now() < deadline, "update {id} never ended");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The stack names of a program.
    pub fn stack_names(&self, program: &str) -> Vec<String> {
        let v = self.expect(200, "GET", &format!("/api/programs/{program}/stacks"), None);
        v["stacks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_owned())
            .collect()
    }

    /// The data directory's path of a program's files.
    pub fn program_data(&self, program: &str) -> PathBuf {
        self.server.data.join("programs").join(program)
    }
}

/// The names in a directory, sorted (none when it does not exist).
pub fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Waits up to `secs` for `f` to hold.
pub fn eventually(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// One Server-Sent Event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SseEvent {
    pub id: Option<i64>,
    pub event: String,
    pub data: String,
}

/// An open SSE stream.
pub struct SseStream {
    lines: std::io::Lines<std::io::BufReader<reqwest::blocking::Response>>,
}

impl SseStream {
    /// Opens `path` with the admin token, resuming after `last` when given.
    pub fn open(s: &Served, path: &str, last: Option<i64>) -> SseStream {
        Self::open_at(&s.server.url, path, last)
    }

    /// … on the server at `base` (a replica of several).
    pub fn open_at(base: &str, path: &str, last: Option<i64>) -> SseStream {
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(300))
            .build()
            .unwrap();
        let mut r = client
            .get(format!("{base}{path}"))
            .header("Authorization", format!("token {ADMIN_TOKEN}"))
            .header("Accept", "text/event-stream");
        if let Some(n) = last {
            r = r.header("Last-Event-ID", n.to_string());
        }
        let resp = r.send().unwrap();
        assert_eq!(resp.status().as_u16(), 200, "SSE {path}");
        let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(ct.starts_with("text/event-stream"), "{ct}");
        use std::io::BufRead;
        SseStream {
            lines: std::io::BufReader::new(resp).lines(),
        }
    }

    /// The next event, `None` at the end of the stream.
    pub fn next_event(&mut self) -> Option<SseEvent> {
        let mut ev = SseEvent::default();
        let mut any = false;
        for line in self.lines.by_ref() {
            let line = line.ok()?;
            if line.is_empty() {
                if any {
                    return Some(ev);
                }
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            any = true;
            let (field, value) = line.split_once(':').unwrap_or((&line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "id" => ev.id = value.parse().ok(),
                "event" => ev.event = value.to_owned(),
                "data" => {
                    if !ev.data.is_empty() {
                        ev.data.push('\n');
                    }
                    ev.data.push_str(value);
                }
                _ => {}
            }
        }
        None
    }

    /// Every event up to the end of the stream.
    pub fn rest(&mut self) -> Vec<SseEvent> {
        let mut out = Vec::new();
        while let Some(e) = self.next_event() {
            out.push(e);
        }
        out
    }
}
