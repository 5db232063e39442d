//! `plink_consumer_endpoint`: an interface VPC endpoint to a PrivateLink
//! service, with a dedicated security group and one ingress rule per
//! (port, source) pair, managed as one resource.
//!
//! The file follows the lifecycle: schema, validate, plan, create, read,
//! update, delete, import, upgrade, then conversions between Terraform values
//! and the typed model.
//!
//! Ordering rules the lifecycle keeps:
//! - the security group and its rules exist before the endpoint, so the
//!   endpoint is never attached to the VPC's default group;
//! - private DNS is turned on only once the endpoint is `available`, so the
//!   service's DNS name never points at an endpoint that cannot carry traffic;
//! - on delete, the security group goes last, after the endpoint and its
//!   network interfaces are gone, because AWS refuses to delete a group that a
//!   network interface still uses;
//! - the alarms of the `alarm` blocks and `recommended_alarms` are put only
//!   once the endpoint is available and verified, and deleted before the
//!   endpoint, so no alarm watches an endpoint that does not exist;
//! - a create that fails half-way returns the state of what it built, so
//!   Terraform records it (as tainted) and nothing is orphaned;
//! - changes to one endpoint from this provider process run one at a time.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use tokio::time::Instant;

use super::consumer_alarms;
use super::consumer_flow_logs;
use super::policy;
use super::preflight;
use super::timeouts::{self, Timeouts};
use super::values::{
    number_set, object, set_attribute, string_entries, string_list, string_map, string_set, strings,
};
use super::verification::{self, Outcome};
use crate::aws::ec2::{
    self, EndpointModification, IngressRule, NewInterfaceEndpoint, Source, VpcEndpoint,
};
use crate::aws::errors::AwsError;
use crate::aws::wait::{self, Poll, WaitError};
use crate::protocol::diagnostics::{has_errors, AttributePath, Diagnostic};
use crate::protocol::schema::{Attribute, Block, Schema};
use crate::protocol::service::{
    ApplyRequest, ApplyResponse, ImportResponse, ImportedResource, PlanRequest, PlanResponse,
    ReadRequest, ReadResponse,
};
use crate::protocol::value::{Type, Value};
use crate::provider::clients::AwsClients;
use crate::provider::{Context, Resource};

pub const TYPE_NAME: &str = "plink_consumer_endpoint";

/// Version 0 had no policy, extra groups, IP types, acceptance or timeouts.
const SCHEMA_VERSION: i64 = 1;

/// Tag that marks a security group as created and owned by plink.
pub const MANAGED_BY_TAG: &str = "plink:managed-by";
const MANAGED_BY_VALUE: &str = "terraform-provider-plink";
/// Tag on the managed security group naming the service it admits traffic to.
const SERVICE_TAG: &str = "plink:service-name";

/// How long a just-created endpoint may be missing from DescribeVpcEndpoints.
/// EC2's read API is eventually consistent, so a new ID can be NotFound for
/// a few seconds; a minute is a generous bound.
const NOT_FOUND_GRACE: Duration = Duration::from_secs(60);

/// The full-access policy AWS attaches when an endpoint has none. Removing
/// `policy` from the configuration puts this document back.
const FULL_ACCESS_POLICY: &str = r#"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#;

const IP_ADDRESS_TYPES: [&str; 3] = ["ipv4", "dualstack", "ipv6"];
const DNS_RECORD_IP_TYPES: [&str; 4] = ["ipv4", "dualstack", "ipv6", "service-defined"];

/// Attributes whose change replaces the endpoint: AWS cannot move an
/// endpoint to another VPC or service.
const REPLACE_ATTRIBUTES: [&str; 2] = ["vpc_id", "service_name"];

/// Arguments that change AWS objects in place.
const AWS_ARGUMENTS: [&str; 10] = [
    "subnet_ids",
    "ports",
    "allowed_cidrs",
    "allowed_security_group_ids",
    "security_group_ids",
    "private_dns_enabled",
    "ip_address_type",
    "dns_record_ip_type",
    "policy",
    "tags",
];

/// Arguments that move the endpoint's network interfaces or DNS records.
const PLACEMENT_ARGUMENTS: [&str; 4] = [
    "subnet_ids",
    "private_dns_enabled",
    "ip_address_type",
    "dns_record_ip_type",
];

/// Computed attributes that may change when a placement argument changes.
const PLACEMENT_ATTRIBUTES: [&str; 2] = ["network_interface_ids", "dns_entries"];

/// Computed attributes AWS assigns at creation.
const CREATED_ATTRIBUTES: [&str; 7] = [
    "id",
    "endpoint_id",
    "security_group_id",
    "network_interface_ids",
    "dns_entries",
    "state",
    "owner_id",
];

pub struct ConsumerEndpoint;

/// The arguments of the resource, read from a planned or prior state.
#[derive(Clone, Debug, Default, PartialEq)]
struct Arguments {
    vpc_id: String,
    service_name: String,
    subnet_ids: Vec<String>,
    ports: Vec<u16>,
    /// As written in the configuration. `None` while the default (the VPC's
    /// CIDR blocks) is not resolved yet.
    allowed_cidrs: Option<Vec<String>>,
    allowed_security_group_ids: Vec<String>,
    /// Groups attached besides the managed one.
    security_group_ids: Vec<String>,
    private_dns_enabled: bool,
    /// `None` lets AWS choose.
    ip_address_type: Option<String>,
    /// `None` lets AWS choose.
    dns_record_ip_type: Option<String>,
    /// `None` means the service's default full-access policy.
    policy: Option<String>,
    wait_for_acceptance: bool,
    expected_service_owner: Option<String>,
    tags: BTreeMap<String, String>,
    /// Whether `tags` is null rather than an empty map. Terraform keeps the
    /// two apart and requires the state to keep the configured one.
    tags_null: bool,
    /// The `timeouts` block, kept as configured.
    timeouts: Value,
    /// The `dns_verification` and `health_check` blocks, kept as configured.
    dns_verification: Value,
    health_check: Value,
    /// The `alarm` blocks, kept as configured.
    alarms: Value,
    /// `recommended_alarms` as configured, null when left out.
    recommended_alarms: Value,
    /// The `flow_logs` block, kept as configured.
    flow_logs: Value,
}

/// Everything the state records, all values known.
#[derive(Clone, Debug, Default)]
struct Model {
    arguments: Arguments,
    /// Empty when a failed create never got as far as the endpoint.
    endpoint: Option<VpcEndpoint>,
    /// Empty when a failed create never got as far as the group.
    security_group_id: String,
    /// Every tag on the endpoint, the provider's default tags included.
    tags_all: BTreeMap<String, String>,
    facts: ServiceFacts,
    /// The verification outcome; `None` before the checks ran.
    verification: Option<Outcome>,
    /// The alarms that exist as configured, sorted.
    alarm_names: Vec<String>,
    /// The flow logs that exist as configured, sorted.
    flow_log_ids: Vec<String>,
}

/// Facts about the service and subnets, recorded for reviewers.
#[derive(Clone, Debug, Default, PartialEq)]
struct ServiceFacts {
    service_owner: String,
    service_private_dns_names: Vec<String>,
    availability_zones: Vec<String>,
}

/// How far a wait for the endpoint got.
enum Readiness {
    Available(VpcEndpoint),
    /// Still waiting for the service owner, with `wait_for_acceptance = false`.
    PendingAcceptance(VpcEndpoint),
}

#[async_trait]
impl Resource for ConsumerEndpoint {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema()
    }

    fn validate(&self, config: &Value) -> Vec<Diagnostic> {
        validate(config)
    }

    async fn plan(&self, context: &Context, request: PlanRequest) -> PlanResponse {
        plan(context, request).await
    }

    async fn apply(&self, context: &Context, request: ApplyRequest) -> ApplyResponse {
        let clients = match context.clients() {
            Ok(clients) => clients,
            Err(diagnostic) => return failed(request.prior_state, diagnostic),
        };
        if request.planned_state.is_null() {
            delete(context, clients, request.prior_state).await
        } else if request.prior_state.is_null() {
            create(context, clients, &request.planned_state).await
        } else {
            update(
                context,
                clients,
                request.prior_state,
                &request.planned_state,
            )
            .await
        }
    }

    async fn read(&self, context: &Context, request: ReadRequest) -> ReadResponse {
        let result = match context.clients() {
            Ok(clients) => read(clients, &request.current_state).await,
            Err(diagnostic) => Err(diagnostic),
        };
        match result {
            Ok((new_state, diagnostics)) => ReadResponse {
                new_state,
                private: request.private,
                diagnostics,
            },
            Err(diagnostic) => ReadResponse {
                new_state: request.current_state,
                private: request.private,
                diagnostics: vec![diagnostic],
            },
        }
    }

    async fn import(&self, context: &Context, id: &str) -> ImportResponse {
        let result = match context.clients() {
            Ok(clients) => import(clients, id).await,
            Err(diagnostic) => Err(diagnostic),
        };
        match result {
            Ok(state) => ImportResponse {
                imported: vec![ImportedResource {
                    type_name: TYPE_NAME.to_string(),
                    state,
                    private: Vec::new(),
                }],
                diagnostics: Vec::new(),
            },
            Err(diagnostic) => ImportResponse {
                imported: Vec::new(),
                diagnostics: vec![diagnostic],
            },
        }
    }

    fn upgrade(&self, version: i64, raw_state: serde_json::Value) -> (Value, Vec<Diagnostic>) {
        upgrade(version, &raw_state)
    }
}

// ---------------------------------------------------------------- schema

fn schema() -> Schema {
    let strings = || Type::set(Type::String);
    let dns_entry = Type::object([("dns_name", Type::String), ("hosted_zone_id", Type::String)]);
    let attributes = vec![
        Attribute::computed(
            "id",
            Type::String,
            "The VPC endpoint ID, same as `endpoint_id`.",
        ),
        Attribute::required(
            "vpc_id",
            Type::String,
            "VPC to create the endpoint in. Changing it replaces the endpoint.",
        ),
        Attribute::required(
            "service_name",
            Type::String,
            "Service name of the PrivateLink endpoint service, such as \
             `com.amazonaws.vpce.eu-west-1.vpce-svc-0123456789abcdef0`. Changing it replaces \
             the endpoint.",
        ),
        Attribute::required(
            "subnet_ids",
            strings(),
            "Subnets to place the endpoint's network interfaces in, one per availability zone.",
        ),
        Attribute::required(
            "ports",
            Type::set(Type::Number),
            "TCP ports the service listens on (1-65535). Each gets an ingress rule per \
             allowed source.",
        ),
        Attribute::optional_computed(
            "allowed_cidrs",
            strings(),
            "IPv4 CIDR blocks allowed to reach the endpoint. Defaults to the VPC's IPv4 CIDR \
             blocks. Host bits are cleared (`10.0.0.5/16` means `10.0.0.0/16`).",
        ),
        Attribute::optional(
            "allowed_security_group_ids",
            strings(),
            "Security groups whose members may reach the endpoint, besides `allowed_cidrs`.",
        ),
        Attribute::optional(
            "security_group_ids",
            strings(),
            "Extra security groups to attach to the endpoint besides the one plink manages. \
             plink never deletes them.",
        ),
        Attribute::optional_computed(
            "private_dns_enabled",
            Type::Bool,
            "Whether the service's private DNS name resolves to this endpoint inside the VPC. \
             Defaults to `true`. plink turns it on only after the endpoint is available.",
        ),
        Attribute::optional_computed(
            "ip_address_type",
            Type::String,
            "`ipv4`, `dualstack` or `ipv6`. Defaults to what AWS chooses for the service.",
        ),
        Attribute::optional_computed(
            "dns_record_ip_type",
            Type::String,
            "`ipv4`, `dualstack`, `ipv6` or `service-defined`. Defaults to what AWS chooses.",
        ),
        Attribute::optional_computed(
            "policy",
            Type::String,
            "Endpoint policy as a JSON document. Differences in formatting, key order or \
             `\"x\"` versus `[\"x\"]` are not changes. Removing it restores the service's \
             default full-access policy.",
        ),
        Attribute::optional_computed(
            "wait_for_acceptance",
            Type::Bool,
            "When the service requires acceptance, wait (within the create timeout) for the \
             service owner to accept. With `false`, create returns with `state = \
             \"pendingAcceptance\"` and a later apply turns on private DNS. Defaults to `true`.",
        ),
        Attribute::optional(
            "expected_service_owner",
            Type::String,
            "AWS account ID that must own the service. Plan fails when the service belongs to \
             another account, which guards against a mistyped or spoofed service name.",
        ),
        Attribute::computed(
            "service_owner",
            Type::String,
            "AWS account that owns the service, known at plan time when AWS can be reached.",
        ),
        Attribute::computed(
            "service_private_dns_names",
            Type::list(Type::String),
            "Private DNS names the service publishes.",
        ),
        Attribute::computed(
            "availability_zones",
            Type::list(Type::String),
            "Availability zones of the chosen subnets.",
        ),
        Attribute::optional(
            "tags",
            Type::map(Type::String),
            "Tags for the VPC endpoint.",
        ),
        Attribute::computed(
            "tags_all",
            Type::map(Type::String),
            "All tags on the endpoint, including the provider's `default_tags`.",
        ),
        Attribute::computed(
            "endpoint_id",
            Type::String,
            "The VPC endpoint ID (`vpce-...`).",
        ),
        Attribute::computed(
            "security_group_id",
            Type::String,
            "The security group plink created for the endpoint.",
        ),
        Attribute::computed(
            "network_interface_ids",
            strings(),
            "Network interfaces AWS created for the endpoint, one per subnet.",
        ),
        Attribute::computed(
            "dns_entries",
            Type::list(dns_entry),
            "DNS names of the endpoint and their Route 53 hosted zones.",
        ),
        Attribute::computed(
            "state",
            Type::String,
            "Endpoint state as AWS reports it, such as `available` or `pendingAcceptance`.",
        ),
        Attribute::computed(
            "owner_id",
            Type::String,
            "AWS account that owns the endpoint.",
        ),
    ];
    let mut attributes = attributes;
    attributes.extend(verification::computed_attributes());
    attributes.extend(consumer_alarms::attributes());
    attributes.push(consumer_flow_logs::attribute());
    Schema {
        version: SCHEMA_VERSION,
        block: Block {
            attributes,
            blocks: vec![
                timeouts::block(),
                verification::dns_block(),
                verification::health_block(),
                consumer_alarms::alarm_block(),
                consumer_flow_logs::block(),
            ],
            description: "Private connectivity from a VPC to a PrivateLink service: an interface \
                          VPC endpoint, its own security group and the ingress rules for the \
                          service's ports."
                .to_string(),
            deprecated: false,
        },
    }
}

