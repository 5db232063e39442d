//! `plink_consumer_endpoint`: an interface VPC endpoint to a PrivateLink
//! service, with a dedicated security group and one ingress rule per
//! (port, CIDR) pair, managed as one resource.
//!
//! The file follows the lifecycle: schema, validate, plan, create, read,
//! update, delete, import, upgrade, then conversions between Terraform values
//! and the typed model.
//!
//! Ordering rules the lifecycle keeps:
//! - the security group and its rules exist before the endpoint, so the
//!   endpoint is never attached to the VPC's default group;
//! - on delete, the security group goes last, after the endpoint and its
//!   network interfaces are gone, because AWS refuses to delete a group that a
//!   network interface still uses;
//! - a create that fails half-way returns the state of what it built, so
//!   Terraform records it (as tainted) and nothing is orphaned.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

use super::values::{
    number_set, object, set_attribute, string_entries, string_map, string_set, strings,
};
use crate::aws::ec2::{self, EndpointModification, IngressRule, NewInterfaceEndpoint, VpcEndpoint};
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

/// Tag that marks a security group as created and owned by plink.
pub const MANAGED_BY_TAG: &str = "plink:managed-by";
const MANAGED_BY_VALUE: &str = "terraform-provider-plink";
/// Tag on the managed security group naming the service it admits traffic to.
const SERVICE_TAG: &str = "plink:service-name";

const CREATE_TIMEOUT: Duration = Duration::from_secs(10 * 60);
const UPDATE_TIMEOUT: Duration = Duration::from_secs(10 * 60);
const DELETE_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// Attributes whose change replaces the endpoint: AWS cannot move an
/// endpoint to another VPC or service.
const REPLACE_ATTRIBUTES: [&str; 2] = ["vpc_id", "service_name"];

/// Computed attributes that may change when the subnets or private DNS
/// setting change.
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
    /// `None` while the default (the VPC's CIDR blocks) is not resolved yet.
    allowed_cidrs: Option<Vec<String>>,
    private_dns_enabled: bool,
    tags: BTreeMap<String, String>,
}

