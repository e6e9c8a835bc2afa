//! The pulumi-auto side of the end-to-end benchmark (`bench/run`): one stack's whole life,
//! or many stacks' lives at once, through the library's public API.
//!
//! One flow: workspace → create or select the stack → set 3 config values in one call
//! (the one named by `--secret-key` is a secret, its value read from `$BENCH_SECRET`) →
//! up → read the outputs (from the up result) → destroy and remove in one call
//! (`DestroyOptions::remove`), approved by name. The approval overrides protection (the
//! flow made the stack itself), which spares the read of the protection tag; with
//! `--protection-check` it does not, and the tag is read first (one more process).
//!
//! ```text
//! bench_flow single   --work-dir DIR --backend URL --home DIR --stack NAME
//!                     --config KEY=VALUE... [--secret-key KEY] [--protection-check]
//!                     --expect-count N --result FILE
//! bench_flow parallel --work-dir DIR --root DIR --stacks N
//!                     --config KEY=VALUE... [--secret-key KEY] --expect-count N --result FILE
//! ```
//!
//! `parallel` runs N flows concurrently, each on an [`EphemeralStack`] (a guard with a
//! unique `par-…` name, created with its config, torn down by `teardown`), with its own
//! file backend, `PULUMI_HOME` and ledger under `<root>/stack-<i>/` and its config `dir`
//! set to `<root>/stack-<i>/out` (overriding any `--config dir=`).
//!
//! The passphrase is `$PULUMI_CONFIG_PASSPHRASE`. The CLI is found as usual
//! (`PULUMI_AUTO_CLI` first). The result file gets one JSON object: the flow's own time,
//! this process's peak resident set size (`VmHWM`, the CLI's processes not included) and
//! the checks made on the outputs. No secret value is printed or written.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use pulumi_auto::ephemeral::EphemeralStack;
use pulumi_auto::model::OutputMap;
use pulumi_auto::ops::{DestroyOptions, UpOptions};
use pulumi_auto::stack::ConfigSetValue;
use pulumi_auto::{DestroyApproval, Error, LocalWorkspace, Secret};

const USAGE: &str = "usage: bench_flow single|parallel --work-dir DIR (--backend URL --home DIR --stack NAME [--protection-check] | --root DIR --stacks N) --config KEY=VALUE... [--secret-key KEY] --expect-count N --result FILE";

#[derive(Default)]
struct Args {
    mode: String,
    work_dir: PathBuf,
    backend: Option<String>,
    home: Option<PathBuf>,
    stack: Option<String>,
    root: Option<PathBuf>,
    stacks: usize,
    config: Vec<(String, String)>,
    secret_key: Option<String>,
    protection_check: bool,
    expect_count: u64,
    result: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mut args = Args {
        mode: it.next().ok_or(USAGE)?,
        ..Args::default()
    };
    if args.mode != "single" && args.mode != "parallel" {
        return Err(format!("unknown mode {:?}\n{USAGE}", args.mode));
    }
    let mut expect = None;
    let mut result = None;
    let mut work_dir = None;
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--work-dir" => work_dir = Some(PathBuf::from(value()?)),
            "--backend" => args.backend = Some(value()?),
            "--home" => args.home = Some(PathBuf::from(value()?)),
            "--stack" => args.stack = Some(value()?),
            "--root" => args.root = Some(PathBuf::from(value()?)),
            "--stacks" => {
                args.stacks = value()?.parse().map_err(|e| format!("--stacks: {e}"))?;
            }
            "--config" => {
                let kv = value()?;
                let (k, v) = kv
                    .split_once('=')
                    .ok_or(format!("--config {kv:?}: expected KEY=VALUE"))?;
                args.config.push((k.to_owned(), v.to_owned()));
            }
            "--secret-key" => args.secret_key = Some(value()?),
            "--protection-check" => args.protection_check = true,
            "--expect-count" => {
                expect = Some(
                    value()?
                        .parse()
                        .map_err(|e| format!("--expect-count: {e}"))?,
                );
            }
            "--result" => result = Some(PathBuf::from(value()?)),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    args.work_dir = work_dir.ok_or("--work-dir is required")?;
    args.expect_count = expect.ok_or("--expect-count is required")?;
    args.result = result.ok_or("--result is required")?;
    if args.mode == "single" && (args.backend.is_none() || args.home.is_none()) {
        return Err(format!("single needs --backend and --home\n{USAGE}"));
    }
    if args.mode == "parallel" && (args.root.is_none() || args.stacks == 0) {
        return Err(format!("parallel needs --root and --stacks N > 0\n{USAGE}"));
    }
    Ok(args)
}

/// What one flow saw in its outputs.
#[derive(Debug, Clone, Copy, Default)]
struct Checks {
    /// The `count` output equals `--expect-count`.
    count_ok: bool,
    /// The secret output (named like the secret key) came back revealed, flagged secret
    /// and equal to the value that was set; true when there is no secret output.
    secret_ok: bool,
    /// How many outputs were read.
    outputs: usize,
}

/// One stack's life on `ws`.
async fn flow(
    ws: &LocalWorkspace,
    name: &str,
    config: &[(String, String)],
    secret: Option<&(String, Secret)>,
    expect_count: u64,
    protection_check: bool,
) -> pulumi_auto::Result<Checks> {
    let stack = ws.create_or_select_stack(name).await?;

    let mut values: Vec<(String, ConfigSetValue)> = config
        .iter()
        .map(|(k, v)| (k.clone(), ConfigSetValue::from(v.clone())))
        .collect();
    if let Some((k, v)) = secret {
        values.push((k.clone(), v.clone().into()));
    }
    stack.set_all_config(values).await?;

    let up = stack.up(UpOptions::default()).await?;
    let checks = check_outputs(&up.outputs, secret, expect_count);

    // The flow made this stack itself a moment ago, so by default its approval overrides
    // protection, which spares the protection-tag read; `--protection-check` keeps it.
    let approval = DestroyApproval::for_stack(name).override_protection(!protection_check);
    // Destroy, then remove the stack, in one process (`destroy --remove`).
    stack
        .destroy(DestroyOptions::default().remove(true), &approval)
        .await?;
    Ok(checks)
}