fn value_type() -> Type {
    schema().value_type()
}

// ---------------------------------------------------------------- validate

fn validate(config: &Value) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    validate_ports(config.get("ports"), &mut diagnostics);

    let subnet_ids = config.get("subnet_ids");
    if !subnet_ids.contains_unknown() && !subnet_ids.is_null() && subnet_ids.elements().is_empty() {
        diagnostics.push(
            Diagnostic::error(
                "No subnets",
                "`subnet_ids` is empty. An interface endpoint needs at least one subnet; list \
                 one subnet per availability zone the clients run in.",
            )
            .at(AttributePath::root("subnet_ids")),
        );
    }
    validate_cidrs(config.get("allowed_cidrs"), &mut diagnostics);
    for (name, allowed) in [
        ("ip_address_type", &IP_ADDRESS_TYPES[..]),
        ("dns_record_ip_type", &DNS_RECORD_IP_TYPES[..]),
    ] {
        if let Some(text) = config.get(name).as_str() {
            if !allowed.contains(&text) {
                diagnostics.push(
                    Diagnostic::error(
                        format!("Invalid {name}"),
                        format!("{name} = {text:?} is not one of: {}.", allowed.join(", ")),
                    )
                    .at(AttributePath::root(name)),
                );
            }
        }
    }
    if let Some(text) = config.get("policy").as_str() {
        if let Err(problem) = policy::validate(text) {
            diagnostics.push(
                Diagnostic::error(
                    "Invalid policy",
                    if problem.contains("characters long") {
                        format!("{problem}. Shorten the policy, for example by using wildcards.")
                    } else {
                        format!(
                            "{problem}. Write the policy with jsonencode() or a heredoc holding \
                             a JSON object."
                        )
                    },
                )
                .at(AttributePath::root("policy")),
            );
        }
    }
    for name in ["allowed_security_group_ids", "security_group_ids"] {
        for id in strings(config.get(name)) {
            if !id.starts_with("sg-") {
                diagnostics.push(
                    Diagnostic::error(
                        "Invalid security group ID",
                        format!("{id:?} in {name} is not a security group ID (sg-...)."),
                    )
                    .at(AttributePath::root(name)),
                );
            }
        }
    }
    if let Some(owner) = config.get("expected_service_owner").as_str() {
        if owner.len() != 12 || !owner.bytes().all(|b| b.is_ascii_digit()) {
            diagnostics.push(
                Diagnostic::error(
                    "Invalid account ID",
                    format!("expected_service_owner = {owner:?} is not a 12-digit AWS account ID."),
                )
                .at(AttributePath::root("expected_service_owner")),
            );
        }
    }
    diagnostics.extend(timeouts::validate(config));
    diagnostics.extend(verification::validate(config));
    consumer_alarms::validate(config, &mut diagnostics);
    consumer_flow_logs::validate(config, &mut diagnostics);
    diagnostics
}

fn validate_ports(ports: &Value, diagnostics: &mut Vec<Diagnostic>) {
    if ports.contains_unknown() {
        return;
    }
    for port in ports.elements() {
        if let Some(n) = port.as_f64() {
            if port_number(n).is_none() {
                diagnostics.push(
                    Diagnostic::error(
                        "Invalid port",
                        format!("Port {n} is not a TCP port. Use whole numbers from 1 to 65535."),
                    )
                    .at(AttributePath::root("ports")),
                );
            }
        }
    }
    if ports.elements().is_empty() && !ports.is_null() {
        diagnostics.push(
            Diagnostic::error(
                "No ports",
                "`ports` is empty, so no traffic could reach the endpoint. List the TCP \
                 ports the service listens on, such as [443].",
            )
            .at(AttributePath::root("ports")),
        );
    }
}

/// Reports malformed CIDR blocks as errors, and host bits or blocks that
/// are the same once canonical as warnings.
fn validate_cidrs(cidrs: &Value, diagnostics: &mut Vec<Diagnostic>) {
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for text in strings(cidrs) {
        let at = AttributePath::root("allowed_cidrs");
        let canonical = match canonical_cidr(&text) {
            Ok(canonical) => canonical,
            Err(problem) => {
                let detail = format!(
                    "{text:?} in allowed_cidrs is not an IPv4 CIDR block: {problem}. Write it \
                     as address/prefix, such as \"10.0.0.0/16\"."
                );
                diagnostics.push(Diagnostic::error("Invalid CIDR block", detail).at(at));
                continue;
            }
        };
        if canonical != text {
            let detail = format!(
                "{text:?} has host bits set; the rule allows {canonical:?}. Write {canonical:?} \
                 to make that plain."
            );
            diagnostics
                .push(Diagnostic::warning("CIDR block has host bits", detail).at(at.clone()));
        }
        if let Some(first) = seen.insert(canonical.clone(), text.clone()) {
            let detail = format!(
                "{first:?} and {text:?} are both {canonical:?}; plink makes one rule per port \
                 for it. Remove one of them."
            );
            diagnostics.push(Diagnostic::warning("Duplicate CIDR block", detail).at(at));
        }
    }
}

fn port_number(n: f64) -> Option<u16> {
    if n.fract() == 0.0 && (1.0..=65535.0).contains(&n) {
        Some(n as u16)
    } else {
        None
    }
}

/// Returns the block with host bits cleared, such as `10.0.0.0/16` for
/// `10.0.0.5/16`.
fn canonical_cidr(text: &str) -> Result<String, String> {
    let (address, prefix) = text
        .split_once('/')
        .ok_or_else(|| "the /prefix is missing".to_string())?;
    let address: Ipv4Addr = address
        .parse()
        .map_err(|_| format!("{address:?} is not an IPv4 address"))?;
    let prefix: u32 = prefix
        .parse()
        .ok()
        .filter(|p| *p <= 32)
        .ok_or_else(|| format!("prefix {prefix:?} is not a number from 0 to 32"))?;
    let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
    let network = Ipv4Addr::from(u32::from(address) & mask);
    Ok(format!("{network}/{prefix}"))
}

// ---------------------------------------------------------------- plan

async fn plan(context: &Context, request: PlanRequest) -> PlanResponse {
    let mut planned = request.proposed_new_state;
    if planned.is_null() {
        return PlanResponse::default();
    }
    let prior = &request.prior_state;
    let config = &request.config;
    let mut diagnostics = Vec::new();

    let mut requires_replace: Vec<AttributePath> = Vec::new();
    if !prior.is_null() {
        requires_replace.extend(
            REPLACE_ATTRIBUTES
                .iter()
                .filter(|name| prior.get(name) != planned.get(name))
                .map(|name| AttributePath::root(name)),
        );
        if prior.get("endpoint_id").as_str() == Some("") {
            // The record of a failed create, or of an endpoint deleted
            // outside Terraform: only its security group is left, so build
            // anew.
            requires_replace.push(AttributePath::root("endpoint_id"));
        }
    }
    let creating = prior.is_null() || !requires_replace.is_empty();
    if !requires_replace.is_empty() {
        tracing::debug!(?requires_replace, "planning replacement");
    }

    plan_defaults(
        context,
        &mut planned,
        prior,
        config,
        creating,
        &mut diagnostics,
    )
    .await;
    plan_preflight(context, &mut planned, prior, creating, &mut diagnostics).await;
    plan_policy(&mut planned, prior, config, creating);

    // Terraform 1.0 proposes the prior value for a single nested block that
    // the configuration removed. These blocks have nothing computed, so the
    // configuration's value is the plan.
    for name in ["timeouts", "dns_verification", "health_check", "flow_logs"] {
        set_attribute(&mut planned, name, config.get(name).clone());
    }

    let verify_again = creating
        || changed(prior, &planned, &AWS_ARGUMENTS)
        || changed(prior, &planned, &["dns_verification", "health_check"])
        || Outcome::failed_in(prior);
    if verify_again {
        for name in verification::COMPUTED {
            set_attribute(&mut planned, name, Value::Unknown);
        }
    }
    let alarm_names = if creating {
        Value::Unknown
    } else {
        consumer_alarms::planned_names(&planned, prior.get("endpoint_id").as_str())
    };
    set_attribute(&mut planned, "alarm_names", alarm_names);
    let flow_log_ids = plan_flow_log_ids(&planned, prior, creating);
    set_attribute(&mut planned, "flow_log_ids", flow_log_ids);
    if creating {
        for name in CREATED_ATTRIBUTES {
            set_attribute(&mut planned, name, Value::Unknown);
        }
    } else if changed(prior, &planned, &AWS_ARGUMENTS) {
        // The endpoint may pass through `pending` while AWS applies a change.
        set_attribute(&mut planned, "state", Value::Unknown);
        if changed(prior, &planned, &PLACEMENT_ARGUMENTS) {
            for name in PLACEMENT_ATTRIBUTES {
                set_attribute(&mut planned, name, Value::Unknown);
            }
        }
    }

    PlanResponse {
        planned_state: planned,
        requires_replace,
        planned_private: request.prior_private,
        diagnostics,
    }
}

/// Plans `flow_log_ids`: empty without a `flow_logs` block, unknown while
/// flow logs will be created or replaced, else the prior IDs. A prior count
/// that differs from the number of network interfaces means some were
/// deleted outside Terraform, so they are planned for creation again.
fn plan_flow_log_ids(planned: &Value, prior: &Value, creating: bool) -> Value {
    let block = planned.get("flow_logs");
    if block.is_null() {
        return Value::List(Vec::new());
    }
    let prior_ids = strings(prior.get("flow_log_ids"));
    let interfaces = strings(prior.get("network_interface_ids"));
    let unchanged = !creating
        && !changed(prior, planned, &["flow_logs", "subnet_ids"])
        && prior_ids.len() == interfaces.len();
    if unchanged {
        string_list(&prior_ids)
    } else {
        Value::Unknown
    }
}

/// Arguments whose change calls for checking the configuration against AWS
/// again.
const CHECKED_ARGUMENTS: [&str; 5] = [
    "subnet_ids",
    "private_dns_enabled",
    "ip_address_type",
    "expected_service_owner",
    "vpc_id",
];

