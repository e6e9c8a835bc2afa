//! Resources an inline program registers: their options and what the engine answers.

use super::value::{PropertyMap, UNKNOWN, Value};

/// How a resource is registered (the options of Pulumi's SDKs).
///
/// ```
/// use pulumi_auto::inline::ResourceOptions;
/// let opts = ResourceOptions::default()
///     .protect(true)
///     .ignore_changes(["content"])
///     .depends_on_urn("urn:pulumi:dev::p::files:index:File::a");
/// assert!(opts.custom);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
#[must_use]
pub struct ResourceOptions {
    /// A custom resource (managed by a provider; the default) or a component (`false`:
    /// a group of children, managed by the program).
    pub custom: bool,
    /// The parent's URN; none means the stack.
    pub parent: Option<String>,
    /// The provider reference (`<provider URN>::<provider ID>`), see
    /// [`Resource::provider_reference`]; none means the package's default provider.
    pub provider: Option<String>,
    /// The provider plugin's version.
    pub version: Option<String>,
    /// URNs of resources this one depends on, beyond those its inputs reference.
    pub dependencies: Vec<String>,
    /// Refuse to delete it.
    pub protect: Option<bool>,
    /// Input properties whose changes are ignored.
    pub ignore_changes: Vec<String>,
    /// Input properties whose changes force a replacement.
    pub replace_on_changes: Vec<String>,
    /// Delete before creating the replacement.
    pub delete_before_replace: Option<bool>,
    /// Leave the real resource when it is deleted from the stack.
    pub retain_on_delete: Option<bool>,
    /// Outputs the engine must treat as secrets.
    pub additional_secret_outputs: Vec<String>,
}

impl Default for ResourceOptions {
    fn default() -> Self {
        ResourceOptions {
            custom: true,
            parent: None,
            provider: None,
            version: None,
            dependencies: Vec::new(),
            protect: None,
            ignore_changes: Vec::new(),
            replace_on_changes: Vec::new(),
            delete_before_replace: None,
            retain_on_delete: None,
            additional_secret_outputs: Vec::new(),
        }
    }
}

impl ResourceOptions {
    /// Options of a component resource.
    pub fn component() -> Self {
        ResourceOptions {
            custom: false,
            ..Default::default()
        }
    }
    /// A custom resource (`true`) or a component (`false`).
    pub fn custom(mut self, on: bool) -> Self {
        self.custom = on;
        self
    }
    /// The parent resource.
    pub fn parent(mut self, parent: &Resource) -> Self {
        self.parent = Some(parent.urn.clone());
        self
    }
    /// The parent, by URN.
    pub fn parent_urn(mut self, urn: impl Into<String>) -> Self {
        self.parent = Some(urn.into());
        self
    }
    /// An explicit provider (a registered `pulumi:providers:<package>` resource).
    pub fn provider(mut self, provider: &Resource) -> Self {
        self.provider = Some(provider.provider_reference());
        self
    }
    /// The provider plugin's version.
    pub fn version(mut self, v: impl Into<String>) -> Self {
        self.version = Some(v.into());
        self
    }
    /// Depends on a resource.
    pub fn depends_on(mut self, r: &Resource) -> Self {
        self.dependencies.push(r.urn.clone());
        self
    }
    /// Depends on a resource, by URN.
    pub fn depends_on_urn(mut self, urn: impl Into<String>) -> Self {
        self.dependencies.push(urn.into());
        self
    }
    /// Protect it from deletion.
    pub fn protect(mut self, on: bool) -> Self {
        self.protect = Some(on);
        self
    }
    /// Ignore changes of these inputs.
    pub fn ignore_changes<S: Into<String>>(mut self, props: impl IntoIterator<Item = S>) -> Self {
        self.ignore_changes
            .extend(props.into_iter().map(Into::into));
        self
    }
    /// Replace on changes of these inputs.
    pub fn replace_on_changes<S: Into<String>>(
        mut self,
        props: impl IntoIterator<Item = S>,
    ) -> Self {
        self.replace_on_changes
            .extend(props.into_iter().map(Into::into));
        self
    }
    /// Delete before creating the replacement.
    pub fn delete_before_replace(mut self, on: bool) -> Self {
        self.delete_before_replace = Some(on);
        self
    }
    /// Leave the real resource when deleted from the stack.
    pub fn retain_on_delete(mut self, on: bool) -> Self {
        self.retain_on_delete = Some(on);
        self
    }
    /// Treat these outputs as secrets.
    pub fn additional_secret_outputs<S: Into<String>>(
        mut self,
        props: impl IntoIterator<Item = S>,
    ) -> Self {
        self.additional_secret_outputs
            .extend(props.into_iter().map(Into::into));
        self
    }
}

/// A registered resource: what the engine answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// Its URN (known in previews too).
    pub urn: String,
    /// Its ID: a string for a custom resource, [`Value::Unknown`] during a preview of a
    /// create, [`Value::Null`] for a component.
    pub id: Value,
    /// Its outputs (unknown ones during a preview are [`Value::Unknown`]).
    pub outputs: PropertyMap,
    /// Whether it is a custom resource.
    pub custom: bool,
}

impl Resource {
    /// An output, [`Value::Null`] when absent.
    pub fn output(&self, name: &str) -> &Value {
        const NULL: &Value = &Value::Null;
        self.outputs.get(name).unwrap_or(NULL)
    }

    /// A reference to this resource as a property value (Pulumi's resource reference).
    pub fn reference(&self) -> Value {
        Value::ResourceRef {
            urn: self.urn.clone(),
            id: self.custom.then(|| Box::new(self.id.clone())),
            package_version: String::new(),
        }
    }

    /// This resource as a provider reference, `<URN>::<ID>` (the unknown marker as the
    /// ID during a preview of its create).
    pub fn provider_reference(&self) -> String {
        let id = match &self.id {
            Value::String(s) => s.as_str(),
            _ => UNKNOWN,
        };
        format!("{}::{id}", self.urn)
    }
}
