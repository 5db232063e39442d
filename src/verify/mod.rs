//! The verification layer: checks, after an endpoint is available, that its
//! private DNS names resolve to the endpoint's addresses and that the service
//! behind it answers an HTTPS request.
//!
//! - [`dns`] looks names up through the system resolver or a given DNS server
//!   and compares the answers with the addresses expected.
//! - [`health`] sends one HTTPS request and checks its status.
//!
//! This layer uses no Terraform or AWS SDK types. Callers pass names,
//! addresses, URLs and headers, and turn the results into diagnostics.
//! It never logs header values, because they may carry credentials.

pub mod dns;
pub mod health;
