//! Property values as an inline program sees them, and their wire form: a
//! `google.protobuf.Value` with Pulumi's markers for secrets, unknowns and resource
//! references.

use std::collections::BTreeMap;

use prost_types::value::Kind;

/// The key under which a marked object names what it is (`sig.Key`).
const SIG_KEY: &str = "4dabf18193072939515e22adb298388d";
/// A secret: `{SIG_KEY: SECRET_SIG, "value": …}`.
const SECRET_SIG: &str = "1b47061264138c4ac30d75fd1eb44270";
/// A resource reference: `{SIG_KEY: RESOURCE_REF_SIG, "urn", "id", "packageVersion"}`.
const RESOURCE_REF_SIG: &str = "5cf8f73096256a8f31e491e813e4eb8e";
/// An output value: `{SIG_KEY: OUTPUT_SIG, "value"?, "secret"?, "dependencies"?}`.
const OUTPUT_SIG: &str = "d0e6a833031e9bbcd3f4e8bde6ca49a4";
/// The string that stands for a value not known during a preview.
pub(crate) const UNKNOWN: &str = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/// Named values: a resource's inputs and outputs, an invoke's arguments and result.
pub type PropertyMap = BTreeMap<String, Value>;

/// A property value.
///
/// [`Value::Unknown`] is what a preview gives for a value the engine cannot know yet (an
/// ID or output of a resource still to be created): a value of its own, never a null.
/// [`Value::Secret`] wraps a value the engine encrypts in the state and masks in its
/// output; its `Debug` shows `[secret]`.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// `null`, or a property that is absent.
    Null,
    /// A boolean.
    Bool(bool),
    /// A number (protobuf values are doubles).
    Number(f64),
    /// A string.
    String(String),
    /// A list.
    Array(Vec<Value>),
    /// An object.
    Object(PropertyMap),
    /// A secret value.
    Secret(Box<Value>),
    /// Not known during a preview.
    Unknown,
    /// A reference to a resource of this stack.
    ResourceRef {
        /// The resource's URN.
        urn: String,
        /// Its ID (custom resources; unknown during a preview of a create).
        id: Option<Box<Value>>,
        /// The version of its package, empty when not known.
        package_version: String,
    },
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Number(n) => write!(f, "{n}"),
            Value::String(s) => write!(f, "{s:?}"),
            Value::Array(a) => f.debug_list().entries(a).finish(),
            Value::Object(o) => f.debug_map().entries(o).finish(),
            Value::Secret(_) => f.write_str("[secret]"),
            Value::Unknown => f.write_str("[unknown]"),
            Value::ResourceRef { urn, .. } => write!(f, "ResourceRef({urn})"),
        }
    }
}

impl Value {
    /// Wraps a value as a secret.
    pub fn secret(v: impl Into<Value>) -> Value {
        match v.into() {
            s @ Value::Secret(_) => s,
            v => Value::Secret(Box::new(v)),
        }
    }

    /// Whether the value, or any value inside it, is unknown.
    pub fn contains_unknown(&self) -> bool {
        match self {
            Value::Unknown => true,
            Value::Array(a) => a.iter().any(Value::contains_unknown),
            Value::Object(o) => o.values().any(Value::contains_unknown),
            Value::Secret(v) => v.contains_unknown(),
            Value::ResourceRef { id, .. } => id.as_deref().is_some_and(Value::contains_unknown),
            _ => false,
        }
    }

    /// Whether the value is unknown (during a preview).
    pub fn is_unknown(&self) -> bool {
        matches!(self, Value::Unknown)
    }

    /// Whether the value is a secret.
    pub fn is_secret(&self) -> bool {
        matches!(self, Value::Secret(_))
    }

    /// The value inside a secret (the value itself otherwise).
    pub fn reveal(&self) -> &Value {
        match self {
            Value::Secret(v) => v.reveal(),
            v => v,
        }
    }

