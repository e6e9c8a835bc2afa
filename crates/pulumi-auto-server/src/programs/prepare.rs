//! Preparing the served programs at start: the server's own token, the prepared copy of
//! each program with its dependencies installed once, then what an earlier run left
//! behind: unfinished jobs (failed, stacks repaired) and burns' ephemeral stacks (swept).
//! Then, every heartbeat interval, the same for the jobs of replicas whose heartbeat
//! expired (`reap_loop`), whose burns' ephemeral stacks are torn down at once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pulumi_auto::cli::PulumiCommand;
use pulumi_auto::ephemeral::{
    EPHEMERAL_TAG, EphemeralTag, LedgerEntry, SweepOptions, sweep, sweep_ledger,
};
use pulumi_auto::recovery::{PendingCreates, RecoverOptions};
use pulumi_auto::workspace::InstallOptions;

use super::{INTERNAL_TOKEN_DESCRIPTION, Program, Programs, jobs, lib_error};
use crate::api::AppState;
use crate::error::{Error, Result};
use crate::store::{JobEnd, now_ms};

/// Names never copied from a program directory: virtualenvs, caches, state, VCS data.
const SKIPPED_DIRS: &[&str] = &[
    "venv",
    ".venv",
    "__pycache__",
    ".pulumi-state",
    ".pulumi",
    ".git",
    "node_modules",
];

/// Whether a file of a program directory is a stack's settings file (or its lock), which
/// each stack keeps in its own directory.
fn is_stack_file(name: &str) -> bool {
    let stack_settings = name.starts_with("Pulumi.")
        && name != "Pulumi.yaml"
        && name != "Pulumi.yml"
        && (name.ends_with(".yaml") || name.ends_with(".yml"));
    stack_settings || (name.starts_with(".Pulumi.") && name.ends_with(".lock"))
}

/// Copies a program's files from `from` into `to` (made 0700 if missing), leaving out
/// `SKIPPED_DIRS`, stack settings files and symlinks; files already in `to` that are not
/// in `from` stay (a stack's settings file). Blocking.
pub fn copy_program(from: &Path, to: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    let io = |what: &str, p: &Path, e: std::io::Error| {
        Error::Internal(format!("{what} {}: {e}", p.display()))
    };
    if !to.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(to)
            .map_err(|e| io("creating", to, e))?;
    }
    for entry in std::fs::read_dir(from).map_err(|e| io("reading", from, e))? {
        let entry = entry.map_err(|e| io("reading", from, e))?;
        let name = entry.file_name();
        let s = name.to_string_lossy();
        let ty = entry
            .file_type()
            .map_err(|e| io("reading", &entry.path(), e))?;
        if ty.is_dir() {
            if !SKIPPED_DIRS.contains(&s.as_ref()) {
                copy_program(&entry.path(), &to.join(&name))?;
            }
        } else if ty.is_file() && !is_stack_file(&s) {
            let dest = to.join(&name);
            let same = std::fs::read(entry.path()).ok() == std::fs::read(&dest).ok();
            if !same {
                std::fs::copy(entry.path(), &dest).map_err(|e| io("copying to", &dest, e))?;
            }
        }
    }
    Ok(())
}

fn mkdir(p: &Path) -> Result<()> {
    crate::server::prepare_data_dir(p)
}

/// Prepares one program: copies it to `DATA/programs/NAME/base`, makes a relative Python
/// virtualenv the shared `DATA/programs/NAME/venv`, and installs its dependencies there
/// once (`pulumi install`).
async fn prepare_program(p: &Programs, name: &str, source: &Path, root: &Path) -> Result<Program> {
    let dir = root.join(name);
    let base = dir.join("base");
    let (src, b) = (source.to_path_buf(), base.clone());
    let d = dir.clone();
    tokio::task::spawn_blocking(move || {
        mkdir(&d)?;
        copy_program(&src, &b)
    })
    .await
    .map_err(|e| Error::Internal(format!("copying program {name}: {e}")))??;
    let ws = p
        .builder(&base)
        .build()
        .await
        .map_err(|e| lib_error(e, &[]))?;
    let mut project = ws.project_settings().await.map_err(|e| lib_error(e, &[]))?;
    // A virtualenv named relatively is the server's to make (shared by every stack); an
    // absolute one that exists is the operator's, used as it is (only plugins installed).
    let mut opts = InstallOptions::default();
    match project.runtime.virtualenv().map(PathBuf::from) {
        Some(venv) if venv.is_relative() => {
            project
                .runtime
                .set_virtualenv(dir.join("venv").display().to_string());
            ws.save_project_settings(&project)
                .await
                .map_err(|e| lib_error(e, &[]))?;
        }
        Some(venv) if venv.join("bin/python").exists() => opts = opts.no_dependencies(true),
        _ => {}
    }
    let started = std::time::Instant::now();
    tracing::info!(program = %name, "info: Preparing the program's dependencies (pulumi install)...");
    ws.install(&opts).await.map_err(|e| lib_error(e, &[]))?;
    tracing::info!(program = %name, secs = started.elapsed().as_secs_f64(), "dependencies ready");
    let (stacks, burn) = (dir.join("stacks"), dir.join("burn"));
    let (s, bu, b) = (stacks.clone(), burn.clone(), base.clone());
    tokio::task::spawn_blocking(move || {
        mkdir(&s)?;
        copy_program(&b, &bu)
    })
    .await
    .map_err(|e| Error::Internal(format!("preparing program {name}: {e}")))??;
    Ok(Program {
        name: name.to_owned(),
        project: project.name.clone(),
        source: source.to_path_buf(),
        base,
        stacks,
        burn,
    })
}

