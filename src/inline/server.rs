//! The in-process language host: a `LanguageRuntime` gRPC server on `127.0.0.1:<free
//! port>`, one per operation, which the CLI reaches through `--client=<address>`.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::oneshot;
use tokio::task::{AbortHandle, JoinHandle};

use super::context::{Context, STACK_TYPE};
use super::proto::pulumirpc::{
    GetRequiredPackagesRequest, GetRequiredPackagesResponse, GetRequiredPluginsRequest,
    GetRequiredPluginsResponse, PluginInfo, RunRequest, RunResponse,
    language_runtime_server::{LanguageRuntime, LanguageRuntimeServer},
};
use super::resource::ResourceOptions;
use super::value::PropertyMap;
use super::{InlineProgram, ProgramError};
use crate::error::{Error, Result};

tokio::task_local! {
    /// Set while an inline program runs: an operation started from inside it is refused.
    static IN_PROGRAM: ();
}

/// Whether the caller runs inside an inline program's task.
pub(crate) fn in_program() -> bool {
    IN_PROGRAM.try_with(|_| ()).is_ok()
}

/// What the runs of one operation left behind.
#[derive(Default)]
struct Shared {
    /// The last program failure (its message, secrets redacted).
    failure: Mutex<Option<String>>,
    /// The program tasks still running, aborted when the server stops.
    tasks: Mutex<Vec<AbortHandle>>,
}

struct Runtime {
    program: InlineProgram,
    shared: Arc<Shared>,
}

/// Aborts a task when dropped: the engine gave up on a `Run` (its connection closed).
struct AbortOnDrop(AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    match (p.downcast_ref::<&str>(), p.downcast_ref::<String>()) {
        (Some(s), _) => (*s).to_owned(),
        (_, Some(s)) => s.clone(),
        _ => "a panic without a message".into(),
    }
}

/// One run: the root stack resource, the program's body, the stack's outputs, then every
/// call still in flight. `Err` is the program's failure.
async fn run_program(ctx: Context, program: InlineProgram) -> std::result::Result<(), String> {
    let root = ctx
        .register(
            STACK_TYPE,
            &ctx.root_name(),
            PropertyMap::new(),
            ResourceOptions::component(),
            String::new(),
        )
        .await
        .map_err(|e| e.to_string())?;
    ctx.set_stack_urn(root.urn.clone());
    let body = AssertUnwindSafe((program.0)(ctx.clone()))
        .catch_unwind()
        .await;
    let mut failure = match body {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(error_chain(&*e)),
        Err(p) => Some(format!("the program panicked: {}", panic_message(&*p))),
    };
    if let Err(e) = ctx.register_outputs_of(&root.urn, ctx.exports()).await {
        failure.get_or_insert(e.to_string());
    }
    ctx.wait_idle().await;
    match failure {
        Some(f) => Err(f),
        None => Ok(()),
    }
}

/// An error with its sources, `a: b: c`.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

#[tonic::async_trait]
impl LanguageRuntime for Runtime {
    async fn get_required_plugins(
        &self,
        _: tonic::Request<GetRequiredPluginsRequest>,
    ) -> std::result::Result<tonic::Response<GetRequiredPluginsResponse>, tonic::Status> {
        Ok(tonic::Response::new(GetRequiredPluginsResponse::default()))
    }

    async fn get_required_packages(
        &self,
        _: tonic::Request<GetRequiredPackagesRequest>,
    ) -> std::result::Result<tonic::Response<GetRequiredPackagesResponse>, tonic::Status> {
        Ok(tonic::Response::new(GetRequiredPackagesResponse::default()))
    }

    async fn run(
        &self,
        req: tonic::Request<RunRequest>,
    ) -> std::result::Result<tonic::Response<RunResponse>, tonic::Status> {
        let req = req.into_inner();
        let outcome = match Context::connect(&req).await {
            Err(e) => Err(e.to_string()),
            Ok(ctx) => {
                let redactions = ctx.redactions().to_vec();
                let task =
                    tokio::spawn(IN_PROGRAM.scope((), run_program(ctx, self.program.clone())));
                if let Ok(mut t) = self.shared.tasks.lock() {
                    t.push(task.abort_handle());
                }
                let _abort = AbortOnDrop(task.abort_handle());
                match task.await {
                    Ok(r) => r.map_err(|m| crate::secret::redact(&m, &redactions)),
                    Err(e) => Err(format!("the program's task ended: {e}")),
                }
            }
        };
        let error = match outcome {
            Ok(()) => String::new(),
            Err(message) => {
                if let Ok(mut f) = self.shared.failure.lock() {
                    *f = Some(message.clone());
                }
                message
            }
        };
        Ok(tonic::Response::new(RunResponse { error, bail: false }))
    }

    async fn get_plugin_info(
        &self,
        _: tonic::Request<()>,
    ) -> std::result::Result<tonic::Response<PluginInfo>, tonic::Status> {
        Ok(tonic::Response::new(PluginInfo {
            version: env!("CARGO_PKG_VERSION").into(),
        }))
    }

    /// The engine shuts the language host down (a cancelled operation, or its end):
    /// programs still running are aborted.
    async fn cancel(
        &self,
        _: tonic::Request<()>,
    ) -> std::result::Result<tonic::Response<()>, tonic::Status> {
        if let Ok(tasks) = self.shared.tasks.lock() {
            for t in tasks.iter() {
                t.abort();
            }
        }
        Ok(tonic::Response::new(()))
    }
}

/// A running language host. Dropped, it stops at once (its port closes, its program
/// tasks are aborted); [`shutdown`](Self::shutdown) stops it gracefully.
pub(crate) struct Server {
    address: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
}

impl Server {
    /// Starts a server for `program` on a free port of 127.0.0.1.
    pub(crate) async fn start(program: InlineProgram) -> Result<Server> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| Error::io("binding the inline program's language host", e))?;
        let address = listener
            .local_addr()
            .map_err(|e| Error::io("reading the language host's address", e))?
            .to_string();
        let shared = Arc::new(Shared::default());
        let service = LanguageRuntimeServer::new(Runtime {
            program,
            shared: shared.clone(),
        });
        let (stop, stopped) = oneshot::channel::<()>();
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
        let task = tokio::spawn(async move {
            let served = tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(e) = served {
                tracing::warn!(target: "pulumi_auto::inline", error = %e, "the inline language host stopped");
            }
        });
        tracing::debug!(target: "pulumi_auto::inline", %address, "inline language host started");
        Ok(Server {
            address,
            stop: Some(stop),
            task: Some(task),
            shared,
        })
    }

    /// Its address, `127.0.0.1:<port>`.
    pub(crate) fn address(&self) -> &str {
        &self.address
    }

    /// Stops it (waiting up to 5 s for open connections to close) and aborts any program
    /// task left; returns the last program failure.
    pub(crate) async fn shutdown(mut self) -> Option<ProgramError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.abort_programs();
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
        {
            task.abort();
            let _ = task.await;
        }
        self.shared
            .failure
            .lock()
            .ok()
            .and_then(|mut f| f.take())
            .map(ProgramError)
    }

    fn abort_programs(&self) {
        if let Ok(tasks) = self.shared.tasks.lock() {
            for t in tasks.iter() {
                t.abort();
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.abort_programs();
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
