//! Starting the server: the data directory, first-start bootstrap, the listener, and a
//! graceful shutdown on SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::api::{self, ApiConfig, AppState};
use crate::crypto::{self, MasterKey};
use crate::error::{Error, Result};
use crate::store::Store;

/// The environment variable that gives the first start's admin token (instead of writing a
/// fresh one to `DIR/admin-token`).
pub const ADMIN_TOKEN_ENV: &str = "PULUMI_AUTO_SERVER_ADMIN_TOKEN";

/// How to run the server.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Where to listen (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// The data directory (database, master key, admin token).
    pub data: PathBuf,
    /// A `postgres://` URL to use instead of SQLite in the data directory.
    pub database: Option<String>,
    /// The organization made on first start.
    pub org: String,
    /// The admin user made on first start.
    pub admin: String,
    /// API settings.
    pub api: ApiConfig,
    /// The programs of the custom API.
    pub programs: crate::programs::ProgramsConfig,
    /// How long a replica may go without a heartbeat before the others take it for dead
    /// (fail its jobs and repair their stacks).
    pub heartbeat_timeout: std::time::Duration,
}

/// Creates the data directory (0700) if needed.
pub fn prepare_data_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| Error::Internal(format!("cannot create {}: {e}", dir.display())))?;
    }
    Ok(())
}

/// Opens the store of a data directory, bootstrapping it on first start. Returns the store
/// and, when this start made the admin token, the path it was written to.
pub async fn open_store(
    data: &Path,
    database: Option<&str>,
    org: &str,
    admin: &str,
) -> Result<(Store, Option<PathBuf>)> {
    prepare_data_dir(data)?;
    let store = Store::open(data, database).await?;
    if store.is_initialized().await? {
        return Ok((store, None));
    }
    if !crate::api::valid_name(org) || !crate::api::valid_name(admin) {
        return Err(Error::Internal(
            "--org and --admin must be 1 to 100 of A-Z, a-z, 0-9, '-', '_', '.'".into(),
        ));
    }
    match std::env::var(ADMIN_TOKEN_ENV) {
        Ok(t) if !t.is_empty() => {
            if t.len() < 16 || t.len() > 512 || t.contains(char::is_whitespace) {
                return Err(Error::Internal(format!(
                    "{ADMIN_TOKEN_ENV} must be 16 to 512 characters without spaces"
                )));
            }
            if let Err(e) = store.bootstrap(org, admin, &t).await {
                // Another replica starting at the same moment bootstrapped the database.
                if !store.is_initialized().await? {
                    return Err(e);
                }
            }
            Ok((store, None))
        }
        _ => {
            let token = crypto::new_token();
            let path = data.join("admin-token");
            // Written before the database commits it, so a token that works is never lost.
            crypto::write_private_file(&path, format!("{}\n", token.as_str()).as_bytes())?;
            if let Err(e) = store.bootstrap(org, admin, &token).await {
                // Another replica starting at the same moment bootstrapped the database
                // (with its own token): this one's never worked.
                let _ = std::fs::remove_file(&path);
                if !store.is_initialized().await? {
                    return Err(e);
                }
                return Ok((store, None));
            }
            Ok((store, Some(path)))
        }
    }
}

