//! A database migration on a real PostgreSQL, driven through the library: the program
//! `examples/pg-migration` (a Python dynamic provider on pg8000) creates table `people`
//! with three rows; its migration (config `migrate: true`) creates table `cities` from
//! those rows. Each step is checked by querying PostgreSQL from here (sqlx).
//!
//! create or select the stack on a local file backend → set the connection URL as a
//! secret config value (it reaches the CLI on stdin, never on a command line) → up →
//! verify `people` → set `migrate` → up → verify `cities` (a stack migrated already: one
//! up, both verified) → with `--destroy=NAME` only:
//! a destroy preview, then a destroy approved for the stack NAME. The library refuses an
//! approval that names another stack (nothing is touched: the tables stay); without
//! `--destroy` nothing is destroyed.
//!
//! The connection URL comes from the environment, `PG_MIGRATION_URL`
//! (`postgres://user:password@host:port/database`; `scripts/start-postgres` prints one),
//! never from the command line. Backend: `file://<state dir>`. Passphrase:
//! `PULUMI_CONFIG_PASSPHRASE`, else a fixed demo one. Logging: `RUST_LOG` (default `info`).
//!
//! ```text
//! PG_MIGRATION_URL=postgres://… cargo run --example pg_migration -- \
//!     [--work-dir DIR] [--state-dir DIR] [--stack NAME] [--skip-install] [--destroy=NAME]
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use pulumi_auto::ops::{DestroyOptions, UpOptions};
use pulumi_auto::secret::redact;
use pulumi_auto::workspace::InstallOptions;
use pulumi_auto::{LocalWorkspace, Secret, Stack};
use sqlx::Connection;
use sqlx::postgres::PgConnection;
use tracing::{error, info, warn};

struct Args {
    work_dir: PathBuf,
    state_dir: PathBuf,
    stack: String,
    skip_install: bool,
    destroy: Option<String>,
}

const USAGE: &str = "usage: PG_MIGRATION_URL=postgres://… pg_migration [--work-dir DIR] \
                     [--state-dir DIR] [--stack NAME] [--skip-install] [--destroy=STACK]";

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Args, String> {
    let mut out = Args {
        work_dir: PathBuf::from("examples/pg-migration"),
        state_dir: PathBuf::from("target/pulumi-auto-pg-migration/state"),
        stack: "dev".into(),
        skip_install: false,
        destroy: None,
    };
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) => (f.to_owned(), Some(v.to_owned())),
            None => (a.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or(format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--work-dir" => out.work_dir = PathBuf::from(value()?),
            "--state-dir" => out.state_dir = PathBuf::from(value()?),
            "--stack" => out.stack = value()?,
            "--destroy" => out.destroy = Some(value()?),
            "--skip-install" if inline.is_none() => out.skip_install = true,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    Ok(out)
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            error!("{e}");
            return ExitCode::from(2);
        }
    };
    let url = match std::env::var("PG_MIGRATION_URL") {
        Ok(u) if !u.is_empty() => Secret::new(u),
        _ => {
            error!("PG_MIGRATION_URL is not set: give the database's postgres:// URL in it");
            return ExitCode::from(2);
        }
    };
    match run(args, &url).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Library errors are redacted already; a driver's message may quote the URL.
            error!("{}", hide(&e, &url));
            ExitCode::FAILURE
        }
    }
}

/// `text` with the URL and its password (as written and decoded) masked.
fn hide(text: &str, url: &Secret) -> String {
    let mut secrets = vec![url.clone()];
    if let Some(p) = password_of(url.expose()) {
        secrets.push(Secret::new(percent_decode(&p)));
        secrets.push(Secret::new(p));
    }
    redact(text, &secrets)
}

