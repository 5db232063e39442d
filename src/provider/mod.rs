//! The plink provider: configuration, AWS clients, and dispatch of each
//! Terraform request to the resource or data source it names.
//!
//! This layer turns the protocol's generic requests into calls on a
//! [`Resource`]; it never builds a protobuf message and never calls AWS APIs
//! itself beyond checking credentials.

pub mod clients;
pub mod config;
pub mod locks;

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::RwLock;

use crate::protocol::diagnostics::Diagnostic;
use crate::protocol::schema::Schema;
use crate::protocol::service::{
    ApplyRequest, ApplyResponse, ImportResponse, PlanRequest, PlanResponse, ProviderSchema,
    ProviderService, ReadRequest, ReadResponse,
};
use crate::protocol::value::Value;
use crate::stop::StopSignal;
use clients::AwsClients;
use locks::KeyedLocks;

/// The resources' working context: the AWS clients (once the provider is
/// configured), the signal Terraform raises on Ctrl-C, and per-object locks.
#[derive(Clone)]
pub struct Context {
    clients: Option<Arc<AwsClients>>,
    pub stop: StopSignal,
    pub locks: KeyedLocks,
}

impl Context {
    /// The configured clients, or an error diagnostic when Terraform has not
    /// configured the provider (for example during `terraform validate`).
    pub fn clients(&self) -> Result<&AwsClients, Diagnostic> {
        self.clients.as_deref().ok_or_else(|| {
            Diagnostic::error(
                "Provider not configured",
                "The plink provider was asked to call AWS before Terraform configured it. \
                 This happens when the provider block depends on values that are not known \
                 yet; run the apply that creates those values first.",
            )
        })
    }

    /// The clients when configured; plan-time checks use this to skip work
    /// they cannot do yet.
    pub fn configured_clients(&self) -> Option<&AwsClients> {
        self.clients.as_deref()
    }
}

/// One managed resource type: its schema and whole lifecycle.
#[async_trait]
pub trait Resource: Send + Sync {
    fn type_name(&self) -> &'static str;

    fn schema(&self) -> Schema;

    /// Checks configuration without calling AWS.
    fn validate(&self, config: &Value) -> Vec<Diagnostic>;

    async fn plan(&self, context: &Context, request: PlanRequest) -> PlanResponse;

    async fn apply(&self, context: &Context, request: ApplyRequest) -> ApplyResponse;

    async fn read(&self, context: &Context, request: ReadRequest) -> ReadResponse;

    async fn import(&self, context: &Context, id: &str) -> ImportResponse;

    /// Converts state stored under an older schema version.
    fn upgrade(&self, version: i64, raw_state: serde_json::Value) -> (Value, Vec<Diagnostic>);
}

/// One data source type: its schema and read.
#[async_trait]
pub trait DataSource: Send + Sync {
    fn type_name(&self) -> &'static str;

    fn schema(&self) -> Schema;

    /// Checks configuration without calling AWS.
    fn validate(&self, config: &Value) -> Vec<Diagnostic>;

    async fn read(&self, context: &Context, config: Value) -> (Value, Vec<Diagnostic>);
}

/// The provider itself.
pub struct Plink {
    schema: ProviderSchema,
    resources: Vec<Box<dyn Resource>>,
    data_sources: Vec<Box<dyn DataSource>>,
    clients: RwLock<Option<Arc<AwsClients>>>,
    stop: StopSignal,
    locks: KeyedLocks,
}

impl Plink {
    pub fn new(resources: Vec<Box<dyn Resource>>, data_sources: Vec<Box<dyn DataSource>>) -> Plink {
        let schema = ProviderSchema {
            provider: config::schema(),
            resources: resources
                .iter()
                .map(|r| (r.type_name().to_string(), r.schema()))
                .collect(),
            data_sources: data_sources
                .iter()
                .map(|d| (d.type_name().to_string(), d.schema()))
                .collect(),
        };
        Plink {
            schema,
            resources,
            data_sources,
            clients: RwLock::new(None),
            stop: StopSignal::new(),
            locks: KeyedLocks::default(),
        }
    }

    fn resource(&self, type_name: &str) -> Result<&dyn Resource, Diagnostic> {
        self.resources
            .iter()
            .find(|r| r.type_name() == type_name)
            .map(|r| r.as_ref())
            .ok_or_else(|| {
                Diagnostic::error(
                    "Unknown resource type",
                    format!("The plink provider has no resource type {type_name:?}."),
                )
            })
    }

