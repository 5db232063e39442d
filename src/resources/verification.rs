//! The `dns_verification` and `health_check` blocks of
//! `plink_consumer_endpoint`: their schema, validation, and the checks run
//! after the endpoint is available and again on every refresh.
//!
//! DNS verification has three modes. `api` checks with AWS only that private
//! DNS is on, the service's names are verified and DNS entries exist.
//! `resolve` also looks the names up and requires every answer to be one of
//! the endpoint's network interface addresses. `off` skips it. The health check is one HTTPS request,
//! resolved through the same resolver.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Duration;

use super::timeouts::parse_duration;
use super::values::{string_entries, strings};
use crate::aws::ec2::{self, VpcEndpoint};
use crate::protocol::diagnostics::{AttributePath, Diagnostic};
use crate::protocol::schema::{Attribute, Block, NestedBlock};
use crate::protocol::value::{Type, Value};
use crate::provider::clients::AwsClients;
use crate::verify::dns::{self, Resolver};
use crate::verify::health::{self, HealthCheck};

const MODES: [&str; 3] = ["api", "resolve", "off"];
const ON_FAILURE: [&str; 2] = ["error", "warn"];
/// How long each DNS lookup may take.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// The computed attributes the checks fill.
pub const COMPUTED: [&str; 3] = [
    "dns_verification_status",
    "dns_addresses",
    "health_check_status",
];

/// The status recorded when every check passed.
pub const PASSED: &str = "passed";

pub fn dns_block() -> NestedBlock {
    let attributes = vec![
        Attribute::optional(
            "mode",
            Type::String,
            "`api` (default) checks with AWS only; `resolve` also resolves each name and \
             requires the endpoint's addresses; `off` skips verification.",
        ),
        Attribute::optional(
            "names",
            Type::list(Type::String),
            "Names to resolve in `resolve` mode. Defaults to the service's private DNS names.",
        ),
        Attribute::optional(
            "resolver",
            Type::String,
            "DNS server as `ip:port` for `resolve` mode and the health check. Defaults to the \
             system resolver.",
        ),
        Attribute::optional(
            "on_failure",
            Type::String,
            "`error` (default) fails the apply; `warn` records the failure and warns.",
        ),
    ];
    NestedBlock::single(
        "dns_verification",
        Block {
            attributes,
            description: "Checks after create, and on every refresh, that private DNS is in \
                          effect."
                .to_string(),
            ..Block::default()
        },
    )
}

pub fn health_block() -> NestedBlock {
    let attributes = vec![
        Attribute::required(
            "url",
            Type::String,
            "`https://` URL to request, such as the service's health endpoint.",
        ),
        Attribute::optional("method", Type::String, "HTTP method. Defaults to `GET`."),
        Attribute::optional(
            "expected_status",
            Type::Number,
            "Status the response must have. Defaults to 200.",
        ),
        Attribute::optional(
            "headers",
            Type::map(Type::String),
            "Request headers, such as an API key. Never logged or shown.",
        )
        .sensitive(),
        Attribute::optional(
            "timeout",
            Type::String,
            "Limit on the whole request, such as `10s`. Defaults to `10s`.",
        ),
        Attribute::optional(
            "ca_bundle",
            Type::String,
            "PEM certificates to trust besides the system's, for a private CA.",
        ),
        Attribute::optional(
            "on_failure",
            Type::String,
            "`warn` (default) records the failure and warns; `error` fails the apply.",
        ),
    ];
    NestedBlock::single(
        "health_check",
        Block {
            attributes,
            description: "An HTTPS request through the endpoint after DNS verification.".into(),
            ..Block::default()
        },
    )
}

/// Returns the schema of the computed attributes the checks fill.
pub fn computed_attributes() -> Vec<Attribute> {
    vec![
        Attribute::computed(
            "dns_verification_status",
            Type::String,
            "`passed`, `off`, `skipped: REASON` or `failed: REASON`. A failure seen on refresh \
             makes the next plan verify again.",
        ),
        Attribute::computed(
            "dns_addresses",
            Type::map(Type::list(Type::String)),
            "The addresses each name resolved to in `resolve` mode.",
        ),
        Attribute::computed(
            "health_check_status",
            Type::String,
            "`passed` or `failed: REASON`; null without a `health_check` block.",
        ),
    ]
}

