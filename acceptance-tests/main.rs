//! Acceptance tests: the real Terraform binary (1.0.3, from the virtualenv
//! `scripts/setup-tools` makes) applies configurations with the provider
//! binary cargo built, against a moto emulator on 127.0.0.1.
//!
//! Every test starts its own emulator, so tests are independent and can run
//! in parallel, and ends by checking that the emulator holds nothing the test
//! created.

mod consumer_endpoint;
mod endpoint_alarm;
mod endpoint_lifecycle;
mod endpoint_monitoring;
mod flow_logs;
mod gateway_selftest;
mod preflight;
mod support;
mod verification;
mod verify_selftest;
