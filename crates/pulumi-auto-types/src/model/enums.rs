//! Open string enums: the CLI's string sets (update kinds, step ops, …) as Rust enums
//! that keep unknown values in an `Other(String)` variant.
//!
//! Build them with `From<&str>`/`From<String>` (or [`str::parse`]), which maps known
//! strings to their variant; `Other` is only for strings this crate does not know.
//! They serialise back to exactly the string they were read from, and compare equal to
//! it (`result == "succeeded"`).

/// Defines an open string enum with `as_str`, `Display`, `From<&str>`, `From<String>`,
/// `FromStr`, `PartialEq<str>`, `Serialize` and `Deserialize`.
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this version of the crate does not know, kept verbatim.
            Other(String),
        }

        impl $name {
            /// Every known value, in declaration order (without `Other`).
            pub const KNOWN: &'static [$name] = &[$($name::$variant),+];

            /// The string the CLI uses for this value.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $text, )+
                    $name::Other(s) => s.as_str(),
                }
            }

            /// True for the `Other` fallback.
            pub fn is_other(&self) -> bool {
                matches!(self, $name::Other(_))
            }
        }

        impl ::std::default::Default for $name {
            /// An empty `Other`: what a missing field reads as.
            fn default() -> Self {
                $name::Other(String::new())
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::cmp::PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl ::std::cmp::PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl ::std::convert::From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $( $text => $name::$variant, )+
                    other => $name::Other(other.to_string()),
                }
            }
        }

        impl ::std::convert::From<String> for $name {
            fn from(s: String) -> Self {
                match s.as_str() {
                    $( $text => $name::$variant, )+
                    _ => $name::Other(s),
                }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = ::std::convert::Infallible;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok($name::from(s))
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                <String as ::serde::Deserialize>::deserialize(deserializer).map($name::from)
            }
        }
    };
}

string_enum! {
    /// The kind of an update in `pulumi stack history` (Go `apitype.UpdateKind`).
    UpdateKind {
        /// `update`: a `pulumi up`.
        Update => "update",
        /// `preview`.
        Preview => "preview",
        /// `refresh`.
        Refresh => "refresh",
        /// `rename`: a stack or project rename.
        Rename => "rename",
        /// `destroy`.
        Destroy => "destroy",
        /// `import`: a `pulumi stack import` of a raw checkpoint.
        Import => "import",
        /// `resource-import`: a `pulumi import` of resources.
        ResourceImport => "resource-import",
    }
}

string_enum! {
    /// The result of an update in `pulumi stack history` (Go `apitype.UpdateResult`).
    UpdateResult {
        /// `not-started`.
        NotStarted => "not-started",
        /// `in-progress`.
        InProgress => "in-progress",
        /// `succeeded`.
        Succeeded => "succeeded",
        /// `failed`.
        Failed => "failed",
    }
}

string_enum! {
    /// How an engine operation ended: the `result` of its summary event.
    OperationResult {
        /// `succeeded`.
        Succeeded => "succeeded",
        /// `failed`.
        Failed => "failed",
        /// `canceled`: the engine's context was cancelled.
        Canceled => "canceled",
    }
}

string_enum! {
    /// A resource step operation (Go `display.StepOp`), as in the preview digest's
    /// `op` and the keys of change summaries.
    StepOp {
        /// `same`: nothing to do.
        Same => "same",
        /// `create`.
        Create => "create",
        /// `update`.
        Update => "update",
        /// `delete`.
        Delete => "delete",
        /// `replace`.
        Replace => "replace",
        /// `create-replacement`: the create half of a replacement.
        CreateReplacement => "create-replacement",
        /// `delete-replaced`: the delete half of a replacement.
        DeleteReplaced => "delete-replaced",
        /// `read`.
        Read => "read",
        /// `read-replacement`.
        ReadReplacement => "read-replacement",
        /// `refresh`.
        Refresh => "refresh",
        /// `discard`: removing a resource that was read.
        Discard => "discard",
        /// `discard-replaced`.
        DiscardReplaced => "discard-replaced",
        /// `remove-pending-replace`.
        RemovePendingReplace => "remove-pending-replace",
        /// `import`.
        Import => "import",
        /// `import-replacement`.
        ImportReplacement => "import-replacement",
        /// `diff`: diffing with an imported resource.
        Diff => "diff",
        /// `extend-parameterize`.
        ExtendParameterize => "extend-parameterize",
    }
}

