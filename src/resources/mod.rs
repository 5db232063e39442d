//! Resource and data source types, one module each. A resource module owns
//! its whole lifecycle: schema, validation, plan, create, read, update,
//! delete, import and state upgrades. `preflight`, `policy`, `timeouts`,
//! `values` and `consumer_alarms` are helpers they share.

mod consumer_alarms;
pub mod consumer_endpoint;
mod consumer_flow_logs;
pub mod endpoint_alarm;
pub mod endpoint_service;
pub mod policy;
pub mod preflight;
pub mod timeouts;
pub(crate) mod values;
pub mod verification;

use crate::provider::{DataSource, Resource};

/// Every resource type the provider serves.
pub fn all() -> Vec<Box<dyn Resource>> {
    vec![
        Box::new(consumer_endpoint::ConsumerEndpoint),
        Box::new(endpoint_alarm::EndpointAlarm),
    ]
}

/// Every data source type the provider serves.
pub fn data_sources() -> Vec<Box<dyn DataSource>> {
    vec![Box::new(endpoint_service::EndpointServiceLookup)]
}
