//! The current identity: `pulumi whoami --json` (CLI 3.58.0 and later).

use serde::{Deserialize, Serialize};

use super::error::{ModelError, Sensitivity, parse_json};
use super::serde_util::{empty_string_as_none, null_as_default};

/// The output of `pulumi whoami --json` (Go `auto.WhoAmIResult`).
///
/// On the local backend `user` is the OS user name, `url` the backend URL as
/// configured, and there are no organizations or token information.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WhoAmI {
    /// The user name.
    pub user: String,
    /// The organizations the user belongs to.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub organizations: Vec<String>,
    /// The backend URL.
    #[serde(default)]
    pub url: String,
    /// The access token in use, if the backend reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_information: Option<TokenInformation>,
}

/// Information about the access token in use. At most one of `organization` and
/// `team` is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenInformation {
    /// The token's name.
    #[serde(default)]
    pub name: String,
    /// For an organization token, the organization.
    #[serde(
        default,
        deserialize_with = "empty_string_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub organization: Option<String>,
    /// For a team token, the team.
    #[serde(
        default,
        deserialize_with = "empty_string_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub team: Option<String>,
    /// When the token expires (RFC 3339, as Go's `time.Time` prints it).
    #[serde(
        default,
        deserialize_with = "empty_string_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_at: Option<String>,
}

const WHAT: &str = "`pulumi whoami --json` output";

/// Parses the output of `pulumi whoami --json`.
///
/// ```
/// use pulumi_auto_types::model::parse_whoami;
///
/// let me = parse_whoami(r#"{"user": "alice", "url": "file:///tmp/state"}"#)?;
/// assert_eq!(me.user, "alice");
/// assert!(me.organizations.is_empty() && me.token_information.is_none());
/// # Ok::<(), pulumi_auto_types::model::ModelError>(())
/// ```
pub fn parse_whoami(json: &str) -> Result<WhoAmI, ModelError> {
    parse_json(WHAT, json, Sensitivity::Plain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn local_backend() {
        let me = parse_whoami(
            "{\n  \"user\": \"root\",\n  \"url\": \"file:///work/.pulumi-state\"\n}\n",
        )
        .unwrap();
        assert_eq!(
            me,
            WhoAmI {
                user: "root".into(),
                organizations: vec![],
                url: "file:///work/.pulumi-state".into(),
                token_information: None,
            }
        );
    }

    #[test]
    fn cloud_with_token() {
        let me = parse_whoami(
            r#"{
  "user": "alice",
  "organizations": ["alice", "acme"],
  "url": "https://app.pulumi.com/alice",
  "tokenInformation": {
    "name": "ci-token",
    "team": "platform",
    "expiresAt": "2027-01-01T00:00:00Z"
  },
  "newField": true
}"#,
        )
        .unwrap();
        assert_eq!(me.organizations, vec!["alice", "acme"]);
        let token = me.token_information.clone().unwrap();
        assert_eq!(token.name, "ci-token");
        assert_eq!(token.team.as_deref(), Some("platform"));
        assert_eq!(token.organization, None);
        assert_eq!(token.expires_at.as_deref(), Some("2027-01-01T00:00:00Z"));
        assert_eq!(
            serde_json::to_value(&me).unwrap()["tokenInformation"],
            json!({"name": "ci-token", "team": "platform", "expiresAt": "2027-01-01T00:00:00Z"})
        );
    }

    #[test]
    fn errors() {
        assert!(matches!(parse_whoami(""), Err(ModelError::Empty { .. })));
        let err = parse_whoami(r#"{"url": "x"}"#).unwrap_err();
        assert!(err.to_string().contains("missing field `user`"), "{err}");
        assert!(parse_whoami("alice").is_err());
        assert!(parse_whoami(r#"{"user": "a", "organizations": null}"#).is_ok());
    }
}
