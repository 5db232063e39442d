//! EC2 calls: VPCs, security groups and their rules, interface VPC
//! endpoints, network interfaces and tags.
//!
//! Each function makes one kind of call, maps the SDK's types to the small
//! types below, and turns failures into [`AwsError`]. No Terraform types here.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_ec2::types::{
    DnsOptionsSpecification, DnsRecordIpType, Filter, IpAddressType, IpPermission, IpRange,
    ResourceType, Tag, TagSpecification, UserIdGroupPair, VpcEndpointType,
};
use aws_sdk_ec2::Client;

use super::errors::AwsError;

/// One ingress rule of a managed security group: TCP on `port` from `source`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IngressRule {
    pub port: u16,
    pub source: Source,
}

/// The origin of allowed traffic.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    /// An IPv4 CIDR block.
    Cidr(String),
    /// Members of a security group.
    Group(String),
}

/// The parts of a security group the provider manages.
#[derive(Clone, Debug, Default)]
pub struct SecurityGroup {
    pub id: String,
    pub vpc_id: String,
    /// Single-port TCP ingress rules from CIDR blocks or groups. Rules of
    /// other shapes (port ranges, other protocols, IPv6, prefix lists) are
    /// listed in `other_ingress`.
    pub ingress: Vec<IngressRule>,
    /// How many ingress permissions had a shape plink does not manage.
    pub other_ingress: usize,
    pub tags: BTreeMap<String, String>,
}

/// An interface VPC endpoint as DescribeVpcEndpoints returns it.
#[derive(Clone, Debug, Default)]
pub struct VpcEndpoint {
    pub id: String,
    /// `Interface`, `Gateway` or `GatewayLoadBalancer`; empty when the
    /// response leaves it out.
    pub endpoint_type: String,
    /// As AWS spells it, such as `available` or `pendingAcceptance`.
    pub state: String,
    pub vpc_id: String,
    pub service_name: String,
    pub subnet_ids: Vec<String>,
    pub security_group_ids: Vec<String>,
    pub network_interface_ids: Vec<String>,
    pub dns_entries: Vec<DnsEntry>,
    pub private_dns_enabled: bool,
    pub owner_id: String,
    pub tags: BTreeMap<String, String>,
    /// AWS's explanation when the endpoint failed, as "CODE: message".
    pub last_error: Option<String>,
    /// `None` when the response leaves it out, as moto does.
    pub ip_address_type: Option<String>,
    /// `None` when the response leaves it out, as moto does.
    pub dns_record_ip_type: Option<String>,
    pub policy: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DnsEntry {
    pub dns_name: String,
    pub hosted_zone_id: String,
}

/// The parameters of CreateVpcEndpoint for an interface endpoint.
#[derive(Clone, Debug)]
pub struct NewInterfaceEndpoint<'a> {
    pub vpc_id: &'a str,
    pub service_name: &'a str,
    pub subnet_ids: &'a [String],
    pub security_group_ids: &'a [String],
    pub private_dns_enabled: bool,
    pub ip_address_type: Option<&'a str>,
    pub dns_record_ip_type: Option<&'a str>,
    pub policy: Option<&'a str>,
    pub tags: &'a BTreeMap<String, String>,
    /// Makes a retried create return the first endpoint instead of a second.
    pub client_token: &'a str,
}

/// The changes one ModifyVpcEndpoint call makes.
#[derive(Clone, Debug, Default)]
pub struct EndpointModification {
    pub add_subnet_ids: Vec<String>,
    pub remove_subnet_ids: Vec<String>,
    pub add_security_group_ids: Vec<String>,
    pub remove_security_group_ids: Vec<String>,
    pub private_dns_enabled: Option<bool>,
    pub policy: Option<String>,
    pub ip_address_type: Option<String>,
    pub dns_record_ip_type: Option<String>,
}

impl EndpointModification {
    pub fn is_empty(&self) -> bool {
        self.add_subnet_ids.is_empty()
            && self.remove_subnet_ids.is_empty()
            && self.add_security_group_ids.is_empty()
            && self.remove_security_group_ids.is_empty()
            && self.private_dns_enabled.is_none()
            && self.policy.is_none()
            && self.ip_address_type.is_none()
            && self.dns_record_ip_type.is_none()
    }
}

