//! plink: a Terraform and OpenTofu provider for private connectivity from a
//! VPC to a SaaS API over AWS PrivateLink.
//!
//! The layers, each depending only on those above it:
//! - [`protocol`]: go-plugin handshake, AutoMTLS, the tfplugin6 gRPC services,
//!   the value codec and schema types. Knows nothing of AWS.
//! - [`provider`]: provider configuration, AWS clients and dispatch of each
//!   request to a resource.
//! - [`resources`]: one module per resource type, with its whole lifecycle.
//! - [`aws`]: the AWS calls, errors and waits the resources use.
//!
//! `ARCHITECTURE.md` states the invariants of each layer.

pub mod aws;
pub mod protocol;
pub mod provider;
pub mod resources;

use std::sync::Arc;

/// Builds the provider with every resource type.
pub fn provider() -> Arc<provider::Plink> {
    Arc::new(provider::Plink::new(resources::all()))
}
