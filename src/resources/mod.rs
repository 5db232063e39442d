//! Resource types, one module each. A module owns its resource's whole
//! lifecycle: schema, validation, plan, create, read, update, delete, import
//! and state upgrades.

pub mod consumer_endpoint;
pub mod policy;
pub mod timeouts;
mod values;

use crate::provider::Resource;

/// Every resource type the provider serves.
pub fn all() -> Vec<Box<dyn Resource>> {
    vec![Box::new(consumer_endpoint::ConsumerEndpoint)]
}
