//! The tutorial's flow with an inline program (feature `inline`): the program is a Rust
//! closure in this process, served to the CLI; no language host, no interpreter.
//!
//! set the context → create or select stack `dev` → set config (one secret) → refresh →
//! up → print the change summary and the outputs. A second run changes nothing. Destroy
//! happens only with `--destroy=<stack>` naming the stack.
//!
//! The resources are the engine's built-in `pulumi:index:Stash` (a value kept in the
//! state) inside a component, so no plugin is needed. Backend: a file backend in
//! `target/pulumi-auto-inline/state` unless `PULUMI_BACKEND_URL` points elsewhere;
//! passphrase: `PULUMI_CONFIG_PASSPHRASE`, else a fixed demo one. The project's files
//! (`Pulumi.yaml`, `Pulumi.dev.yaml` with the config) are kept in
//! `target/pulumi-auto-inline/project`.
//!
//! ```text
//! cargo run --example inline --features inline -- [--stack NAME] [--destroy=NAME]
//! ```

use std::process::ExitCode;

use pulumi_auto::inline::{Context, InlineWorkspace, ProgramResult, ResourceOptions, Value, props};
use pulumi_auto::ops::{DestroyOptions, RefreshOptions, UpOptions};
use pulumi_auto::workspace::RemoveOptions;
use pulumi_auto::{ConfigSetValue, Error, Secret};

/// The program: a component `greetings` with one stash per greeting, and outputs.
async fn program(ctx: Context) -> ProgramResult {
    let greeting = ctx.config_str("greeting").unwrap_or_else(|| "hello".into());
    let token = ctx.config("token").ok_or("config `token` is required")?;
    let group = ctx
        .register_component(
            "tutorial:index:Greetings",
            "greetings",
            ResourceOptions::default(),
        )
        .await?;
    let mut kept = Vec::new();
    for who in ["world", "rust"] {
        let stash = ctx
            .register_resource(
                "pulumi:index:Stash",
                who,
                props([("input", format!("{greeting}, {who}").into())]),
                ResourceOptions::default().parent(&group),
            )
            .await?;
        kept.push(stash.output("output").clone());
    }
    ctx.register_outputs(&group, props([("greetings", Value::Array(kept.clone()))]))
        .await?;
    ctx.export("greetings", Value::Array(kept));
    ctx.export("token", token); // a secret stays a secret
    ctx.info(&format!("{greeting} from an inline program"))
        .await?;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut stack_name = "dev".to_owned();
    let mut destroy = None;
    for a in std::env::args().skip(1) {
        match a.split_once('=') {
            Some(("--stack", v)) => stack_name = v.to_owned(),
            Some(("--destroy", v)) => destroy = Some(v.to_owned()),
            _ => return Err("usage: inline [--stack=NAME] [--destroy=STACK]".into()),
        }
    }
    let base = std::path::absolute("target/pulumi-auto-inline")?;
    let backend = std::env::var("PULUMI_BACKEND_URL")
        .unwrap_or_else(|_| format!("file://{}", base.join("state").display()));
    std::fs::create_dir_all(base.join("state"))?;
    let passphrase = std::env::var("PULUMI_CONFIG_PASSPHRASE")
        .unwrap_or_else(|_| "pulumi-auto inline demo passphrase".into());

    // 1. The context: a workspace of the inline program.
    let ws = InlineWorkspace::builder("inline-tutorial", program)
        .work_dir(base.join("project"))
        .workspace(move |b| b.backend_url(backend).passphrase(Secret::new(passphrase)))
        .build()
        .await?;
    // 2. The stack.
    let stack = ws.create_or_select_stack(&stack_name).await?;
    println!("stack {}", stack.name());

    if let Some(confirmed) = destroy {
        let plan = stack.preview_destroy(DestroyOptions::default()).await?;
        println!("destroying {} resource(s)", plan.deletions().len());
        match stack
            .destroy(DestroyOptions::default(), &plan.approve(confirmed))
            .await
        {
            Err(e @ Error::DestroyRefused { .. }) => return Err(e.into()),
            r => r?,
        };
        ws.workspace()
            .remove_stack(stack.name(), RemoveOptions::default())
            .await?;
        println!("destroyed and removed");
        return Ok(());
    }

    // 3. Config, one value secret (it never reaches a command line).
    stack
        .set_all_config([
            ("greeting", ConfigSetValue::from("hello")),
            ("token", Secret::new("inline-demo-token").into()),
        ])
        .await?;
    // 4. Refresh, then up.
    stack.refresh(RefreshOptions::default()).await?;
    let up = stack
        .up(UpOptions::default().message("inline tutorial"))
        .await?;
    println!("changes: {:?}", up.summary.resource_changes);
    for (name, out) in &up.outputs {
        match out.secret {
            true => println!("  {name} = [secret]"),
            false => println!("  {name} = {}", out.value),
        }
    }
    Ok(())
}