/// A subnet's placement.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Subnet {
    pub id: String,
    pub vpc_id: String,
    /// The zone name, such as `us-east-1a`, which differs between accounts.
    pub availability_zone: String,
    /// The zone ID, such as `use1-az1`, which is the same in every account.
    pub availability_zone_id: String,
}

/// A PrivateLink endpoint service as DescribeVpcEndpointServices reports it
/// to a consumer.
#[derive(Clone, Debug, Default)]
pub struct EndpointService {
    pub service_id: String,
    pub service_name: String,
    /// The AWS account that owns the service.
    pub owner: String,
    pub acceptance_required: bool,
    pub availability_zones: Vec<String>,
    /// Zone IDs such as `use1-az1`; empty when the response leaves them
    /// out, as moto's does.
    pub availability_zone_ids: Vec<String>,
    /// Private DNS names with their verification state, such as `verified`.
    pub private_dns_names: Vec<(String, String)>,
    pub supported_ip_address_types: Vec<String>,
}

/// A per-call override that ends the call, retries included, after
/// `timeout`. Creating calls are not cut off by Terraform's stop signal: a
/// create abandoned mid-flight could leave an object nobody records.
fn within(timeout: Duration) -> aws_sdk_ec2::config::Builder {
    let timeouts = aws_sdk_ec2::config::timeout::TimeoutConfig::builder()
        .operation_timeout(timeout.max(Duration::from_secs(1)))
        .build();
    aws_sdk_ec2::config::Builder::default().timeout_config(timeouts)
}

fn to_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn from_tags(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

fn tag_specification(
    resource_type: ResourceType,
    tags: &BTreeMap<String, String>,
) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(resource_type)
        .set_tags(Some(to_tags(tags)))
        .build()
}

/// Returns the IPv4 CIDR blocks associated with a VPC.
pub async fn find_vpc_cidrs(client: &Client, vpc_id: &str) -> Result<Vec<String>, AwsError> {
    tracing::trace!(operation = "DescribeVpcs", vpc_id, "calling AWS");
    let output = client
        .describe_vpcs()
        .vpc_ids(vpc_id)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeVpcs", e))?;
    let Some(vpc) = output.vpcs().first() else {
        return Err(AwsError::from_item(
            "DescribeVpcs",
            Some("InvalidVpcID.NotFound"),
            Some(&format!("The vpc ID '{vpc_id}' does not exist")),
        ));
    };
    let mut cidrs: Vec<String> = vpc
        .cidr_block_association_set()
        .iter()
        .filter(|a| {
            a.cidr_block_state()
                .and_then(|s| s.state())
                .is_none_or(|s| s.as_str() == "associated")
        })
        .filter_map(|a| a.cidr_block().map(str::to_string))
        .collect();
    if cidrs.is_empty() {
        cidrs.extend(vpc.cidr_block().map(str::to_string));
    }
    Ok(cidrs)
}

/// Creates a security group; the SDK's retries stop at `timeout`.
pub async fn create_security_group(
    client: &Client,
    vpc_id: &str,
    name: &str,
    description: &str,
    tags: &BTreeMap<String, String>,
    timeout: Duration,
) -> Result<String, AwsError> {
    tracing::trace!(
        operation = "CreateSecurityGroup",
        vpc_id,
        name,
        "calling AWS"
    );
    let output = client
        .create_security_group()
        .vpc_id(vpc_id)
        .group_name(name)
        .description(description)
        .tag_specifications(tag_specification(ResourceType::SecurityGroup, tags))
        .customize()
        .config_override(within(timeout))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("CreateSecurityGroup", e))?;
    output.group_id().map(str::to_string).ok_or_else(|| {
        AwsError::from_item(
            "CreateSecurityGroup",
            None,
            Some("AWS returned no group id"),
        )
    })
}