/// Everything the state records, all values known.
#[derive(Clone, Debug, Default)]
struct Model {
    arguments: Arguments,
    /// Empty when a failed create never got as far as the endpoint.
    endpoint: Option<VpcEndpoint>,
    /// Empty when a failed create never got as far as the group.
    security_group_id: String,
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
            Err(diagnostic) => {
                return ApplyResponse {
                    new_state: request.prior_state,
                    diagnostics: vec![diagnostic],
                    ..Default::default()
                }
            }
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
            Ok(new_state) => ReadResponse {
                new_state,
                private: request.private,
                diagnostics: Vec::new(),
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
             allowed CIDR block.",
        ),
        Attribute::optional_computed(
            "allowed_cidrs",
            strings(),
            "IPv4 CIDR blocks allowed to reach the endpoint. Defaults to the VPC's IPv4 CIDR \
             blocks.",
        ),
        Attribute::optional_computed(
            "private_dns_enabled",
            Type::Bool,
            "Whether the service's private DNS name resolves to this endpoint inside the VPC. \
             Defaults to `true`.",
        ),
        Attribute::optional(
            "tags",
            Type::map(Type::String),
            "Tags for the VPC endpoint.",
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
            "Endpoint state as AWS reports it, such as `available`.",
        ),
        Attribute::computed(
            "owner_id",
            Type::String,
            "AWS account that owns the endpoint.",
        ),
    ];
    Schema {
        version: 0,
        block: Block {
            attributes,
            blocks: Vec::new(),
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
    let ports = config.get("ports");
    if !ports.contains_unknown() {
        for port in ports.elements() {
            if let Some(n) = port.as_f64() {
                if port_number(n).is_none() {
                    diagnostics.push(
                        Diagnostic::error(
                            "Invalid port",
                            format!(
                                "Port {n} is not a TCP port. Use whole numbers from 1 to 65535."
                            ),
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
    for cidr in config.get("allowed_cidrs").elements() {
        if let Some(text) = cidr.as_str() {
            if let Err(problem) = parse_ipv4_cidr(text) {
                diagnostics.push(
                    Diagnostic::error(
                        "Invalid CIDR block",
                        format!(
                            "{text:?} in allowed_cidrs is not an IPv4 CIDR block: {problem}. \
                             Write it as address/prefix, such as \"10.0.0.0/16\"."
                        ),
                    )
                    .at(AttributePath::root("allowed_cidrs")),
                );
            }
        }
    }
    diagnostics
}

fn port_number(n: f64) -> Option<u16> {
    if n.fract() == 0.0 && (1.0..=65535.0).contains(&n) {
        Some(n as u16)
    } else {
        None
    }
}

fn parse_ipv4_cidr(text: &str) -> Result<(Ipv4Addr, u8), String> {
    let (address, prefix) = text
        .split_once('/')
        .ok_or_else(|| "the /prefix is missing".to_string())?;
    let address: Ipv4Addr = address
        .parse()
        .map_err(|_| format!("{address:?} is not an IPv4 address"))?;
    let prefix: u8 = prefix
        .parse()
        .ok()
        .filter(|p| *p <= 32)
        .ok_or_else(|| format!("prefix {prefix:?} is not a number from 0 to 32"))?;
    Ok((address, prefix))
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

    let requires_replace: Vec<AttributePath> = if prior.is_null() {
        Vec::new()
    } else {
        REPLACE_ATTRIBUTES
            .iter()
            .filter(|name| prior.get(name) != planned.get(name))
            .map(|name| AttributePath::root(name))
            .collect()
    };
    let mut requires_replace = requires_replace;
    if !prior.is_null() && prior.get("endpoint_id").as_str() == Some("") {
        // The record of a failed create, or of an endpoint deleted outside
        // Terraform: only its security group is left, so build anew.
        requires_replace.push(AttributePath::root("endpoint_id"));
    }
    let creating = prior.is_null() || !requires_replace.is_empty();

    if config.get("private_dns_enabled").is_null() {
        set_attribute(&mut planned, "private_dns_enabled", Value::Bool(true));
    }
    if config.get("allowed_cidrs").is_null() {
        let cidrs = plan_default_cidrs(context, &planned, prior, creating, &mut diagnostics).await;
        set_attribute(&mut planned, "allowed_cidrs", cidrs);
    }

    if creating {
        for name in CREATED_ATTRIBUTES {
            set_attribute(&mut planned, name, Value::Unknown);
        }
    } else if arguments_changed(prior, &planned) {
        // The endpoint may pass through `pending` while AWS applies a change.
        set_attribute(&mut planned, "state", Value::Unknown);
        let moves = ["subnet_ids", "private_dns_enabled"]
            .iter()
            .any(|name| prior.get(name) != planned.get(name));
        if moves {
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

fn arguments_changed(prior: &Value, planned: &Value) -> bool {
    [
        "subnet_ids",
        "ports",
        "allowed_cidrs",
        "private_dns_enabled",
        "tags",
    ]
    .iter()
    .any(|name| prior.get(name) != planned.get(name))
}

// ---------------------------------------------------------------- create

async fn create(context: &Context, clients: &AwsClients, planned: &Value) -> ApplyResponse {
    let mut arguments = match Arguments::from_value(planned) {
        Ok(arguments) => arguments,
        Err(diagnostic) => return failed(Value::Null, diagnostic),
    };
    let mut model = Model::default();

    let allowed_cidrs = match &arguments.allowed_cidrs {
        Some(cidrs) => cidrs.clone(),
        None => match ec2::find_vpc_cidrs(&clients.ec2, &arguments.vpc_id).await {
            Ok(cidrs) => cidrs,
            Err(error) => {
                let detail = format!(
                    "reading the CIDR blocks of VPC {} for allowed_cidrs: {error}. Check vpc_id, \
                     or set allowed_cidrs explicitly.",
                    arguments.vpc_id
                );
                return failed(
                    Value::Null,
                    aws_error("Creating endpoint failed", detail, "vpc_id"),
                );
            }
        },
    };
    arguments.allowed_cidrs = Some(allowed_cidrs.clone());
    model.arguments = arguments.clone();

    // Step 1: the dedicated security group and its rules.
    let group_tags = managed_group_tags(clients, &arguments);
    let group_name = format!("plink-{}", unique_suffix());
    let description = format!("plink: clients allowed to reach {}", arguments.service_name);
    match ec2::create_security_group(
        &clients.ec2,
        &arguments.vpc_id,
        &group_name,
        &truncate(&description, 255),
        &group_tags,
    )
    .await
    {
        Ok(group_id) => model.security_group_id = group_id,
        Err(error) => {
            let detail = format!(
                "creating security group {group_name} in VPC {}: {error}. Nothing was created. \
                 Check that the VPC exists and that the credentials allow \
                 ec2:CreateSecurityGroup and ec2:CreateTags.",
                arguments.vpc_id
            );
            return failed(
                Value::Null,
                aws_error("Creating endpoint failed", detail, "vpc_id"),
            );
        }
    }
    tracing::info!(group_id = model.security_group_id, "created security group");

    let rules = ingress_rules(&arguments.ports, &allowed_cidrs);
    let rule_description = format!("plink: {}", arguments.service_name);
    if let Err(error) = ec2::authorize_ingress(
        &clients.ec2,
        &model.security_group_id,
        &rules,
        &truncate(&rule_description, 255),
    )
    .await
    {
        let detail = format!(
            "adding ingress rules to security group {}: {error}. The group was created and is \
             recorded in state; the next apply replaces it.",
            model.security_group_id
        );
        return failed(
            model.to_value(),
            aws_error("Creating endpoint failed", detail, "ports"),
        );
    }

    // Step 2: the endpoint, attached to that group only.
    let endpoint_tags = merged_tags(clients, &arguments.tags);
    let client_token = format!("plink-{}", unique_suffix());
    let new_endpoint = NewInterfaceEndpoint {
        vpc_id: &arguments.vpc_id,
        service_name: &arguments.service_name,
        subnet_ids: &arguments.subnet_ids,
        security_group_ids: std::slice::from_ref(&model.security_group_id),
        private_dns_enabled: arguments.private_dns_enabled,
        tags: &endpoint_tags,
        client_token: &client_token,
    };
    match ec2::create_interface_endpoint(&clients.ec2, &new_endpoint).await {
        Ok(endpoint) => {
            tracing::info!(endpoint_id = endpoint.id, "created VPC endpoint");
            model.endpoint = Some(endpoint);
        }
        Err(error) => {
            let detail = format!(
                "creating VPC endpoint for {} in VPC {}: {error}. Security group {} was created \
                 and is recorded in state; the next apply replaces it. Check service_name and \
                 subnet_ids, and that the service allows this account to connect.",
                arguments.service_name, arguments.vpc_id, model.security_group_id
            );
            return failed(
                model.to_value(),
                aws_error("Creating endpoint failed", detail, "service_name"),
            );
        }
    }

    // Step 3: wait until it is usable.
    let endpoint_id = model
        .endpoint
        .as_ref()
        .map(|e| e.id.clone())
        .unwrap_or_default();
    match wait_until_available(context, clients, &endpoint_id, CREATE_TIMEOUT).await {
        Ok(endpoint) => {
            model.endpoint = Some(endpoint);
            ApplyResponse {
                new_state: model.to_value(),
                ..Default::default()
            }
        }
        Err(diagnostic) => failed(model.to_value(), diagnostic),
    }
}

/// Waits until the endpoint is `available`. States that will never get there
/// (`failed`, `rejected`, `expired`, `deleted`) end the wait with AWS's reason.
async fn wait_until_available(
    context: &Context,
    clients: &AwsClients,
    endpoint_id: &str,
    timeout: Duration,
) -> Result<VpcEndpoint, Diagnostic> {
    let outcome = wait::until(timeout, &context.stop, || async {
        let Some(endpoint) = ec2::find_vpc_endpoint(&clients.ec2, endpoint_id).await? else {
            return Ok(Poll::Pending("not visible yet".to_string()));
        };
        let state = endpoint.state.to_ascii_lowercase();
        match state.as_str() {
            "available" => Ok(Poll::Done(endpoint)),
            "failed" | "rejected" | "expired" | "deleted" | "deleting" => {
                Err(EndpointFailure::Terminal(endpoint))
            }
            _ => Ok(Poll::Pending(endpoint.state)),
        }
    })
    .await;
    outcome.map_err(|e| match e {
        WaitError::TimedOut(last) => Diagnostic::error(
            "Timed out waiting for the endpoint",
            format!(
                "VPC endpoint {endpoint_id} was still {last:?} after {} minutes. If it is \
                 pendingAcceptance, the service owner must accept the connection; otherwise check \
                 the endpoint in the AWS console. The endpoint is recorded in state.",
                timeout.as_secs() / 60
            ),
        ),
        WaitError::Stopped => Diagnostic::error(
            "Interrupted",
            format!(
                "Terraform asked the provider to stop while waiting for VPC endpoint \
                 {endpoint_id}. What was created is recorded in state; run apply again to finish."
            ),
        ),
        WaitError::Failed(EndpointFailure::Aws(error)) => Diagnostic::error(
            "Reading the endpoint failed",
            format!("reading VPC endpoint {endpoint_id} while waiting for it: {error}."),
        ),
        WaitError::Failed(EndpointFailure::Terminal(endpoint)) => Diagnostic::error(
            "Endpoint failed",
            format!(
                "VPC endpoint {endpoint_id} is {} and will not become available. AWS says: {}. \
                 Check with the service owner, then run apply again to replace it.",
                endpoint.state,
                endpoint.last_error.as_deref().unwrap_or("no reason given")
            ),
        ),
    })
}

enum EndpointFailure {
    Aws(AwsError),
    Terminal(VpcEndpoint),
}

impl From<AwsError> for EndpointFailure {
    fn from(error: AwsError) -> Self {
        EndpointFailure::Aws(error)
    }
}

// ---------------------------------------------------------------- read

/// Refreshes the state from AWS. Returns null when the endpoint is gone.
async fn read(clients: &AwsClients, current: &Value) -> Result<Value, Diagnostic> {
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
        return read_partial(clients, current, group_id).await;
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
        let partial = Model {
            arguments: prior,
            endpoint: None,
            security_group_id: group_id.to_string(),
        };
        return read_partial(clients, &partial.to_value(), group_id).await;
    };
    let model = observe(clients, endpoint, group_id, &prior.tags).await?;
    Ok(model.to_value())
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
async fn observe(
    clients: &AwsClients,
    endpoint: VpcEndpoint,
    group_id: &str,
    prior_tags: &BTreeMap<String, String>,
) -> Result<Model, Diagnostic> {
    let group = if group_id.is_empty() {
        None
    } else {
        ec2::find_security_group(&clients.ec2, group_id)
            .await
            .map_err(|error| read_error(group_id, error))?
    };
    let rules = group.map(|g| g.ingress).unwrap_or_default();
    let ports: BTreeSet<u16> = rules.iter().map(|r| r.port).collect();
    let cidrs: BTreeSet<String> = rules.iter().map(|r| r.cidr.clone()).collect();

    let arguments = Arguments {
        vpc_id: endpoint.vpc_id.clone(),
        service_name: endpoint.service_name.clone(),
        subnet_ids: endpoint.subnet_ids.clone(),
        ports: ports.into_iter().collect(),
        allowed_cidrs: Some(cidrs.into_iter().collect()),
        private_dns_enabled: endpoint.private_dns_enabled,
        tags: user_tags(clients, &endpoint.tags, prior_tags),
    };
    Ok(Model {
        arguments,
        endpoint: Some(endpoint),
        security_group_id: group_id.to_string(),
    })
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

    let mut diagnostics = Vec::new();
    if let Err(diagnostic) = apply_changes(clients, &endpoint_id, &group_id, &old, &mut new).await {
        diagnostics.push(diagnostic);
    }
    if !has_errors(&diagnostics) {
        if let Err(diagnostic) =
            wait_until_available(context, clients, &endpoint_id, UPDATE_TIMEOUT).await
        {
            diagnostics.push(diagnostic);
        }
    }

    // Record what AWS now has, whether or not every change went through.
    match read(clients, &prior_state).await {
        Ok(new_state) => {
            diagnostics.extend(unhonoured_changes(&new, &new_state));
            ApplyResponse {
                new_state,
                diagnostics,
                ..Default::default()
            }
        }
        Err(diagnostic) => {
            diagnostics.push(diagnostic);
            ApplyResponse {
                new_state: prior_state,
                diagnostics,
                ..Default::default()
            }
        }
    }
}

/// Makes AWS match `new`: rule deltas on the group, one ModifyVpcEndpoint
/// for subnets and private DNS, and tag calls.
async fn apply_changes(
    clients: &AwsClients,
    endpoint_id: &str,
    group_id: &str,
    old: &Arguments,
    new: &mut Arguments,
) -> Result<(), Diagnostic> {
    if new.allowed_cidrs.is_none() {
        let cidrs = ec2::find_vpc_cidrs(&clients.ec2, &new.vpc_id)
            .await
            .map_err(|e| {
                update_error(
                    endpoint_id,
                    "reading the VPC's CIDR blocks",
                    e,
                    "allowed_cidrs",
                )
            })?;
        new.allowed_cidrs = Some(cidrs);
    }

    let old_rules: BTreeSet<IngressRule> =
        ingress_rules(&old.ports, old.allowed_cidrs.as_deref().unwrap_or_default())
            .into_iter()
            .collect();
    let new_rules: BTreeSet<IngressRule> =
        ingress_rules(&new.ports, new.allowed_cidrs.as_deref().unwrap_or_default())
            .into_iter()
            .collect();
    // Authorise before revoking, so traffic that both sets allow is never cut.
    let added: Vec<IngressRule> = new_rules.difference(&old_rules).cloned().collect();
    let removed: Vec<IngressRule> = old_rules.difference(&new_rules).cloned().collect();
    let description = truncate(&format!("plink: {}", new.service_name), 255);
    ec2::authorize_ingress(&clients.ec2, group_id, &added, &description)
        .await
        .map_err(|e| update_error(endpoint_id, "adding ingress rules", e, "ports"))?;
    ec2::revoke_ingress(&clients.ec2, group_id, &removed)
        .await
        .map_err(|e| update_error(endpoint_id, "removing ingress rules", e, "ports"))?;

    let old_subnets: BTreeSet<&String> = old.subnet_ids.iter().collect();
    let new_subnets: BTreeSet<&String> = new.subnet_ids.iter().collect();
    let modification = EndpointModification {
        add_subnet_ids: new_subnets
            .difference(&old_subnets)
            .map(|s| s.to_string())
            .collect(),
        remove_subnet_ids: old_subnets
            .difference(&new_subnets)
            .map(|s| s.to_string())
            .collect(),
        private_dns_enabled: (old.private_dns_enabled != new.private_dns_enabled)
            .then_some(new.private_dns_enabled),
    };
    ec2::modify_vpc_endpoint(&clients.ec2, endpoint_id, &modification)
        .await
        .map_err(|e| update_error(endpoint_id, "modifying the endpoint", e, "subnet_ids"))?;

    let old_tags = merged_tags(clients, &old.tags);
    let new_tags = merged_tags(clients, &new.tags);
    let stale: Vec<String> = old_tags
        .keys()
        .filter(|k| !new_tags.contains_key(*k))
        .cloned()
        .collect();
    let changed: BTreeMap<String, String> = new_tags
        .iter()
        .filter(|(k, v)| old_tags.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    ec2::delete_tags(&clients.ec2, endpoint_id, &stale)
        .await
        .map_err(|e| update_error(endpoint_id, "removing tags", e, "tags"))?;
    ec2::create_tags(&clients.ec2, endpoint_id, &changed)
        .await
        .map_err(|e| update_error(endpoint_id, "setting tags", e, "tags"))?;
    Ok(())
}

/// Warns about changes AWS accepted but did not carry out, so they are not
/// silently lost (the moto emulator, for one, ignores private DNS changes).
fn unhonoured_changes(wanted: &Arguments, new_state: &Value) -> Vec<Diagnostic> {
    let actual = new_state.get("private_dns_enabled").as_bool();
    if new_state.is_null() || actual == Some(wanted.private_dns_enabled) {
        return Vec::new();
    }
    vec![Diagnostic::warning(
        "Private DNS change not applied",
        format!(
            "AWS accepted the request to set private_dns_enabled = {} but still reports {}. \
             The next plan shows the difference again; check the endpoint and the service's \
             private DNS name verification.",
            wanted.private_dns_enabled,
            actual.map_or("nothing".to_string(), |b| b.to_string())
        ),
    )
    .at(AttributePath::root("private_dns_enabled"))]
}

fn update_error(endpoint_id: &str, step: &str, error: AwsError, attribute: &str) -> Diagnostic {
    aws_error(
        "Updating endpoint failed",
        format!(
            "{step} for VPC endpoint {endpoint_id}: {error}. The changes made before this step \
             are recorded in state; fix the cause and run apply again."
        ),
        attribute,
    )
}

// ---------------------------------------------------------------- delete

async fn delete(context: &Context, clients: &AwsClients, prior_state: Value) -> ApplyResponse {
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
    let deadline = tokio::time::Instant::now() + DELETE_TIMEOUT;

    if !endpoint_id.is_empty() {
        let interfaces = strings(prior_state.get("network_interface_ids"));
        ec2::delete_vpc_endpoint(&clients.ec2, endpoint_id)
            .await
            .or_else(|e| if e.is_not_found() { Ok(()) } else { Err(e) })
            .map_err(|error| delete_error(endpoint_id, "deleting the endpoint", error))?;
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
    deadline: tokio::time::Instant,
) -> Result<(), Diagnostic> {
    let timeout = deadline.saturating_duration_since(tokio::time::Instant::now());
    let outcome = wait::until(timeout, &context.stop, || async {
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
                "VPC endpoint {endpoint_id} was deleted, but after waiting: {last}. The security \
                 group cannot be deleted until they are gone. Run destroy again later."
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
    deadline: tokio::time::Instant,
) -> Result<(), Diagnostic> {
    let timeout = deadline.saturating_duration_since(tokio::time::Instant::now());
    let outcome = wait::until(timeout, &context.stop, || async {
        match ec2::delete_security_group(&clients.ec2, group_id).await {
            Ok(()) => Ok(Poll::Done(())),
            Err(e) if e.is_not_found() => Ok(Poll::Done(())),
            Err(e) if e.has_code("DependencyViolation") => Ok(Poll::Pending(e.to_string())),
            Err(e) => Err(e),
        }
    })
    .await;
    outcome.map_err(|e| match e {
        WaitError::TimedOut(last) => Diagnostic::error(
            "Timed out deleting the security group",
            format!(
                "security group {group_id} is still in use: {last}. Find what uses it with \
                 `aws ec2 describe-network-interfaces --filters Name=group-id,Values={group_id}`, \
                 then run destroy again."
            ),
        ),
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
        if group.is_some_and(|g| {
            g.tags.get(MANAGED_BY_TAG).map(String::as_str) == Some(MANAGED_BY_VALUE)
        }) {
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
    let model = observe(clients, endpoint, &group_id, &BTreeMap::new()).await?;
    Ok(model.to_value())
}

// ---------------------------------------------------------------- upgrade

fn upgrade(version: i64, raw_state: &serde_json::Value) -> (Value, Vec<Diagnostic>) {
    let current = schema().version;
    if version > current {
        let detail = format!(
            "The state was written by a newer plink provider (schema version {version}; this \
             provider reads up to {current}). Upgrade the provider."
        );
        return (
            Value::Null,
            vec![Diagnostic::error("State from a newer provider", detail)],
        );
    }
    match Value::from_json(raw_state, &value_type()) {
        Ok(state) => (state, Vec::new()),
        Err(e) => (
            Value::Null,
            vec![Diagnostic::error(
                "Invalid stored state",
                format!("The stored state of this {TYPE_NAME} cannot be read: {e}."),
            )],
        ),
    }
}

// ---------------------------------------------------------------- conversions

impl Arguments {
    /// Reads the arguments of a planned or prior state, all of which are
    /// known at apply time except a defaulted `allowed_cidrs`.
    fn from_value(value: &Value) -> Result<Arguments, Diagnostic> {
        let required_string = |name: &str| {
            value
                .get(name)
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| internal_error(&format!("{name} is not a known string")))
        };
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
            private_dns_enabled: value.get("private_dns_enabled").as_bool().unwrap_or(true),
            tags: string_entries(value.get("tags")),
        })
    }
}

impl Model {
    /// The state value; every attribute known.
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
        let tags = if arguments.tags.is_empty() {
            Value::Null
        } else {
            string_map(&arguments.tags)
        };
        object([
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
                "private_dns_enabled",
                Value::Bool(arguments.private_dns_enabled),
            ),
            ("tags", tags),
            ("endpoint_id", Value::string(&endpoint.id)),
            ("security_group_id", Value::string(&self.security_group_id)),
            (
                "network_interface_ids",
                string_set(endpoint.network_interface_ids),
            ),
            ("dns_entries", Value::List(dns_entries)),
            ("state", Value::string(&endpoint.state)),
            ("owner_id", Value::string(&endpoint.owner_id)),
        ])
    }
}

fn ingress_rules(ports: &[u16], cidrs: &[String]) -> Vec<IngressRule> {
    let mut rules = Vec::with_capacity(ports.len() * cidrs.len());
    for port in ports {
        for cidr in cidrs {
            rules.push(IngressRule {
                port: *port,
                cidr: cidr.clone(),
            });
        }
    }
    rules
}

/// The provider's default tags overlaid with the resource's own.
fn merged_tags(clients: &AwsClients, tags: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut merged = clients.default_tags.clone();
    merged.extend(tags.iter().map(|(k, v)| (k.clone(), v.clone())));
    merged
}

/// The tags the user manages in `tags`: what AWS has, less the provider's
/// default tags (unless the resource sets the same key itself).
fn user_tags(
    clients: &AwsClients,
    aws_tags: &BTreeMap<String, String>,
    prior_tags: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    aws_tags
        .iter()
        .filter(|(k, v)| prior_tags.contains_key(*k) || clients.default_tags.get(*k) != Some(*v))
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

/// A suffix unique enough for names and idempotency tokens: the time in
/// nanoseconds and the process id, in hex.
fn unique_suffix() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{:x}{:x}", nanos & 0xffff_ffff_ffff, std::process::id())
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

fn aws_error(summary: &str, detail: String, attribute: &str) -> Diagnostic {
    Diagnostic::error(summary, detail).at(AttributePath::root(attribute))
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
    ApplyResponse {
        new_state,
        private: Vec::new(),
        diagnostics: vec![diagnostic],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn validate_accepts_unknown_ports() {
        let config = object([("ports", Value::Unknown), ("subnet_ids", Value::Unknown)]);
        assert!(validate(&config).is_empty());
    }

    #[test]
    fn ingress_rules_pair_every_port_with_every_cidr() {
        let rules = ingress_rules(&[443, 8443], &["10.0.0.0/16".into(), "10.1.0.0/16".into()]);
        assert_eq!(rules.len(), 4);
        assert!(rules.contains(&IngressRule {
            port: 8443,
            cidr: "10.1.0.0/16".into()
        }));
    }

    #[test]
    fn model_round_trips_through_arguments() {
        let model = Model {
            arguments: Arguments {
                vpc_id: "vpc-1".into(),
                service_name: "com.example".into(),
                subnet_ids: vec!["subnet-a".into()],
                ports: vec![443],
                allowed_cidrs: Some(vec!["10.0.0.0/16".into()]),
                private_dns_enabled: false,
                tags: BTreeMap::from([("team".to_string(), "net".to_string())]),
            },
            endpoint: None,
            security_group_id: "sg-1".into(),
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
    }

    #[test]
    fn upgrade_rejects_newer_version() {
        let (state, diagnostics) = upgrade(7, &serde_json::json!({}));
        assert!(state.is_null());
        assert_eq!(diagnostics.len(), 1);
    }
}
