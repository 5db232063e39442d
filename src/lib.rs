//! plink: a Terraform and OpenTofu provider for private connectivity from a
//! VPC to a SaaS API over AWS PrivateLink.
//!
//! The layers:
//! - [`protocol`]: go-plugin handshake, AutoMTLS, the tfplugin6 gRPC services,
//!   the value codec and schema types. Uses no other module of the crate and
//!   knows nothing of AWS.
//! - [`provider`]: provider configuration, AWS clients, and the `Resource`
//!   trait each request is dispatched to. Uses `protocol` and, to check
//!   credentials, `aws::errors`.
//! - [`resources`]: one module per resource type implementing `Resource`,
//!   with its whole lifecycle. The only layer that uses all the others.
//! - [`aws`]: the AWS calls, errors and waits the resources use. Knows nothing
//!   of Terraform; uses only [`stop`].
//!
//! [`stop`] holds the stop signal that Terraform's StopProvider raises.
//!
//! `ARCHITECTURE.md` states the invariants of each layer.

pub mod aws;
pub mod protocol;
pub mod provider;
pub mod resources;
pub mod stop;
pub mod verify;

use std::sync::Arc;

/// Builds the provider with every resource type.
pub fn provider() -> Arc<provider::Plink> {
    Arc::new(provider::Plink::new(
        resources::all(),
        resources::data_sources(),
    ))
}