/// Runs the preflight checks and plans the facts they learn, so that the
/// plan shows reviewers the service owner, its DNS names and the zones in the plan.
async fn plan_preflight(
    context: &Context,
    planned: &mut Value,
    prior: &Value,
    creating: bool,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let subnets_changed = creating || changed(prior, planned, &["subnet_ids"]);
    if !creating && !changed(prior, planned, &CHECKED_ARGUMENTS) {
        return;
    }
    let facts = match context.configured_clients() {
        Some(clients) => {
            let (facts, found) = preflight::check(clients, &preflight_request(planned)).await;
            diagnostics.extend(found);
            facts
        }
        None => {
            diagnostics.push(Diagnostic::warning(
                "Checks skipped",
                "The provider is not configured yet, so plink could not check the service, \
                 subnets and VPC against AWS during plan. The checks run again before the \
                 endpoint is created.",
            ));
            preflight::Facts::default()
        }
    };
    if creating {
        let (owner, names) = match &facts.service {
            Some(service) => {
                let names: Vec<String> = service
                    .private_dns_names
                    .iter()
                    .map(|(name, _)| name.clone())
                    .collect();
                (Value::string(&service.owner), string_list(&names))
            }
            None => (Value::Unknown, Value::Unknown),
        };
        set_attribute(planned, "service_owner", owner);
        set_attribute(planned, "service_private_dns_names", names);
    }
    if subnets_changed {
        let zones = facts
            .availability_zones()
            .map_or(Value::Unknown, |zones| string_list(&zones));
        set_attribute(planned, "availability_zones", zones);
    }
}

/// Collects the values of a plan that the preflight checks can use, which
/// are the known ones.
fn preflight_request(planned: &Value) -> preflight::Request {
    let known_string = |name: &str| planned.get(name).as_str().map(str::to_string);
    let subnets = planned.get("subnet_ids");
    preflight::Request {
        vpc_id: known_string("vpc_id"),
        service_name: known_string("service_name"),
        subnet_ids: (!subnets.contains_unknown() && !subnets.is_null()).then(|| strings(subnets)),
        private_dns_enabled: planned.get("private_dns_enabled").as_bool(),
        ip_address_type: known_string("ip_address_type"),
        expected_service_owner: known_string("expected_service_owner"),
    }
}

/// Fills the defaults of optional arguments the configuration leaves out.
async fn plan_defaults(
    context: &Context,
    planned: &mut Value,
    prior: &Value,
    config: &Value,
    creating: bool,
    diagnostics: &mut Vec<Diagnostic>,
) {
    for name in ["private_dns_enabled", "wait_for_acceptance"] {
        if config.get(name).is_null() {
            set_attribute(planned, name, Value::Bool(true));
        }
    }
    if creating {
        // AWS picks these for the service; the prior record's values belong
        // to the endpoint being replaced.
        for name in ["ip_address_type", "dns_record_ip_type"] {
            if config.get(name).is_null() {
                set_attribute(planned, name, Value::Unknown);
            }
        }
    }
    if config.get("allowed_cidrs").is_null() {
        let cidrs = plan_default_cidrs(context, planned, prior, creating, diagnostics).await;
        set_attribute(planned, "allowed_cidrs", cidrs);
    }
    let tags = planned.get("tags").clone();
    let tags_all = match context.configured_clients() {
        Some(clients) if !tags.contains_unknown() => {
            string_map(&merged_tags(clients, &string_entries(&tags)))
        }
        _ => Value::Unknown,
    };
    set_attribute(planned, "tags_all", tags_all);
}

/// Keeps a configured policy's prior text when the two mean the same, and
/// plans the return to the default policy when the configuration drops it.
fn plan_policy(planned: &mut Value, prior: &Value, config: &Value, creating: bool) {
    let prior_policy = prior.get("policy").as_str();
    match config.get("policy") {
        Value::String(configured) => {
            if let Some(prior_policy) = prior_policy {
                if !creating && policy::equivalent(configured, prior_policy) {
                    set_attribute(planned, "policy", Value::string(prior_policy));
                }
            }
        }
        Value::Null => {
            let keeps_default = prior_policy.is_none_or(policy::is_full_access);
            if creating || !keeps_default {
                set_attribute(planned, "policy", Value::Unknown);
            }
        }
        _ => {}
    }
}

/// Plans the default `allowed_cidrs`: the VPC's CIDR blocks, looked up now so
/// the plan shows them. When they cannot be looked up yet (unknown VPC, or the
/// provider not configured), a create plans them as unknown and an update
/// keeps the prior value.
async fn plan_default_cidrs(
    context: &Context,
    planned: &Value,
    prior: &Value,
    creating: bool,
    diagnostics: &mut Vec<Diagnostic>,
) -> Value {
    let fallback = if creating {
        Value::Unknown
    } else {
        prior.get("allowed_cidrs").clone()
    };
    let (Some(clients), Some(vpc_id)) =
        (context.configured_clients(), planned.get("vpc_id").as_str())
    else {
        return fallback;
    };
    match ec2::find_vpc_cidrs(&clients.ec2, vpc_id).await {
        Ok(cidrs) => string_set(cidrs),
        Err(error) => {
            diagnostics.push(
                Diagnostic::error(
                    "Cannot read the VPC's CIDR blocks",
                    format!(
                        "allowed_cidrs defaults to the CIDR blocks of VPC {vpc_id}, but reading \
                         them failed: {error}. Check that vpc_id names an existing VPC in this \
                         region and that the credentials allow ec2:DescribeVpcs, or set \
                         allowed_cidrs explicitly."
                    ),
                )
                .at(AttributePath::root("vpc_id")),
            );
            fallback
        }
    }
}

fn changed(prior: &Value, planned: &Value, names: &[&str]) -> bool {
    names
        .iter()
        .any(|name| prior.get(name) != planned.get(name))
}

// ---------------------------------------------------------------- create

async fn create(context: &Context, clients: &AwsClients, planned: &Value) -> ApplyResponse {
    let mut arguments = match Arguments::from_value(planned) {
        Ok(arguments) => arguments,
        Err(diagnostic) => return failed(Value::Null, diagnostic),
    };
    let timeouts = Timeouts::from_value(planned);
    let deadline = wait::deadline_after(timeouts.create);

    // The plan's checks again, now that every value is known; nothing is
    // created when one fails.
    let (checked, mut diagnostics) = preflight::check(clients, &preflight_request(planned)).await;
    if has_errors(&diagnostics) {
        return failed_with(Value::Null, diagnostics);
    }

    if arguments.allowed_cidrs.is_none() {
        match ec2::find_vpc_cidrs(&clients.ec2, &arguments.vpc_id).await {
            Ok(cidrs) => arguments.allowed_cidrs = Some(cidrs),
            Err(error) => {
                let detail = format!(
                    "reading the CIDR blocks of VPC {} for allowed_cidrs: {error}. Check vpc_id, \
                     or set allowed_cidrs explicitly.",
                    arguments.vpc_id
                );
                return failed(
                    Value::Null,
                    error_at("Creating endpoint failed", detail, "vpc_id"),
                );
            }
        }
    }
    let service = checked.service.clone().unwrap_or_default();
    let mut model = Model {
        arguments: arguments.clone(),
        tags_all: merged_tags(clients, &arguments.tags),
        facts: ServiceFacts {
            service_owner: service.owner,
            service_private_dns_names: service
                .private_dns_names
                .into_iter()
                .map(|(name, _)| name)
                .collect(),
            availability_zones: checked.availability_zones().unwrap_or_default(),
        },
        ..Model::default()
    };

    // Step 1: the dedicated security group and its rules.
    match create_managed_group(clients, &arguments, remaining(deadline)).await {
        Ok(group_id) => model.security_group_id = group_id,
        Err(diagnostic) => return failed(Value::Null, diagnostic),
    }
    let rules = desired_rules(&arguments);
    let description = rule_description(&arguments);
    let authorized = wait::retry_while_busy(remaining(deadline), &context.stop, || {
        ec2::authorize_ingress(&clients.ec2, &model.security_group_id, &rules, &description)
    })
    .await;
    if let Err(error) = authorized {
        let detail = format!(
            "adding ingress rules to security group {}: {}. The group was created and is \
             recorded in state; the next apply replaces it.",
            model.security_group_id,
            describe_wait_error(error)
        );
        return failed(
            model.to_value(),
            error_at("Creating endpoint failed", detail, "ports"),
        );
    }

    // Step 2: the endpoint, attached to that group and the extra ones, with
    // private DNS off until it is available.
    match create_endpoint(
        clients,
        &arguments,
        &model.security_group_id,
        remaining(deadline),
    )
    .await
    {
        Ok(endpoint) => {
            tracing::info!(endpoint_id = endpoint.id, "created VPC endpoint");
            model.endpoint = Some(endpoint);
        }
        Err(diagnostic) => return failed(model.to_value(), diagnostic),
    }
    let endpoint_id = model
        .endpoint
        .as_ref()
        .map(|e| e.id.clone())
        .unwrap_or_default();
    let _guard = context.locks.lock(&endpoint_id).await;

    // Step 3: wait until usable, then turn on private DNS.
    let finished = finish_create(context, clients, &arguments, &endpoint_id, deadline).await;
    match finished {
        Ok((endpoint, warning)) => {
            diagnostics.extend(warning);
            let pending = endpoint.state.eq_ignore_ascii_case("pendingacceptance");
            let mut observed = observe(
                clients,
                endpoint,
                &model.security_group_id,
                &arguments,
                &model.facts,
            )
            .await
            .unwrap_or_else(|diagnostic| {
                diagnostics.push(diagnostic);
                model.clone()
            });
            if pending {
                // Private DNS waits for acceptance; the state records what
                // was asked for, and the next refresh shows what AWS has.
                observed.arguments.private_dns_enabled = arguments.private_dns_enabled;
            } else {
                diagnostics.extend(unhonoured(&arguments, &observed.arguments));
            }
            model = observed;
            diagnostics.extend(verify(clients, &mut model).await);
            // Step 4: the alarms, once the endpoint they watch is ready.
            let alarm_diagnostics = put_alarms(clients, &mut model, &[], &[]).await;
            if has_errors(&alarm_diagnostics) {
                // Record no alarm blocks, so that destroy deletes only the
                // alarms in alarm_names and never one that was already in
                // use under a name a block asked for.
                model.arguments.alarms = Value::List(Vec::new());
                model.arguments.recommended_alarms = Value::Null;
            }
            diagnostics.extend(alarm_diagnostics);
            // Step 5: a flow log on each network interface.
            diagnostics.extend(put_flow_logs(clients, &mut model, &[]).await);
        }
        Err(diagnostic) => diagnostics.push(diagnostic),
    }
    ApplyResponse {
        new_state: model.to_value(),
        private: Vec::new(),
        diagnostics,
    }
}

async fn create_managed_group(
    clients: &AwsClients,
    arguments: &Arguments,
    timeout: Duration,
) -> Result<String, Diagnostic> {
    let group_tags = managed_group_tags(clients, arguments);
    let group_name = format!("plink-{}", unique_suffix());
    let description = format!("plink: clients allowed to reach {}", arguments.service_name);
    let created = ec2::create_security_group(
        &clients.ec2,
        &arguments.vpc_id,
        &group_name,
        &truncate(&description, 255),
        &group_tags,
        timeout,
    )
    .await;
    match created {
        Ok(group_id) => {
            tracing::info!(group_id, "created security group");
            Ok(group_id)
        }
        Err(error) => {
            let detail = format!(
                "creating security group {group_name} in VPC {}: {error}. Nothing was created. \
                 Check that the VPC exists and that the credentials allow \
                 ec2:CreateSecurityGroup and ec2:CreateTags.",
                arguments.vpc_id
            );
            Err(error_at("Creating endpoint failed", detail, "vpc_id"))
        }
    }
}

async fn create_endpoint(
    clients: &AwsClients,
    arguments: &Arguments,
    group_id: &str,
    timeout: Duration,
) -> Result<VpcEndpoint, Diagnostic> {
    let mut group_ids = vec![group_id.to_string()];
    group_ids.extend(arguments.security_group_ids.iter().cloned());
    let endpoint_tags = merged_tags(clients, &arguments.tags);
    let client_token = format!("plink-{}", unique_suffix());
    let new_endpoint = NewInterfaceEndpoint {
        vpc_id: &arguments.vpc_id,
        service_name: &arguments.service_name,
        subnet_ids: &arguments.subnet_ids,
        security_group_ids: &group_ids,
        private_dns_enabled: false,
        ip_address_type: arguments.ip_address_type.as_deref(),
        dns_record_ip_type: arguments.dns_record_ip_type.as_deref(),
        policy: arguments.policy.as_deref(),
        tags: &endpoint_tags,
        client_token: &client_token,
    };
    ec2::create_interface_endpoint(&clients.ec2, &new_endpoint, timeout)
        .await
        .map_err(|error| {
            if error.is_throttling() {
                let detail = format!(
                    "creating VPC endpoint for {} in VPC {}: {error}. AWS kept throttling the \
                     request through every retry. Security group {group_id} was created and is \
                     recorded in state. Try again later, or raise max_retries in the provider \
                     block.",
                    arguments.service_name, arguments.vpc_id
                );
                return error_at("Creating endpoint failed", detail, "service_name");
            }
            let detail = format!(
                "creating VPC endpoint for {} in VPC {}: {error}. Security group {group_id} \
                 was created and is recorded in state; the next apply replaces it. Check \
                 service_name and subnet_ids, and that the service allows this account to \
                 connect.",
                arguments.service_name, arguments.vpc_id
            );
            error_at("Creating endpoint failed", detail, "service_name")
        })
}

