//! `stacks`: the backend's stacks of the project.

use serde_json::{Value, json};

use super::{Ctx, Fields};
use crate::exit::Failure;
use crate::report::Mode;

impl Ctx {
    /// `stacks`: a table of the stacks (name, last update, resource count).
    pub(super) async fn stacks(&mut self) -> Result<Fields, Failure> {
        let passphrase = self.passphrase().await?;
        let ws = self.workspace(passphrase).await?;
        let stacks = self
            .ints
            .short("listing the stacks", ws.list_stacks())
            .await?;
        if self.ui.mode != Mode::Json {
            if stacks.is_empty() {
                self.ui.out("no stacks");
            } else {
                self.ui.out(&format!(
                    "{:<24} {:<26} {}",
                    "NAME", "LAST UPDATE", "RESOURCES"
                ));
                for s in &stacks {
                    self.ui.out(&format!(
                        "{:<24} {:<26} {}",
                        s.name,
                        s.last_update.as_deref().unwrap_or("never"),
                        s.resource_count
                            .map(|n| n.to_string())
                            .unwrap_or_else(|| "-".into())
                    ));
                }
            }
        }
        let list: Vec<Value> = stacks
            .iter()
            .map(|s| {
                json!({
                    "name": s.name,
                    "lastUpdate": s.last_update,
                    "resourceCount": s.resource_count,
                })
            })
            .collect();
        let mut f = Fields::new();
        f.insert("stacks".into(), Value::Array(list));
        Ok(f)
    }
}
