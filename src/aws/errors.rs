//! AWS errors as users need to see them: the operation, AWS's error code and
//! message, and the request id to quote to AWS support.
//!
//! The SDK's own `Display` for a service error says only "service error", so
//! the code and message are taken from its error metadata.

use std::fmt;

use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_types::request_id::RequestId;

/// A failed AWS call.
#[derive(Clone, Debug)]
pub struct AwsError {
    /// The API operation, such as `CreateVpcEndpoint`.
    pub operation: &'static str,
    /// AWS's error code, such as `InvalidVpcEndpointId.NotFound`; `None` when
    /// the call failed before AWS answered (network, credentials, timeout).
    pub code: Option<String>,
    pub message: Option<String>,
    pub request_id: Option<String>,
    /// The full error chain, for failures without a code.
    pub cause: String,
}

impl AwsError {
    pub fn from_sdk<E, R>(operation: &'static str, error: SdkError<E, R>) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: fmt::Debug + 'static,
    {
        let meta = error.meta();
        AwsError {
            operation,
            code: meta.code().map(str::to_string),
            message: meta.message().map(str::to_string),
            request_id: meta.request_id().map(str::to_string),
            cause: error_chain(&error),
        }
    }

    /// Builds the error for one failed item of a batch call, which AWS reports in the
    /// response body rather than as a failed request.
    pub fn from_item(operation: &'static str, code: Option<&str>, message: Option<&str>) -> Self {
        AwsError {
            operation,
            code: code.map(str::to_string),
            message: message.map(str::to_string),
            request_id: None,
            cause: String::new(),
        }
    }

    /// Reports whether AWS found no such object (any `*.NotFound` code).
    pub fn is_not_found(&self) -> bool {
        self.code
            .as_deref()
            .is_some_and(|code| code.ends_with("NotFound"))
    }

    pub fn has_code(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }

    /// Reports whether AWS asked the caller to slow down.
    pub fn is_throttling(&self) -> bool {
        matches!(
            self.code.as_deref(),
            Some(
                "RequestLimitExceeded"
                    | "Throttling"
                    | "ThrottlingException"
                    | "TooManyRequestsException"
            )
        )
    }

    /// Reports whether the call failed before any AWS response arrived (network,
    /// DNS, TLS or timeout), as opposed to AWS rejecting it.
    pub fn is_unreachable(&self) -> bool {
        self.code.is_none()
    }
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => {
                write!(f, "{} failed: AWS {code}", self.operation)?;
                if let Some(message) = &self.message {
                    write!(f, ": {message}")?;
                }
            }
            None => write!(f, "{} failed: {}", self.operation, self.cause)?,
        }
        if let Some(request_id) = &self.request_id {
            write!(f, " (request id {request_id})")?;
        }
        Ok(())
    }
}

impl std::error::Error for AwsError {}

/// Joins the messages of an error and its sources with ": ", leaving out
/// a message that only repeats the one before it.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut messages: Vec<String> = Vec::new();
    let mut current = Some(error);
    while let Some(error) = current {
        let message = error.to_string();
        if messages.last().is_none_or(|last| !last.contains(&message)) {
            messages.push(message);
        }
        current = error.source();
    }
    messages.join(": ")
}