/// Waits for the new endpoint and turns on private DNS once it is available.
/// Returns the endpoint and, when acceptance is still pending and the
/// configuration says not to wait, a warning.
async fn finish_create(
    context: &Context,
    clients: &AwsClients,
    arguments: &Arguments,
    endpoint_id: &str,
    deadline: Instant,
) -> Result<(VpcEndpoint, Option<Diagnostic>), Diagnostic> {
    let readiness = wait_until_ready(
        context,
        clients,
        endpoint_id,
        &arguments.service_name,
        remaining(deadline),
        arguments.wait_for_acceptance,
    )
    .await?;
    let endpoint = match readiness {
        Readiness::PendingAcceptance(endpoint) => {
            let warning = pending_acceptance_warning(clients, arguments, endpoint_id).await;
            return Ok((endpoint, Some(warning)));
        }
        Readiness::Available(endpoint) => endpoint,
    };
    // The policy was sent with the create. Should the endpoint not carry
    // it, it is set again here, so the create ends as configured.
    let policy = arguments
        .policy
        .as_ref()
        .filter(|wanted| {
            !endpoint
                .policy
                .as_deref()
                .is_some_and(|actual| policy::equivalent(wanted, actual))
        })
        .cloned();
    let change = EndpointModification {
        private_dns_enabled: arguments.private_dns_enabled.then_some(true),
        policy,
        ..EndpointModification::default()
    };
    if change.is_empty() {
        return Ok((endpoint, None));
    }
    modify(context, clients, endpoint_id, &change, deadline).await?;
    let readiness = wait_until_ready(
        context,
        clients,
        endpoint_id,
        &arguments.service_name,
        remaining(deadline),
        true,
    )
    .await?;
    match readiness {
        Readiness::Available(endpoint) | Readiness::PendingAcceptance(endpoint) => {
            Ok((endpoint, None))
        }
    }
}

async fn pending_acceptance_warning(
    clients: &AwsClients,
    arguments: &Arguments,
    endpoint_id: &str,
) -> Diagnostic {
    let instructions = acceptance_instructions(clients, &arguments.service_name, endpoint_id).await;
    let dns = if arguments.private_dns_enabled {
        " Private DNS is turned on by the first apply after acceptance."
    } else {
        ""
    };
    Diagnostic::warning(
        "Endpoint waiting for acceptance",
        format!("VPC endpoint {endpoint_id} is pendingAcceptance. {instructions}{dns}"),
    )
    .at(AttributePath::root("wait_for_acceptance"))
}

/// Says who must accept the connection and how.
async fn acceptance_instructions(
    clients: &AwsClients,
    service_name: &str,
    endpoint_id: &str,
) -> String {
    let service = ec2::find_endpoint_service(&clients.ec2, service_name)
        .await
        .ok()
        .flatten();
    let (owner, service_id) = match &service {
        Some(s) => (s.owner.as_str(), s.service_id.as_str()),
        None => ("unknown", "SERVICE_ID"),
    };
    format!(
        "The owner of service {service_name} (AWS account {owner}) must accept the connection \
         from {endpoint_id}: in the VPC console under Endpoint services > Endpoint \
         connections, or with `aws ec2 accept-vpc-endpoint-connections --service-id \
         {service_id} --vpc-endpoint-ids {endpoint_id}`."
    )
}

/// Waits until the endpoint is `available` (or `pendingAcceptance`, when
/// `wait_for_acceptance` is false). States that will never get there end
/// the wait with AWS's reason. A missing endpoint is tolerated for
/// [`NOT_FOUND_GRACE`], since EC2's reads lag its writes.
async fn wait_until_ready(
    context: &Context,
    clients: &AwsClients,
    endpoint_id: &str,
    service_name: &str,
    timeout: Duration,
    wait_for_acceptance: bool,
) -> Result<Readiness, Diagnostic> {
    let started = Instant::now();
    let outcome = wait::until(timeout, &context.stop, || async {
        let Some(endpoint) = ec2::find_vpc_endpoint(&clients.ec2, endpoint_id).await? else {
            if started.elapsed() < NOT_FOUND_GRACE {
                return Ok(Poll::Pending("not visible yet".to_string()));
            }
            return Err(EndpointFailure::Missing);
        };
        // AWS documents camel case (`pendingAcceptance`); compare without
        // case so that other spellings from emulators match too.
        let state = endpoint.state.to_ascii_lowercase();
        match state.as_str() {
            "available" => Ok(Poll::Done(Readiness::Available(endpoint))),
            "pendingacceptance" if !wait_for_acceptance => {
                Ok(Poll::Done(Readiness::PendingAcceptance(endpoint)))
            }
            "failed" | "rejected" | "expired" | "deleted" | "deleting" => {
                Err(EndpointFailure::Terminal(Box::new(endpoint)))
            }
            _ => Ok(Poll::Pending(endpoint.state)),
        }
    })
    .await;
    match outcome {
        Ok(readiness) => Ok(readiness),
        Err(WaitError::TimedOut(last)) if last.eq_ignore_ascii_case("pendingacceptance") => {
            let instructions = acceptance_instructions(clients, service_name, endpoint_id).await;
            Err(Diagnostic::error(
                "Timed out waiting for acceptance",
                format!(
                    "VPC endpoint {endpoint_id} was still pendingAcceptance when the timeout ran \
                     out. {instructions} The endpoint is recorded in state, marked tainted, so a \
                     plain apply would replace it: once the owner has accepted, run `terraform \
                     untaint` on this resource, then apply. To return without waiting, set \
                     wait_for_acceptance = false."
                ),
            )
            .at(AttributePath::root("wait_for_acceptance")))
        }
        Err(WaitError::TimedOut(last)) => Err(Diagnostic::error(
            "Timed out waiting for the endpoint",
            format!(
                "VPC endpoint {endpoint_id} was still {last:?} when the timeout ran out. Check \
                 the endpoint in the AWS console and raise timeouts if AWS is slow. The endpoint \
                 is recorded in state; run apply again."
            ),
        )
        .at(AttributePath::root("timeouts"))),
        Err(WaitError::Stopped) => Err(interrupted(endpoint_id)),
        Err(WaitError::Failed(EndpointFailure::Aws(error))) => Err(Diagnostic::error(
            "Reading the endpoint failed",
            format!("reading VPC endpoint {endpoint_id} while waiting for it: {error}."),
        )),
        Err(WaitError::Failed(EndpointFailure::Missing)) => Err(Diagnostic::error(
            "Endpoint disappeared",
            format!(
                "VPC endpoint {endpoint_id} was not found for {} s after it was created or \
                 changed. Someone may have deleted it; run plan to see what is left.",
                NOT_FOUND_GRACE.as_secs()
            ),
        )),
        Err(WaitError::Failed(EndpointFailure::Terminal(endpoint))) => Err(Diagnostic::error(
            "Endpoint failed",
            format!(
                "VPC endpoint {endpoint_id} is {} and will not become available. AWS says: {}. \
                 Check with the service owner, then run apply again to replace it.",
                endpoint.state,
                endpoint.last_error.as_deref().unwrap_or("no reason given")
            ),
        )),
    }
}

enum EndpointFailure {
    Aws(AwsError),
    Missing,
    Terminal(Box<VpcEndpoint>),
}

impl From<AwsError> for EndpointFailure {
    fn from(error: AwsError) -> Self {
        EndpointFailure::Aws(error)
    }
}

// ---------------------------------------------------------------- read

/// Refreshes the state from AWS and re-runs the verification checks, whose
/// failures come back as warnings. Returns a null state when nothing of the
/// resource is left.
async fn read(
    clients: &AwsClients,
    current: &Value,
) -> Result<(Value, Vec<Diagnostic>), Diagnostic> {
    let prior = Arguments::from_value(current).unwrap_or_default();
    let endpoint_id = current.get("endpoint_id").as_str().unwrap_or_default();
    let group_id = current
        .get("security_group_id")
        .as_str()
        .unwrap_or_default();

    if endpoint_id.is_empty() {
        // A create that failed before the endpoint existed: keep the record
        // while the security group it made still exists, so destroy can
        // remove it.
        return Ok((read_partial(clients, current, group_id).await?, Vec::new()));
    }
    let endpoint = ec2::find_vpc_endpoint(&clients.ec2, endpoint_id)
        .await
        .map_err(|error| read_error(endpoint_id, error))?;
    let Some(endpoint) = endpoint else {
        // Deleted outside Terraform. While the managed security group is
        // still there, keep a record without the endpoint so that the next
        // apply replaces the resource and removes the group, instead of
        // forgetting it in AWS.
        tracing::info!(endpoint_id, "endpoint no longer exists");
        // The alarms named after it stay recorded until destroy or the
        // replacement deletes them.
        let partial = Model {
            arguments: prior,
            security_group_id: group_id.to_string(),
            facts: ServiceFacts::from_value(current),
            alarm_names: strings(current.get("alarm_names")),
            flow_log_ids: strings(current.get("flow_log_ids")),
            ..Model::default()
        };
        return Ok((
            read_partial(clients, &partial.to_value(), group_id).await?,
            Vec::new(),
        ));
    };
    let facts = ServiceFacts::from_value(current);
    let mut model = observe(clients, endpoint, group_id, &prior, &facts).await?;
    model.alarm_names = observe_alarms(clients, &model).await?;
    let wanted = consumer_flow_logs::settings(&model.arguments.flow_logs);
    let interfaces = model
        .endpoint
        .as_ref()
        .map(|e| e.network_interface_ids.clone())
        .unwrap_or_default();
    let prior_ids = strings(current.get("flow_log_ids"));
    model.flow_log_ids =
        consumer_flow_logs::observe(clients, wanted.as_ref(), &interfaces, &prior_ids).await?;
    let warnings = verify(clients, &mut model)
        .await
        .into_iter()
        .map(|d| Diagnostic::warning(d.summary, d.detail))
        .collect();
    Ok((model.to_value(), warnings))
}

/// Runs the verification blocks on an available endpoint and records the
/// outcome in the model.
async fn verify(clients: &AwsClients, model: &mut Model) -> Vec<Diagnostic> {
    let Some(endpoint) = &model.endpoint else {
        return Vec::new();
    };
    let arguments = &model.arguments;
    if !endpoint.state.eq_ignore_ascii_case("available") {
        let skipped = format!("skipped: the endpoint is {}", endpoint.state);
        let health_status = arguments
            .health_check
            .get("url")
            .as_str()
            .map(|_| skipped.clone());
        model.verification = Some(Outcome {
            dns_status: skipped,
            health_status,
            ..Outcome::default()
        });
        return Vec::new();
    }
    let config = object([
        ("dns_verification", arguments.dns_verification.clone()),
        ("health_check", arguments.health_check.clone()),
    ]);
    let names = model.facts.service_private_dns_names.clone();
    let (outcome, diagnostics) = verification::run(clients, &config, endpoint, &names).await;
    model.verification = Some(outcome);
    diagnostics
}

/// Returns the names of the alarms the model's arguments configure that
/// exist as configured, and none without an endpoint.
async fn observe_alarms(clients: &AwsClients, model: &Model) -> Result<Vec<String>, Diagnostic> {
    let Some(endpoint) = &model.endpoint else {
        return Ok(Vec::new());
    };
    let expected = consumer_alarms::expected_alarms(&model.to_value(), endpoint)?;
    consumer_alarms::matching_names(clients, &expected).await
}

/// Puts the alarms the model's arguments configure and deletes the `owned`
/// ones they no longer configure, then records which exist as configured.
/// When the alarms cannot even be worked out, `alarm_names` stays
/// `prior_names`.
async fn put_alarms(
    clients: &AwsClients,
    model: &mut Model,
    owned: &[String],
    prior_names: &[String],
) -> Vec<Diagnostic> {
    let Some(endpoint) = &model.endpoint else {
        return Vec::new();
    };
    let expected = match consumer_alarms::expected_alarms(&model.to_value(), endpoint) {
        Ok(expected) => expected,
        Err(diagnostic) => {
            model.alarm_names = prior_names.to_vec();
            return vec![diagnostic];
        }
    };
    let (names, diagnostics) = consumer_alarms::sync(clients, &expected, owned).await;
    model.alarm_names = names;
    diagnostics
}