    /// The string, if the value (revealed) is one.
    pub fn as_str(&self) -> Option<&str> {
        match self.reveal() {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The number, if the value (revealed) is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self.reveal() {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// The boolean, if the value (revealed) is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self.reveal() {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// A property of an object (revealed), if there is one.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self.reveal() {
            Value::Object(o) => o.get(key),
            _ => None,
        }
    }

    /// The value as JSON: secrets revealed, unknowns as `null`, references as their URN.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null | Value::Unknown => serde_json::Value::Null,
            Value::Bool(b) => (*b).into(),
            Value::Number(n) => serde_json::Number::from_f64(*n)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::String(s) => s.clone().into(),
            Value::Array(a) => a.iter().map(Value::to_json).collect(),
            Value::Object(o) => o.iter().map(|(k, v)| (k.clone(), v.to_json())).collect(),
            Value::Secret(v) => v.to_json(),
            Value::ResourceRef { urn, .. } => urn.clone().into(),
        }
    }

    /// The wire form, markers included.
    pub(crate) fn to_proto(&self) -> prost_types::Value {
        let kind = match self {
            Value::Null => Kind::NullValue(0),
            Value::Bool(b) => Kind::BoolValue(*b),
            Value::Number(n) => Kind::NumberValue(*n),
            Value::String(s) => Kind::StringValue(s.clone()),
            Value::Unknown => Kind::StringValue(UNKNOWN.into()),
            Value::Array(a) => Kind::ListValue(prost_types::ListValue {
                values: a.iter().map(Value::to_proto).collect(),
            }),
            Value::Object(o) => Kind::StructValue(to_struct(o)),
            Value::Secret(v) => {
                Kind::StructValue(marked(SECRET_SIG, [("value".to_owned(), v.to_proto())]))
            }
            Value::ResourceRef {
                urn,
                id,
                package_version,
            } => {
                let mut fields = vec![("urn".to_owned(), Value::String(urn.clone()).to_proto())];
                if let Some(id) = id {
                    fields.push(("id".to_owned(), id.to_proto()));
                }
                fields.push((
                    "packageVersion".to_owned(),
                    Value::String(package_version.clone()).to_proto(),
                ));
                Kind::StructValue(marked(RESOURCE_REF_SIG, fields))
            }
        };
        prost_types::Value { kind: Some(kind) }
    }

    /// Reads the wire form, markers included.
    pub(crate) fn from_proto(v: &prost_types::Value) -> Value {
        match &v.kind {
            None | Some(Kind::NullValue(_)) => Value::Null,
            Some(Kind::BoolValue(b)) => Value::Bool(*b),
            Some(Kind::NumberValue(n)) => Value::Number(*n),
            Some(Kind::StringValue(s)) if s == UNKNOWN => Value::Unknown,
            Some(Kind::StringValue(s)) => Value::String(s.clone()),
            Some(Kind::ListValue(l)) => {
                Value::Array(l.values.iter().map(Value::from_proto).collect())
            }
            Some(Kind::StructValue(s)) => from_struct_value(s),
        }
    }
}

fn marked(
    sig: &str,
    fields: impl IntoIterator<Item = (String, prost_types::Value)>,
) -> prost_types::Struct {
    let mut s = prost_types::Struct::default();
    s.fields.insert(
        SIG_KEY.to_owned(),
        prost_types::Value {
            kind: Some(Kind::StringValue(sig.to_owned())),
        },
    );
    s.fields.extend(fields);
    s
}

fn from_struct_value(s: &prost_types::Struct) -> Value {
    let field = |k: &str| s.fields.get(k).map(Value::from_proto);
    let sig = s.fields.get(SIG_KEY).and_then(|v| match &v.kind {
        Some(Kind::StringValue(sig)) => Some(sig.as_str()),
        _ => None,
    });
    match sig {
        Some(SECRET_SIG) => Value::secret(field("value").unwrap_or(Value::Null)),
        Some(RESOURCE_REF_SIG) => Value::ResourceRef {
            urn: field("urn")
                .and_then(|u| u.as_str().map(str::to_owned))
                .unwrap_or_default(),
            id: field("id").map(Box::new),
            package_version: field("packageVersion")
                .and_then(|u| u.as_str().map(str::to_owned))
                .unwrap_or_default(),
        },
        Some(OUTPUT_SIG) => {
            let value = field("value").unwrap_or(Value::Unknown);
            match field("secret").and_then(|s| s.as_bool()) {
                Some(true) => Value::secret(value),
                _ => value,
            }
        }
        _ => Value::Object(from_struct(s)),
    }
}

