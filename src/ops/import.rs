//! `pulumi import`: adopt existing resources into the stack.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::engine::{self, OpResult, OperationEvents, OperationFuture};
use super::options::{CommonOptions, Control, common_setters};
use crate::error::{Error, Result};
use crate::stack::Stack;

/// One resource to import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
#[must_use]
pub struct ImportResource {
    /// Its type token (`aws:s3/bucket:Bucket`).
    #[serde(rename = "type")]
    pub type_: String,
    /// Its name in the stack.
    pub name: String,
    /// The provider's ID of the existing resource.
    pub id: String,
    /// The parent's URN, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// The provider's URN (with `::<id>`), if not the default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
}

impl ImportResource {
    /// A resource of this type and name, with this ID.
    pub fn new(type_: impl Into<String>, name: impl Into<String>, id: impl Into<String>) -> Self {
        ImportResource {
            type_: type_.into(),
            name: name.into(),
            id: id.into(),
            parent: None,
            provider: None,
        }
    }
    /// Its parent's URN.
    pub fn parent(mut self, urn: impl Into<String>) -> Self {
        self.parent = Some(urn.into());
        self
    }
    /// The URN of its provider (with `::<id>`), when not the default.
    pub fn provider(mut self, urn: impl Into<String>) -> Self {
        self.provider = Some(urn.into());
        self
    }
}

/// What to import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportSource {
    /// These resources (written to a temporary import file).
    Resources(Vec<ImportResource>),
    /// An import file in the CLI's format (`--file`).
    File(PathBuf),
}

impl Default for ImportSource {
    fn default() -> Self {
        ImportSource::Resources(Vec::new())
    }
}

/// Options of [`Stack::import`](crate::Stack::import).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
#[must_use]
pub struct ImportOptions {
    /// Flags shared with the other operations.
    pub common: CommonOptions,
    /// Callbacks, cancellation and timeout.
    pub control: Control,
    /// What to import.
    pub source: ImportSource,
    /// Mark imported resources protected (the CLI's default is to protect them).
    pub protect: bool,
    /// Only show what would be imported (`--preview-only`).
    pub preview_only: bool,
    /// Write the generated code here (`--out`); no code is generated otherwise. Code
    /// generation is done by the program's language host: the project's own Python host
    /// (built where pulumi's release cannot be downloaded) does not implement it, and the
    /// import then fails after adopting the resources; the official host does.
    pub generate_code_to: Option<PathBuf>,
}

common_setters!(ImportOptions);

impl ImportOptions {
    /// Imports these resources.
    pub fn resources(resources: Vec<ImportResource>) -> Self {
        ImportOptions {
            source: ImportSource::Resources(resources),
            protect: true,
            ..Default::default()
        }
    }
    /// Imports what an import file lists.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        ImportOptions {
            source: ImportSource::File(path.into()),
            protect: true,
            ..Default::default()
        }
    }
    /// Whether imported resources are protected.
    pub fn protect(mut self, on: bool) -> Self {
        self.protect = on;
        self
    }
    /// Only show what would be imported.
    pub fn preview_only(mut self, on: bool) -> Self {
        self.preview_only = on;
        self
    }
    /// What to import.
    pub fn source(mut self, source: ImportSource) -> Self {
        self.source = source;
        self
    }
    /// Write the generated code to this file (see
    /// [`generate_code_to`](Self::generate_code_to)).
    pub fn generate_code_to(mut self, path: impl Into<PathBuf>) -> Self {
        self.generate_code_to = Some(path.into());
        self
    }

    /// The import file's JSON for [`ImportSource::Resources`].
    pub fn import_file_json(resources: &[ImportResource]) -> Result<String> {
        #[derive(Serialize)]
        struct File<'a> {
            resources: &'a [ImportResource],
        }
        for r in resources {
            if r.type_.is_empty() || r.name.is_empty() || r.id.is_empty() {
                return Err(Error::invalid(
                    "import resource",
                    format!("type, name and id must be non-empty: {r:?}"),
                ));
            }
        }
        if resources.is_empty() {
            return Err(Error::invalid("import", "nothing to import"));
        }
        serde_json::to_string_pretty(&File { resources })
            .map_err(|e| Error::invalid("import", e.to_string()))
    }

    /// The arguments of `pulumi import` (pure); `file` is the import file to use.
    pub fn to_args(
        &self,
        stack: &str,
        file: &Path,
        event_log: Option<&Path>,
    ) -> Result<Vec<String>> {
        let mut args: Vec<String> = vec![
            "import".into(),
            "--stack".into(),
            stack.into(),
            "--file".into(),
            super::options::absolute("--file", file)?
                .display()
                .to_string(),
        ];
        if self.preview_only {
            args.push("--preview-only".into());
        } else {
            args.extend(["--yes".into(), "--skip-preview".into()]);
        }
        args.push(format!("--protect={}", self.protect));
        match &self.generate_code_to {
            Some(out) => args.extend([
                "--out".into(),
                super::options::absolute("--out", out)?
                    .display()
                    .to_string(),
            ]),
            None => args.push("--generate-code=false".into()),
        }
        self.common.push_args(&mut args)?;
        engine::push_event_log(&mut args, event_log);
        self.common.push_extra_args("import", &mut args)?;
        Ok(args)
    }
}