/// Makes the flow logs match the model's `flow_logs` block, deleting the
/// `owned` ones it no longer wants, and records which exist as configured.
async fn put_flow_logs(
    clients: &AwsClients,
    model: &mut Model,
    owned: &[String],
) -> Vec<Diagnostic> {
    let Some(endpoint) = &model.endpoint else {
        return Vec::new();
    };
    let wanted = consumer_flow_logs::settings(&model.arguments.flow_logs);
    let interfaces = endpoint.network_interface_ids.clone();
    match consumer_flow_logs::sync(clients, wanted.as_ref(), &interfaces, owned).await {
        Ok(ids) => {
            model.flow_log_ids = ids;
            Vec::new()
        }
        Err(diagnostic) => {
            model.flow_log_ids = owned.to_vec();
            vec![diagnostic]
        }
    }
}

async fn read_partial(
    clients: &AwsClients,
    current: &Value,
    group_id: &str,
) -> Result<Value, Diagnostic> {
    if group_id.is_empty() {
        return Ok(Value::Null);
    }
    match ec2::find_security_group(&clients.ec2, group_id).await {
        Ok(Some(_)) => Ok(current.clone()),
        Ok(None) => Ok(Value::Null),
        Err(error) => Err(read_error(group_id, error)),
    }
}

/// Builds the model from what AWS reports for the endpoint and its group.
/// `prior` supplies what AWS does not store (timeouts, wait_for_acceptance),
/// the configured spelling of equivalent values, and the baseline for
/// telling which rules drifted.
async fn observe(
    clients: &AwsClients,
    endpoint: VpcEndpoint,
    group_id: &str,
    prior: &Arguments,
    prior_facts: &ServiceFacts,
) -> Result<Model, Diagnostic> {
    let facts = ServiceFacts::look_up(
        clients,
        &endpoint.service_name,
        &endpoint.subnet_ids,
        prior_facts,
    )
    .await;
    let rules: Vec<IngressRule> = if group_id.is_empty() {
        Vec::new()
    } else {
        ec2::find_ingress_rules(&clients.ec2, group_id)
            .await
            .map_err(|error| read_error(group_id, error))?
            .into_iter()
            .map(|(_, rule)| rule)
            .collect()
    };
    let (ports, sources) = observed_rules(&rules, prior);

    let mut allowed_cidrs = Vec::new();
    let mut allowed_security_group_ids = Vec::new();
    for source in sources {
        match source {
            Source::Cidr(cidr) => allowed_cidrs.extend(configured_spellings(&cidr, prior)),
            Source::Group(id) => allowed_security_group_ids.push(id),
        }
    }
    let policy = match (&endpoint.policy, &prior.policy) {
        (Some(actual), Some(configured)) if policy::equivalent(actual, configured) => {
            Some(configured.clone())
        }
        (Some(actual), _) => Some(actual.clone()),
        (None, configured) => configured.clone(),
    };

    let arguments = Arguments {
        vpc_id: endpoint.vpc_id.clone(),
        service_name: endpoint.service_name.clone(),
        subnet_ids: endpoint.subnet_ids.clone(),
        ports,
        allowed_cidrs: Some(allowed_cidrs),
        allowed_security_group_ids,
        security_group_ids: endpoint
            .security_group_ids
            .iter()
            .filter(|id| id.as_str() != group_id)
            .cloned()
            .collect(),
        private_dns_enabled: endpoint.private_dns_enabled,
        // moto leaves these out of its responses; keep what was configured
        // rather than report a change that did not happen.
        ip_address_type: endpoint
            .ip_address_type
            .clone()
            .or_else(|| prior.ip_address_type.clone()),
        dns_record_ip_type: endpoint
            .dns_record_ip_type
            .clone()
            .or_else(|| prior.dns_record_ip_type.clone()),
        policy,
        wait_for_acceptance: prior.wait_for_acceptance,
        expected_service_owner: prior.expected_service_owner.clone(),
        tags: user_tags(clients, &endpoint.tags, &prior.tags),
        tags_null: prior.tags_null && user_tags(clients, &endpoint.tags, &prior.tags).is_empty(),
        timeouts: prior.timeouts.clone(),
        dns_verification: prior.dns_verification.clone(),
        health_check: prior.health_check.clone(),
        flow_logs: prior.flow_logs.clone(),
        alarms: prior.alarms.clone(),
        recommended_alarms: prior.recommended_alarms.clone(),
    };
    Ok(Model {
        arguments,
        tags_all: endpoint.tags.clone(),
        endpoint: Some(endpoint),
        security_group_id: group_id.to_string(),
        facts,
        verification: None,
        alarm_names: Vec::new(),
        flow_log_ids: Vec::new(),
    })
}

/// Derives `ports` and the sources from the group's rules so that any drift
/// shows in the plan. With the prior ports P and sources S, a prior port
/// stays only if it has a rule from every prior source (and likewise for a
/// source), and a port or source that is not prior is added. So rules equal
/// to P x S give back exactly P and S, and a missing or extra rule changes
/// at least one of them.
fn observed_rules(rules: &[IngressRule], prior: &Arguments) -> (Vec<u16>, Vec<Source>) {
    let actual: BTreeSet<&IngressRule> = rules.iter().collect();
    let prior_sources: BTreeSet<Source> = sources(prior).into_iter().collect();
    let prior_ports: BTreeSet<u16> = prior.ports.iter().copied().collect();

    let has = |port: u16, source: &Source| {
        actual.contains(&IngressRule {
            port,
            source: source.clone(),
        })
    };
    let mut ports: BTreeSet<u16> = prior_ports
        .iter()
        .copied()
        .filter(|port| prior_sources.iter().all(|s| has(*port, s)))
        .collect();
    ports.extend(
        rules
            .iter()
            .map(|r| r.port)
            .filter(|p| !prior_ports.contains(p)),
    );

    let mut observed_sources: BTreeSet<Source> = prior_sources
        .iter()
        .filter(|source| prior_ports.iter().all(|port| has(*port, source)))
        .cloned()
        .collect();
    observed_sources.extend(
        rules
            .iter()
            .map(|r| r.source.clone())
            .filter(|s| !prior_sources.contains(s)),
    );
    (
        ports.into_iter().collect(),
        observed_sources.into_iter().collect(),
    )
}

/// The configured spellings of a CIDR block AWS reports in canonical form,
/// so that `10.0.0.5/16` in the configuration does not show as a change.
/// Two spellings of one block (`10.0.0.0/16` and `10.0.0.5/16`) share one
/// rule, and both are returned.
fn configured_spellings(canonical: &str, prior: &Arguments) -> Vec<String> {
    let spellings: Vec<String> = prior
        .allowed_cidrs
        .iter()
        .flatten()
        .filter(|text| canonical_cidr(text).as_deref() == Ok(canonical))
        .cloned()
        .collect();
    if spellings.is_empty() {
        vec![canonical.to_string()]
    } else {
        spellings
    }
}

fn read_error(id: &str, error: AwsError) -> Diagnostic {
    Diagnostic::error(
        "Reading the endpoint failed",
        format!(
            "reading {id}: {error}. Check the credentials allow ec2:DescribeVpcEndpoints and \
             ec2:DescribeSecurityGroups, then run the command again."
        ),
    )
}

// ---------------------------------------------------------------- update

async fn update(
    context: &Context,
    clients: &AwsClients,
    prior_state: Value,
    planned: &Value,
) -> ApplyResponse {
    let (old, mut new) = match (
        Arguments::from_value(&prior_state),
        Arguments::from_value(planned),
    ) {
        (Ok(old), Ok(new)) => (old, new),
        (Err(diagnostic), _) | (_, Err(diagnostic)) => return failed(prior_state, diagnostic),
    };
    let endpoint_id = prior_state
        .get("endpoint_id")
        .as_str()
        .unwrap_or_default()
        .to_string();
    let group_id = prior_state
        .get("security_group_id")
        .as_str()
        .unwrap_or_default()
        .to_string();
    let deadline = wait::deadline_after(Timeouts::from_value(planned).update);
    let _guard = context.locks.lock(&endpoint_id).await;

    let mut diagnostics = Vec::new();
    if let Err(diagnostic) = apply_changes(
        context,
        clients,
        &endpoint_id,
        &group_id,
        &old,
        &mut new,
        deadline,
    )
    .await
    {
        diagnostics.push(diagnostic);
    }
    let mut ready = None;
    if !has_errors(&diagnostics) {
        let readiness = wait_until_ready(
            context,
            clients,
            &endpoint_id,
            &new.service_name,
            remaining(deadline),
            new.wait_for_acceptance,
        )
        .await;
        match readiness {
            Ok(Readiness::Available(endpoint)) | Ok(Readiness::PendingAcceptance(endpoint)) => {
                ready = Some(endpoint)
            }
            Err(diagnostic) => diagnostics.push(diagnostic),
        }
    }

    // Record what AWS now has, whether or not every change went through.
    let endpoint = match ready {
        Some(endpoint) => Ok(Some(endpoint)),
        None => ec2::find_vpc_endpoint(&clients.ec2, &endpoint_id).await,
    };
    let observed = match endpoint {
        Ok(Some(endpoint)) => {
            let facts = ServiceFacts::from_value(&prior_state);
            observe(clients, endpoint, &group_id, &new, &facts).await
        }
        Ok(None) => Err(Diagnostic::error(
            "Endpoint disappeared",
            format!("VPC endpoint {endpoint_id} no longer exists; run plan to recreate it."),
        )),
        Err(error) => Err(read_error(&endpoint_id, error)),
    };
    match observed {
        Ok(mut model) => {
            let pending = model
                .endpoint
                .as_ref()
                .is_some_and(|e| e.state.eq_ignore_ascii_case("pendingacceptance"));
            if pending && !has_errors(&diagnostics) {
                model.arguments.private_dns_enabled = new.private_dns_enabled;
            } else if !has_errors(&diagnostics) {
                diagnostics.extend(unhonoured(&new, &model.arguments));
            }
            diagnostics.extend(verify(clients, &mut model).await);
            let prior_names = strings(prior_state.get("alarm_names"));
            if has_errors(&diagnostics) {
                model.alarm_names = prior_names;
            } else {
                let owned = consumer_alarms::owned_names(&prior_state);
                diagnostics.extend(put_alarms(clients, &mut model, &owned, &prior_names).await);
            }
            let prior_flow_logs = strings(prior_state.get("flow_log_ids"));
            if has_errors(&diagnostics) {
                model.flow_log_ids = prior_flow_logs;
            } else {
                diagnostics.extend(put_flow_logs(clients, &mut model, &prior_flow_logs).await);
            }
            if has_errors(&diagnostics) {
                // The state keeps the prior alarm blocks, because the alarm
                // names they ask for are the ones this resource may put and
                // delete without checking. A new name stays unowned until a
                // put under it succeeds and alarm_names records it.
                model.arguments.alarms = old.alarms.clone();
                model.arguments.recommended_alarms = old.recommended_alarms.clone();
            }
            ApplyResponse {
                new_state: model.to_value(),
                private: Vec::new(),
                diagnostics,
            }
        }
        Err(diagnostic) => {
            diagnostics.push(diagnostic);
            failed_with(prior_state, diagnostics)
        }
    }
}

/// Makes AWS match `new`: rule deltas on the group against what the group
/// really has, one ModifyVpcEndpoint for everything else on the endpoint,
/// and tag calls.
async fn apply_changes(
    context: &Context,
    clients: &AwsClients,
    endpoint_id: &str,
    group_id: &str,
    old: &Arguments,
    new: &mut Arguments,
    deadline: Instant,
) -> Result<(), Diagnostic> {
    if new.allowed_cidrs.is_none() {
        let cidrs = ec2::find_vpc_cidrs(&clients.ec2, &new.vpc_id)
            .await
            .map_err(|e| update_error(endpoint_id, "reading the VPC's CIDR blocks", e, "vpc_id"))?;
        new.allowed_cidrs = Some(cidrs);
    }
    update_rules(context, clients, endpoint_id, group_id, new, deadline).await?;

    let current = ec2::find_vpc_endpoint(&clients.ec2, endpoint_id)
        .await
        .map_err(|e| update_error(endpoint_id, "reading the endpoint", e, "subnet_ids"))?
        .ok_or_else(|| {
            Diagnostic::error(
                "Endpoint disappeared",
                format!("VPC endpoint {endpoint_id} no longer exists; run plan to recreate it."),
            )
        })?;
    let mut change = endpoint_changes(&current, group_id, old, new);
    if change.private_dns_enabled == Some(true)
        && current.state.eq_ignore_ascii_case("pendingacceptance")
        && !new.wait_for_acceptance
    {
        // Private DNS cannot be turned on before the owner accepts; the
        // next apply after acceptance does it.
        change.private_dns_enabled = None;
    }
    if !change.is_empty() {
        if change.private_dns_enabled == Some(true) {
            wait_until_ready(
                context,
                clients,
                endpoint_id,
                &new.service_name,
                remaining(deadline),
                true,
            )
            .await?;
        }
        modify(context, clients, endpoint_id, &change, deadline).await?;
    }

    let wanted = merged_tags(clients, &new.tags);
    sync_tags(clients, endpoint_id, &current.tags, &wanted)
        .await
        .map_err(|e| update_error(endpoint_id, "updating the endpoint's tags", e, "tags"))?;

    // The managed group carries the same tags plus plink's own.
    let group = ec2::find_security_group(&clients.ec2, group_id)
        .await
        .map_err(|e| update_error(endpoint_id, "reading the security group", e, "tags"))?;
    if let Some(group) = group {
        let wanted = managed_group_tags(clients, new);
        sync_tags(clients, group_id, &group.tags, &wanted)
            .await
            .map_err(|e| update_error(endpoint_id, "updating the group's tags", e, "tags"))?;
    }
    Ok(())
}