/// Checks both blocks of `config` without any network access.
pub fn validate(config: &Value) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    let dns = config.get("dns_verification");
    let health_block = config.get("health_check");
    one_of(dns, "dns_verification", "mode", &MODES, &mut diagnostics);
    one_of(
        dns,
        "dns_verification",
        "on_failure",
        &ON_FAILURE,
        &mut diagnostics,
    );
    one_of(
        health_block,
        "health_check",
        "on_failure",
        &ON_FAILURE,
        &mut diagnostics,
    );
    if let Some(text) = dns.get("resolver").as_str() {
        if let Err(problem) = text.parse::<Resolver>() {
            diagnostics.push(invalid("dns_verification", "resolver", problem));
        }
    }
    if let Some(text) = health_block.get("timeout").as_str() {
        if let Err(problem) = parse_duration(text) {
            diagnostics.push(invalid("health_check", "timeout", problem));
        }
    }
    if let Some(status) = health_block.get("expected_status").as_f64() {
        if !(100.0..=599.0).contains(&status) || status.fract() != 0.0 {
            let problem = format!("{status} is not an HTTP status code (100-599)");
            diagnostics.push(invalid("health_check", "expected_status", problem));
        }
    }
    if let Some(url) = health_block.get("url").as_str() {
        if let Err(problem) = health::validate(&HealthCheck::new(url)) {
            diagnostics.push(invalid("health_check", "url", problem.to_string()));
        }
    }
    diagnostics
}

fn one_of(
    block: &Value,
    block_name: &str,
    name: &str,
    allowed: &[&str],
    diagnostics: &mut Vec<Diagnostic>,
) {
    if let Some(text) = block.get(name).as_str() {
        if !allowed.contains(&text) {
            let problem = format!("{text:?} is not one of: {}", allowed.join(", "));
            diagnostics.push(invalid(block_name, name, problem));
        }
    }
}

fn invalid(block: &str, name: &str, problem: String) -> Diagnostic {
    Diagnostic::error(
        format!("Invalid {block}.{name}"),
        format!("{block}.{name}: {problem}."),
    )
    .at(AttributePath::root(block).attribute(name))
}

/// The findings of the checks, for the state.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    pub dns_status: String,
    pub dns_addresses: BTreeMap<String, Vec<String>>,
    /// `None` without a `health_check` block.
    pub health_status: Option<String>,
}

impl Outcome {
    pub fn write(&self, state: &mut BTreeMap<String, Value>) {
        let addresses = self
            .dns_addresses
            .iter()
            .map(|(name, list)| {
                let list = list.iter().map(Value::string).collect();
                (name.clone(), Value::List(list))
            })
            .collect();
        state.insert(
            "dns_verification_status".into(),
            Value::string(&self.dns_status),
        );
        state.insert("dns_addresses".into(), Value::Map(addresses));
        let health = self
            .health_status
            .as_deref()
            .map_or(Value::Null, Value::string);
        state.insert("health_check_status".into(), health);
    }

    /// Whether the recorded outcome is a failure that the next plan should
    /// check again.
    pub fn failed_in(state: &Value) -> bool {
        let failed = |name: &str| {
            state
                .get(name)
                .as_str()
                .is_some_and(|s| s.starts_with("failed"))
        };
        failed("dns_verification_status") || failed("health_check_status")
    }
}

/// Runs DNS verification, then the health check, on an available endpoint.
/// Each block's `on_failure` decides whether a failure is an error or a
/// warning.
pub async fn run(
    clients: &AwsClients,
    config: &Value,
    endpoint: &VpcEndpoint,
    private_dns_names: &[String],
) -> (Outcome, Vec<Diagnostic>) {
    let dns_config = config.get("dns_verification");
    let mode = dns_config.get("mode").as_str().unwrap_or("api");
    let resolver = dns_config
        .get("resolver")
        .as_str()
        .and_then(|text| text.parse::<Resolver>().ok())
        .unwrap_or(Resolver::System);
    let mut outcome = Outcome::default();
    let mut diagnostics = Vec::new();

    let dns_result = match mode {
        "off" => Ok("off".to_string()),
        _ if !endpoint.private_dns_enabled => Ok("skipped: private DNS is off".to_string()),
        _ => {
            let names = match strings(dns_config.get("names")) {
                names if names.is_empty() => private_dns_names.to_vec(),
                names => names,
            };
            let resolve = mode == "resolve";
            check_dns(clients, endpoint, &names, resolve, &resolver, &mut outcome).await
        }
    };
    outcome.dns_status = match dns_result {
        Ok(status) => status,
        Err(reason) => {
            let on_failure = dns_config.get("on_failure").as_str().unwrap_or("error");
            diagnostics.push(failure(
                "DNS verification failed",
                &reason,
                on_failure,
                "dns_verification",
            ));
            format!("failed: {reason}")
        }
    };

    let health_config = config.get("health_check");
    if let Some(url) = health_config.get("url").as_str() {
        let report = health::check(&health_check(url, health_config, resolver)).await;
        outcome.health_status = Some(match report.error {
            None => PASSED.to_string(),
            Some(error) => {
                let on_failure = health_config.get("on_failure").as_str().unwrap_or("warn");
                let reason = error.to_string();
                diagnostics.push(failure(
                    "Health check failed",
                    &reason,
                    on_failure,
                    "health_check",
                ));
                format!("failed: {reason}")
            }
        });
    }
    (outcome, diagnostics)
}

