//! Calls to AWS APIs, in AWS's own vocabulary, and the errors and waits
//! around them. Nothing here knows Terraform's types except the stop signal.

pub mod cloudwatch;
pub mod ec2;
pub mod errors;
pub mod wait;