async fn update_rules(
    context: &Context,
    clients: &AwsClients,
    endpoint_id: &str,
    group_id: &str,
    new: &Arguments,
    deadline: Instant,
) -> Result<(), Diagnostic> {
    let exists = ec2::find_security_group(&clients.ec2, group_id)
        .await
        .map_err(|e| update_error(endpoint_id, "reading the security group", e, "ports"))?
        .is_some();
    if !exists {
        return Err(Diagnostic::error(
            "Security group missing",
            format!(
                "security group {group_id}, which plink made for VPC endpoint {endpoint_id}, no \
                 longer exists. Replace the resource with `terraform apply -replace=...` to \
                 build a new one."
            ),
        )
        .at(AttributePath::root("security_group_id")));
    }
    let actual = ec2::find_ingress_rules(&clients.ec2, group_id)
        .await
        .map_err(|e| update_error(endpoint_id, "reading the ingress rules", e, "ports"))?;
    let desired: BTreeSet<IngressRule> = desired_rules(new).into_iter().collect();
    let present: BTreeSet<&IngressRule> = actual.iter().map(|(_, rule)| rule).collect();
    // Authorise before revoking, so traffic that both sets allow is never cut.
    let added: Vec<IngressRule> = desired
        .iter()
        .filter(|rule| !present.contains(rule))
        .cloned()
        .collect();
    let removed: Vec<String> = actual
        .iter()
        .filter(|(_, rule)| !desired.contains(rule))
        .map(|(id, _)| id.clone())
        .collect();
    let description = rule_description(new);

    wait::retry_while_busy(remaining(deadline), &context.stop, || {
        ec2::authorize_ingress(&clients.ec2, group_id, &added, &description)
    })
    .await
    .map_err(|e| wait_update_error(endpoint_id, "adding ingress rules", e, "ports"))?;
    wait::retry_while_busy(remaining(deadline), &context.stop, || {
        ec2::revoke_ingress(&clients.ec2, group_id, &removed)
    })
    .await
    .map_err(|e| wait_update_error(endpoint_id, "removing ingress rules", e, "ports"))?;
    Ok(())
}

/// Builds the single modification that takes the endpoint from `current`
/// to `new`.
fn endpoint_changes(
    current: &VpcEndpoint,
    group_id: &str,
    old: &Arguments,
    new: &Arguments,
) -> EndpointModification {
    let (add_subnet_ids, remove_subnet_ids) = set_delta(&current.subnet_ids, &new.subnet_ids);
    let mut expected_groups = vec![group_id.to_string()];
    expected_groups.extend(new.security_group_ids.iter().cloned());
    let (add_security_group_ids, remove_security_group_ids) =
        set_delta(&current.security_group_ids, &expected_groups);

    let policy = match (&new.policy, &current.policy) {
        (Some(wanted), Some(actual)) if policy::equivalent(wanted, actual) => None,
        (Some(wanted), _) => Some(wanted.clone()),
        (None, Some(actual)) if policy::is_full_access(actual) => None,
        (None, None) => None,
        // NOTE: ModifyVpcEndpoint's ResetPolicy would do the same, but moto
        // ignores it; sending the full-access document works on both.
        (None, Some(_)) => Some(FULL_ACCESS_POLICY.to_string()),
    };
    // Compare with what AWS reports, or with the prior state when the
    // response leaves the field out.
    let type_change = |wanted: &Option<String>, actual: &Option<String>, prior: &Option<String>| {
        let actual = actual.as_ref().or(prior.as_ref());
        wanted.as_ref().filter(|w| Some(*w) != actual).cloned()
    };

    EndpointModification {
        add_subnet_ids,
        remove_subnet_ids,
        add_security_group_ids,
        remove_security_group_ids,
        private_dns_enabled: (current.private_dns_enabled != new.private_dns_enabled)
            .then_some(new.private_dns_enabled),
        policy,
        ip_address_type: type_change(
            &new.ip_address_type,
            &current.ip_address_type,
            &old.ip_address_type,
        ),
        dns_record_ip_type: type_change(
            &new.dns_record_ip_type,
            &current.dns_record_ip_type,
            &old.dns_record_ip_type,
        ),
    }
}

/// Returns what to add to and remove from `current` to get `wanted`.
fn set_delta(current: &[String], wanted: &[String]) -> (Vec<String>, Vec<String>) {
    let current: BTreeSet<&String> = current.iter().collect();
    let wanted: BTreeSet<&String> = wanted.iter().collect();
    (
        wanted.difference(&current).map(|s| s.to_string()).collect(),
        current.difference(&wanted).map(|s| s.to_string()).collect(),
    )
}

async fn modify(
    context: &Context,
    clients: &AwsClients,
    endpoint_id: &str,
    change: &EndpointModification,
    deadline: Instant,
) -> Result<(), Diagnostic> {
    wait::retry_while_busy(remaining(deadline), &context.stop, || {
        ec2::modify_vpc_endpoint(&clients.ec2, endpoint_id, change)
    })
    .await
    .map_err(|e| wait_update_error(endpoint_id, "modifying the endpoint", e, "subnet_ids"))
}

/// Makes the tags of `resource_id` equal `wanted`, touching only the keys
/// that differ.
async fn sync_tags(
    clients: &AwsClients,
    resource_id: &str,
    current: &BTreeMap<String, String>,
    wanted: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    let stale: Vec<String> = current
        .keys()
        .filter(|k| !wanted.contains_key(*k))
        .cloned()
        .collect();
    let changed: BTreeMap<String, String> = wanted
        .iter()
        .filter(|(k, v)| current.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    ec2::delete_tags(&clients.ec2, resource_id, &stale).await?;
    ec2::create_tags(&clients.ec2, resource_id, &changed).await
}

/// Errors for changes AWS accepted but did not carry out, so they are not
/// silently lost.
fn unhonoured(wanted: &Arguments, observed: &Arguments) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    let mut check = |name: &str, wanted: String, observed: String| {
        if wanted != observed {
            diagnostics.push(
                Diagnostic::error(
                    "Change not applied by AWS",
                    format!(
                        "AWS accepted the request to set {name} to {wanted}, but the endpoint \
                         reports {observed}. Check the endpoint in the AWS console (for private \
                         DNS, the service's private DNS name must be verified), then run apply \
                         again."
                    ),
                )
                .at(AttributePath::root(name)),
            );
        }
    };
    check(
        "private_dns_enabled",
        wanted.private_dns_enabled.to_string(),
        observed.private_dns_enabled.to_string(),
    );
    let sorted = |items: &[String]| {
        let mut items = items.to_vec();
        items.sort();
        format!("{items:?}")
    };
    check(
        "subnet_ids",
        sorted(&wanted.subnet_ids),
        sorted(&observed.subnet_ids),
    );
    check(
        "security_group_ids",
        sorted(&wanted.security_group_ids),
        sorted(&observed.security_group_ids),
    );
    if let Some(wanted_policy) = &wanted.policy {
        let observed_policy = observed.policy.as_deref().unwrap_or("no policy");
        if !policy::equivalent(wanted_policy, observed_policy) {
            check("policy", wanted_policy.clone(), observed_policy.to_string());
        }
    }
    diagnostics
}

fn update_error(endpoint_id: &str, step: &str, error: AwsError, attribute: &str) -> Diagnostic {
    error_at(
        "Updating endpoint failed",
        format!(
            "{step} for VPC endpoint {endpoint_id}: {error}. The changes made before this step \
             are recorded in state; fix the cause and run apply again."
        ),
        attribute,
    )
}

fn wait_update_error(
    endpoint_id: &str,
    step: &str,
    error: WaitError<AwsError>,
    attribute: &str,
) -> Diagnostic {
    match error {
        WaitError::Failed(error) => update_error(endpoint_id, step, error, attribute),
        WaitError::Stopped => interrupted(endpoint_id),
        WaitError::TimedOut(last) => error_at(
            "Updating endpoint failed",
            format!(
                "{step} for VPC endpoint {endpoint_id}: AWS kept reporting another change in \
                 progress ({last}) until the timeout. Run apply again, or raise timeouts.update."
            ),
            attribute,
        ),
    }
}

// ---------------------------------------------------------------- delete

async fn delete(context: &Context, clients: &AwsClients, prior_state: Value) -> ApplyResponse {
    let endpoint_id = prior_state.get("endpoint_id").as_str().unwrap_or_default();
    let group_id = prior_state
        .get("security_group_id")
        .as_str()
        .unwrap_or_default();
    let lock_key = if endpoint_id.is_empty() {
        group_id
    } else {
        endpoint_id
    };
    let _guard = context.locks.lock(lock_key).await;
    match delete_all(context, clients, &prior_state).await {
        Ok(()) => ApplyResponse::default(),
        Err(diagnostic) => failed(prior_state, diagnostic),
    }
}

async fn delete_all(
    context: &Context,
    clients: &AwsClients,
    prior_state: &Value,
) -> Result<(), Diagnostic> {
    let endpoint_id = prior_state.get("endpoint_id").as_str().unwrap_or_default();
    let group_id = prior_state
        .get("security_group_id")
        .as_str()
        .unwrap_or_default();
    let deadline = wait::deadline_after(Timeouts::from_value(prior_state).delete);

    // The alarms go first, so that none is left watching an endpoint that no
    // longer exists should a later step fail.
    consumer_alarms::delete(clients, &consumer_alarms::owned_names(prior_state)).await?;
    consumer_flow_logs::delete(clients, &strings(prior_state.get("flow_log_ids"))).await?;

    if !endpoint_id.is_empty() {
        let interfaces = strings(prior_state.get("network_interface_ids"));
        let deleted = wait::retry_while_busy(remaining(deadline), &context.stop, || async {
            match ec2::delete_vpc_endpoint(&clients.ec2, endpoint_id).await {
                Err(e) if e.is_not_found() => Ok(()),
                other => other,
            }
        })
        .await;
        deleted.map_err(|e| match e {
            WaitError::Failed(error) => delete_error(endpoint_id, "deleting the endpoint", error),
            WaitError::Stopped => interrupted_delete(endpoint_id),
            WaitError::TimedOut(last) => Diagnostic::error(
                "Timed out deleting the endpoint",
                format!("VPC endpoint {endpoint_id} stayed busy: {last}. Run destroy again."),
            ),
        })?;
        wait_until_gone(context, clients, endpoint_id, &interfaces, deadline).await?;
        tracing::info!(endpoint_id, "deleted VPC endpoint");
    }
    if !group_id.is_empty() {
        delete_group(context, clients, group_id, deadline).await?;
        tracing::info!(group_id, "deleted security group");
    }
    Ok(())
}

/// Waits until the endpoint and its network interfaces no longer exist; the
/// security group cannot be deleted before that.
async fn wait_until_gone(
    context: &Context,
    clients: &AwsClients,
    endpoint_id: &str,
    interfaces: &[String],
    deadline: Instant,
) -> Result<(), Diagnostic> {
    let outcome = wait::until(remaining(deadline), &context.stop, || async {
        if let Some(endpoint) = ec2::find_vpc_endpoint(&clients.ec2, endpoint_id).await? {
            return Ok(Poll::Pending(format!("endpoint still {}", endpoint.state)));
        }
        let remaining = ec2::find_network_interfaces(&clients.ec2, interfaces).await?;
        if remaining.is_empty() {
            Ok(Poll::Done(()))
        } else {
            Ok(Poll::Pending(format!(
                "network interfaces {} remain",
                remaining.join(", ")
            )))
        }
    })
    .await;
    outcome.map_err(|e| match e {
        WaitError::TimedOut(last) => Diagnostic::error(
            "Timed out deleting the endpoint",
            format!(
                "VPC endpoint {endpoint_id} was deleted, but {last} when the delete timeout ran \
                 out. The security group cannot be deleted until they are gone. Run destroy \
                 again later, or raise timeouts.delete."
            ),
        ),
        WaitError::Stopped => interrupted_delete(endpoint_id),
        WaitError::Failed(error) => delete_error(endpoint_id, "waiting for deletion", error),
    })
}