fn ip_permissions(rules: &[IngressRule], description: Option<&str>) -> Vec<IpPermission> {
    let mut by_port: BTreeMap<u16, Vec<&Source>> = BTreeMap::new();
    for rule in rules {
        by_port.entry(rule.port).or_default().push(&rule.source);
    }
    let description = description.map(str::to_string);
    by_port
        .into_iter()
        .map(|(port, sources)| {
            let mut ranges = Vec::new();
            let mut groups = Vec::new();
            for source in sources {
                match source {
                    Source::Cidr(cidr) => ranges.push(
                        IpRange::builder()
                            .cidr_ip(cidr)
                            .set_description(description.clone())
                            .build(),
                    ),
                    Source::Group(group_id) => groups.push(
                        UserIdGroupPair::builder()
                            .group_id(group_id)
                            .set_description(description.clone())
                            .build(),
                    ),
                }
            }
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(i32::from(port))
                .to_port(i32::from(port))
                .set_ip_ranges((!ranges.is_empty()).then_some(ranges))
                .set_user_id_group_pairs((!groups.is_empty()).then_some(groups))
                .build()
        })
        .collect()
}

pub async fn authorize_ingress(
    client: &Client,
    group_id: &str,
    rules: &[IngressRule],
    description: &str,
) -> Result<(), AwsError> {
    if rules.is_empty() {
        return Ok(());
    }
    tracing::trace!(
        operation = "AuthorizeSecurityGroupIngress",
        group_id,
        rules = rules.len(),
        "calling AWS"
    );
    client
        .authorize_security_group_ingress()
        .group_id(group_id)
        .set_ip_permissions(Some(ip_permissions(rules, Some(description))))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("AuthorizeSecurityGroupIngress", e))?;
    Ok(())
}

/// Revokes rules by their rule IDs, which match exactly one (port, source)
/// pair each, however the rules were grouped when they were added.
pub async fn revoke_ingress(
    client: &Client,
    group_id: &str,
    rule_ids: &[String],
) -> Result<(), AwsError> {
    if rule_ids.is_empty() {
        return Ok(());
    }
    tracing::trace!(
        operation = "RevokeSecurityGroupIngress",
        group_id,
        ?rule_ids,
        "calling AWS"
    );
    client
        .revoke_security_group_ingress()
        .group_id(group_id)
        .set_security_group_rule_ids(Some(rule_ids.to_vec()))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("RevokeSecurityGroupIngress", e))?;
    Ok(())
}

/// Returns the group's single-port TCP ingress rules with their rule IDs.
/// Rules of other shapes are left out: plink neither reports nor revokes
/// them.
pub async fn find_ingress_rules(
    client: &Client,
    group_id: &str,
) -> Result<Vec<(String, IngressRule)>, AwsError> {
    tracing::trace!(
        operation = "DescribeSecurityGroupRules",
        group_id,
        "calling AWS"
    );
    let filter = Filter::builder().name("group-id").values(group_id).build();
    let mut rules = Vec::new();
    let mut pages = client
        .describe_security_group_rules()
        .filters(filter)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("DescribeSecurityGroupRules", e))?;
        for rule in page.security_group_rules() {
            if rule.is_egress() == Some(true) || rule.ip_protocol() != Some("tcp") {
                continue;
            }
            let (Some(from), Some(to), Some(id)) = (
                rule.from_port(),
                rule.to_port(),
                rule.security_group_rule_id(),
            ) else {
                continue;
            };
            let Some(port) = u16::try_from(from).ok().filter(|_| from == to) else {
                continue;
            };
            let source = match (rule.cidr_ipv4(), rule.referenced_group_info()) {
                (Some(cidr), _) => Source::Cidr(cidr.to_string()),
                (None, Some(group)) => match group.group_id() {
                    Some(group_id) => Source::Group(group_id.to_string()),
                    None => continue,
                },
                (None, None) => continue,
            };
            rules.push((id.to_string(), IngressRule { port, source }));
        }
    }
    Ok(rules)
}

