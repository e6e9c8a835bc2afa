//! `config set` and `config get`.

use pulumi_auto::stack::{ConfigKey, ConfigSetValue};
use serde_json::json;

use super::{Ctx, Fields, check_maskable};
use crate::args::{ConfigGetArgs, ConfigSetArgs};
use crate::exit::Failure;
use crate::input;
use crate::report::{MASK, Mode};

/// The key as given: a path (`a.b[0]`) with `--path`.
fn config_key(key: &str, path: bool) -> ConfigKey {
    if path {
        ConfigKey::path(key.to_owned())
    } else {
        ConfigKey::new(key.to_owned())
    }
}

impl Ctx {
    /// The value `config set` sets: VALUE, or with `--secret` one read from stdin or a
    /// prompt (never from the command line).
    async fn value_to_set(&mut self, a: &ConfigSetArgs) -> Result<ConfigSetValue, Failure> {
        match (a.secret, &a.value) {
            (true, Some(_)) => Err(Failure::usage(
                "a secret value is never taken from the command line: leave VALUE out and give it on stdin or at the prompt",
            )),
            (false, None) => Err(Failure::usage(
                "config set needs a VALUE (or --secret, to read it from stdin or a prompt)",
            )),
            (false, Some(v)) => Ok(ConfigSetValue::Plain(v.clone())),
            (true, None) => {
                let s = input::secret(&mut self.ints, &format!("secret {}", a.key)).await?;
                check_maskable(&format!("the value of secret {}", a.key), &s)?;
                self.ui.add_secret(&s);
                Ok(ConfigSetValue::Secret(s))
            }
        }
    }

    /// `config set`: creates the stack if needed.
    pub(super) async fn config_set(&mut self, a: ConfigSetArgs) -> Result<Fields, Failure> {
        let name = self.stack_name("config set")?;
        let key = config_key(&a.key, a.path);
        // A bad combination is refused before the passphrase is read.
        let passphrase = match (a.secret, &a.value) {
            (true, Some(_)) | (false, None) => None,
            _ => self.passphrase().await?,
        };
        let value = self.value_to_set(&a).await?;
        let ws = self.workspace(passphrase).await?;
        let stack = self
            .ints
            .short("selecting the stack", ws.create_or_select_stack(&name))
            .await?;
        self.ints
            .short("setting config", stack.set_config(key, value))
            .await?;
        if self.ui.mode != Mode::Json {
            self.ui.out(&format!(
                "set {}{} on stack {name}",
                a.key,
                if a.secret { " (secret)" } else { "" }
            ));
        }
        let mut f = Fields::new();
        f.insert("key".into(), json!(a.key));
        f.insert("secret".into(), json!(a.secret));
        Ok(f)
    }

    /// `config get`: the value, a secret one masked unless `--show-secrets`.
    pub(super) async fn config_get(&mut self, a: ConfigGetArgs) -> Result<Fields, Failure> {
        let stack = self.prepare("config get", false, false, None).await?;
        let v = self
            .ints
            .short(
                "reading config",
                stack.get_config(config_key(&a.key, a.path)),
            )
            .await?;
        let text = v.value.clone().unwrap_or_default();
        let shown = if v.secret && !a.show_secrets {
            MASK.to_owned()
        } else {
            text
        };
        if self.ui.mode != Mode::Json {
            // Asked for by name: printed as is (a secret only with --show-secrets).
            println!("{shown}");
        }
        let mut f = Fields::new();
        f.insert("key".into(), json!(a.key));
        f.insert("value".into(), json!(shown));
        f.insert("secret".into(), json!(v.secret));
        Ok(f)
    }
}
