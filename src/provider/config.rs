//! The `provider "plink"` block: its schema, validation and typed settings.

use std::collections::BTreeMap;

use crate::protocol::diagnostics::{AttributePath, Diagnostic};
use crate::protocol::schema::{Attribute, Block, NestedBlock, Schema};
use crate::protocol::value::{Type, Value};

/// Typed provider settings. Secrets stay in memory and are never logged:
/// `Debug` is implemented by hand to leave them out.
#[derive(Clone, Default)]
pub struct Settings {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub access_key: Option<String>,
    pub secret_key: Option<String>,
    pub token: Option<String>,
    pub assume_role: Option<AssumeRole>,
    pub endpoints: Endpoints,
    pub default_tags: BTreeMap<String, String>,
    pub max_retries: u32,
    pub skip_credentials_validation: bool,
}

/// The `assume_role` block.
#[derive(Clone, Debug, Default)]
pub struct AssumeRole {
    pub role_arn: String,
    pub session_name: Option<String>,
    pub external_id: Option<String>,
}

/// Custom endpoint URLs, for LocalStack, moto or a VPC's own endpoints.
#[derive(Clone, Debug, Default)]
pub struct Endpoints {
    pub ec2: Option<String>,
    pub cloudwatch: Option<String>,
    pub sts: Option<String>,
}

/// Retries per AWS call when `max_retries` is not set, as in the AWS provider.
pub const DEFAULT_MAX_RETRIES: u32 = 25;

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("region", &self.region)
            .field("profile", &self.profile)
            .field("static_credentials", &self.access_key.is_some())
            .field("assume_role", &self.assume_role)
            .field("endpoints", &self.endpoints)
            .field("max_retries", &self.max_retries)
            .field(
                "skip_credentials_validation",
                &self.skip_credentials_validation,
            )
            .finish()
    }
}

pub fn schema() -> Schema {
    let string = || Type::String;
    let assume_role = Block {
        attributes: vec![
            Attribute::required("role_arn", string(), "ARN of the IAM role to assume."),
            Attribute::optional(
                "session_name",
                string(),
                "Session name for the assumed role. Defaults to `terraform-provider-plink`.",
            ),
            Attribute::optional(
                "external_id",
                string(),
                "External ID the role's trust policy requires, if any.",
            ),
        ],
        description: "Assume this IAM role, using the other credentials to call STS.".into(),
        ..Block::default()
    };
    let endpoint = |service: &str| {
        Attribute::optional(
            service,
            string(),
            &format!("Custom URL for {service} API calls, such as `http://127.0.0.1:5000`."),
        )
    };
    let endpoints = Block {
        attributes: vec![endpoint("ec2"), endpoint("cloudwatch"), endpoint("sts")],
        description: "Custom service endpoints, for emulators or private API endpoints.".into(),
        ..Block::default()
    };
    let default_tags = Block {
        attributes: vec![Attribute::optional(
            "tags",
            Type::map(Type::String),
            "Tags added to every AWS object the provider creates. A resource's own `tags` \
             win on a key conflict.",
        )],
        description: "Tags applied to every AWS object this provider creates.".into(),
        ..Block::default()
    };

    let attributes =
        vec![
        Attribute::optional(
            "region",
            string(),
            "AWS region, such as `eu-west-1`. Defaults to `AWS_REGION` or the profile's region.",
        ),
        Attribute::optional("profile", string(), "Named profile from the shared AWS config files."),
        Attribute::optional("access_key", string(), "AWS access key ID.").sensitive(),
        Attribute::optional("secret_key", string(), "AWS secret access key.").sensitive(),
        Attribute::optional("token", string(), "AWS session token for temporary credentials.")
            .sensitive(),
        Attribute::optional(
            "max_retries",
            Type::Number,
            "Maximum retries of a throttled or failed AWS call. Defaults to 25.",
        ),
        Attribute::optional(
            "skip_credentials_validation",
            Type::Bool,
            "Skip the STS GetCallerIdentity call that checks credentials at configure time.",
        ),
    ];
    Schema {
        version: 0,
        block: Block {
            attributes,
            blocks: vec![
                NestedBlock::single("assume_role", assume_role),
                NestedBlock::single("endpoints", endpoints),
                NestedBlock::single("default_tags", default_tags),
            ],
            description: "Connects to AWS to manage PrivateLink consumer endpoints.".into(),
            deprecated: false,
        },
    }
}

/// Checks the provider block without calling AWS.
pub fn validate(config: &Value) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    let access_key = config.get("access_key");
    let secret_key = config.get("secret_key");
    if access_key.is_null() != secret_key.is_null()
        && !access_key.contains_unknown()
        && !secret_key.contains_unknown()
    {
        let missing = if access_key.is_null() {
            "access_key"
        } else {
            "secret_key"
        };
        diagnostics.push(
            Diagnostic::error(
                "Incomplete static credentials",
                "`access_key` and `secret_key` must be set together. Set both, or neither to \
                 use the standard AWS credential chain (environment, profile, SSO, instance role).",
            )
            .at(AttributePath::root(missing)),
        );
    }
    if let Some(retries) = config.get("max_retries").as_f64() {
        if retries < 0.0 || retries.fract() != 0.0 || retries > 100.0 {
            diagnostics.push(
                Diagnostic::error(
                    "Invalid max_retries",
                    format!("`max_retries` must be a whole number from 0 to 100, got {retries}."),
                )
                .at(AttributePath::root("max_retries")),
            );
        }
    }
    for service in ["ec2", "cloudwatch", "sts"] {
        let Some(url) = config.get("endpoints").get(service).as_str() else {
            continue;
        };
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            diagnostics.push(
                Diagnostic::error(
                    "Invalid endpoint URL",
                    format!(
                        "endpoints.{service} is {url:?}, which is not an http:// or https:// \
                         URL. Give the full URL, such as \"http://127.0.0.1:5000\"."
                    ),
                )
                .at(AttributePath::root("endpoints").attribute(service)),
            );
        }
    }
    diagnostics
}

fn optional_string(value: &Value) -> Option<String> {
    value
        .as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

impl Settings {
    /// Reads the validated provider block.
    pub fn from_value(config: &Value) -> Result<Settings, Vec<Diagnostic>> {
        let diagnostics = validate(config);
        if !diagnostics.is_empty() {
            return Err(diagnostics);
        }
        let assume_role = match config.get("assume_role") {
            Value::Object(_) => {
                let block = config.get("assume_role");
                Some(AssumeRole {
                    role_arn: optional_string(block.get("role_arn")).unwrap_or_default(),
                    session_name: optional_string(block.get("session_name")),
                    external_id: optional_string(block.get("external_id")),
                })
            }
            _ => None,
        };
        let endpoints = config.get("endpoints");
        let default_tags = config
            .get("default_tags")
            .get("tags")
            .entries()
            .map(|tags| {
                tags.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();

        Ok(Settings {
            region: optional_string(config.get("region")),
            profile: optional_string(config.get("profile")),
            access_key: optional_string(config.get("access_key")),
            secret_key: optional_string(config.get("secret_key")),
            token: optional_string(config.get("token")),
            assume_role,
            endpoints: Endpoints {
                ec2: optional_string(endpoints.get("ec2")),
                cloudwatch: optional_string(endpoints.get("cloudwatch")),
                sts: optional_string(endpoints.get("sts")),
            },
            default_tags,
            max_retries: config
                .get("max_retries")
                .as_f64()
                .map_or(DEFAULT_MAX_RETRIES, |n| n as u32),
            skip_credentials_validation: config
                .get("skip_credentials_validation")
                .as_bool()
                .unwrap_or(false),
        })
    }
}