/// Returns the security group, or `None` when it does not exist.
pub async fn find_security_group(
    client: &Client,
    group_id: &str,
) -> Result<Option<SecurityGroup>, AwsError> {
    tracing::trace!(
        operation = "DescribeSecurityGroups",
        group_id,
        "calling AWS"
    );
    let output = match client
        .describe_security_groups()
        .group_ids(group_id)
        .send()
        .await
    {
        Ok(output) => output,
        Err(e) => {
            let error = AwsError::from_sdk("DescribeSecurityGroups", e);
            return if error.is_not_found() {
                Ok(None)
            } else {
                Err(error)
            };
        }
    };
    let Some(group) = output.security_groups().first() else {
        return Ok(None);
    };
    let mut ingress = Vec::new();
    let mut other_ingress = 0;
    for permission in group.ip_permissions() {
        let port = match (permission.from_port(), permission.to_port()) {
            (Some(from), Some(to)) if from == to && permission.ip_protocol() == Some("tcp") => {
                u16::try_from(from).ok()
            }
            _ => None,
        };
        let Some(port) = port else {
            other_ingress += 1;
            continue;
        };
        for range in permission.ip_ranges() {
            if let Some(cidr) = range.cidr_ip() {
                ingress.push(IngressRule {
                    port,
                    source: Source::Cidr(cidr.to_string()),
                });
            }
        }
        for pair in permission.user_id_group_pairs() {
            if let Some(group_id) = pair.group_id() {
                ingress.push(IngressRule {
                    port,
                    source: Source::Group(group_id.to_string()),
                });
            }
        }
        other_ingress += permission.ipv6_ranges().len() + permission.prefix_list_ids().len();
    }
    ingress.sort();
    Ok(Some(SecurityGroup {
        id: group.group_id().unwrap_or(group_id).to_string(),
        vpc_id: group.vpc_id().unwrap_or_default().to_string(),
        ingress,
        other_ingress,
        tags: from_tags(group.tags()),
    }))
}

pub async fn delete_security_group(client: &Client, group_id: &str) -> Result<(), AwsError> {
    tracing::trace!(operation = "DeleteSecurityGroup", group_id, "calling AWS");
    client
        .delete_security_group()
        .group_id(group_id)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DeleteSecurityGroup", e))?;
    Ok(())
}

/// Creates an interface endpoint; the SDK's retries stop at `timeout`.
pub async fn create_interface_endpoint(
    client: &Client,
    endpoint: &NewInterfaceEndpoint<'_>,
    timeout: Duration,
) -> Result<VpcEndpoint, AwsError> {
    tracing::trace!(
        operation = "CreateVpcEndpoint",
        vpc_id = endpoint.vpc_id,
        service_name = endpoint.service_name,
        "calling AWS"
    );
    let mut request = client
        .create_vpc_endpoint()
        .vpc_endpoint_type(VpcEndpointType::Interface)
        .vpc_id(endpoint.vpc_id)
        .service_name(endpoint.service_name)
        .set_subnet_ids(Some(endpoint.subnet_ids.to_vec()))
        .set_security_group_ids(Some(endpoint.security_group_ids.to_vec()))
        .private_dns_enabled(endpoint.private_dns_enabled)
        .client_token(endpoint.client_token);
    if let Some(ip_address_type) = endpoint.ip_address_type {
        request = request.ip_address_type(IpAddressType::from(ip_address_type));
    }
    if let Some(record_type) = endpoint.dns_record_ip_type {
        request = request.dns_options(dns_options(record_type));
    }
    if let Some(policy) = endpoint.policy {
        request = request.policy_document(policy);
    }
    if !endpoint.tags.is_empty() {
        request =
            request.tag_specifications(tag_specification(ResourceType::VpcEndpoint, endpoint.tags));
    }
    let output = request
        .customize()
        .config_override(within(timeout))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("CreateVpcEndpoint", e))?;
    output.vpc_endpoint().map(to_vpc_endpoint).ok_or_else(|| {
        AwsError::from_item("CreateVpcEndpoint", None, Some("AWS returned no endpoint"))
    })
}

/// Returns the endpoint, or `None` when it does not exist or is deleted.
pub async fn find_vpc_endpoint(
    client: &Client,
    endpoint_id: &str,
) -> Result<Option<VpcEndpoint>, AwsError> {
    tracing::trace!(
        operation = "DescribeVpcEndpoints",
        endpoint_id,
        "calling AWS"
    );
    let output = match client
        .describe_vpc_endpoints()
        .vpc_endpoint_ids(endpoint_id)
        .send()
        .await
    {
        Ok(output) => output,
        Err(e) => {
            let error = AwsError::from_sdk("DescribeVpcEndpoints", e);
            return if error.is_not_found() {
                Ok(None)
            } else {
                Err(error)
            };
        }
    };
    Ok(output
        .vpc_endpoints()
        .iter()
        .map(to_vpc_endpoint)
        .find(|e| e.id == endpoint_id && !e.state.eq_ignore_ascii_case("deleted")))
}

