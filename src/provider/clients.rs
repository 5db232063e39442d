//! AWS SDK clients built from the provider settings.
//!
//! Credentials come from the settings when given, else from the standard AWS
//! chain (environment, shared profiles, SSO, container and instance roles).
//! The SDK resolves them lazily, on the first call that needs them, and they
//! are never logged.

use std::collections::BTreeMap;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;

use super::config::Settings;
use crate::aws::errors::AwsError;
use crate::protocol::diagnostics::{AttributePath, Diagnostic};

/// Clients for every AWS service the resources call.
pub struct AwsClients {
    pub ec2: aws_sdk_ec2::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub region: String,
    /// The caller's AWS account, when the credentials were checked.
    pub account_id: Option<String>,
    /// Tags from the provider's `default_tags` block.
    pub default_tags: BTreeMap<String, String>,
}

const DEFAULT_SESSION_NAME: &str = "terraform-provider-plink";

impl AwsClients {
    /// Builds the clients and, unless told to skip it, checks the credentials
    /// with STS GetCallerIdentity.
    pub async fn connect(settings: &Settings) -> Result<AwsClients, Diagnostic> {
        let base = load_base_config(settings).await?;
        let region = base.region().map(|r| r.to_string()).ok_or_else(|| {
            Diagnostic::error(
                "AWS region missing",
                "No AWS region is set. Set `region` in the provider block, or AWS_REGION in \
                 the environment.",
            )
            .at(AttributePath::root("region"))
        })?;
        let config = match &settings.assume_role {
            Some(role) => assume_role(&base, settings, role).await?,
            None => base,
        };
        let account_id = if settings.skip_credentials_validation {
            None
        } else {
            Some(check_credentials(&config, settings).await?)
        };

        let ec2 = aws_sdk_ec2::config::Builder::from(&config);
        let ec2 = match &settings.endpoints.ec2 {
            Some(url) => ec2.endpoint_url(url),
            None => ec2,
        };
        let cloudwatch = aws_sdk_cloudwatch::config::Builder::from(&config);
        let cloudwatch = match &settings.endpoints.cloudwatch {
            Some(url) => cloudwatch.endpoint_url(url),
            None => cloudwatch,
        };
        tracing::info!(region, "AWS clients ready");
        Ok(AwsClients {
            ec2: aws_sdk_ec2::Client::from_conf(ec2.build()),
            cloudwatch: aws_sdk_cloudwatch::Client::from_conf(cloudwatch.build()),
            region,
            account_id,
            default_tags: settings.default_tags.clone(),
        })
    }
}

async fn load_base_config(settings: &Settings) -> Result<SdkConfig, Diagnostic> {
    let retries = RetryConfig::standard().with_max_attempts(settings.max_retries + 1);
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).retry_config(retries);
    if let Some(region) = &settings.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(profile) = &settings.profile {
        loader = loader.profile_name(profile);
    }
    if let (Some(access_key), Some(secret_key)) = (&settings.access_key, &settings.secret_key) {
        let credentials = Credentials::new(
            access_key,
            secret_key,
            settings.token.clone(),
            None,
            "plink-provider-block",
        );
        loader = loader.credentials_provider(credentials);
    }
    Ok(loader.load().await)
}

/// Returns a config whose credentials come from assuming `role` with the
/// base credentials.
async fn assume_role(
    base: &SdkConfig,
    settings: &Settings,
    role: &super::config::AssumeRole,
) -> Result<SdkConfig, Diagnostic> {
    let sts_config = with_sts_endpoint(base, settings);
    let mut provider = aws_config::sts::AssumeRoleProvider::builder(role.role_arn.clone())
        .session_name(
            role.session_name
                .clone()
                .unwrap_or_else(|| DEFAULT_SESSION_NAME.to_string()),
        )
        .configure(&sts_config);
    if let Some(external_id) = &role.external_id {
        provider = provider.external_id(external_id.clone());
    }
    let provider = provider.build().await;
    Ok(base
        .to_builder()
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(provider),
        )
        .build())
}

fn with_sts_endpoint(config: &SdkConfig, settings: &Settings) -> SdkConfig {
    match &settings.endpoints.sts {
        Some(url) => config.to_builder().endpoint_url(url).build(),
        None => config.clone(),
    }
}

/// Returns the caller's account ID.
async fn check_credentials(config: &SdkConfig, settings: &Settings) -> Result<String, Diagnostic> {
    let sts = aws_sdk_sts::Client::new(&with_sts_endpoint(config, settings));
    match sts.get_caller_identity().send().await {
        Ok(identity) => {
            tracing::info!(account = identity.account(), "credentials checked");
            Ok(identity.account().unwrap_or_default().to_string())
        }
        Err(e) => {
            let error = AwsError::from_sdk("GetCallerIdentity", e);
            if error.is_unreachable() {
                return Err(Diagnostic::error(
                    "Cannot reach AWS",
                    format!(
                        "checking AWS credentials with STS: {error}. Check the region and the \
                         endpoints block (endpoints.sts), and that this machine can reach the \
                         endpoint. Set skip_credentials_validation = true to skip this check."
                    ),
                ));
            }
            Err(Diagnostic::error(
                "Invalid AWS credentials",
                format!(
                    "checking AWS credentials with STS: {error}. Check the provider's \
                     credentials (access_key/secret_key, profile, assume_role or the AWS_* \
                     environment variables), or set skip_credentials_validation = true when \
                     the endpoint has no STS."
                ),
            ))
        }
    }
}
