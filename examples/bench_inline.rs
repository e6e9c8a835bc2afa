//! One run of the inline benchmark (`bench/inline` runs it side by side): `count` files of
//! the project's `files` provider, declared by an inline Rust program (`--mode inline`)
//! or by a Python program (`--mode python`, `bench/programs/files-many`), `up` then
//! `destroy`, on a fresh file backend and `PULUMI_HOME` with the plugin installed.
//!
//! Prints one JSON line: wall time of up and destroy, the processes started during them
//! (every process carrying the run's marker in its environment, sampled from /proc every
//! 10 ms: the most at once and how many in all), and this driver's peak RSS (VmHWM).
//!
//! ```text
//! bench_inline --mode inline|python --provider BIN [--count 200] [--venv DIR]
//! ```

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use pulumi_auto::inline::{Context, InlineWorkspace, ResourceOptions, Value, props};
use pulumi_auto::ops::{DestroyOptions, UpOptions};
use pulumi_auto::workspace::LocalWorkspaceBuilder;
use pulumi_auto::{DestroyApproval, LocalWorkspace, Secret};

type Error = Box<dyn std::error::Error + Send + Sync>;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// The processes whose environment carries `needle`.
fn marked(needle: &[u8]) -> Vec<i32> {
    let mut found = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return found;
    };
    for e in rd.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if let Ok(env) = std::fs::read(e.path().join("environ"))
            && env.split(|b| *b == 0).any(|kv| kv == needle)
        {
            found.push(pid);
        }
    }
    found
}

/// Samples the marked processes until told to stop: (most at once, distinct pids).
fn sampler(marker: String, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<(usize, usize)> {
    std::thread::spawn(move || {
        let needle = format!("PULUMI_AUTO_BENCH_MARKER={marker}").into_bytes();
        let (mut most, mut all) = (0, BTreeSet::new());
        while !stop.load(Ordering::SeqCst) {
            let now = marked(&needle);
            most = most.max(now.len());
            all.extend(now);
            std::thread::sleep(Duration::from_millis(10));
        }
        (most, all.len())
    })
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn provider_version(bin: &Path) -> Result<String, Error> {
    let out = std::process::Command::new(bin).arg("-version").output()?;
    Ok(String::from_utf8(out.stdout)?
        .trim()
        .trim_start_matches('v')
        .to_owned())
}

fn configure(b: LocalWorkspaceBuilder, root: &Path, marker: &str) -> LocalWorkspaceBuilder {
    b.backend_url(format!("file://{}", root.join("state").display()))
        .pulumi_home(root.join("home"))
        .passphrase(Secret::new("bench-inline-passphrase"))
        .env("PULUMI_IGNORE_AMBIENT_PLUGINS", "true")
        .env("PULUMI_AUTO_BENCH_MARKER", marker)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mode = arg("--mode").ok_or("--mode inline|python")?;
    let provider = PathBuf::from(arg("--provider").ok_or("--provider BIN")?);
    let count: usize = arg("--count").unwrap_or_else(|| "200".into()).parse()?;
    let version = provider_version(&provider)?;
    let root = tempfile::Builder::new().prefix("bench-inline-").tempdir()?;
    let files = root.path().join("out");
    std::fs::create_dir_all(&files)?;
    let marker = format!("{}-{mode}", std::process::id());

    // The stack: of an inline program, or of the Python program (a copy pointing at the
    // shared virtualenv).
    let (inline, local) = match mode.as_str() {
        "inline" => {
            let dir = files.clone();
            let (r, m) = (root.path().to_owned(), marker.clone());
            let ws = InlineWorkspace::builder("files-many", move |ctx: Context| {
                let dir = dir.clone();
                async move {
                    let count: usize = ctx.config_str("count").unwrap_or_default().parse()?;
                    // Every registration at once, as the Python SDK sends them.
                    let regs = (0..count).map(|i| {
                        let path = dir.join(format!("f{i}.txt")).display().to_string();
                        let ctx = ctx.clone();
                        async move {
                            ctx.register_resource(
                                "files:index:File",
                                &format!("f{i}"),
                                props([
                                    ("path", path.into()),
                                    ("content", format!("file {i}\n").into()),
                                    ("size", Value::Null),
                                ]),
                                ResourceOptions::default(),
                            )
                            .await
                        }
                    });
                    for r in futures_util::future::join_all(regs).await {
                        r?;
                    }
                    ctx.export("count", count as f64);
                    Ok(())
                }
            })
            .workspace(move |b| configure(b, &r, &m))
            .build()
            .await?;
            ws.workspace()
                .install_plugin_from_file("resource", "files", &version, &provider)
                .await?;
            (Some(ws.create_stack("bench").await?), None)
        }
        "python" => {
            let venv = arg("--venv").ok_or("--venv DIR for --mode python")?;
            let prog = root.path().join("program");
            std::fs::create_dir_all(&prog)?;
            let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/programs/files-many");
            std::fs::copy(src.join("__main__.py"), prog.join("__main__.py"))?;
            let yaml = std::fs::read_to_string(src.join("Pulumi.yaml"))?
                .replace("virtualenv: venv", &format!("virtualenv: {venv}"));
            std::fs::write(prog.join("Pulumi.yaml"), yaml)?;
            let ws = configure(LocalWorkspace::builder(&prog), root.path(), &marker)
                .build()
                .await?;
            ws.install_plugin_from_file("resource", "files", &version, &provider)
                .await?;
            (None, Some(ws.create_stack("bench").await?))
        }
        other => return Err(format!("unknown mode {other:?}").into()),
    };
    let stack = inline
        .as_ref()
        .map(|s| s.stack())
        .or(local.as_ref())
        .ok_or("no stack")?;
    stack
        .set_all_config([
            (
                "dir",
                pulumi_auto::ConfigSetValue::from(files.display().to_string()),
            ),
            ("count", count.to_string().into()),
        ])
        .await?;

    let stop = Arc::new(AtomicBool::new(false));
    let sampling = sampler(marker.clone(), stop.clone());
    let started = Instant::now();
    let up = match &inline {
        Some(s) => s.up(UpOptions::default()).await?,
        None => stack.up(UpOptions::default()).await?,
    };
    let up_wall = started.elapsed();
    let created = up
        .summary
        .resource_changes
        .get("create")
        .copied()
        .unwrap_or(0);
    if created != count as u64 + 1 || std::fs::read_dir(&files)?.count() != count {
        return Err(format!(
            "up created {created}, expected {} and {count} files",
            count + 1
        )
        .into());
    }
    let approval = DestroyApproval::for_stack("bench").override_protection(true);
    let destroy_started = Instant::now();
    match &inline {
        Some(s) => s.destroy(DestroyOptions::default(), &approval).await?,
        None => stack.destroy(DestroyOptions::default(), &approval).await?,
    };
    let destroy_wall = destroy_started.elapsed();
    let total = started.elapsed();
    stop.store(true, Ordering::SeqCst);
    let (most, all) = sampling.join().map_err(|_| "sampler panicked")?;
    if std::fs::read_dir(&files)?.count() != 0 {
        return Err("files left after the destroy".into());
    }
    println!(
        "{}",
        serde_json::json!({
            "mode": mode,
            "count": count,
            "up_s": up_wall.as_secs_f64(),
            "destroy_s": destroy_wall.as_secs_f64(),
            "total_s": total.as_secs_f64(),
            "processes_at_once": most,
            "processes": all,
            "driver_peak_rss_kib": peak_rss_kib(),
        })
    );
    Ok(())
}