/// Deletes the group, retrying while AWS still counts a network interface
/// that uses it (`DependencyViolation`), until the deadline.
async fn delete_group(
    context: &Context,
    clients: &AwsClients,
    group_id: &str,
    deadline: Instant,
) -> Result<(), Diagnostic> {
    let outcome = wait::until(remaining(deadline), &context.stop, || async {
        match ec2::delete_security_group(&clients.ec2, group_id).await {
            Ok(()) => Ok(Poll::Done(())),
            Err(e) if e.is_not_found() => Ok(Poll::Done(())),
            Err(e) if e.has_code("DependencyViolation") => {
                tracing::debug!(group_id, "security group still in use; retrying");
                Ok(Poll::Pending(e.to_string()))
            }
            Err(e) => Err(e),
        }
    })
    .await;
    let error = match outcome {
        Ok(()) => return Ok(()),
        Err(error) => error,
    };
    Err(match error {
        WaitError::TimedOut(last) => {
            let users = match ec2::find_interfaces_using_group(&clients.ec2, group_id).await {
                Ok(ids) if ids.is_empty() => "none that AWS reports".to_string(),
                Ok(ids) => ids.join(", "),
                Err(e) => format!("unknown ({e})"),
            };
            Diagnostic::error(
                "Timed out deleting the security group",
                format!(
                    "security group {group_id} is still in use by network interfaces: {users}. \
                     AWS said: {last}. Delete or detach those interfaces, then run destroy \
                     again."
                ),
            )
        }
        WaitError::Stopped => interrupted_delete(group_id),
        WaitError::Failed(error) => delete_error(group_id, "deleting the security group", error),
    })
}

fn delete_error(id: &str, step: &str, error: AwsError) -> Diagnostic {
    Diagnostic::error(
        "Deleting endpoint failed",
        format!(
            "{step} ({id}): {error}. The resource stays in state; fix the cause and run destroy \
             again."
        ),
    )
}

fn interrupted_delete(id: &str) -> Diagnostic {
    Diagnostic::error(
        "Interrupted",
        format!(
            "Terraform asked the provider to stop while deleting {id}. The resource stays in \
             state; run destroy again to finish."
        ),
    )
}

// ---------------------------------------------------------------- import

async fn import(clients: &AwsClients, id: &str) -> Result<Value, Diagnostic> {
    let import_error = |detail: String| {
        Diagnostic::error("Cannot import endpoint", detail).at(AttributePath::root("id"))
    };
    if !id.starts_with("vpce-") {
        return Err(import_error(format!(
            "{id:?} is not a VPC endpoint ID. Import with the endpoint's ID, such as \
             `terraform import plink_consumer_endpoint.example vpce-0123456789abcdef0`."
        )));
    }
    let endpoint = ec2::find_vpc_endpoint(&clients.ec2, id)
        .await
        .map_err(|error| read_error(id, error))?
        .ok_or_else(|| {
            import_error(format!(
                "VPC endpoint {id} does not exist in region {}. Check the ID and the provider's \
                 region.",
                clients.region
            ))
        })?;

    let mut managed_group = None;
    for group_id in &endpoint.security_group_ids {
        let group = ec2::find_security_group(&clients.ec2, group_id)
            .await
            .map_err(|error| read_error(group_id, error))?;
        let is_managed = group.is_some_and(|g| {
            g.tags.get(MANAGED_BY_TAG).map(String::as_str) == Some(MANAGED_BY_VALUE)
        });
        if is_managed {
            managed_group = Some(group_id.clone());
            break;
        }
    }
    let Some(group_id) = managed_group else {
        return Err(import_error(format!(
            "VPC endpoint {id} has no security group tagged {MANAGED_BY_TAG} = \
             {MANAGED_BY_VALUE}, so plink cannot tell which group's rules it should manage. \
             Its groups are: {}. Create the endpoint with plink instead.",
            endpoint.security_group_ids.join(", ")
        )));
    };
    let defaults = Arguments {
        wait_for_acceptance: true,
        tags_null: true,
        ..Arguments::default()
    };
    let mut model = observe(
        clients,
        endpoint,
        &group_id,
        &defaults,
        &ServiceFacts::default(),
    )
    .await?;
    // Import records the outcome of the default checks without failing on
    // them; the next refresh repeats them.
    let _ = verify(clients, &mut model).await;
    Ok(model.to_value())
}

// ---------------------------------------------------------------- upgrade

/// Reads stored state into the current schema. Version 0 lacks the
/// attributes added in version 1; they start null, except
/// `wait_for_acceptance`, which takes its default, and the next refresh
/// fills the rest from AWS.
fn upgrade(version: i64, raw_state: &serde_json::Value) -> (Value, Vec<Diagnostic>) {
    if version > SCHEMA_VERSION {
        let detail = format!(
            "The state was written by a newer plink provider (schema version {version}; this \
             provider reads up to {SCHEMA_VERSION}). Upgrade the provider."
        );
        return (
            Value::Null,
            vec![Diagnostic::error("State from a newer provider", detail)],
        );
    }
    let mut state = match Value::from_json(raw_state, &value_type()) {
        Ok(state) => state,
        Err(e) => {
            let detail = format!("The stored state of this {TYPE_NAME} cannot be read: {e}.");
            return (
                Value::Null,
                vec![Diagnostic::error("Invalid stored state", detail)],
            );
        }
    };
    if state.get("wait_for_acceptance").is_null() {
        set_attribute(&mut state, "wait_for_acceptance", Value::Bool(true));
    }
    // State written before the alarm blocks existed has neither attribute.
    for name in ["alarm", "alarm_names", "flow_log_ids"] {
        if state.get(name).is_null() {
            set_attribute(&mut state, name, Value::List(Vec::new()));
        }
    }
    (state, Vec::new())
}

// ---------------------------------------------------------------- conversions

impl Arguments {
    /// Reads the arguments of a planned or prior state, all of which are
    /// known at apply time except defaults AWS or the VPC decide.
    fn from_value(value: &Value) -> Result<Arguments, Diagnostic> {
        let required_string = |name: &str| {
            value
                .get(name)
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| internal_error(&format!("{name} is not a known string")))
        };
        let optional_string = |name: &str| value.get(name).as_str().map(str::to_string);
        let mut ports = Vec::new();
        for port in value.get("ports").elements() {
            let number = port.as_f64().and_then(port_number).ok_or_else(|| {
                internal_error(&format!("port {port:?} is not a number from 1 to 65535"))
            })?;
            ports.push(number);
        }
        let cidrs = value.get("allowed_cidrs");
        let allowed_cidrs = if cidrs.contains_unknown() || cidrs.is_null() {
            None
        } else {
            Some(strings(cidrs))
        };
        Ok(Arguments {
            vpc_id: required_string("vpc_id")?,
            service_name: required_string("service_name")?,
            subnet_ids: strings(value.get("subnet_ids")),
            ports,
            allowed_cidrs,
            allowed_security_group_ids: strings(value.get("allowed_security_group_ids")),
            security_group_ids: strings(value.get("security_group_ids")),
            private_dns_enabled: value.get("private_dns_enabled").as_bool().unwrap_or(true),
            ip_address_type: optional_string("ip_address_type"),
            dns_record_ip_type: optional_string("dns_record_ip_type"),
            policy: optional_string("policy"),
            wait_for_acceptance: value.get("wait_for_acceptance").as_bool().unwrap_or(true),
            expected_service_owner: optional_string("expected_service_owner"),
            tags: string_entries(value.get("tags")),
            tags_null: value.get("tags").is_null(),
            timeouts: value.get("timeouts").clone(),
            dns_verification: value.get("dns_verification").clone(),
            health_check: value.get("health_check").clone(),
            alarms: match value.get("alarm") {
                Value::Null => Value::List(Vec::new()),
                blocks => blocks.clone(),
            },
            recommended_alarms: value.get("recommended_alarms").clone(),
            flow_logs: value.get("flow_logs").clone(),
        })
    }
}

impl ServiceFacts {
    fn from_value(value: &Value) -> ServiceFacts {
        ServiceFacts {
            service_owner: value
                .get("service_owner")
                .as_str()
                .unwrap_or_default()
                .to_string(),
            service_private_dns_names: strings(value.get("service_private_dns_names")),
            availability_zones: strings(value.get("availability_zones")),
        }
    }

    /// Facts looked up now, falling back to `prior` for any lookup that
    /// found nothing.
    async fn look_up(
        clients: &AwsClients,
        service_name: &str,
        subnet_ids: &[String],
        prior: &ServiceFacts,
    ) -> ServiceFacts {
        let mut facts = prior.clone();
        if let Ok(Some(service)) = ec2::find_endpoint_service(&clients.ec2, service_name).await {
            facts.service_owner = service.owner;
            facts.service_private_dns_names = service
                .private_dns_names
                .into_iter()
                .map(|(name, _)| name)
                .collect();
        }
        if let Ok(subnets) = ec2::find_subnets(&clients.ec2, subnet_ids).await {
            let found = preflight::Facts {
                subnets: Some(subnets),
                service: None,
            };
            facts.availability_zones = found.availability_zones().unwrap_or_default();
        }
        facts
    }
}

impl Model {
    /// Builds the state value, with every attribute known.
    fn to_value(&self) -> Value {
        let arguments = &self.arguments;
        let endpoint = self.endpoint.clone().unwrap_or_default();
        let dns_entries = endpoint
            .dns_entries
            .iter()
            .map(|d| {
                object([
                    ("dns_name", Value::string(&d.dns_name)),
                    ("hosted_zone_id", Value::string(&d.hosted_zone_id)),
                ])
            })
            .collect();
        let optional_set = |items: &[String]| {
            if items.is_empty() {
                Value::Null
            } else {
                string_set(items.to_vec())
            }
        };
        let optional_string = |text: &Option<String>| match text {
            Some(text) => Value::string(text),
            None => Value::Null,
        };
        // Terraform records a list block that never appears as an empty list.
        let alarm_blocks = match &arguments.alarms {
            Value::Null => Value::List(Vec::new()),
            blocks => blocks.clone(),
        };
        let tags = if arguments.tags.is_empty() && arguments.tags_null {
            Value::Null
        } else {
            string_map(&arguments.tags)
        };
        let mut state = object([
            ("id", Value::string(&endpoint.id)),
            ("vpc_id", Value::string(&arguments.vpc_id)),
            ("service_name", Value::string(&arguments.service_name)),
            ("subnet_ids", string_set(arguments.subnet_ids.clone())),
            ("ports", number_set(arguments.ports.clone())),
            (
                "allowed_cidrs",
                string_set(arguments.allowed_cidrs.clone().unwrap_or_default()),
            ),
            (
                "allowed_security_group_ids",
                optional_set(&arguments.allowed_security_group_ids),
            ),
            (
                "security_group_ids",
                optional_set(&arguments.security_group_ids),
            ),
            (
                "private_dns_enabled",
                Value::Bool(arguments.private_dns_enabled),
            ),
            (
                "ip_address_type",
                optional_string(&arguments.ip_address_type),
            ),
            (
                "dns_record_ip_type",
                optional_string(&arguments.dns_record_ip_type),
            ),
            ("policy", optional_string(&arguments.policy)),
            (
                "wait_for_acceptance",
                Value::Bool(arguments.wait_for_acceptance),
            ),
            (
                "expected_service_owner",
                optional_string(&arguments.expected_service_owner),
            ),
            ("service_owner", Value::string(&self.facts.service_owner)),
            (
                "service_private_dns_names",
                string_list(&self.facts.service_private_dns_names),
            ),
            (
                "availability_zones",
                string_list(&self.facts.availability_zones),
            ),
            ("tags", tags),
            ("tags_all", string_map(&self.tags_all)),
            ("timeouts", arguments.timeouts.clone()),
            ("dns_verification", arguments.dns_verification.clone()),
            ("health_check", arguments.health_check.clone()),
            ("endpoint_id", Value::string(&endpoint.id)),
            ("security_group_id", Value::string(&self.security_group_id)),
            (
                "network_interface_ids",
                string_set(endpoint.network_interface_ids),
            ),
            ("dns_entries", Value::List(dns_entries)),
            ("state", Value::string(&endpoint.state)),
            ("owner_id", Value::string(&endpoint.owner_id)),
            ("alarm", alarm_blocks),
            ("recommended_alarms", arguments.recommended_alarms.clone()),
            ("alarm_names", string_list(&self.alarm_names)),
            ("flow_logs", arguments.flow_logs.clone()),
            ("flow_log_ids", string_list(&self.flow_log_ids)),
        ]);
        if let Value::Object(attributes) = &mut state {
            match &self.verification {
                Some(outcome) => outcome.write(attributes),
                None => {
                    for name in verification::COMPUTED {
                        attributes.insert(name.to_string(), Value::Null);
                    }
                }
            }
        }
        state
    }
}

