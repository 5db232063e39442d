//! The Terraform plugin protocol, version 6: go-plugin handshake, AutoMTLS,
//! the gRPC services, the value codec and schema types.
//!
//! This layer knows nothing of AWS. It serves any [`service::ProviderService`].

pub mod diagnostics;
pub mod handshake;
pub mod schema;
pub mod server;
pub mod service;
pub mod tls;
pub mod value;

/// Code generated from `proto/` by `build.rs`.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod proto {
    pub mod tfplugin6 {
        tonic::include_proto!("tfplugin6");
    }
    pub mod plugin {
        tonic::include_proto!("plugin");
    }
    pub mod health {
        tonic::include_proto!("grpc.health.v1");
    }
}
