//! Typed project settings (`Pulumi.yaml`) and stack settings (`Pulumi.<stack>.yaml`).
//!
//! These are the files the CLI reads. This module reads and writes them directly and never
//! starts a process. The official Automation API SDKs do the same
//! (`ProjectSettings`/`SaveProjectSettings`, `StackSettings`/`SaveStackSettings`).
//!
//! **Read-modify-write keeps every field.** Fields this module has no typed field for
//! (for example `resources:`/`outputs:` of a YAML program, or a key added by a newer CLI)
//! go into `extra` maps and are written back. Anything that is not data is lost, because
//! the whole file is written anew:
//! * **comments** and blank lines,
//! * anchors and aliases (an alias is written out as a copy of its value),
//! * quoting style and indentation,
//! * key order: typed fields are written in a fixed order (`name`, `runtime`, `main`,
//!   `description`, …), then unknown fields in their original order.
//!
//! The Python and Node.js SDKs lose the same things. The CLI itself and the Go SDK try a
//! comment-preserving edit of the original text (Go's `yamlutil.Edit`), so a comment that
//! survives `pulumi config set` does not survive a write through this module.
//!
//! Stack settings have the same rules. Their `config` is written sorted by key. Secret
//! values stay in the form the CLI wrote: `{secure: v1:…}` maps of ciphertext. This module
//! never decrypts anything and never produces plaintext for a secret.
//!
//! Writes are atomic: a temporary file is written in the same directory, synced, then
//! renamed over the target, so a reader sees either the old or the new file. An existing
//! file keeps its permissions. A new file gets `0644` minus the umask. A write holds the
//! file's settings lock (the one every pulumi-auto command that writes it holds, within
//! the process and across processes; see the README's "Concurrent config writes").
//!
//! ```
//! use pulumi_auto::workspace::settings::{parse_project, render_project};
//!
//! let mut project = parse_project("name: demo\nruntime: python\nresources: {}\n")?;
//! assert_eq!(project.runtime.name, "python");
//! project.runtime.set_virtualenv("venv");
//! let text = render_project(&project)?;
//! assert!(text.contains("virtualenv: venv"));
//! assert!(text.contains("resources: {}")); // unknown fields are kept
//! # Ok::<(), pulumi_auto::Error>(())
//! ```
//!
//! On disk:
//!
//! ```no_run
//! # async fn demo() -> pulumi_auto::Result<()> {
//! use std::path::Path;
//! use pulumi_auto::workspace::settings;
//!
//! let dir = Path::new("fixtures/programs/files");
//! let mut project = settings::read_project(dir).await?;
//! project.description = Some("managed by pulumi-auto".into());
//! settings::write_project(dir, &project).await?;
//!
//! let stack = settings::read_stack_settings(dir, "organization/files/dev").await?;
//! println!("secrets provider: {:?}", stack.secrets_provider);
//! # Ok(()) }
//! ```

mod io;
mod project;
mod runtime;
mod stack;
mod yaml;

pub use io::{
    PROJECT_FILE_NAMES, find_project_file, read_project, read_stack_settings,
    stack_settings_file_name, stack_settings_path, write_project, write_stack_settings,
};
pub use project::{
    ProjectBackend, ProjectConfigType, ProjectSettings, parse_project, render_project,
};
pub use runtime::ProjectRuntime;
pub use stack::{
    StackSettings, contains_secure, parse_stack_settings, render_stack_settings, secure_ciphertext,
};