fn dns_options(record_type: &str) -> DnsOptionsSpecification {
    DnsOptionsSpecification::builder()
        .dns_record_ip_type(DnsRecordIpType::from(record_type))
        .build()
}

fn to_vpc_endpoint(endpoint: &aws_sdk_ec2::types::VpcEndpoint) -> VpcEndpoint {
    let strings = |items: &[String]| items.to_vec();
    VpcEndpoint {
        id: endpoint.vpc_endpoint_id().unwrap_or_default().to_string(),
        endpoint_type: endpoint
            .vpc_endpoint_type()
            .map(|t| t.as_str().to_string())
            .unwrap_or_default(),
        state: endpoint
            .state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        vpc_id: endpoint.vpc_id().unwrap_or_default().to_string(),
        service_name: endpoint.service_name().unwrap_or_default().to_string(),
        subnet_ids: strings(endpoint.subnet_ids()),
        security_group_ids: endpoint
            .groups()
            .iter()
            .filter_map(|g| g.group_id().map(str::to_string))
            .collect(),
        network_interface_ids: strings(endpoint.network_interface_ids()),
        dns_entries: endpoint
            .dns_entries()
            .iter()
            .map(|d| DnsEntry {
                dns_name: d.dns_name().unwrap_or_default().to_string(),
                hosted_zone_id: d.hosted_zone_id().unwrap_or_default().to_string(),
            })
            .collect(),
        private_dns_enabled: endpoint.private_dns_enabled().unwrap_or(false),
        owner_id: endpoint.owner_id().unwrap_or_default().to_string(),
        tags: from_tags(endpoint.tags()),
        last_error: endpoint.last_error().map(|e| {
            format!(
                "{}: {}",
                e.code().unwrap_or("unknown"),
                e.message().unwrap_or("no message")
            )
        }),
        ip_address_type: endpoint.ip_address_type().map(|t| t.as_str().to_string()),
        dns_record_ip_type: endpoint
            .dns_options()
            .and_then(|o| o.dns_record_ip_type())
            .map(|t| t.as_str().to_string()),
        policy: endpoint.policy_document().map(str::to_string),
    }
}

pub async fn modify_vpc_endpoint(
    client: &Client,
    endpoint_id: &str,
    change: &EndpointModification,
) -> Result<(), AwsError> {
    if change.is_empty() {
        return Ok(());
    }
    tracing::trace!(
        operation = "ModifyVpcEndpoint",
        endpoint_id,
        ?change,
        "calling AWS"
    );
    let non_empty = |ids: &Vec<String>| (!ids.is_empty()).then(|| ids.clone());
    client
        .modify_vpc_endpoint()
        .vpc_endpoint_id(endpoint_id)
        .set_add_subnet_ids(non_empty(&change.add_subnet_ids))
        .set_remove_subnet_ids(non_empty(&change.remove_subnet_ids))
        .set_add_security_group_ids(non_empty(&change.add_security_group_ids))
        .set_remove_security_group_ids(non_empty(&change.remove_security_group_ids))
        .set_private_dns_enabled(change.private_dns_enabled)
        .set_policy_document(change.policy.clone())
        .set_ip_address_type(change.ip_address_type.as_deref().map(IpAddressType::from))
        .set_dns_options(change.dns_record_ip_type.as_deref().map(dns_options))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ModifyVpcEndpoint", e))?;
    Ok(())
}

/// Deletes an endpoint. A per-item failure in the response is an error,
/// except NotFound, which means it is already gone.
pub async fn delete_vpc_endpoint(client: &Client, endpoint_id: &str) -> Result<(), AwsError> {
    tracing::trace!(operation = "DeleteVpcEndpoints", endpoint_id, "calling AWS");
    let output = client
        .delete_vpc_endpoints()
        .vpc_endpoint_ids(endpoint_id)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DeleteVpcEndpoints", e))?;
    for item in output.unsuccessful() {
        let error = item.error();
        let failure = AwsError::from_item(
            "DeleteVpcEndpoints",
            error.and_then(|e| e.code()),
            error.and_then(|e| e.message()),
        );
        if !failure.is_not_found() {
            return Err(failure);
        }
    }
    Ok(())
}

