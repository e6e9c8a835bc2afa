//! Small serde helpers shared by the models.

use serde::{Deserialize, Deserializer, Serializer};

/// Deserialises `null` (as well as an absent field, with `#[serde(default)]`) as
/// `T::default()`. Go writes a nil map or slice as `null`.
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Option::unwrap_or_default)
}

/// Deserialises `null` and `""` as `None`.
pub(crate) fn empty_string_as_none<'de, D>(deserializer: D) -> Result<Option<String>, D::Error>
where
    D: Deserializer<'de>,
{
    Option::<String>::deserialize(deserializer).map(|s| s.filter(|s| !s.is_empty()))
}

/// Serialises `None` as `""`, as Go writes an empty string field.
pub(crate) fn none_as_empty_string<S>(
    value: &Option<String>,
    serializer: S,
) -> Result<S::Ok, S::Error>
where
    S: Serializer,
{
    serializer.serialize_str(value.as_deref().unwrap_or(""))
}

/// For `skip_serializing_if`: Go's `omitempty` on a bool.
pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

/// For `skip_serializing_if`: Go's `omitempty` on an integer.
pub(crate) fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}

/// For `skip_serializing_if`: Go's `omitempty` on an integer.
pub(crate) fn is_zero_u32(n: &u32) -> bool {
    *n == 0
}
