//! Names and types from resource URNs.

/// A resource's name: what follows the type in its URN
/// (`urn:pulumi:<stack>::<project>::<type>::<name>`; the name may contain `::`).
/// A string that is not a URN is returned whole.
///
/// ```
/// use pulumi_auto_types::events::urn_name;
/// assert_eq!(urn_name("urn:pulumi:dev::proj::aws:s3/bucket:Bucket::logs"), "logs");
/// assert_eq!(urn_name("urn:pulumi:dev::proj::my:C$aws:s3/bucket:Bucket::a::b"), "a::b");
/// ```
pub fn urn_name(urn: &str) -> &str {
    urn.splitn(4, "::").nth(3).unwrap_or(urn)
}

/// A resource's type from its URN: the last `$`-separated part of the qualified type.
/// Empty for a string that is not a URN.
///
/// ```
/// use pulumi_auto_types::events::urn_type;
/// assert_eq!(urn_type("urn:pulumi:dev::proj::my:C$aws:s3/bucket:Bucket::logs"), "aws:s3/bucket:Bucket");
/// ```
pub fn urn_type(urn: &str) -> &str {
    urn.split("::")
        .nth(2)
        .and_then(|q| q.rsplit('$').next())
        .unwrap_or("")
}

/// True for a default provider's URN: type `pulumi:providers:<pkg>`, name starting with
/// `default` (the rule of Go's `providers.IsDefaultProvider`).
pub fn is_default_provider(urn: &str) -> bool {
    urn_type(urn).starts_with("pulumi:providers:") && urn_name(urn).starts_with("default")
}