/// Returns which of `interface_ids` still exist.
pub async fn find_network_interfaces(
    client: &Client,
    interface_ids: &[String],
) -> Result<Vec<String>, AwsError> {
    if interface_ids.is_empty() {
        return Ok(Vec::new());
    }
    tracing::trace!(
        operation = "DescribeNetworkInterfaces",
        ?interface_ids,
        "calling AWS"
    );
    // A filter, unlike NetworkInterfaceIds, does not fail when some are gone.
    let filter = Filter::builder()
        .name("network-interface-id")
        .set_values(Some(interface_ids.to_vec()))
        .build();
    let output = client
        .describe_network_interfaces()
        .filters(filter)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeNetworkInterfaces", e))?;
    Ok(output
        .network_interfaces()
        .iter()
        .filter_map(|i| i.network_interface_id().map(str::to_string))
        .collect())
}

pub async fn create_tags(
    client: &Client,
    resource_id: &str,
    tags: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    if tags.is_empty() {
        return Ok(());
    }
    tracing::trace!(operation = "CreateTags", resource_id, "calling AWS");
    client
        .create_tags()
        .resources(resource_id)
        .set_tags(Some(to_tags(tags)))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("CreateTags", e))?;
    Ok(())
}

pub async fn delete_tags(
    client: &Client,
    resource_id: &str,
    keys: &[String],
) -> Result<(), AwsError> {
    if keys.is_empty() {
        return Ok(());
    }
    tracing::trace!(operation = "DeleteTags", resource_id, ?keys, "calling AWS");
    let tags = keys.iter().map(|k| Tag::builder().key(k).build()).collect();
    client
        .delete_tags()
        .resources(resource_id)
        .set_tags(Some(tags))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DeleteTags", e))?;
    Ok(())
}

/// Returns the endpoint service named `service_name`, or `None` when this
/// account cannot see it.
pub async fn find_endpoint_service(
    client: &Client,
    service_name: &str,
) -> Result<Option<EndpointService>, AwsError> {
    tracing::trace!(
        operation = "DescribeVpcEndpointServices",
        service_name,
        "calling AWS"
    );
    // The ServiceNames parameter, not a service-name filter: moto responds
    // to that filter with an HTTP 500.
    let output = match client
        .describe_vpc_endpoint_services()
        .service_names(service_name)
        .send()
        .await
    {
        Ok(output) => output,
        Err(e) => {
            let error = AwsError::from_sdk("DescribeVpcEndpointServices", e);
            return if error.has_code("InvalidServiceName") || error.is_not_found() {
                Ok(None)
            } else {
                Err(error)
            };
        }
    };
    let Some(detail) = output
        .service_details()
        .iter()
        .find(|d| d.service_name() == Some(service_name))
    else {
        return Ok(None);
    };
    let mut private_dns_names: Vec<(String, String)> = detail
        .private_dns_names()
        .iter()
        .filter_map(|d| d.private_dns_name().map(str::to_string))
        .map(|name| {
            let state = detail
                .private_dns_name_verification_state()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default();
            (name, state)
        })
        .collect();
    if private_dns_names.is_empty() {
        if let Some(name) = detail.private_dns_name() {
            let state = detail
                .private_dns_name_verification_state()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default();
            private_dns_names.push((name.to_string(), state));
        }
    }
    Ok(Some(EndpointService {
        service_id: detail.service_id().unwrap_or_default().to_string(),
        service_name: service_name.to_string(),
        owner: detail.owner().unwrap_or_default().to_string(),
        acceptance_required: detail.acceptance_required().unwrap_or(false),
        availability_zones: detail.availability_zones().to_vec(),
        availability_zone_ids: detail.availability_zone_ids().to_vec(),
        private_dns_names,
        supported_ip_address_types: detail
            .supported_ip_address_types()
            .iter()
            .map(|t| t.as_str().to_string())
            .collect(),
    }))
}

/// Returns the network interfaces that still use security group `group_id`.
pub async fn find_interfaces_using_group(
    client: &Client,
    group_id: &str,
) -> Result<Vec<String>, AwsError> {
    tracing::trace!(
        operation = "DescribeNetworkInterfaces",
        group_id,
        "calling AWS"
    );
    let filter = Filter::builder().name("group-id").values(group_id).build();
    let output = client
        .describe_network_interfaces()
        .filters(filter)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeNetworkInterfaces", e))?;
    Ok(output
        .network_interfaces()
        .iter()
        .filter_map(|i| i.network_interface_id().map(str::to_string))
        .collect())
}

