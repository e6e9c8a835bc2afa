//! [`Context`]: what an inline program gets to talk to the engine.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::Notify;
use tonic::transport::Channel;

use super::proto::pulumirpc::{
    LogRequest, LogSeverity, RegisterResourceOutputsRequest, RegisterResourceRequest,
    ResourceInvokeRequest, RunRequest, engine_client::EngineClient,
    resource_monitor_client::ResourceMonitorClient,
};
use super::resource::{Resource, ResourceOptions};
use super::value::{PropertyMap, Value, from_struct, to_struct};
use crate::error::{Error, Result};
use crate::secret::Secret;

/// The type of the root stack resource.
pub(crate) const STACK_TYPE: &str = "pulumi:pulumi:Stack";

/// The severity of a [`Context::log`] message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogLevel {
    /// Not shown unless asked for (`--debug`).
    Debug,
    /// Shown with the resource or stack.
    Info,
    /// A warning.
    Warning,
    /// An error (the update fails).
    Error,
}

/// An inline program's handle on the engine: resources, outputs, config, invokes, logs.
///
/// Cheap to clone (all clones are the same run); every call may run concurrently with
/// the others. The run ends when the program's future does, after every call still in
/// flight has been answered. `Debug` shows the project, stack and mode, never config.
#[derive(Clone)]
pub struct Context {
    inner: Arc<Inner>,
}

struct Inner {
    monitor: ResourceMonitorClient<Channel>,
    engine: Option<EngineClient<Channel>>,
    project: String,
    stack: String,
    organization: String,
    dry_run: bool,
    parallel: i32,
    config: BTreeMap<String, String>,
    secret_keys: BTreeSet<String>,
    /// The secret config values, redacted from errors and log messages.
    redactions: Vec<Secret>,
    root: OnceLock<String>,
    exports: Mutex<PropertyMap>,
    in_flight: AtomicUsize,
    idle: Notify,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("project", &self.inner.project)
            .field("stack", &self.inner.stack)
            .field("dry_run", &self.inner.dry_run)
            .field("config_keys", &self.inner.config.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Counts a call in flight while it lives.
struct InFlight<'a>(&'a Inner);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

async fn connect(address: &str) -> Result<Channel> {
    let endpoint = Channel::from_shared(format!("http://{address}"))
        .map_err(|e| Error::invalid("engine address", format!("{address:?}: {e}")))?;
    endpoint
        .connect()
        .await
        .map_err(|e| Error::EngineRequestFailed {
            request: format!("connecting to {address}"),
            message: e.to_string(),
        })
}

impl Context {
    /// Connects to the engine a `Run` request names.
    pub(crate) async fn connect(req: &RunRequest) -> Result<Context> {
        let monitor = ResourceMonitorClient::new(connect(&req.monitor_address).await?);
        let engine = match req.args.first() {
            Some(a) if !a.is_empty() => Some(EngineClient::new(connect(a).await?)),
            _ => None,
        };
        let secret_keys: BTreeSet<String> = req.config_secret_keys.iter().cloned().collect();
        let redactions = req
            .config
            .iter()
            .filter(|(k, _)| secret_keys.contains(*k))
            .map(|(_, v)| Secret::new(v.clone()))
            .collect();
        Ok(Context {
            inner: Arc::new(Inner {
                monitor,
                engine,
                project: req.project.clone(),
                stack: req.stack.clone(),
                organization: req.organization.clone(),
                dry_run: req.dry_run,
                parallel: req.parallel,
                config: req.config.clone().into_iter().collect(),
                secret_keys,
                redactions,
                root: OnceLock::new(),
                exports: Mutex::new(PropertyMap::new()),
                in_flight: AtomicUsize::new(0),
                idle: Notify::new(),
            }),
        })
    }

    /// The secret config values of the run (to redact from what leaves it).
    pub(crate) fn redactions(&self) -> &[Secret] {
        &self.inner.redactions
    }

    fn redact(&self, text: &str) -> String {
        crate::secret::redact(text, &self.inner.redactions)
    }

    fn begin(&self) -> InFlight<'_> {
        self.inner.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(&self.inner)
    }

    /// Waits until no call is in flight.
    pub(crate) async fn wait_idle(&self) {
        loop {
            let idle = self.inner.idle.notified();
            if self.inner.in_flight.load(Ordering::SeqCst) == 0 {
                return;
            }
            idle.await;
        }
    }

    fn failed(&self, request: String, status: tonic::Status) -> Error {
        Error::EngineRequestFailed {
            request,
            message: self.redact(status.message()),
        }
    }