/// Everything [`super::start`] does before the routes answer.
pub(super) async fn prepare(
    state: Arc<AppState>,
    list: Vec<(String, PathBuf)>,
    data: &Path,
    org: &str,
    url: &str,
) -> Result<Arc<Programs>> {
    let token = crate::crypto::new_token();
    state
        .store
        .internal_admin_token(
            org,
            INTERNAL_TOKEN_DESCRIPTION,
            crate::replica::id(),
            now_ms() - crate::replica::timeout_ms(),
            &token,
        )
        .await?
        .ok_or_else(|| Error::Internal(format!("organization {org:?} has no admin")))?;
    let root = data.join("programs");
    let (home, ledger) = (root.join(".pulumi-home"), data.join("ephemeral-ledger"));
    for d in [&root, &home, &ledger] {
        mkdir(d)?;
    }
    let pulumi = PulumiCommand::find().await.map_err(|e| lib_error(e, &[]))?;
    let mut p = Programs {
        org: org.to_owned(),
        backend_url: url.to_owned(),
        token: token.as_str().to_owned(),
        home,
        ledger,
        pulumi,
        programs: BTreeMap::new(),
        jobs: Arc::new(jobs::Jobs::new(state.clone())),
        instance: crate::replica::id().to_owned(),
    };
    for (name, source) in &list {
        let program = prepare_program(&p, name, source, &root).await?;
        p.programs.insert(name.clone(), program);
    }
    let p = Arc::new(p);
    // What an earlier run of this replica (SQLite: every earlier run) or a dead replica
    // left: repaired before the routes answer.
    for repair in reap_once(&p, &state).await {
        let _ = repair.await;
    }
    sweep_burns(&p, &state).await;
    Ok(p)
}

/// The reason recorded on the jobs of a dead replica.
pub const DEAD_REPLICA_REASON: &str = "the server stopped while the operation ran (killed or \
     crashed: its replica stopped heart-beating)";

/// The reason recorded on a queued job cancelled because the replica holding its waiting
/// client stopped heart-beating.
pub const ORPHANED_REASON: &str = "cancelled before it started: the server holding the \
     request that waited for it stopped (its replica stopped heart-beating)";

/// Every heartbeat interval, until the server stops: fails the jobs of dead replicas and
/// repairs their stacks ([`reap_once`]).
pub(super) async fn reap_loop(p: Arc<Programs>, state: Arc<AppState>) {
    loop {
        tokio::time::sleep(crate::replica::heartbeat_interval()).await;
        if p.jobs.stopping() {
            return;
        }
        let _ = reap_once(&p, &state).await;
    }
}