/// Returns the subnets among `subnet_ids` that exist; missing ones are left
/// out rather than failing the call.
pub async fn find_subnets(client: &Client, subnet_ids: &[String]) -> Result<Vec<Subnet>, AwsError> {
    if subnet_ids.is_empty() {
        return Ok(Vec::new());
    }
    tracing::trace!(operation = "DescribeSubnets", ?subnet_ids, "calling AWS");
    let filter = Filter::builder()
        .name("subnet-id")
        .set_values(Some(subnet_ids.to_vec()))
        .build();
    let output = client
        .describe_subnets()
        .filters(filter)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeSubnets", e))?;
    Ok(output
        .subnets()
        .iter()
        .map(|s| Subnet {
            id: s.subnet_id().unwrap_or_default().to_string(),
            vpc_id: s.vpc_id().unwrap_or_default().to_string(),
            availability_zone: s.availability_zone().unwrap_or_default().to_string(),
            availability_zone_id: s.availability_zone_id().unwrap_or_default().to_string(),
        })
        .collect())
}

/// Returns whether the VPC has `enableDnsSupport` and `enableDnsHostnames`
/// on, in that order.
pub async fn find_vpc_dns_attributes(
    client: &Client,
    vpc_id: &str,
) -> Result<(bool, bool), AwsError> {
    use aws_sdk_ec2::types::VpcAttributeName;

    tracing::trace!(operation = "DescribeVpcAttribute", vpc_id, "calling AWS");
    let support = client
        .describe_vpc_attribute()
        .vpc_id(vpc_id)
        .attribute(VpcAttributeName::EnableDnsSupport)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeVpcAttribute", e))?;
    let hostnames = client
        .describe_vpc_attribute()
        .vpc_id(vpc_id)
        .attribute(VpcAttributeName::EnableDnsHostnames)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeVpcAttribute", e))?;
    let enabled = |value: Option<&aws_sdk_ec2::types::AttributeBooleanValue>| {
        value.and_then(|v| v.value()).unwrap_or(false)
    };
    Ok((
        enabled(support.enable_dns_support()),
        enabled(hostnames.enable_dns_hostnames()),
    ))
}

/// Returns the private IPv4 and IPv6 addresses of the given network
/// interfaces.
pub async fn find_interface_addresses(
    client: &Client,
    interface_ids: &[String],
) -> Result<Vec<std::net::IpAddr>, AwsError> {
    if interface_ids.is_empty() {
        return Ok(Vec::new());
    }
    tracing::trace!(
        operation = "DescribeNetworkInterfaces",
        ?interface_ids,
        "calling AWS"
    );
    let filter = Filter::builder()
        .name("network-interface-id")
        .set_values(Some(interface_ids.to_vec()))
        .build();
    let output = client
        .describe_network_interfaces()
        .filters(filter)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeNetworkInterfaces", e))?;
    let mut addresses = Vec::new();
    for interface in output.network_interfaces() {
        for private in interface.private_ip_addresses() {
            addresses.extend(
                private
                    .private_ip_address()
                    .and_then(|a| a.parse::<std::net::IpAddr>().ok()),
            );
        }
        addresses.extend(
            interface
                .private_ip_address()
                .and_then(|a| a.parse::<std::net::IpAddr>().ok()),
        );
        for ipv6 in interface.ipv6_addresses() {
            addresses.extend(
                ipv6.ipv6_address()
                    .and_then(|a| a.parse::<std::net::IpAddr>().ok()),
            );
        }
    }
    addresses.sort();
    addresses.dedup();
    Ok(addresses)
}

/// A VPC flow log on a network interface.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlowLog {
    pub id: String,
    pub interface_id: String,
    /// `ACCEPT`, `REJECT` or `ALL`.
    pub traffic_type: String,
    /// `cloud-watch-logs` or `s3`.
    pub destination_type: String,
    pub destination_arn: String,
    pub iam_role_arn: String,
    /// Seconds; `None` when the response leaves it out.
    pub max_aggregation_interval: Option<i32>,
}