    fn data_source(&self, type_name: &str) -> Result<&dyn DataSource, Diagnostic> {
        self.data_sources
            .iter()
            .find(|d| d.type_name() == type_name)
            .map(|d| d.as_ref())
            .ok_or_else(|| unknown_data_source(type_name))
    }

    async fn context(&self) -> Context {
        Context {
            clients: self.clients.read().await.clone(),
            stop: self.stop.clone(),
            locks: self.locks.clone(),
        }
    }
}

#[async_trait]
impl ProviderService for Plink {
    fn schema(&self) -> &ProviderSchema {
        &self.schema
    }

    async fn validate_provider_config(&self, config: Value) -> Vec<Diagnostic> {
        config::validate(&config)
    }

    async fn configure(&self, config: Value, terraform_version: String) -> Vec<Diagnostic> {
        tracing::info!(terraform_version, "configuring provider");
        let settings = match config::Settings::from_value(&config) {
            Ok(settings) => settings,
            Err(diagnostics) => return diagnostics,
        };
        match clients::AwsClients::connect(&settings).await {
            Ok(clients) => {
                *self.clients.write().await = Some(Arc::new(clients));
                Vec::new()
            }
            Err(diagnostic) => vec![diagnostic],
        }
    }

    async fn validate_resource_config(&self, type_name: &str, config: Value) -> Vec<Diagnostic> {
        match self.resource(type_name) {
            Ok(resource) => resource.validate(&config),
            Err(diagnostic) => vec![diagnostic],
        }
    }

    async fn validate_data_source_config(&self, type_name: &str, config: Value) -> Vec<Diagnostic> {
        match self.data_source(type_name) {
            Ok(data_source) => data_source.validate(&config),
            Err(diagnostic) => vec![diagnostic],
        }
    }

    async fn upgrade_resource_state(
        &self,
        type_name: &str,
        version: i64,
        raw_state: serde_json::Value,
    ) -> (Value, Vec<Diagnostic>) {
        match self.resource(type_name) {
            Ok(resource) => resource.upgrade(version, raw_state),
            Err(diagnostic) => (Value::Null, vec![diagnostic]),
        }
    }

    async fn plan_resource_change(&self, request: PlanRequest) -> PlanResponse {
        let context = self.context().await;
        match self.resource(&request.type_name) {
            Ok(resource) => resource.plan(&context, request).await,
            Err(diagnostic) => PlanResponse {
                diagnostics: vec![diagnostic],
                ..Default::default()
            },
        }
    }

    async fn apply_resource_change(&self, request: ApplyRequest) -> ApplyResponse {
        let context = self.context().await;
        match self.resource(&request.type_name) {
            Ok(resource) => resource.apply(&context, request).await,
            Err(diagnostic) => ApplyResponse {
                new_state: request.prior_state,
                diagnostics: vec![diagnostic],
                ..Default::default()
            },
        }
    }

    async fn read_resource(&self, request: ReadRequest) -> ReadResponse {
        let context = self.context().await;
        match self.resource(&request.type_name) {
            Ok(resource) => resource.read(&context, request).await,
            Err(diagnostic) => ReadResponse {
                new_state: request.current_state,
                diagnostics: vec![diagnostic],
                ..Default::default()
            },
        }
    }

    async fn import_resource_state(&self, type_name: &str, id: &str) -> ImportResponse {
        let context = self.context().await;
        match self.resource(type_name) {
            Ok(resource) => resource.import(&context, id).await,
            Err(diagnostic) => ImportResponse {
                diagnostics: vec![diagnostic],
                ..Default::default()
            },
        }
    }

    async fn read_data_source(&self, type_name: &str, config: Value) -> (Value, Vec<Diagnostic>) {
        let context = self.context().await;
        match self.data_source(type_name) {
            Ok(data_source) => data_source.read(&context, config).await,
            Err(diagnostic) => (Value::Null, vec![diagnostic]),
        }
    }

    async fn stop(&self) {
        self.stop.raise();
    }
}

fn unknown_data_source(type_name: &str) -> Diagnostic {
    Diagnostic::error(
        "Unknown data source type",
        format!("The plink provider has no data source type {type_name:?}."),
    )
}