fn check_outputs(
    outputs: &OutputMap,
    secret: Option<&(String, Secret)>,
    expect_count: u64,
) -> Checks {
    let count_ok = outputs
        .get("count")
        .and_then(|o| o.value.as_u64())
        .is_some_and(|n| n == expect_count);
    let secret_ok = match secret.and_then(|(k, v)| outputs.get(k).map(|o| (o, v))) {
        Some((out, expected)) => out.secret && out.value.as_str() == Some(expected.expose()),
        None => true,
    };
    Checks {
        count_ok,
        secret_ok,
        outputs: outputs.len(),
    }
}

fn passphrase() -> pulumi_auto::Result<Secret> {
    std::env::var("PULUMI_CONFIG_PASSPHRASE")
        .map(Secret::new)
        .map_err(|_| Error::invalid("passphrase", "PULUMI_CONFIG_PASSPHRASE is not set"))
}

fn secret_value(args: &Args) -> pulumi_auto::Result<Option<(String, Secret)>> {
    match &args.secret_key {
        None => Ok(None),
        Some(k) => std::env::var("BENCH_SECRET")
            .map(|v| Some((k.clone(), Secret::new(v))))
            .map_err(|_| Error::invalid("secret", "--secret-key needs BENCH_SECRET set")),
    }
}

async fn workspace(
    work_dir: &Path,
    backend: &str,
    home: &Path,
) -> pulumi_auto::Result<LocalWorkspace> {
    LocalWorkspace::builder(work_dir)
        .backend_url(backend)
        .pulumi_home(home)
        .passphrase(passphrase()?)
        .build()
        .await
}

async fn single(args: &Args) -> pulumi_auto::Result<Vec<Checks>> {
    let secret = secret_value(args)?;
    let (Some(backend), Some(home)) = (&args.backend, &args.home) else {
        return Err(Error::invalid("arguments", USAGE));
    };
    let ws = workspace(&args.work_dir, backend, home).await?;
    let name = args.stack.as_deref().unwrap_or("bench");
    let checks = flow(
        &ws,
        name,
        &args.config,
        secret.as_ref(),
        args.expect_count,
        args.protection_check,
    )
    .await?;
    Ok(vec![checks])
}

/// One ephemeral stack's life: created with its config (a guard with a unique name,
/// torn down even on a panic), up, outputs read from the up result, torn down.
async fn ephemeral_flow(
    work_dir: &Path,
    dir: &Path,
    config: &[(String, String)],
    secret: Option<&(String, Secret)>,
    expect_count: u64,
) -> pulumi_auto::Result<Checks> {
    let mut builder = EphemeralStack::builder(work_dir)
        .prefix("par")
        .backend_url(format!("file://{}", dir.join("state").display()))
        .pulumi_home(dir.join("home"))
        .ledger_dir(dir.join("ledger"))
        .passphrase(passphrase()?);
    for (k, v) in config {
        builder = builder.config(k.as_str(), v.as_str());
    }
    if let Some((k, v)) = secret {
        builder = builder.secret_config(k.as_str(), v.clone());
    }
    let stack = builder.create().await?;
    let up = stack.up(UpOptions::default()).await?;
    let checks = check_outputs(&up.outputs, secret, expect_count);
    stack.teardown().await?;
    Ok(checks)
}

async fn parallel(args: &Args) -> pulumi_auto::Result<Vec<Checks>> {
    let secret = secret_value(args)?;
    let Some(root) = &args.root else {
        return Err(Error::invalid("arguments", USAGE));
    };
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..args.stacks {
        let dir = root.join(format!("stack-{i:02}"));
        let mut config: Vec<(String, String)> = args
            .config
            .iter()
            .filter(|(k, _)| k != "dir")
            .cloned()
            .collect();
        config.push(("dir".into(), dir.join("out").display().to_string()));
        let secret = secret.clone();
        let work_dir = args.work_dir.clone();
        let expect = args.expect_count;
        tasks.spawn(async move {
            ephemeral_flow(&work_dir, &dir, &config, secret.as_ref(), expect).await
        });
    }
    let mut all = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(checks) => all.push(checks?),
            Err(e) => return Err(Error::invalid("flow task", e.to_string())),
        }
    }
    Ok(all)
}

/// This process's peak resident set size in KiB (`VmHWM` of /proc/self/status).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[tokio::main]
async fn main() -> ExitCode {
    let started = Instant::now();
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let res = if args.mode == "single" {
        single(&args).await
    } else {
        parallel(&args).await
    };
    let checks = match res {
        Ok(c) => c,
        Err(e) => {
            eprintln!("bench_flow: {e}");
            return ExitCode::FAILURE;
        }
    };
    let report = serde_json::json!({
        "flow_seconds": started.elapsed().as_secs_f64(),
        "peak_rss_kib": peak_rss_kib(),
        "flows": checks.len(),
        "count_ok": checks.iter().all(|c| c.count_ok),
        "secret_ok": checks.iter().all(|c| c.secret_ok),
        "outputs": checks.iter().map(|c| c.outputs).collect::<Vec<_>>(),
    });
    if let Err(e) = std::fs::write(&args.result, report.to_string()) {
        eprintln!("bench_flow: writing {}: {e}", args.result.display());
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
