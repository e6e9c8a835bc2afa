//! PostgreSQL restarted under load: a server on a PostgreSQL cluster of this test's own (the
//! shared test server cannot be stopped without breaking the other tests) takes CLI updates,
//! REST writes and reads while the cluster is stopped for a while and started again. During
//! the outage every request is answered 503 with a `{code, message}` body within a bound
//! (never a 500, never a hang, never a panic); afterwards the server serves again without a
//! restart of its own, and every write it acknowledged, before and after, is there.
//!
//! The cluster is made with the PostgreSQL server binaries `scripts/start-postgres` uses
//! ($PG_BINDIR, else the newest /usr/lib/postgresql/*/bin); as root it runs as the
//! `postgres` user, as PostgreSQL requires. Missing binaries fail the test: it never skips.

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{ADMIN_TOKEN, Cli, PgDatabase, Server};

/// How long PostgreSQL stays down.
const OUTAGE: Duration = Duration::from_secs(12);
/// The longest any request may take: the server's wait for a connection (5 s) and slack.
const REQUEST_BOUND: Duration = Duration::from_secs(10);

fn pg_bindir() -> PathBuf {
    if let Some(d) = std::env::var_os("PG_BINDIR") {
        return PathBuf::from(d);
    }
    let mut best: Option<(u32, PathBuf)> = None;
    if let Ok(rd) = std::fs::read_dir("/usr/lib/postgresql") {
        for e in rd.flatten() {
            let bin = e.path().join("bin");
            let Ok(v) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            if bin.join("initdb").exists() && best.as_ref().is_none_or(|(b, _)| v > *b) {
                best = Some((v, bin));
            }
        }
    }
    match best {
        Some((_, b)) => b,
        None => panic!(
            "no PostgreSQL server binaries (initdb, pg_ctl) in /usr/lib/postgresql/*/bin and \
             no PG_BINDIR: install Debian's postgresql package (scripts/start-postgres does \
             when CI=true)"
        ),
    }
}

fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// A PostgreSQL cluster of this test's own on a free localhost port (trust auth: it is
/// private to the test and gone with it), stopped and removed when dropped.
struct Cluster {
    _dir: tempfile::TempDir,
    bindir: PathBuf,
    data: PathBuf,
    sock: PathBuf,
    log: PathBuf,
    port: u16,
    root: bool,
}