/// The password of `scheme://user:password@host…`, as written.
fn password_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let (userinfo, _) = authority.rsplit_once('@')?;
    let (_, p) = userinfo.split_once(':')?;
    Some(p.to_owned())
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (b[i], b.get(i + 1).copied(), b.get(i + 2).copied()) {
            (b'%', Some(h), Some(l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn changes(c: &BTreeMap<String, u64>) -> String {
    c.iter()
        .map(|(op, n)| format!("{op} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn up(stack: &Stack, what: &str) -> Result<(), String> {
    info!("{what}: pulumi up");
    let r = stack
        .up(UpOptions::default().message(what))
        .await
        .map_err(|e| e.to_string())?;
    info!(
        "{what}: {} ({})",
        r.summary.result,
        changes(&r.summary.resource_changes)
    );
    for (name, out) in &r.outputs {
        if out.secret {
            info!("output {name} = [secret]");
        } else {
            info!("output {name} = {}", out.value);
        }
    }
    Ok(())
}

async fn connect(url: &Secret) -> Result<PgConnection, String> {
    PgConnection::connect(url.expose())
        .await
        .map_err(|e| format!("connecting to PostgreSQL: {e}"))
}

/// Whether table `name` exists (in the connection's search path).
async fn table_exists(db: &mut PgConnection, name: &str) -> Result<bool, String> {
    sqlx::query_scalar::<_, bool>("SELECT to_regclass($1) IS NOT NULL")
        .bind(name)
        .fetch_one(db)
        .await
        .map_err(|e| format!("querying PostgreSQL: {e}"))
}

async fn verify_people(url: &Secret) -> Result<(), String> {
    let mut db = connect(url).await?;
    let rows: Vec<(i32, String, String)> =
        sqlx::query_as("SELECT id, name, city FROM people ORDER BY id")
            .fetch_all(&mut db)
            .await
            .map_err(|e| format!("querying table people: {e}"))?;
    let text: Vec<String> = rows
        .iter()
        .map(|(id, name, city)| format!("{id} {name} ({city})"))
        .collect();
    info!(
        "verified: table people has {} rows: {}",
        rows.len(),
        text.join(", ")
    );
    if rows.len() != 3 {
        return Err(format!("table people has {} rows, not 3", rows.len()));
    }
    Ok(())
}

async fn verify_cities(url: &Secret) -> Result<(), String> {
    let mut db = connect(url).await?;
    let rows: Vec<(String, i32)> = sqlx::query_as("SELECT city, people FROM cities ORDER BY city")
        .fetch_all(&mut db)
        .await
        .map_err(|e| format!("querying table cities: {e}"))?;
    let text: Vec<String> = rows.iter().map(|(c, n)| format!("{c} {n}")).collect();
    info!(
        "verified: table cities (migrated from people) has {} rows: {}",
        rows.len(),
        text.join(", ")
    );
    let total: i32 = rows.iter().map(|(_, n)| n).sum();
    if total != 3 {
        return Err(format!("table cities counts {total} people, not 3"));
    }
    Ok(())
}

async fn run(args: Args, url: &Secret) -> Result<(), String> {
    let passphrase = match std::env::var("PULUMI_CONFIG_PASSPHRASE") {
        Ok(p) => Secret::new(p),
        Err(_) => {
            warn!(
                "PULUMI_CONFIG_PASSPHRASE is not set: using the demo passphrase (fine for this local demo only)"
            );
            Secret::new("pulumi-auto-demo")
        }
    };
    let state = std::path::absolute(&args.state_dir).map_err(|e| format!("state dir: {e}"))?;
    let backend = format!("file://{}", state.display());
    info!(
        "setting up the workspace on {} (backend {backend})",
        args.work_dir.display()
    );
    let ws = LocalWorkspace::builder(&args.work_dir)
        .backend_url(backend)
        .passphrase(passphrase)
        .build()
        .await
        .map_err(|e| e.to_string())?;
    if args.skip_install {
        info!("not preparing the virtualenv (--skip-install)");
    } else {
        info!("preparing the virtualenv (pulumi install)");
        ws.install(&InstallOptions::default())
            .await
            .map_err(|e| e.to_string())?;
    }

    let stack = ws
        .create_or_select_stack(&args.stack)
        .await
        .map_err(|e| e.to_string())?;
    info!("using stack {}", stack.fully_qualified_name());
    // A stack migrated by an earlier run stays migrated (setting `migrate` back to false
    // would drop table cities).
    let migrated = stack
        .get_all_config()
        .await
        .map_err(|e| e.to_string())?
        .iter()
        .any(|(k, v)| k.ends_with(":migrate") && v.value.as_deref() == Some("true"));
    if migrated {
        info!("setting config: url (secret); the stack is migrated already");
        stack
            .set_config("url", url.clone())
            .await
            .map_err(|e| e.to_string())?;
        up(&stack, "up (migrated already)").await?;
        verify_people(url).await?;
        verify_cities(url).await?;
    } else {
        info!("setting config: url (secret), migrate = false");
        stack
            .set_all_config([
                ("url", pulumi_auto::stack::ConfigSetValue::from(url.clone())),
                ("migrate", "false".into()),
            ])
            .await
            .map_err(|e| e.to_string())?;
        up(&stack, "create table people").await?;
        verify_people(url).await?;

        info!("the migration: setting config migrate = true");
        stack
            .set_config("migrate", "true")
            .await
            .map_err(|e| e.to_string())?;
        up(&stack, "migrate: create table cities from people").await?;
        verify_cities(url).await?;
    }

    let Some(typed) = args.destroy else {
        info!(
            "done; nothing destroyed. Run with --destroy={} to tear it down",
            stack.name()
        );
        return Ok(());
    };
    let plan = stack
        .preview_destroy(DestroyOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    for d in plan.deletions() {
        info!(
            "the destroy would delete {} ({})",
            d.urn,
            d.id.as_deref().unwrap_or("-")
        );
    }
    info!("destroying, approved for stack {typed:?}");
    let res = stack
        .destroy(DestroyOptions::default().remove(true), &plan.approve(typed))
        .await;
    let res = match res {
        Ok(r) => r,
        Err(e @ pulumi_auto::Error::DestroyRefused { .. }) => {
            let mut db = connect(url).await?;
            let kept =
                table_exists(&mut db, "people").await? && table_exists(&mut db, "cities").await?;
            error!("destroy refused: {e}");
            info!("nothing was destroyed: tables people and cities still there: {kept}");
            return Err("the destroy was refused".into());
        }
        Err(e) => return Err(e.to_string()),
    };
    info!(
        "destroy: {} ({}); stack {} removed",
        res.summary.result,
        changes(&res.summary.resource_changes),
        stack.name()
    );
    let mut db = connect(url).await?;
    for t in ["people", "cities"] {
        let there = table_exists(&mut db, t).await?;
        info!("table {t} exists: {there}");
        if there {
            return Err(format!("table {t} is still there after the destroy"));
        }
    }
    Ok(())
}
