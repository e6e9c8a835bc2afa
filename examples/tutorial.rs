//! The main job: Pulumi's Automation API tutorial flow, in Rust, on the bundled `files`
//! program (real files managed by a Python dynamic provider).
//!
//! set the context → prepare the virtualenv → create or select stack `dev` → set config
//! (one secret) → refresh → up → print the change summary and the outputs. A second run
//! changes nothing. Destroy happens only with `--destroy=<stack>` naming the stack.
//!
//! Backend: an embedded file backend in `<work dir>/.pulumi-state` unless
//! `PULUMI_BACKEND_URL` points elsewhere (`s3://…`, `postgres://…`, Pulumi Cloud with
//! `PULUMI_ACCESS_TOKEN`). Passphrase: `PULUMI_CONFIG_PASSPHRASE`, else a fixed demo one.
//! Logging: `RUST_LOG` (default `info`).
//!
//! ```text
//! cargo run --example tutorial -- [--work-dir DIR] [--stack NAME] [--files-dir DIR] [--destroy=NAME]
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use pulumi_auto::ops::{DestroyOptions, RefreshOptions, UpOptions};
use pulumi_auto::workspace::{InstallOptions, RemoveOptions};
use pulumi_auto::{LocalWorkspace, Secret};
use tracing::{error, info, warn};

struct Args {
    work_dir: PathBuf,
    stack: String,
    files_dir: PathBuf,
    destroy: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        work_dir: PathBuf::from("fixtures/programs/files"),
        stack: "dev".into(),
        files_dir: PathBuf::from("target/pulumi-auto-demo/files"),
        destroy: None,
    };
    let mut it = std::env::args().skip(1);
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
            "--work-dir" => args.work_dir = PathBuf::from(value()?),
            "--stack" => args.stack = value()?,
            "--files-dir" => args.files_dir = PathBuf::from(value()?),
            "--destroy" => args.destroy = Some(value()?),
            "-h" | "--help" => {
                return Err("usage: tutorial [--work-dir DIR] [--stack NAME] [--files-dir DIR] [--destroy=STACK]".into());
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    Ok(args)
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
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            error!("{e}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("{e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> pulumi_auto::Result<()> {
    let passphrase = match std::env::var("PULUMI_CONFIG_PASSPHRASE") {
        Ok(p) => Secret::new(p),
        Err(_) => {
            warn!(
                "PULUMI_CONFIG_PASSPHRASE is not set: using the demo passphrase (fine for this local demo only)"
            );
            Secret::new("pulumi-auto-demo")
        }
    };
    let files_dir = std::path::absolute(&args.files_dir)
        .map_err(|e| pulumi_auto::Error::invalid("files dir", e.to_string()))?;

    info!("setting up the workspace on {}", args.work_dir.display());
    let ws = LocalWorkspace::builder(&args.work_dir)
        .passphrase(passphrase)
        .build()
        .await?;
    info!(
        "pulumi {} at {}; backend {}",
        ws.pulumi()
            .version()
            .map(ToString::to_string)
            .unwrap_or_default(),
        ws.pulumi().path().display(),
        ws.backend_url().unwrap_or("(from Pulumi.yaml)")
    );

    info!("preparing the virtual environment (pulumi install)");
    ws.install(&InstallOptions::default()).await?;

    let stack = ws.create_or_select_stack(&args.stack).await?;
    info!("using stack {}", stack.fully_qualified_name());

    if let Some(target) = &args.destroy {
        // The approval names the stack; destroy refuses it for any other stack.
        let approval = pulumi_auto::DestroyApproval::for_stack(target.as_str());
        info!("destroying stack {}", stack.name());
        let res = stack
            .destroy(
                DestroyOptions::default().on_stdout(|l| info!("  {l}")),
                &approval,
            )
            .await?;
        info!(
            "destroy: {} {:?}",
            res.summary.result, res.summary.resource_changes
        );
        ws.remove_stack(stack.name(), RemoveOptions::default())
            .await?;
        info!("stack {} removed", stack.name());
        return Ok(());
    }

    info!("setting config");
    stack
        .set_all_config([
            (
                "dir",
                pulumi_auto::stack::ConfigSetValue::from(files_dir.display().to_string()),
            ),
            ("greeting", "hello from pulumi-auto".into()),
            ("token", Secret::new("demo-token-value").into()),
        ])
        .await?;

    info!("refreshing");
    let refreshed = stack.refresh(RefreshOptions::default()).await?;
    info!(
        "refresh: {} {:?}",
        refreshed.summary.result, refreshed.summary.resource_changes
    );

    info!("updating");
    let up = stack
        .up(UpOptions::default().on_stdout(|l| {
            if !l.trim().is_empty() {
                info!("  {l}");
            }
        }))
        .await?;
    info!(
        "update summary: {} in {:?}: {}",
        up.summary.result,
        up.summary.duration,
        up.summary
            .resource_changes
            .iter()
            .map(|(op, n)| format!("{op} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if up.summary.is_no_op() {
        info!("no changes: the stack was already up to date");
    }
    for (name, out) in &up.outputs {
        if out.secret {
            info!("output {name} = [secret]");
        } else {
            info!("output {name} = {}", out.value);
        }
    }
    info!("done; run with --destroy={} to tear it down", stack.name());
    Ok(())
}