/// Runs the server until SIGINT or SIGTERM. The first line of standard output is the URL it
/// listens on.
pub async fn serve(opts: ServeOptions) -> Result<()> {
    let (store, token_file) =
        open_store(&opts.data, opts.database.as_deref(), &opts.org, &opts.admin).await?;
    if let Some(path) = &token_file {
        tracing::info!(path = %path.display(), "first start: the admin token was written (0600)");
    }
    let master = MasterKey::load_or_create(&opts.data)?;
    crate::replica::set_heartbeat_timeout(opts.heartbeat_timeout);
    let state = Arc::new(AppState::new(store, master, opts.api.clone()));
    // The self-service web page at `/` (static, outside the API's authentication).
    let app = api::router(state.clone()).merge(crate::web::routes());
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .map_err(|e| Error::Internal(format!("cannot listen on {}: {e}", opts.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::Internal(format!("cannot read the bound address: {e}")))?;
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "http://{addr}");
        let _ = out.flush();
    }
    tracing::info!(%addr, "listening");
    let replica = crate::replica::id();
    if state.store.kind() == crate::store::DbKind::Sqlite {
        // One server at a time uses a SQLite database: other rows are earlier runs.
        state.store.forget_other_replicas(replica).await?;
    }
    let mut served: Vec<String> = match opts.programs.resolve() {
        Ok(list) => list.into_iter().map(|(name, _)| name).collect(),
        Err(_) => Vec::new(),
    };
    served.sort();
    let info = serde_json::json!({"addr": addr.to_string(), "pid": std::process::id(), "programs": served});
    state
        .store
        .register_replica(replica, &info.to_string())
        .await?;
    warn_if_programs_differ(&state, replica, &served).await;
    tracing::info!(
        replica,
        heartbeat_timeout_secs = opts.heartbeat_timeout.as_secs_f64(),
        "replica started"
    );
    tokio::spawn(heartbeat(state.clone()));
    // Deliveries other replicas queued (or left when they died) are sent too.
    crate::rest::start_webhook_delivery(&state);
    crate::programs::start(
        state.clone(),
        &opts.programs,
        &opts.data,
        &opts.org,
        &format!("http://{addr}"),
    )?;
    let stopping = state.clone();
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown_signal().await;
        crate::programs::shutdown(&stopping).await;
    })
    .await
    .map_err(|e| Error::Internal(format!("server error: {e}")))?;
    // Its jobs are recorded: the others need not wait for its heartbeat to expire.
    if let Err(e) = state.store.remove_replica(replica).await {
        tracing::warn!(error = %e, "could not remove this replica's heartbeat row");
    }
    state.store.close().await;
    Ok(())
}

/// Renews this replica's heartbeat every heartbeat interval. On PostgreSQL, a replica
/// that could not renew it for the whole timeout has been taken for dead by the others
/// (which fail its jobs and repair their stacks): it cancels its own jobs, so no operation
/// runs on two replicas at once.
async fn heartbeat(state: Arc<AppState>) {
    let me = crate::replica::id();
    let mut last_ok = std::time::Instant::now();
    let mut fenced = false;
    loop {
        tokio::time::sleep(crate::replica::heartbeat_interval()).await;
        // Measured before renewing: a replica paused (or cut off) for longer than the
        // timeout has been taken for dead even though its row is renewed now.
        if state.store.kind() == crate::store::DbKind::Postgres
            && !fenced
            && last_ok.elapsed() > crate::replica::heartbeat_timeout()
        {
            tracing::error!(
                replica = me,
                "no heartbeat for the whole timeout: cancelling this replica's operations (the others repair their stacks)"
            );
            cancel_own_jobs(&state);
            fenced = true;
        }
        match state.store.renew_heartbeat(me).await {
            Ok(true) => {
                last_ok = std::time::Instant::now();
                fenced = false;
            }
            Ok(false) => {
                tracing::warn!(
                    replica = me,
                    "this replica's heartbeat row was gone: registering again"
                );
                cancel_own_jobs(&state);
                if state
                    .store
                    .register_replica(me, "re-registered")
                    .await
                    .is_ok()
                {
                    last_ok = std::time::Instant::now();
                }
            }
            Err(e) => tracing::warn!(error = %e, "renewing the heartbeat failed"),
        }
    }
}

/// Logs a warning for each live replica that serves other programs than this one (every
/// replica must serve the same: any of them may run or repair any stack's operation).
async fn warn_if_programs_differ(state: &AppState, me: &str, served: &[String]) {
    let cutoff = crate::store::now_ms() - crate::replica::timeout_ms();
    let Ok(others) = state.store.live_replica_infos(cutoff).await else {
        return;
    };
    for (id, info) in others {
        if id == me {
            continue;
        }
        let theirs: Option<Vec<String>> = serde_json::from_str::<serde_json::Value>(&info)
            .ok()
            .and_then(|v| serde_json::from_value(v.get("programs")?.clone()).ok());
        if let Some(mut theirs) = theirs {
            theirs.sort();
            if theirs != served {
                tracing::warn!(
                    replica = %id,
                    theirs = ?theirs,
                    ours = ?served,
                    "another replica serves other programs: every replica must serve the same ones (the same --program flags)"
                );
            }
        }
    }
}

fn cancel_own_jobs(state: &AppState) {
    if let Some(p) = state.programs.get() {
        p.jobs.cancel_all();
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
}
