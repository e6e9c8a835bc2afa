//! `outputs`, and how outputs are shown (also after `up`).

use pulumi_auto::model::OutputMap;
use serde_json::{Map, Value, json};

use super::{Ctx, Fields};
use crate::args::OutputsArgs;
use crate::exit::Failure;
use crate::report::{MASK, Mode};

/// An output value as text: strings as they are, anything else as compact JSON.
fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The `outputs` field of a JSON result object: secret values masked unless
/// `show_secrets`.
pub(super) fn outputs_json(outputs: &OutputMap, show_secrets: bool) -> Value {
    let m: Map<String, Value> = outputs
        .iter()
        .map(|(k, o)| {
            let v = if o.secret && !show_secrets {
                Value::String(MASK.into())
            } else {
                o.value.clone()
            };
            (k.clone(), json!({"value": v, "secret": o.secret}))
        })
        .collect();
    Value::Object(m)
}

impl Ctx {
    /// Prints the outputs, one a line (nothing with `--json`: they are in the result).
    pub(super) fn print_outputs(&self, outputs: &OutputMap, show_secrets: bool) {
        if self.ui.mode == Mode::Json {
            return;
        }
        if outputs.is_empty() {
            self.ui.out("no outputs");
            return;
        }
        self.ui.out("Outputs:");
        for (name, o) in outputs {
            if o.secret && !show_secrets {
                self.ui.out(&format!("  {name}: {MASK}"));
            } else if o.secret {
                // Asked for in clear: not masked.
                println!("  {name}: {}", value_text(&o.value));
            } else {
                self.ui.out(&format!("  {name}: {}", value_text(&o.value)));
            }
        }
    }

    /// `outputs` of an existing stack.
    pub(super) async fn outputs(&mut self, a: OutputsArgs) -> Result<Fields, Failure> {
        let stack = self.prepare("outputs", false, false, None).await?;
        let outputs = self
            .ints
            .short("reading the outputs", stack.outputs())
            .await?;
        self.print_outputs(&outputs, a.show_secrets);
        let mut f = Fields::new();
        f.insert("outputs".into(), outputs_json(&outputs, a.show_secrets));
        Ok(f)
    }
}