/// Fails the unfinished jobs of replicas whose heartbeat expired (claimed by this replica
/// in the database, so no other survivor takes them too) and starts the repair of each
/// stack they held, as a `repair` job that holds the stack until it is done (so no new
/// operation starts on a stack being repaired). Returns the repairs' tasks.
async fn reap_once(p: &Arc<Programs>, state: &Arc<AppState>) -> Vec<tokio::task::JoinHandle<()>> {
    let cutoff = now_ms() - crate::replica::timeout_ms();
    let (failed, repairs) = match state
        .store
        .reap_dead_jobs(crate::replica::id(), cutoff, DEAD_REPLICA_REASON)
        .await
    {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "looking for the jobs of dead replicas failed");
            return Vec::new();
        }
    };
    // The jobs whose client waited on a dead replica: nobody is left to answer.
    match state
        .store
        .cancel_orphaned_jobs(cutoff, ORPHANED_REASON)
        .await
    {
        Ok(ids) => {
            for id in ids {
                tracing::warn!(job = %id, "cancelled a job whose client's replica stopped heart-beating");
            }
        }
        Err(e) => tracing::warn!(error = %e, "looking for jobs whose client's replica died failed"),
    }
    let mut burns_of = std::collections::BTreeSet::new();
    for (j, replica) in &failed {
        tracing::warn!(job = %j.id, kind = %j.kind, program = %j.program, stack = %j.stack, %replica, "failed the job of a replica that stopped heart-beating");
        if j.kind == "burn" {
            burns_of.insert((j.program.clone(), replica.clone()));
        }
    }
    let mut tasks = Vec::new();
    // A dead replica's burns leave ephemeral stacks of their own (with resources): torn
    // down now, not at some later start.
    for (program, replica) in burns_of {
        let (p2, state) = (p.clone(), state.clone());
        let (tx, rx) = tokio::sync::oneshot::channel();
        p.jobs.spawn(async move {
            sweep_dead_burns(&p2, &state, &program, &replica).await;
            let _ = tx.send(());
        });
        tasks.push(tokio::spawn(async move {
            let _ = rx.await;
        }));
    }
    for r in repairs {
        let (p2, state) = (p.clone(), state.clone());
        let (tx, rx) = tokio::sync::oneshot::channel();
        p.jobs.spawn(async move {
            let res = repair_stack(&p2, &r.program, &r.stack).await;
            let end = JobEnd {
                status: if res.is_ok() { "succeeded" } else { "failed" }.into(),
                error: res.err(),
                ..JobEnd::default()
            };
            for attempt in 0..60 {
                match state.store.end_job(&r.id, &end).await {
                    Ok(()) => break,
                    Err(e) => {
                        tracing::warn!(job = %r.id, attempt, error = %e, "recording a repair's end failed");
                        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                    }
                }
            }
            let _ = tx.send(());
        });
        tasks.push(tokio::spawn(async move {
            let _ = rx.await;
        }));
    }
    tasks
}

/// Tears down the ephemeral stacks the burns of `program` on the dead replica `replica`
/// made (those whose ephemeral tag names its run): their dead updates' leases freed with
/// `pulumi cancel`, then the library's janitor destroys and removes them. A stack whose
/// creating process still runs on this host (a paused replica, not a dead one) is left to
/// it by the janitor's own rule.
async fn sweep_dead_burns(p: &Arc<Programs>, state: &AppState, program: &str, replica: &str) {
    let Some(prog) = p.programs.get(program) else {
        return;
    };
    let run = super::burn::run_id(replica);
    let ws = match p.builder(&prog.burn).build().await {
        Ok(ws) => ws,
        Err(e) => {
            tracing::warn!(%program, %replica, error = %e, "cannot tear down a dead replica's burns");
            return;
        }
    };
    let stacks = match state.store.project_stack_tags(&p.org, &prog.project).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(%program, %replica, error = %e, "cannot tear down a dead replica's burns");
            return;
        }
    };
    for (name, tags) in stacks {
        let of_run = tags
            .get(EPHEMERAL_TAG)
            .and_then(|v| v.as_str())
            .and_then(EphemeralTag::parse)
            .is_some_and(|t| t.run_id == run);
        if of_run && let Ok(stack) = ws.stack_handle(&name) {
            let _ = stack.cancel().await;
        }
    }
    let opts = SweepOptions::default()
        .min_age(std::time::Duration::ZERO)
        .run_id(run);
    match sweep(&ws, &opts).await {
        Ok(r) => {
            tracing::info!(%program, %replica, removed = ?r.removed, failed = ?r.failed, "tore down the burns of a replica that stopped heart-beating")
        }
        Err(e) => {
            tracing::warn!(%program, %replica, error = %e, "tearing down a dead replica's burns failed")
        }
    }
}

/// Repairs a stack an interrupted operation left: the dead update's lease freed with
/// `pulumi cancel`, pending creates cleared by a refresh (the library's recovery).
async fn repair_stack(
    p: &Arc<Programs>,
    program: &str,
    stack: &str,
) -> std::result::Result<(), String> {
    let Some(prog) = p.programs.get(program) else {
        return Err(format!("program {program:?} is not served by this replica"));
    };
    let handle = match p.stack(prog, stack).await {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!(%program, %stack, error = %e, "cannot repair the stack");
            return Err(e.to_string());
        }
    };
    // Frees the dead update's lease at once (an error: nothing held it).
    let _ = handle.cancel().await;
    match handle
        .recover(RecoverOptions::default().pending_creates(PendingCreates::Clear))
        .await
    {
        Ok(h) => {
            tracing::info!(%program, %stack, clean = h.is_clean(), "repaired a stack an interrupted operation left");
            Ok(())
        }
        Err(e) => {
            tracing::warn!(%program, %stack, error = %e, "repairing the stack failed");
            Err(jobs::error_text(&e, &[]))
        }
    }
}