impl StepOp {
    /// True for operations that change something (everything except `same`, `read`,
    /// `diff` and `refresh`, which do not modify resources on their own).
    pub fn is_change(&self) -> bool {
        !matches!(
            self,
            StepOp::Same | StepOp::Read | StepOp::Diff | StepOp::Refresh
        )
    }
}

string_enum! {
    /// The kind of a pending operation in a deployment (Go `apitype.OperationType`).
    OperationType {
        /// `creating`: the resource may or may not exist; the usual leftover of an
        /// interrupted `up`.
        Creating => "creating",
        /// `updating`.
        Updating => "updating",
        /// `deleting`.
        Deleting => "deleting",
        /// `reading`.
        Reading => "reading",
        /// `importing`.
        Importing => "importing",
    }
}

string_enum! {
    /// The kind of a plugin (Go `apitype.PluginKind`).
    PluginKind {
        /// `analyzer`: a policy pack.
        Analyzer => "analyzer",
        /// `language`: a language host.
        Language => "language",
        /// `resource`: a resource provider.
        Resource => "resource",
        /// `converter`.
        Converter => "converter",
        /// `tool`.
        Tool => "tool",
    }
}

string_enum! {
    /// The severity of a diagnostic (Go `diag.Severity`).
    DiagnosticSeverity {
        /// `debug`.
        Debug => "debug",
        /// `info`: includes lines the program wrote to stdout.
        Info => "info",
        /// `info#err`: lines the program wrote to stderr.
        InfoErr => "info#err",
        /// `warning`.
        Warning => "warning",
        /// `error`.
        Error => "error",
    }
}

string_enum! {
    /// The kind of a per-property difference (Go `plugin.DiffKind`).
    DiffKind {
        /// `add`.
        Add => "add",
        /// `add-replace`.
        AddReplace => "add-replace",
        /// `delete`.
        Delete => "delete",
        /// `delete-replace`.
        DeleteReplace => "delete-replace",
        /// `update`.
        Update => "update",
        /// `update-replace`.
        UpdateReplace => "update-replace",
    }
}

impl DiffKind {
    /// True for the `*-replace` kinds.
    pub fn is_replace(&self) -> bool {
        matches!(
            self,
            DiffKind::AddReplace | DiffKind::DeleteReplace | DiffKind::UpdateReplace
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_unknown_values_round_trip() {
        for kind in UpdateKind::KNOWN {
            assert_eq!(&UpdateKind::from(kind.as_str()), kind);
            assert!(!kind.is_other());
        }
        let other = UpdateKind::from("time-travel");
        assert_eq!(other, UpdateKind::Other("time-travel".into()));
        assert!(other.is_other());
        assert_eq!(other.to_string(), "time-travel");
        assert_eq!(
            UpdateKind::from(String::from("resource-import")),
            UpdateKind::ResourceImport
        );
        let parsed: StepOp = "create-replacement".parse().unwrap_or(StepOp::Same);
        assert_eq!(parsed, StepOp::CreateReplacement);
    }

    #[test]
    fn serde_uses_the_cli_strings() {
        let ops: Vec<StepOp> =
            serde_json::from_str(r#"["same","create-replacement","brand-new"]"#).unwrap();
        assert_eq!(
            ops,
            vec![
                StepOp::Same,
                StepOp::CreateReplacement,
                StepOp::Other("brand-new".into())
            ]
        );
        assert_eq!(
            serde_json::to_string(&ops).unwrap(),
            r#"["same","create-replacement","brand-new"]"#
        );
        assert_eq!(
            serde_json::to_string(&DiagnosticSeverity::InfoErr).unwrap(),
            r#""info#err""#
        );
        assert!(serde_json::from_str::<StepOp>("3").is_err());
    }

    #[test]
    fn helpers() {
        assert!(StepOp::Create.is_change());
        assert!(!StepOp::Same.is_change());
        assert!(StepOp::Other("x".into()).is_change());
        assert!(DiffKind::UpdateReplace.is_replace());
        assert!(!DiffKind::Update.is_replace());
        assert_eq!(StepOp::KNOWN.len(), 17);
        assert_eq!(OperationResult::from("canceled"), OperationResult::Canceled);
        assert_eq!(OperationResult::Succeeded, "succeeded");
        assert!(OperationResult::Other("rolled-back".into()) == "rolled-back");
        assert!(OperationResult::default() == "");
        assert_eq!(OperationType::KNOWN.len(), 5);
    }
}