/// Creates one flow log per interface with the settings of `template`
/// (whose `id` and `interface_id` are ignored). Returns the new IDs; a
/// per-interface failure is an error.
pub async fn create_flow_logs(
    client: &Client,
    interface_ids: &[String],
    template: &FlowLog,
) -> Result<Vec<String>, AwsError> {
    use aws_sdk_ec2::types::{FlowLogsResourceType, LogDestinationType, TrafficType};

    if interface_ids.is_empty() {
        return Ok(Vec::new());
    }
    tracing::trace!(operation = "CreateFlowLogs", ?interface_ids, "calling AWS");
    let role = (!template.iam_role_arn.is_empty()).then(|| template.iam_role_arn.clone());
    let output = client
        .create_flow_logs()
        .resource_type(FlowLogsResourceType::NetworkInterface)
        .set_resource_ids(Some(interface_ids.to_vec()))
        .traffic_type(TrafficType::from(template.traffic_type.as_str()))
        .log_destination_type(LogDestinationType::from(template.destination_type.as_str()))
        .log_destination(&template.destination_arn)
        .set_deliver_logs_permission_arn(role)
        .set_max_aggregation_interval(template.max_aggregation_interval)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("CreateFlowLogs", e))?;
    if let Some(item) = output.unsuccessful().first() {
        let error = item.error();
        return Err(AwsError::from_item(
            "CreateFlowLogs",
            error.and_then(|e| e.code()),
            error.and_then(|e| e.message()),
        ));
    }
    Ok(output.flow_log_ids().to_vec())
}

/// Returns the flow logs on the given network interfaces.
pub async fn find_flow_logs(
    client: &Client,
    interface_ids: &[String],
) -> Result<Vec<FlowLog>, AwsError> {
    find_flow_logs_where(client, "resource-id", interface_ids).await
}

/// Returns those of the given flow logs that still exist.
pub async fn find_flow_logs_by_id(
    client: &Client,
    flow_log_ids: &[String],
) -> Result<Vec<FlowLog>, AwsError> {
    find_flow_logs_where(client, "flow-log-id", flow_log_ids).await
}

async fn find_flow_logs_where(
    client: &Client,
    filter_name: &str,
    values: &[String],
) -> Result<Vec<FlowLog>, AwsError> {
    if values.is_empty() {
        return Ok(Vec::new());
    }
    tracing::trace!(
        operation = "DescribeFlowLogs",
        filter_name,
        ?values,
        "calling AWS"
    );
    let filter = Filter::builder()
        .name(filter_name)
        .set_values(Some(values.to_vec()))
        .build();
    let output = client
        .describe_flow_logs()
        .filter(filter)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeFlowLogs", e))?;
    Ok(output
        .flow_logs()
        .iter()
        .map(|f| FlowLog {
            id: f.flow_log_id().unwrap_or_default().to_string(),
            interface_id: f.resource_id().unwrap_or_default().to_string(),
            traffic_type: f
                .traffic_type()
                .map(|t| t.as_str().to_string())
                .unwrap_or_default(),
            destination_type: f
                .log_destination_type()
                .map(|t| t.as_str().to_string())
                .unwrap_or_default(),
            destination_arn: f.log_destination().unwrap_or_default().to_string(),
            iam_role_arn: f
                .deliver_logs_permission_arn()
                .unwrap_or_default()
                .to_string(),
            max_aggregation_interval: f.max_aggregation_interval(),
        })
        .collect())
}

/// Deletes flow logs. A per-item NotFound counts as done.
pub async fn delete_flow_logs(client: &Client, flow_log_ids: &[String]) -> Result<(), AwsError> {
    if flow_log_ids.is_empty() {
        return Ok(());
    }
    tracing::trace!(operation = "DeleteFlowLogs", ?flow_log_ids, "calling AWS");
    let output = client
        .delete_flow_logs()
        .set_flow_log_ids(Some(flow_log_ids.to_vec()))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DeleteFlowLogs", e))?;
    for item in output.unsuccessful() {
        let error = item.error();
        let failure = AwsError::from_item(
            "DeleteFlowLogs",
            error.and_then(|e| e.code()),
            error.and_then(|e| e.message()),
        );
        if !failure.is_not_found() {
            return Err(failure);
        }
    }
    Ok(())
}