    /// The project's name.
    pub fn project(&self) -> &str {
        &self.inner.project
    }
    /// The stack's name.
    pub fn stack(&self) -> &str {
        &self.inner.stack
    }
    /// The organization, where the backend has one.
    pub fn organization(&self) -> &str {
        &self.inner.organization
    }
    /// Whether this run is a preview (`true`) or an update.
    pub fn is_preview(&self) -> bool {
        self.inner.dry_run
    }
    /// How many resource operations the engine runs at once.
    pub fn parallel(&self) -> i32 {
        self.inner.parallel
    }
    /// The root stack resource's URN (set before the program starts).
    pub fn stack_urn(&self) -> &str {
        self.inner.root.get().map_or("", String::as_str)
    }

    fn config_key(&self, key: &str) -> String {
        match key.contains(':') {
            true => key.to_owned(),
            false => format!("{}:{key}", self.inner.project),
        }
    }

    /// A config value: `key` is `name` (the project's namespace) or `namespace:name`. A
    /// secret one comes as [`Value::Secret`]; structured values are their JSON text.
    pub fn config(&self, key: &str) -> Option<Value> {
        let key = self.config_key(key);
        let v = self.inner.config.get(&key)?;
        Some(match self.inner.secret_keys.contains(&key) {
            true => Value::secret(v.as_str()),
            false => Value::String(v.clone()),
        })
    }

    /// A config value that is not secret (`None` if absent or secret: see
    /// [`secret_config`](Self::secret_config)).
    pub fn config_str(&self, key: &str) -> Option<String> {
        let key = self.config_key(key);
        match self.inner.secret_keys.contains(&key) {
            true => None,
            false => self.inner.config.get(&key).cloned(),
        }
    }

    /// A secret config value (a plain one is returned as a secret too).
    pub fn secret_config(&self, key: &str) -> Option<Secret> {
        let key = self.config_key(key);
        self.inner.config.get(&key).map(|v| Secret::new(v.clone()))
    }

    /// Whether a config key is secret.
    pub fn is_config_secret(&self, key: &str) -> bool {
        self.inner.secret_keys.contains(&self.config_key(key))
    }

    /// Registers a resource: creates, updates, replaces or keeps it (or, in a preview,
    /// says what would be done), and returns its URN, ID and outputs. Resources without
    /// a parent are the stack's children.
    pub async fn register_resource(
        &self,
        ty: &str,
        name: &str,
        inputs: PropertyMap,
        opts: ResourceOptions,
    ) -> Result<Resource> {
        if ty.split(':').count() != 3 || name.is_empty() {
            return Err(Error::invalid(
                "resource",
                format!("type {ty:?} must be package:module:type and the name {name:?} not empty"),
            ));
        }
        let parent = opts
            .parent
            .clone()
            .unwrap_or_else(|| self.stack_urn().to_owned());
        self.register(ty, name, inputs, opts, parent).await
    }

    pub(crate) async fn register(
        &self,
        ty: &str,
        name: &str,
        inputs: PropertyMap,
        opts: ResourceOptions,
        parent: String,
    ) -> Result<Resource> {
        let req = RegisterResourceRequest {
            r#type: ty.to_owned(),
            name: name.to_owned(),
            parent,
            custom: opts.custom,
            object: Some(to_struct(&inputs)),
            protect: opts.protect,
            dependencies: opts.dependencies,
            provider: opts.provider.unwrap_or_default(),
            delete_before_replace: opts.delete_before_replace.unwrap_or(false),
            delete_before_replace_defined: opts.delete_before_replace.is_some(),
            version: opts.version.unwrap_or_default(),
            ignore_changes: opts.ignore_changes,
            accept_secrets: true,
            accept_resources: true,
            supports_partial_values: true,
            additional_secret_outputs: opts.additional_secret_outputs,
            replace_on_changes: opts.replace_on_changes,
            retain_on_delete: opts.retain_on_delete,
            ..Default::default()
        };
        let _in_flight = self.begin();
        let resp = self
            .inner
            .monitor
            .clone()
            .register_resource(req)
            .await
            .map_err(|s| self.failed(format!("RegisterResource {ty}::{name}"), s))?
            .into_inner();
        let outputs = resp.object.as_ref().map(from_struct).unwrap_or_default();
        let id = match (opts.custom, resp.id.is_empty()) {
            (false, _) => Value::Null,
            (true, false) if resp.id != super::value::UNKNOWN => Value::String(resp.id),
            (true, _) if self.inner.dry_run => Value::Unknown,
            (true, _) => Value::String(String::new()),
        };
        Ok(Resource {
            urn: resp.urn,
            id,
            outputs,
            custom: opts.custom,
        })
    }