impl Cluster {
    fn new() -> Cluster {
        let bindir = pg_bindir();
        let root = is_root();
        let dir = tempfile::Builder::new()
            .prefix("pulumi-auto-pg-outage-")
            .tempdir()
            .unwrap();
        if root {
            let st = Command::new("chown")
                .arg("postgres:")
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(st.success(), "chown postgres {}", dir.path().display());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let c = Cluster {
            data: dir.path().join("data"),
            sock: dir.path().to_path_buf(),
            log: dir.path().join("server.log"),
            _dir: dir,
            bindir,
            port,
            root,
        };
        let out = c
            .pg("initdb")
            .arg("-D")
            .arg(&c.data)
            .args([
                "--no-sync",
                "--auth=trust",
                "-U",
                "pulumi",
                "-E",
                "UTF8",
                "--no-locale",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        c.start();
        c
    }

    /// A server binary, run as the `postgres` user when this is root.
    fn pg(&self, name: &str) -> Command {
        let bin = self.bindir.join(name);
        let mut c = if self.root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(bin);
            c
        } else {
            Command::new(bin)
        };
        c.current_dir("/");
        c
    }

    fn url(&self) -> String {
        format!(
            "postgres://pulumi@127.0.0.1:{}/postgres?sslmode=disable",
            self.port
        )
    }

    fn start(&self) {
        let st = self
            .pg("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(&self.log)
            .args(["-w", "-t", "60", "-o"])
            .arg(format!(
                "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off",
                self.port,
                self.sock.display()
            ))
            .arg("start")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(
            st.success(),
            "pg_ctl start: {}",
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }

    /// `mode`: fast (sessions are terminated, as on an administrator's restart) or immediate.
    fn stop(&self, mode: &str) -> bool {
        self.pg("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", mode, "-w", "stop"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop("immediate");
    }
}

/// One answered request.
#[derive(Debug, Clone)]
struct Answer {
    at: Instant,
    took: Duration,
    status: u16,
    body: String,
}

fn request(
    client: &reqwest::blocking::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<String>,
) -> Answer {
    let at = Instant::now();
    let mut r = client
        .request(method, url)
        .header("Authorization", format!("token {ADMIN_TOKEN}"));
    if let Some(b) = body {
        r = r.header("Content-Type", "application/json").body(b);
    }
    let (status, body) = match r.send() {
        Ok(resp) => {
            let s = resp.status().as_u16();
            (s, resp.text().unwrap_or_default())
        }
        // No answer at all (a timeout or a dropped connection): status 0, reported below.
        Err(e) => (0, format!("no answer: {e}")),
    };
    Answer {
        at,
        took: at.elapsed(),
        status,
        body,
    }
}

fn history_has(cli: &Cli, marker: &str) -> bool {
    let out = cli.ok(&["stack", "history", "--json"]);
    let entries: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let quoted = format!("\"{marker}\"");
    entries.iter().any(|e| {
        e["result"] == "succeeded"
            && e["config"].to_string().contains(&quoted)
            && e["kind"] == "update"
    })
}

fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_restarted_postgres_means_503s_meanwhile_and_nothing_acknowledged_lost() {
    let cluster = Cluster::new();
    let mut server = Server::start_on(
        Some(PgDatabase::existing(&cluster.url())),
        "info",
        &["--lease-secs", "10"],
    );
    let cli = Cli::new(&server, "files");
    cli.init_stack("dev");
    cli.ok(&["up", "--yes", "--skip-preview"]);

    let stop = Arc::new(AtomicBool::new(false));
    let reads: Arc<Mutex<Vec<Answer>>> = Arc::default();
    let writes: Arc<Mutex<Vec<(String, Answer)>>> = Arc::default();
    // (marker, when the up ended, whether it succeeded)
    let ups: Arc<Mutex<Vec<(String, Instant, bool)>>> = Arc::default();
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();

    let (down, up) = std::thread::scope(|scope| {
        // REST reads of the stack, back to back.
        for _ in 0..2 {
            let (stop, reads, client, url) = (&stop, &reads, &client, &server.url);
            scope.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let a = request(
                        client,
                        reqwest::Method::GET,
                        &format!("{url}/api/stacks/organization/files/dev"),
                        None,
                    );
                    reads.lock().unwrap().push(a);
                    std::thread::sleep(Duration::from_millis(20));
                }
            });
        }
        // REST writes: a new stack every 100 ms.
        {
            let (stop, writes, client, url) = (&stop, &writes, &client, &server.url);
            scope.spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let name = format!("w{n}");
                    let a = request(
                        client,
                        reqwest::Method::POST,
                        &format!("{url}/api/stacks/organization/proj"),
                        Some(format!(
                            r#"{{"stackName":"{name}","tags":{{"pulumi:project":"proj"}}}}"#
                        )),
                    );
                    writes.lock().unwrap().push((name, a));
                    std::thread::sleep(Duration::from_millis(100));
                }
            });
        }
        // CLI updates, each with a new greeting.
        {
            let (stop, ups, cli) = (&stop, &ups, &cli);
            scope.spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let marker = format!("greeting-{n}");
                    cli.ok(&["config", "set", "greeting", &marker]);
                    let out = cli.run(&["up", "--yes", "--skip-preview"]);
                    ups.lock()
                        .unwrap()
                        .push((marker, Instant::now(), out.status.success()));
                    if !out.status.success() {
                        std::thread::sleep(Duration::from_secs(1));
                    }
                }
            });
        }

        // Load before the outage: at least one more acknowledged update.
        let acked = |after: Instant| {
            ups.lock()
                .unwrap()
                .iter()
                .any(|(_, t, ok)| *ok && *t > after)
        };
        let t0 = Instant::now();
        wait_for(
            "an update before the outage",
            Duration::from_secs(180),
            || acked(t0),
        );
        let down = Instant::now();
        assert!(cluster.stop("fast"), "pg_ctl stop");
        std::thread::sleep(OUTAGE);
        cluster.start();
        let up = Instant::now();
        // Recovery, with no restart of the server: reads answer 200 again, and updates and
        // REST writes are acknowledged again.
        wait_for("a read after the restart", Duration::from_secs(30), || {
            reads
                .lock()
                .unwrap()
                .iter()
                .any(|a| a.at > up && a.status == 200)
        });
        wait_for(
            "a REST write after the restart",
            Duration::from_secs(30),
            || {
                writes
                    .lock()
                    .unwrap()
                    .iter()
                    .any(|(_, a)| a.at > up && a.status == 200)
            },
        );
        wait_for(
            "an update after the restart",
            Duration::from_secs(180),
            || acked(up),
        );
        stop.store(true, Ordering::Relaxed);
        (down, up)
    });

    // Whatever was asked meanwhile (the load's threads have ended).
    {
        let reads = reads.lock().unwrap();
        let writes = writes.lock().unwrap();
        let all: Vec<&Answer> = reads.iter().chain(writes.iter().map(|(_, a)| a)).collect();
        for a in &all {
            assert!(
                a.status == 200 || a.status == 503,
                "a request {:?} after the outage began was answered {} {}",
                a.at.checked_duration_since(down),
                a.status,
                a.body
            );
            assert!(
                a.took <= REQUEST_BOUND,
                "a request took {:?} (answered {} {})",
                a.took,
                a.status,
                a.body
            );
            if a.status == 503 {
                let v: serde_json::Value = serde_json::from_str(&a.body)
                    .unwrap_or_else(|e| panic!("a 503 without a JSON body ({e}): {}", a.body));
                assert_eq!(v["code"], 503, "{v}");
                let msg = v["message"].as_str().unwrap_or_default();
                assert!(msg.contains("database"), "{v}");
                // Only while the database was down (or just after, while the pool reconnects).
                assert!(
                    a.at + a.took > down && a.at < up + Duration::from_secs(10),
                    "a 503 outside the outage: {:?} after it began",
                    a.at.checked_duration_since(down)
                );
            }
        }
        let during = |a: &&Answer| a.at > down + Duration::from_secs(1) && a.at < up;
        assert!(
            reads.iter().filter(during).any(|a| a.status == 503),
            "no read was answered 503 while the database was down"
        );
        assert!(
            writes
                .iter()
                .map(|(_, a)| a)
                .filter(during)
                .any(|a| a.status == 503),
            "no write was answered 503 while the database was down"
        );
        eprintln!(
            "{} reads, {} writes; 503s: {} reads, {} writes; slowest {:?}",
            reads.len(),
            writes.len(),
            reads.iter().filter(|a| a.status == 503).count(),
            writes.iter().filter(|(_, a)| a.status == 503).count(),
            all.iter().map(|a| a.took).max()
        );
    }

    // The server never went down or panicked.
    assert!(server.alive(), "the server exited");
    let log = std::fs::read_to_string(&server.log).unwrap();
    assert!(!log.contains("panicked"), "{log}");

    // Every acknowledged write is there: the REST stacks ...
    let api = common::Api::new(&server);
    for (name, a) in writes.lock().unwrap().iter() {
        if a.status == 200 {
            let (s, b) = api.call(
                "GET",
                &format!("/api/stacks/organization/proj/{name}"),
                &format!("token {ADMIN_TOKEN}"),
                None,
            );
            assert_eq!(s, 200, "acknowledged stack {name} is gone: {b}");
        }
    }
    // ... and every update the CLI saw succeed, with the newest one's state.
    let ups = ups.lock().unwrap();
    let mut last = None;
    for (i, (marker, _, ok)) in ups.iter().enumerate() {
        if *ok {
            assert!(
                history_has(&cli, marker),
                "the acknowledged update {marker} is not in the history"
            );
            last = Some(i);
        }
    }
    // The state is the newest acknowledged update's, or that of a later one which failed
    // after it wrote (never an older one's).
    let export = cli.ok(&["stack", "export"]);
    let last = last.unwrap();
    assert!(
        ups[last..]
            .iter()
            .any(|(m, _, _)| export.contains(&format!("\"{m}\""))),
        "the state is older than the last acknowledged update ({})",
        ups[last].0
    );
    eprintln!(
        "{} updates, {} acknowledged",
        ups.len(),
        ups.iter().filter(|u| u.2).count()
    );
    server.kill();
}