impl Stack {
    /// Adopts existing resources into the stack. One process.
    pub async fn import(&self, opts: ImportOptions) -> Result<OpResult> {
        let dir = tempfile::Builder::new()
            .prefix("pulumi-auto-import-")
            .tempdir()
            .map_err(|e| Error::io("creating the import file's directory", e))?;
        let file = match &opts.source {
            ImportSource::File(p) => p.clone(),
            ImportSource::Resources(rs) => {
                let json = ImportOptions::import_file_json(rs)?;
                let p = dir.path().join("import.json");
                tokio::fs::write(&p, json)
                    .await
                    .map_err(|e| Error::io("writing the import file", e))?;
                p
            }
        };
        let build = |log: Option<&Path>| opts.to_args(self.name(), &file, log);
        Ok(engine::run(self, build, &opts.control)
            .await?
            .into_op_result())
    }

    /// Like [`import`](Self::import), with the events also delivered as a stream (see
    /// [`up_with_events`](Self::up_with_events)).
    pub fn import_with_events(
        &self,
        opts: ImportOptions,
    ) -> (OperationEvents, OperationFuture<OpResult>) {
        engine::with_events(self, opts, |s, o| async move { s.import(o).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_and_file() {
        let o = ImportOptions::resources(vec![ImportResource::new("t:m:R", "n", "id-1")])
            .protect(false);
        assert_eq!(
            o.to_args("dev", Path::new("/imp.json"), None).unwrap(),
            [
                "import",
                "--stack",
                "dev",
                "--file",
                "/imp.json",
                "--yes",
                "--skip-preview",
                "--protect=false",
                "--generate-code=false",
                "--color=never",
            ]
        );
        let json =
            ImportOptions::import_file_json(&[ImportResource::new("t:m:R", "n", "id-1")]).unwrap();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["resources"][0]["type"], "t:m:R");
        assert!(v["resources"][0].get("parent").is_none());
        assert!(ImportOptions::import_file_json(&[]).is_err());
        let child = ImportResource::new("t:m:R", "c", "id-2")
            .parent("urn:p")
            .provider("urn:prov::id");
        let json = ImportOptions::import_file_json(&[child]).unwrap();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            (&v["resources"][0]["parent"], &v["resources"][0]["provider"]),
            (
                &serde_json::json!("urn:p"),
                &serde_json::json!("urn:prov::id")
            )
        );
        let code = ImportOptions::file("/imp.json")
            .generate_code_to("/out.py")
            .to_args("dev", Path::new("/imp.json"), None)
            .unwrap();
        assert!(
            code.windows(2).any(|w| w == ["--out", "/out.py"]),
            "{code:?}"
        );
        assert!(!code.contains(&"--generate-code=false".to_owned()));
        assert!(ImportOptions::import_file_json(&[ImportResource::new("", "n", "i")]).is_err());
    }
}
