//! `examples/pg_migration.rs` on a real PostgreSQL (`PULUMI_AUTO_TEST_POSTGRES_URL`, which
//! `scripts/test` sets from `scripts/start-postgres`), in a database of its own: the example
//! creates table `people` and migrates it into `cities`, verifying both; a destroy
//! approved for another stack is refused with both tables kept; the approved destroy drops
//! them and removes the stack. The password shows in no command line of the CLI, no
//! output of the example, and not in plaintext in the state or the stack's settings.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{CountingCli, repo, venv};
use sqlx::Connection;
use sqlx::postgres::PgConnection;

fn server_url() -> String {
    match std::env::var("PULUMI_AUTO_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "PULUMI_AUTO_TEST_POSTGRES_URL is not set: this test needs a real PostgreSQL \
             server. Run it with scripts/test, which starts one with scripts/start-postgres"
        ),
    }
}

fn password_of(url: &str) -> String {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or_default();
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let p = authority
        .rsplit_once('@')
        .and_then(|(u, _)| u.split_once(':'))
        .map(|(_, p)| p.to_owned())
        .unwrap_or_default();
    assert!(
        p.len() >= 8,
        "the test URL must carry a password of 8 or more characters"
    );
    p
}

/// `url` naming database `db` instead.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let (scheme, rest) = base.split_once("://").expect("a URL");
    let authority = rest.split('/').next().unwrap_or(rest);
    format!("{scheme}://{authority}/{db}{query}")
}

/// A database of this test's own, dropped when it ends.
struct OwnDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl OwnDatabase {
    async fn create(admin_url: &str) -> OwnDatabase {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let name = format!("pulumi_auto_pgmig_{}_{nanos}", std::process::id());
        let mut c = PgConnection::connect(admin_url).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut c)
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE (the test role needs CREATEDB): {e}"));
        OwnDatabase {
            admin_url: admin_url.to_owned(),
            url: with_database(admin_url, &name),
            name,
        }
    }

    async fn tables(&self) -> Vec<String> {
        let mut c = PgConnection::connect(&self.url).await.unwrap();
        sqlx::query_scalar::<_, String>(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = 'public' ORDER BY 1",
        )
        .fetch_all(&mut c)
        .await
        .unwrap()
    }
}

impl Drop for OwnDatabase {
    /// Drops the database (on a thread with a runtime of its own: this may run inside the
    /// test's runtime, or while a failed test unwinds).
    fn drop(&mut self) {
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(mut c) = PgConnection::connect(&url).await {
                    let q = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = sqlx::query(&q).execute(&mut c).await;
                }
            });
        })
        .join();
    }
}

fn example_bin() -> PathBuf {
    // target/debug/deps/<test> → target/debug/examples/pg_migration (built by cargo test).
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("examples/pg_migration");
    assert!(bin.exists(), "{} is not built", bin.display());
    bin
}

/// A copy of `examples/pg-migration` on the shared test virtualenv (which has pg8000).
fn program_copy(root: &Path) -> PathBuf {
    let src = repo().join("examples/pg-migration");
    let dir = root.join("pg-migration");
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["Pulumi.yaml", "__main__.py", "requirements.txt"] {
        std::fs::copy(src.join(f), dir.join(f)).unwrap();
    }
    let yaml = dir.join("Pulumi.yaml");
    let text = std::fs::read_to_string(&yaml).unwrap().replace(
        "virtualenv: venv",
        &format!("virtualenv: {}", venv().display()),
    );
    std::fs::write(&yaml, text).unwrap();
    dir
}

fn all_files_text(dir: &Path) -> String {
    let mut out = String::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out += &all_files_text(&p);
        } else if let Ok(b) = std::fs::read(&p) {
            out += &String::from_utf8_lossy(&b);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn the_migration_example_migrates_verifies_and_destroys_only_when_approved() {
    let admin_url = server_url();
    let password = password_of(&admin_url);
    let db = OwnDatabase::create(&admin_url).await;
    let root = tempfile::Builder::new()
        .prefix("pulumi-auto-pgmig-")
        .tempdir()
        .unwrap();
    let program = program_copy(root.path());
    let state = root.path().join("state");
    let home = root.path().join("home");
    let cli = CountingCli::new(root.path()).await;
    let run = |extra: &[&str]| {
        let mut cmd = Command::new(example_bin());
        cmd.arg("--work-dir")
            .arg(&program)
            .arg("--state-dir")
            .arg(&state)
            .arg("--skip-install")
            .args(extra)
            .env("PG_MIGRATION_URL", &db.url)
            .env("PULUMI_AUTO_CLI", &cli.path)
            .env("PULUMI_HOME", &home)
            .env("PULUMI_CONFIG_PASSPHRASE", "pg-migration-test")
            .env("RUST_LOG", "info")
            .env_remove("PULUMI_BACKEND_URL");
        let argv: Vec<_> = std::iter::once(cmd.get_program())
            .chain(cmd.get_args())
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert!(
            !argv.iter().any(|a| a.contains(&password)),
            "the example's argv: {argv:?}"
        );
        let out = cmd.output().unwrap();
        let log = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(!log.contains(&password), "the password was logged: {log}");
        (out.status.success(), log)
    };

    // Up, verify, migrate, verify; then a destroy approved for another stack: refused.
    let (ok, log) = run(&["--destroy=prod"]);
    assert!(!ok, "a destroy approved for prod must fail on dev: {log}");
    for want in [
        "create table people: succeeded (create 2)",
        "verified: table people has 3 rows: 1 Ada (London), 2 Grace (New York), 3 Alan (London)",
        "migrate: create table cities from people: succeeded (create 1, same 2)",
        "verified: table cities (migrated from people) has 2 rows: London 2, New York 1",
        "output citiesRows = 2",
        "destroy refused:",
        "nothing was destroyed: tables people and cities still there: true",
    ] {
        assert!(log.contains(want), "missing {want:?} in:\n{log}");
    }
    assert_eq!(db.tables().await, ["cities", "people"]);

    // Again with the approval for the stack itself: nothing to change, then destroyed.
    let (ok, log) = run(&["--destroy=dev"]);
    assert!(ok, "{log}");
    for want in [
        "up (migrated already): succeeded (same 3)",
        "verified: table people has 3 rows",
        "verified: table cities (migrated from people) has 2 rows: London 2, New York 1",
        "the destroy would delete urn:pulumi:dev::pg-migration::pulumi-python:dynamic:Resource::cities (cities)",
        "destroy: succeeded (delete 3); stack dev removed",
        "table people exists: false",
        "table cities exists: false",
    ] {
        assert!(log.contains(want), "missing {want:?} in:\n{log}");
    }
    assert!(db.tables().await.is_empty());

    // The CLI never saw the password on a command line; the state and the settings hold it
    // only encrypted.
    let lines = cli.lines();
    assert!(
        lines.iter().any(|l| l.starts_with("config set-all")),
        "{lines:?}"
    );
    assert!(lines.iter().any(|l| l.starts_with("destroy")), "{lines:?}");
    for l in &lines {
        assert!(!l.contains(&password), "argv: {l}");
    }
    assert!(!all_files_text(&state).contains(&password));
    assert!(!all_files_text(&program).contains(&password));
}