async fn check_dns(
    clients: &AwsClients,
    endpoint: &VpcEndpoint,
    names: &[String],
    resolve: bool,
    resolver: &Resolver,
    outcome: &mut Outcome,
) -> Result<String, String> {
    if endpoint.dns_entries.is_empty() {
        return Err(format!(
            "AWS reports no DNS entries for endpoint {}",
            endpoint.id
        ));
    }
    let service = ec2::find_endpoint_service(&clients.ec2, &endpoint.service_name)
        .await
        .map_err(|e| format!("reading service {}: {e}", endpoint.service_name))?
        .ok_or_else(|| format!("service {} is no longer visible", endpoint.service_name))?;
    if let Some((name, state)) = service
        .private_dns_names
        .iter()
        .find(|(_, state)| !state.is_empty() && !state.eq_ignore_ascii_case("verified"))
    {
        return Err(format!(
            "the service's private DNS name {name} is {state}, not verified"
        ));
    }
    if !resolve {
        return Ok(PASSED.to_string());
    }
    if names.is_empty() {
        return Err("there are no names to resolve; set dns_verification.names".to_string());
    }

    let expected: BTreeSet<IpAddr> =
        ec2::find_interface_addresses(&clients.ec2, &endpoint.network_interface_ids)
            .await
            .map_err(|e| format!("reading the endpoint's network interfaces: {e}"))?
            .into_iter()
            .collect();
    let answers = dns::resolve_names(names, resolver, LOOKUP_TIMEOUT).await;
    for answer in &answers {
        let seen = answer.result.clone().unwrap_or_default();
        let seen = seen.iter().map(IpAddr::to_string).collect();
        outcome.dns_addresses.insert(answer.name.clone(), seen);
    }
    let mismatches = dns::compare_answers(&answers, &expected);
    if mismatches.is_empty() {
        Ok(PASSED.to_string())
    } else {
        let reasons: Vec<String> = mismatches.iter().map(ToString::to_string).collect();
        Err(reasons.join("; "))
    }
}

fn health_check(url: &str, config: &Value, resolver: Resolver) -> HealthCheck {
    let mut check = HealthCheck::new(url);
    if let Some(method) = config.get("method").as_str() {
        check.method = method.to_string();
    }
    if let Some(status) = config.get("expected_status").as_f64() {
        check.expected_status = status as u16;
    }
    check.headers = string_entries(config.get("headers")).into_iter().collect();
    if let Some(timeout) = config
        .get("timeout")
        .as_str()
        .and_then(|t| parse_duration(t).ok())
    {
        check.timeout = timeout;
    }
    check.resolver = resolver;
    check.extra_ca_pem = config.get("ca_bundle").as_str().map(str::to_string);
    check
}

fn failure(summary: &str, reason: &str, on_failure: &str, block: &str) -> Diagnostic {
    let advice = if block == "health_check" {
        "Check that the service is up and that the endpoint's security group admits the \
         client"
    } else {
        "Check the VPC's DNS: Route 53 Resolver rules, private hosted zones and the endpoint's \
         private DNS setting"
    };
    let switch = if on_failure == "warn" {
        "It is recorded in the state and checked again by the next plan.".to_string()
    } else {
        format!("Set {block}.on_failure = \"warn\" to record failures without failing.")
    };
    let detail = format!("{reason}. {advice}. {switch}");
    let diagnostic = if on_failure == "warn" {
        Diagnostic::warning(summary, detail)
    } else {
        Diagnostic::error(summary, detail)
    };
    diagnostic.at(AttributePath::root(block))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::values::object;

    #[test]
    fn validate_cases() {
        let cases = [
            (
                "good",
                object([(
                    "dns_verification",
                    object([("mode", Value::string("resolve"))]),
                )]),
                0,
            ),
            (
                "bad mode",
                object([("dns_verification", object([("mode", Value::string("dig"))]))]),
                1,
            ),
            (
                "bad resolver",
                object([(
                    "dns_verification",
                    object([("resolver", Value::string("dns.example"))]),
                )]),
                1,
            ),
            (
                "plain http",
                object([(
                    "health_check",
                    object([("url", Value::string("http://x.example/"))]),
                )]),
                1,
            ),
            (
                "bad status",
                object([(
                    "health_check",
                    object([
                        ("url", Value::string("https://x.example/")),
                        ("expected_status", Value::Number(42.0)),
                    ]),
                )]),
                1,
            ),
        ];
        for (name, config, errors) in cases {
            assert_eq!(validate(&config).len(), errors, "case {name}");
        }
    }

    #[test]
    fn failed_outcome_is_detected() {
        let state = object([(
            "dns_verification_status",
            Value::string("failed: no answer"),
        )]);
        assert!(Outcome::failed_in(&state));
        let state = object([("dns_verification_status", Value::string(PASSED))]);
        assert!(!Outcome::failed_in(&state));
    }
}
