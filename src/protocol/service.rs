//! The contract between the gRPC server and the provider behind it.
//!
//! The server decodes every request into these types (values already checked
//! against the schema) and encodes the answers. Implementations never see a
//! generated protobuf type, and this module never sees AWS.

use async_trait::async_trait;

use super::diagnostics::Diagnostic;
use super::schema::Schema;
use super::value::Value;

/// Every schema the provider serves. Building it must do no I/O, because
/// Terraform asks for it before anything is configured.
#[derive(Clone, Debug)]
pub struct ProviderSchema {
    pub provider: Schema,
    pub resources: Vec<(String, Schema)>,
    pub data_sources: Vec<(String, Schema)>,
}

impl ProviderSchema {
    pub fn resource(&self, type_name: &str) -> Option<&Schema> {
        find(&self.resources, type_name)
    }

    pub fn data_source(&self, type_name: &str) -> Option<&Schema> {
        find(&self.data_sources, type_name)
    }
}

fn find<'a>(schemas: &'a [(String, Schema)], type_name: &str) -> Option<&'a Schema> {
    schemas
        .iter()
        .find(|(name, _)| name == type_name)
        .map(|(_, schema)| schema)
}

/// A request to plan a change to one resource instance.
#[derive(Clone, Debug)]
pub struct PlanRequest {
    pub type_name: String,
    /// Null when the resource is being created.
    pub prior_state: Value,
    /// Terraform's merge of configuration and prior state; null when the
    /// resource is being destroyed.
    pub proposed_new_state: Value,
    pub config: Value,
    pub prior_private: Vec<u8>,
}

#[derive(Clone, Debug, Default)]
pub struct PlanResponse {
    pub planned_state: Value,
    /// Attributes whose change forces the resource to be replaced.
    pub requires_replace: Vec<super::diagnostics::AttributePath>,
    pub planned_private: Vec<u8>,
    pub diagnostics: Vec<Diagnostic>,
}

/// A request to carry out a planned change.
#[derive(Clone, Debug)]
pub struct ApplyRequest {
    pub type_name: String,
    pub prior_state: Value,
    /// Null when the resource is being destroyed.
    pub planned_state: Value,
    pub config: Value,
    pub planned_private: Vec<u8>,
}

#[derive(Clone, Debug, Default)]
pub struct ApplyResponse {
    /// Null once the resource no longer exists.
    pub new_state: Value,
    pub private: Vec<u8>,
    pub diagnostics: Vec<Diagnostic>,
}

#[derive(Clone, Debug)]
pub struct ReadRequest {
    pub type_name: String,
    pub current_state: Value,
    pub private: Vec<u8>,
}

#[derive(Clone, Debug, Default)]
pub struct ReadResponse {
    /// Null when the resource is gone, which drops it from state.
    pub new_state: Value,
    pub private: Vec<u8>,
    pub diagnostics: Vec<Diagnostic>,
}

/// One resource found by an import.
#[derive(Clone, Debug)]
pub struct ImportedResource {
    pub type_name: String,
    pub state: Value,
    pub private: Vec<u8>,
}

#[derive(Clone, Debug, Default)]
pub struct ImportResponse {
    pub imported: Vec<ImportedResource>,
    pub diagnostics: Vec<Diagnostic>,
}

/// The provider behind the gRPC server.
#[async_trait]
pub trait ProviderService: Send + Sync + 'static {
    fn schema(&self) -> &ProviderSchema;

    async fn validate_provider_config(&self, config: Value) -> Vec<Diagnostic>;

    async fn configure(&self, config: Value, terraform_version: String) -> Vec<Diagnostic>;

    async fn validate_resource_config(&self, type_name: &str, config: Value) -> Vec<Diagnostic>;

    async fn validate_data_source_config(&self, type_name: &str, config: Value) -> Vec<Diagnostic>;

    /// Upgrades a state stored under schema `version` to the current schema.
    async fn upgrade_resource_state(
        &self,
        type_name: &str,
        version: i64,
        raw_state: serde_json::Value,
    ) -> (Value, Vec<Diagnostic>);

    async fn plan_resource_change(&self, request: PlanRequest) -> PlanResponse;

    async fn apply_resource_change(&self, request: ApplyRequest) -> ApplyResponse;

    async fn read_resource(&self, request: ReadRequest) -> ReadResponse;

    async fn import_resource_state(&self, type_name: &str, id: &str) -> ImportResponse;

    async fn read_data_source(&self, type_name: &str, config: Value) -> (Value, Vec<Diagnostic>);

    /// Asks every operation in flight to stop soon and return what it has.
    async fn stop(&self);
}