/// Lists the sources of the ingress rules: canonical CIDR blocks, then groups.
fn sources(arguments: &Arguments) -> Vec<Source> {
    let mut sources: Vec<Source> = arguments
        .allowed_cidrs
        .iter()
        .flatten()
        .map(|text| Source::Cidr(canonical_cidr(text).unwrap_or_else(|_| text.clone())))
        .collect();
    sources.extend(
        arguments
            .allowed_security_group_ids
            .iter()
            .map(|id| Source::Group(id.clone())),
    );
    sources.sort();
    sources.dedup();
    sources
}

/// Builds one rule per (port, source) pair.
fn desired_rules(arguments: &Arguments) -> Vec<IngressRule> {
    let sources = sources(arguments);
    let mut rules = Vec::with_capacity(arguments.ports.len() * sources.len());
    for port in &arguments.ports {
        for source in &sources {
            rules.push(IngressRule {
                port: *port,
                source: source.clone(),
            });
        }
    }
    rules
}

fn rule_description(arguments: &Arguments) -> String {
    truncate(&format!("plink: {}", arguments.service_name), 255)
}

/// Overlays the provider's default tags with the resource's own.
fn merged_tags(clients: &AwsClients, tags: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut merged = clients.default_tags.clone();
    merged.extend(tags.iter().map(|(k, v)| (k.clone(), v.clone())));
    merged
}

/// The tags the user manages in `tags`: what AWS has, less the keys of the
/// provider's default tags (unless the resource sets the same key itself).
/// A changed default tag value then shows in `tags_all`, not in `tags`.
fn user_tags(
    clients: &AwsClients,
    aws_tags: &BTreeMap<String, String>,
    prior_tags: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    aws_tags
        .iter()
        .filter(|(k, _)| prior_tags.contains_key(*k) || !clients.default_tags.contains_key(*k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn managed_group_tags(clients: &AwsClients, arguments: &Arguments) -> BTreeMap<String, String> {
    let mut tags = merged_tags(clients, &arguments.tags);
    tags.insert(MANAGED_BY_TAG.to_string(), MANAGED_BY_VALUE.to_string());
    tags.insert(
        SERVICE_TAG.to_string(),
        truncate(&arguments.service_name, 256),
    );
    tags.entry("Name".to_string()).or_insert_with(|| {
        format!(
            "plink endpoint for {}",
            truncate(&arguments.service_name, 200)
        )
    });
    tags
}

/// Builds a suffix unique enough for names and idempotency tokens: the time in
/// nanoseconds and the process id, in hex.
fn unique_suffix() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{:x}{:x}", nanos & 0xffff_ffff_ffff, std::process::id())
}

fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

fn describe_wait_error(error: WaitError<AwsError>) -> String {
    match error {
        WaitError::Failed(error) => error.to_string(),
        WaitError::Stopped => "interrupted by Terraform".to_string(),
        WaitError::TimedOut(last) => format!("still failing at the timeout: {last}"),
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

fn error_at(summary: &str, detail: String, attribute: &str) -> Diagnostic {
    Diagnostic::error(summary, detail).at(AttributePath::root(attribute))
}

fn interrupted(endpoint_id: &str) -> Diagnostic {
    Diagnostic::error(
        "Interrupted",
        format!(
            "Terraform asked the provider to stop while working on VPC endpoint {endpoint_id}. \
             What exists is recorded in state. Run apply again: an update carries on where it \
             stopped, and an interrupted create is replaced."
        ),
    )
}

fn internal_error(detail: &str) -> Diagnostic {
    Diagnostic::error(
        "Unexpected plan value",
        format!(
            "{TYPE_NAME}: {detail}. This is a bug in the provider; please report it with the \
             plan output."
        ),
    )
}

fn failed(new_state: Value, diagnostic: Diagnostic) -> ApplyResponse {
    failed_with(new_state, vec![diagnostic])
}

fn failed_with(new_state: Value, diagnostics: Vec<Diagnostic>) -> ApplyResponse {
    ApplyResponse {
        new_state,
        private: Vec::new(),
        diagnostics,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arguments(ports: &[u16], cidrs: &[&str]) -> Arguments {
        Arguments {
            vpc_id: "vpc-1".into(),
            service_name: "com.example".into(),
            subnet_ids: vec!["subnet-a".into()],
            ports: ports.to_vec(),
            allowed_cidrs: Some(cidrs.iter().map(|c| c.to_string()).collect()),
            wait_for_acceptance: true,
            private_dns_enabled: true,
            alarms: Value::List(Vec::new()),
            ..Arguments::default()
        }
    }

    fn rule(port: u16, cidr: &str) -> IngressRule {
        IngressRule {
            port,
            source: Source::Cidr(cidr.into()),
        }
    }

    #[test]
    fn validate_rejects_bad_ports_and_cidrs() {
        let config = object([
            (
                "ports",
                Value::Set(vec![Value::Number(0.0), Value::Number(443.0)]),
            ),
            ("allowed_cidrs", string_set(["10.0.0.0/33", "10.0.0.0/16"])),
        ]);
        let diagnostics = validate(&config);
        assert_eq!(diagnostics.len(), 2, "{diagnostics:?}");
        assert_eq!(diagnostics[0].attribute, Some(AttributePath::root("ports")));
        assert_eq!(
            diagnostics[1].attribute,
            Some(AttributePath::root("allowed_cidrs"))
        );
    }

    #[test]
    fn validate_warns_on_host_bits_and_duplicates() {
        let config = object([("allowed_cidrs", string_set(["10.0.0.5/16", "10.0.0.0/16"]))]);
        let diagnostics = validate(&config);
        assert_eq!(diagnostics.len(), 2, "{diagnostics:?}");
        assert!(diagnostics.iter().all(|d| !d.is_error()), "{diagnostics:?}");
    }

    #[test]
    fn validate_rejects_bad_policy_and_types() {
        let config = object([
            ("policy", Value::string("{nope")),
            ("ip_address_type", Value::string("ipv5")),
            (
                "timeouts",
                object([("create", Value::string("ten minutes"))]),
            ),
        ]);
        let paths: Vec<String> = validate(&config)
            .iter()
            .filter_map(|d| d.attribute.as_ref().map(|p| p.to_string()))
            .collect();
        assert_eq!(paths, vec!["ip_address_type", "policy", "timeouts.create"]);
    }

    #[test]
    fn validate_accepts_unknown_ports() {
        let config = object([("ports", Value::Unknown), ("subnet_ids", Value::Unknown)]);
        assert!(validate(&config).is_empty());
    }

    #[test]
    fn canonical_cidr_clears_host_bits() {
        assert_eq!(canonical_cidr("10.0.0.5/16").as_deref(), Ok("10.0.0.0/16"));
        assert_eq!(canonical_cidr("10.1.2.3/32").as_deref(), Ok("10.1.2.3/32"));
        assert_eq!(canonical_cidr("10.1.2.3/0").as_deref(), Ok("0.0.0.0/0"));
        assert!(canonical_cidr("10.1.2.3").is_err());
    }

    #[test]
    fn desired_rules_pair_every_port_with_every_source() {
        let mut args = arguments(&[443, 8443], &["10.0.0.0/16", "10.1.0.9/16"]);
        args.allowed_security_group_ids = vec!["sg-9".into()];
        let rules = desired_rules(&args);
        assert_eq!(rules.len(), 6);
        assert!(
            rules.contains(&rule(8443, "10.1.0.0/16")),
            "canonical CIDR: {rules:?}"
        );
    }

    #[test]
    fn observed_rules_match_prior_when_unchanged() {
        let prior = arguments(&[443, 8443], &["10.0.0.0/16", "10.1.0.0/16"]);
        let (ports, sources) = observed_rules(&desired_rules(&prior), &prior);
        assert_eq!(ports, vec![443, 8443]);
        assert_eq!(sources.len(), 2);
    }

    #[test]
    fn observed_rules_show_missing_rule() {
        let prior = arguments(&[443, 8443], &["10.0.0.0/16", "10.1.0.0/16"]);
        let rules = vec![
            rule(443, "10.0.0.0/16"),
            rule(443, "10.1.0.0/16"),
            rule(8443, "10.0.0.0/16"),
        ];
        let (ports, sources) = observed_rules(&rules, &prior);
        assert_eq!(ports, vec![443], "8443 lacks a rule from 10.1.0.0/16");
        assert_eq!(sources, vec![Source::Cidr("10.0.0.0/16".into())]);
    }

    #[test]
    fn observed_rules_show_extra_rule() {
        let prior = arguments(&[443], &["10.0.0.0/16"]);
        let rules = vec![rule(443, "10.0.0.0/16"), rule(22, "0.0.0.0/0")];
        let (ports, sources) = observed_rules(&rules, &prior);
        assert_eq!(ports, vec![22, 443]);
        assert!(
            sources.contains(&Source::Cidr("0.0.0.0/0".into())),
            "{sources:?}"
        );
    }

    #[test]
    fn endpoint_changes_in_one_modification() {
        let current = VpcEndpoint {
            subnet_ids: vec!["subnet-a".into(), "subnet-b".into()],
            security_group_ids: vec!["sg-managed".into(), "sg-old".into()],
            private_dns_enabled: false,
            policy: Some(r#"{"Statement":[{"Effect":"Deny"}]}"#.into()),
            ..VpcEndpoint::default()
        };
        let old = arguments(&[443], &["10.0.0.0/16"]);
        let mut new = old.clone();
        new.subnet_ids = vec!["subnet-b".into(), "subnet-c".into()];
        new.security_group_ids = vec!["sg-new".into()];
        let change = endpoint_changes(&current, "sg-managed", &old, &new);
        assert_eq!(change.add_subnet_ids, vec!["subnet-c"]);
        assert_eq!(change.remove_subnet_ids, vec!["subnet-a"]);
        assert_eq!(change.add_security_group_ids, vec!["sg-new"]);
        assert_eq!(change.remove_security_group_ids, vec!["sg-old"]);
        assert_eq!(change.private_dns_enabled, Some(true));
        assert_eq!(
            change.policy.as_deref(),
            Some(FULL_ACCESS_POLICY),
            "reset to default"
        );
    }

    #[test]
    fn plan_policy_keeps_equivalent_text() {
        let prior = object([(
            "policy",
            Value::string(r#"{"Statement":[{"Action":["x"]}]}"#),
        )]);
        let config = object([(
            "policy",
            Value::string(r#"{ "Statement": {"Action": "x"} }"#),
        )]);
        let mut planned = config.clone();
        plan_policy(&mut planned, &prior, &config, false);
        assert_eq!(planned.get("policy"), prior.get("policy"));
    }

    #[test]
    fn plan_policy_resets_removed_policy() {
        let prior = object([(
            "policy",
            Value::string(r#"{"Statement":[{"Effect":"Deny"}]}"#),
        )]);
        let config = object([("policy", Value::Null)]);
        let mut planned = prior.clone();
        plan_policy(&mut planned, &prior, &config, false);
        assert_eq!(planned.get("policy"), &Value::Unknown);
    }

    #[test]
    fn model_round_trips_through_arguments() {
        let mut args = arguments(&[443], &["10.0.0.0/16"]);
        args.tags = BTreeMap::from([("team".to_string(), "net".to_string())]);
        args.policy = Some("{}".into());
        args.security_group_ids = vec!["sg-extra".into()];
        let model = Model {
            arguments: args,
            security_group_id: "sg-1".into(),
            ..Model::default()
        };
        let value = model.to_value();
        assert!(value.to_msgpack(&value_type()).is_ok());
        assert_eq!(Arguments::from_value(&value).unwrap(), model.arguments);
    }

    #[test]
    fn upgrade_reads_version_zero_json() {
        let raw = serde_json::json!({
            "id": "vpce-1", "vpc_id": "vpc-1", "service_name": "svc",
            "subnet_ids": ["subnet-a"], "ports": [443], "allowed_cidrs": ["10.0.0.0/16"],
            "private_dns_enabled": true, "tags": null, "endpoint_id": "vpce-1",
            "security_group_id": "sg-1", "network_interface_ids": [], "dns_entries": [],
            "state": "available", "owner_id": "123456789012"
        });
        let (state, diagnostics) = upgrade(0, &raw);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        assert_eq!(state.get("endpoint_id"), &Value::string("vpce-1"));
        assert_eq!(state.get("ports").elements(), &[Value::Number(443.0)]);
        assert_eq!(state.get("wait_for_acceptance"), &Value::Bool(true));
        assert!(state.get("policy").is_null());
    }

    #[test]
    fn upgrade_rejects_newer_version() {
        let (state, diagnostics) = upgrade(7, &serde_json::json!({}));
        assert!(state.is_null());
        assert_eq!(diagnostics.len(), 1);
    }
}