/// Whether a replica other than this one has a live heartbeat (true when that cannot be
/// read: nothing is swept then).
async fn others_alive(state: &AppState) -> bool {
    let cutoff = now_ms() - crate::replica::timeout_ms();
    match state.store.live_replicas(cutoff).await {
        Ok(ids) => ids.iter().any(|id| id != crate::replica::id()),
        Err(_) => true,
    }
}

/// A stack's own name, without its organization and project.
fn short_name(stack: &str) -> &str {
    stack.rsplit('/').next().unwrap_or(stack)
}

/// Removes the ephemeral stacks of burns an earlier run left (its ledger, then by tag on
/// each program's project).
async fn sweep_burns(p: &Arc<Programs>, state: &AppState) {
    for prog in p.programs.values() {
        // The first run with the new token also records it in PULUMI_HOME, where the
        // ledger's janitor (whose workspaces carry no token) finds it.
        let ws = match p.builder(&prog.burn).build().await {
            Ok(ws) => ws,
            Err(e) => {
                tracing::warn!(program = %prog.name, error = %e, "cannot sweep burns");
                continue;
            }
        };
        if let Err(e) = ws.whoami().await {
            tracing::warn!(program = %prog.name, error = %e, "cannot sweep burns");
            continue;
        }
        // Other live replicas run burns of their own: their stacks are theirs to remove.
        // The stacks this data directory's ledger names are this replica's own (every
        // replica has a data directory of its own): an earlier, killed process of it made
        // them, so they are freed and swept even while other replicas run (a restart on a
        // shared database comes back before the killed process's heartbeat expires).
        let others = others_alive(state).await;
        let own: std::collections::HashSet<String> = LedgerEntry::read_all(&p.ledger)
            .entries
            .into_iter()
            .filter(|(_, e)| e.tag.pid != std::process::id())
            .map(|(_, e)| short_name(&e.stack).to_owned())
            .collect();
        // A burn of a killed server still holds its stack's lease: freed first (no burn of
        // this start runs yet), so the janitor's destroy can run.
        let prefix = format!("burn-{}-", prog.name);
        for name in state
            .store
            .project_stack_names(&p.org, &prog.project)
            .await
            .unwrap_or_default()
        {
            if name.starts_with(&prefix)
                && (!others || own.contains(&name))
                && let Ok(stack) = ws.stack_handle(&name)
            {
                let _ = stack.cancel().await;
            }
        }
        if others {
            continue;
        }
        match sweep(&ws, &SweepOptions::default()).await {
            Ok(r) if !r.removed.is_empty() => {
                tracing::info!(program = %prog.name, removed = ?r.removed, "swept old ephemeral stacks")
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(program = %prog.name, error = %e, "sweeping ephemeral stacks failed")
            }
        }
    }
    match sweep_ledger(
        Some(&p.ledger),
        Some(p.pulumi.clone()),
        &SweepOptions::default().min_age(std::time::Duration::ZERO),
    )
    .await
    {
        Ok(r) => {
            if !r.removed.is_empty() || !r.failed.is_empty() {
                tracing::info!(removed = ?r.removed, failed = ?r.failed, "swept the burns an earlier run left");
            }
        }
        Err(e) => tracing::warn!(error = %e, "sweeping the burns' ledger failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_files_are_not_copied() {
        assert!(is_stack_file("Pulumi.dev.yaml"));
        assert!(is_stack_file(".Pulumi.dev.yaml.lock"));
        assert!(!is_stack_file("Pulumi.yaml"));
        assert!(!is_stack_file("__main__.py"));
    }

    #[test]
    fn copy_skips_venv_and_keeps_stack_settings() {
        let t = tempfile::tempdir().unwrap();
        let (from, to) = (t.path().join("from"), t.path().join("to"));
        std::fs::create_dir_all(from.join("venv/bin")).unwrap();
        std::fs::create_dir_all(from.join("pkg")).unwrap();
        std::fs::write(from.join("Pulumi.yaml"), "name: x\n").unwrap();
        std::fs::write(from.join("Pulumi.other.yaml"), "config: {}\n").unwrap();
        std::fs::write(from.join("pkg/m.py"), "x = 1\n").unwrap();
        std::fs::create_dir_all(&to).unwrap();
        std::fs::write(to.join("Pulumi.dev.yaml"), "mine\n").unwrap();
        copy_program(&from, &to).unwrap();
        assert!(to.join("pkg/m.py").exists());
        assert!(!to.join("venv").exists());
        assert!(!to.join("Pulumi.other.yaml").exists());
        assert_eq!(
            std::fs::read_to_string(to.join("Pulumi.dev.yaml")).unwrap(),
            "mine\n"
        );
    }
}