/// A property map's wire form.
pub(crate) fn to_struct(map: &PropertyMap) -> prost_types::Struct {
    prost_types::Struct {
        fields: map.iter().map(|(k, v)| (k.clone(), v.to_proto())).collect(),
    }
}

/// Reads a property map from its wire form.
pub(crate) fn from_struct(s: &prost_types::Struct) -> PropertyMap {
    s.fields
        .iter()
        .map(|(k, v)| (k.clone(), Value::from_proto(v)))
        .collect()
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}
impl From<&String> for Value {
    fn from(s: &String) -> Self {
        Value::String(s.clone())
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<f64> for Value {
    fn from(n: f64) -> Self {
        Value::Number(n)
    }
}
impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Number(n as f64)
    }
}
impl From<i32> for Value {
    fn from(n: i32) -> Self {
        Value::Number(f64::from(n))
    }
}
impl From<u32> for Value {
    fn from(n: u32) -> Self {
        Value::Number(f64::from(n))
    }
}
impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(v: Vec<T>) -> Self {
        Value::Array(v.into_iter().map(Into::into).collect())
    }
}
impl From<PropertyMap> for Value {
    fn from(m: PropertyMap) -> Self {
        Value::Object(m)
    }
}
impl From<&crate::secret::Secret> for Value {
    fn from(s: &crate::secret::Secret) -> Self {
        Value::secret(s.expose())
    }
}
impl From<serde_json::Value> for Value {
    fn from(j: serde_json::Value) -> Self {
        match j {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => Value::Number(n.as_f64().unwrap_or(f64::NAN)),
            serde_json::Value::String(s) => Value::String(s),
            serde_json::Value::Array(a) => Value::Array(a.into_iter().map(Into::into).collect()),
            serde_json::Value::Object(o) => {
                Value::Object(o.into_iter().map(|(k, v)| (k, v.into())).collect())
            }
        }
    }
}

/// Builds a [`PropertyMap`] from pairs: `props([("path", "/tmp/a".into())])`.
pub fn props<K: Into<String>>(pairs: impl IntoIterator<Item = (K, Value)>) -> PropertyMap {
    pairs.into_iter().map(|(k, v)| (k.into(), v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_round_trip() {
        let v = Value::Object(props([
            ("plain", Value::from("a")),
            ("secret", Value::secret("s3cr3t")),
            ("unknown", Value::Unknown),
            ("list", vec![Value::from(1), Value::Null].into()),
            (
                "ref",
                Value::ResourceRef {
                    urn: "urn:pulumi:dev::p::t::n".into(),
                    id: Some(Box::new(Value::Unknown)),
                    package_version: String::new(),
                },
            ),
        ]));
        let wire = v.to_proto();
        assert_eq!(Value::from_proto(&wire), v);
        let Some(Kind::StructValue(s)) = &wire.kind else {
            panic!()
        };
        let Some(Kind::StructValue(secret)) = &s.fields["secret"].kind else {
            panic!()
        };
        assert_eq!(
            secret.fields[SIG_KEY].kind,
            Some(Kind::StringValue(SECRET_SIG.into()))
        );
        assert_eq!(
            s.fields["unknown"].kind,
            Some(Kind::StringValue(UNKNOWN.into()))
        );
        assert!(v.contains_unknown());
        assert!(!format!("{v:?}").contains("s3cr3t"));
    }

    #[test]
    fn output_values_are_read() {
        let out = marked(
            OUTPUT_SIG,
            [("secret".to_owned(), Value::Bool(true).to_proto())],
        );
        let v = Value::from_proto(&prost_types::Value {
            kind: Some(Kind::StructValue(out)),
        });
        assert_eq!(v, Value::secret(Value::Unknown));
    }
}