    /// Registers a component resource (a group of children, no provider): give it as
    /// the parent of its children ([`ResourceOptions::parent`]) and, when they are
    /// registered, its outputs ([`register_outputs`](Self::register_outputs)).
    pub async fn register_component(
        &self,
        ty: &str,
        name: &str,
        opts: ResourceOptions,
    ) -> Result<Resource> {
        self.register_resource(ty, name, PropertyMap::new(), opts.custom(false))
            .await
    }

    /// Records a component's outputs.
    pub async fn register_outputs(&self, resource: &Resource, outputs: PropertyMap) -> Result<()> {
        self.register_outputs_of(&resource.urn, outputs).await
    }

    pub(crate) async fn register_outputs_of(&self, urn: &str, outputs: PropertyMap) -> Result<()> {
        let _in_flight = self.begin();
        self.inner
            .monitor
            .clone()
            .register_resource_outputs(RegisterResourceOutputsRequest {
                urn: urn.to_owned(),
                outputs: Some(to_struct(&outputs)),
            })
            .await
            .map_err(|s| self.failed(format!("RegisterResourceOutputs {urn}"), s))?;
        Ok(())
    }

    /// Sets the root stack resource's URN.
    pub(crate) fn set_stack_urn(&self, urn: String) {
        let _ = self.inner.root.set(urn);
    }

    /// Exports a stack output (registered when the program ends; the last value of a
    /// name wins).
    pub fn export(&self, name: impl Into<String>, value: impl Into<Value>) {
        if let Ok(mut e) = self.inner.exports.lock() {
            e.insert(name.into(), value.into());
        }
    }

    /// Exports a stack output as a secret.
    pub fn export_secret(&self, name: impl Into<String>, value: impl Into<Value>) {
        self.export(name, Value::secret(value));
    }

    /// The outputs exported so far.
    pub(crate) fn exports(&self) -> PropertyMap {
        self.inner
            .exports
            .lock()
            .map(|e| e.clone())
            .unwrap_or_default()
    }

    /// Calls a provider function (`token` is `package:module:function`) and returns its
    /// result. Failed checks of the arguments are an [`Error::EngineRequestFailed`].
    pub async fn invoke(&self, token: &str, args: PropertyMap) -> Result<PropertyMap> {
        let _in_flight = self.begin();
        let resp = self
            .inner
            .monitor
            .clone()
            .invoke(ResourceInvokeRequest {
                tok: token.to_owned(),
                args: Some(to_struct(&args)),
                accept_resources: true,
                ..Default::default()
            })
            .await
            .map_err(|s| self.failed(format!("Invoke {token}"), s))?
            .into_inner();
        if !resp.failures.is_empty() {
            let reasons: Vec<String> = resp
                .failures
                .iter()
                .map(|f| format!("{}: {}", f.property, f.reason))
                .collect();
            return Err(Error::EngineRequestFailed {
                request: format!("Invoke {token}"),
                message: self.redact(&reasons.join("; ")),
            });
        }
        Ok(resp.r#return.as_ref().map(from_struct).unwrap_or_default())
    }

    /// Logs a message through the engine (shown with the stack, or with `resource`'s
    /// URN when given). Secret config values are redacted from it.
    pub async fn log(
        &self,
        level: LogLevel,
        message: &str,
        resource: Option<&Resource>,
    ) -> Result<()> {
        let Some(engine) = &self.inner.engine else {
            return Ok(());
        };
        let severity = match level {
            LogLevel::Debug => LogSeverity::Debug,
            LogLevel::Info => LogSeverity::Info,
            LogLevel::Warning => LogSeverity::Warning,
            LogLevel::Error => LogSeverity::Error,
        };
        let _in_flight = self.begin();
        engine
            .clone()
            .log(LogRequest {
                severity: severity as i32,
                message: self.redact(message),
                urn: resource.map(|r| r.urn.clone()).unwrap_or_default(),
                ..Default::default()
            })
            .await
            .map_err(|s| self.failed("Log".into(), s))?;
        Ok(())
    }

    /// [`log`](Self::log) at [`LogLevel::Info`], about the stack.
    pub async fn info(&self, message: &str) -> Result<()> {
        self.log(LogLevel::Info, message, None).await
    }

    /// [`log`](Self::log) at [`LogLevel::Warning`], about the stack.
    pub async fn warn(&self, message: &str) -> Result<()> {
        self.log(LogLevel::Warning, message, None).await
    }

    /// The root stack's type and name (`<project>-<stack>`).
    pub(crate) fn root_name(&self) -> String {
        format!("{}-{}", self.inner.project, self.inner.stack)
    }
}
