//! Read-only checks of a consumer endpoint's configuration against AWS, run
//! during plan (for the values known then) and again before create, so that
//! a bad service name, subnet or VPC setting fails before anything exists.
//!
//! A check that cannot run because an AWS call failed (no credentials yet,
//! missing permissions, throttling) gives a warning, not an error: the plan
//! goes on, and the checks run again at apply.

use std::collections::BTreeMap;

use crate::aws::ec2::{self, EndpointService, Subnet};
use crate::protocol::diagnostics::{AttributePath, Diagnostic};
use crate::provider::clients::AwsClients;

/// The values to check; `None` where the plan does not know them yet.
#[derive(Clone, Debug, Default)]
pub struct Request {
    pub vpc_id: Option<String>,
    pub service_name: Option<String>,
    pub subnet_ids: Option<Vec<String>>,
    pub private_dns_enabled: Option<bool>,
    pub ip_address_type: Option<String>,
    pub expected_service_owner: Option<String>,
}

/// Facts the checks learned, for the plan to show reviewers.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    pub service: Option<EndpointService>,
    pub subnets: Option<Vec<Subnet>>,
}

impl Facts {
    /// Zone names of the chosen subnets, sorted and without repeats.
    pub fn availability_zones(&self) -> Option<Vec<String>> {
        let subnets = self.subnets.as_ref()?;
        let mut zones: Vec<String> = subnets
            .iter()
            .map(|s| s.availability_zone.clone())
            .collect();
        zones.sort();
        zones.dedup();
        Some(zones)
    }
}

/// Runs every check whose inputs are known.
pub async fn check(clients: &AwsClients, request: &Request) -> (Facts, Vec<Diagnostic>) {
    let mut facts = Facts::default();
    let mut diagnostics = Vec::new();

    if let Some(service_name) = &request.service_name {
        match ec2::find_endpoint_service(&clients.ec2, service_name).await {
            Ok(Some(service)) => {
                check_service(&service, request, &mut diagnostics);
                facts.service = Some(service);
            }
            Ok(None) => diagnostics.push(service_not_visible(clients, service_name)),
            Err(error) => diagnostics.push(skipped("the endpoint service", &error, "service_name")),
        }
    }
    if let Some(subnet_ids) = &request.subnet_ids {
        match ec2::find_subnets(&clients.ec2, subnet_ids).await {
            Ok(subnets) => {
                check_subnets(
                    subnet_ids,
                    &subnets,
                    request,
                    facts.service.as_ref(),
                    &mut diagnostics,
                );
                facts.subnets = Some(subnets);
            }
            Err(error) => diagnostics.push(skipped("the subnets", &error, "subnet_ids")),
        }
    }
    if request.private_dns_enabled == Some(true) {
        if let Some(vpc_id) = &request.vpc_id {
            match ec2::find_vpc_dns_attributes(&clients.ec2, vpc_id).await {
                Ok((support, hostnames)) => {
                    check_vpc_dns(vpc_id, support, hostnames, &mut diagnostics)
                }
                Err(error) => {
                    diagnostics.push(skipped("the VPC's DNS attributes", &error, "vpc_id"))
                }
            }
        }
    }
    (facts, diagnostics)
}

fn check_service(service: &EndpointService, request: &Request, diagnostics: &mut Vec<Diagnostic>) {
    if let Some(expected) = &request.expected_service_owner {
        if &service.owner != expected {
            diagnostics.push(
                Diagnostic::error(
                    "Unexpected service owner",
                    format!(
                        "Service {} is owned by AWS account {}, but expected_service_owner is \
                         {expected}. The service name may be a typo or point at someone else's \
                         service; check it with your SaaS provider before connecting.",
                        service.service_name, service.owner
                    ),
                )
                .at(AttributePath::root("expected_service_owner")),
            );
        }
    }
    if let Some(wanted) = &request.ip_address_type {
        let supported = &service.supported_ip_address_types;
        if !supported.is_empty() && !supported.iter().any(|t| t == wanted) {
            diagnostics.push(
                Diagnostic::error(
                    "IP address type not supported",
                    format!(
                        "Service {} supports IP address types {}, not {wanted:?}. Choose one of \
                         those, or leave ip_address_type out.",
                        service.service_name,
                        supported.join(", ")
                    ),
                )
                .at(AttributePath::root("ip_address_type")),
            );
        }
    }
    if request.private_dns_enabled == Some(true) {
        check_private_dns_names(service, diagnostics);
    }
}

fn check_private_dns_names(service: &EndpointService, diagnostics: &mut Vec<Diagnostic>) {
    let at = AttributePath::root("private_dns_enabled");
    if service.private_dns_names.is_empty() {
        diagnostics.push(
            Diagnostic::error(
                "Service has no private DNS name",
                format!(
                    "Service {} publishes no private DNS name, so private DNS cannot be turned \
                     on. Set private_dns_enabled = false and reach the service through the \
                     endpoint's own names in dns_entries.",
                    service.service_name
                ),
            )
            .at(at),
        );
        return;
    }
    for (name, state) in &service.private_dns_names {
        if state.is_empty() {
            diagnostics.push(
                Diagnostic::warning(
                    "Private DNS name verification unknown",
                    format!(
                        "AWS did not report whether {name}, the private DNS name of service \
                         {}, is verified. Private DNS works only once the service owner has \
                         verified it.",
                        service.service_name
                    ),
                )
                .at(at.clone()),
            );
        } else if !state.eq_ignore_ascii_case("verified") {
            diagnostics.push(
                Diagnostic::error(
                    "Private DNS name not verified",
                    format!(
                        "The private DNS name {name} of service {} is {state}, not verified, so \
                         AWS will not turn on private DNS. Ask the service owner (AWS account \
                         {}) to verify the domain, or set private_dns_enabled = false for now.",
                        service.service_name, service.owner
                    ),
                )
                .at(at.clone()),
            );
        }
    }
}

fn check_subnets(
    subnet_ids: &[String],
    subnets: &[Subnet],
    request: &Request,
    service: Option<&EndpointService>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let at = AttributePath::root("subnet_ids");
    for id in subnet_ids {
        if !subnets.iter().any(|s| &s.id == id) {
            let detail = format!("Subnet {id} does not exist in this account and region.");
            diagnostics.push(Diagnostic::error("Subnet not found", detail).at(at.clone()));
        }
    }
    if let Some(vpc_id) = &request.vpc_id {
        for subnet in subnets.iter().filter(|s| &s.vpc_id != vpc_id) {
            let detail = format!(
                "Subnet {} is in VPC {}, not in vpc_id {vpc_id}. An endpoint's subnets must all \
                 be in its VPC.",
                subnet.id, subnet.vpc_id
            );
            diagnostics.push(Diagnostic::error("Subnet in another VPC", detail).at(at.clone()));
        }
    }
    let mut by_zone: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for subnet in subnets {
        by_zone
            .entry(&subnet.availability_zone)
            .or_default()
            .push(&subnet.id);
    }
    for (zone, ids) in by_zone.iter().filter(|(_, ids)| ids.len() > 1) {
        let detail = format!(
            "Subnets {} are all in availability zone {zone}. An interface endpoint takes at most \
             one subnet per zone; keep one of them.",
            ids.join(" and ")
        );
        diagnostics.push(Diagnostic::error("Two subnets in one zone", detail).at(at.clone()));
    }
    if let Some(service) = service {
        check_zones_served(subnets, service, diagnostics);
    }
}

/// Reports whether the service serves the subnet's zone. Zone names differ
/// between accounts, so zone IDs are compared when the service reports them.
/// Otherwise names are compared, because moto does not report zone IDs.
pub(crate) fn zone_served(subnet: &Subnet, service: &EndpointService) -> bool {
    if service.availability_zone_ids.is_empty() {
        service
            .availability_zones
            .contains(&subnet.availability_zone)
    } else {
        service
            .availability_zone_ids
            .contains(&subnet.availability_zone_id)
    }
}

fn check_zones_served(
    subnets: &[Subnet],
    service: &EndpointService,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let supported = if service.availability_zone_ids.is_empty() {
        service.availability_zones.join(", ")
    } else {
        service.availability_zone_ids.join(", ")
    };
    for subnet in subnets.iter().filter(|s| !zone_served(s, service)) {
        let detail = format!(
            "Subnet {} is in zone {} ({}), which service {} does not serve. The service serves: \
             {supported}. Pick a subnet in one of those zones.",
            subnet.id, subnet.availability_zone, subnet.availability_zone_id, service.service_name
        );
        diagnostics.push(
            Diagnostic::error("Zone not served by the service", detail)
                .at(AttributePath::root("subnet_ids")),
        );
    }
}

fn check_vpc_dns(vpc_id: &str, support: bool, hostnames: bool, diagnostics: &mut Vec<Diagnostic>) {
    let missing: Vec<&str> = [
        ("enableDnsSupport", support),
        ("enableDnsHostnames", hostnames),
    ]
    .iter()
    .filter(|(_, on)| !on)
    .map(|(name, _)| *name)
    .collect();
    if missing.is_empty() {
        return;
    }
    diagnostics.push(
        Diagnostic::error(
            "VPC DNS settings block private DNS",
            format!(
                "Private DNS needs {} turned on in VPC {vpc_id}. Turn them on (enable_dns_support \
                 and enable_dns_hostnames on the aws_vpc resource), or set private_dns_enabled \
                 = false.",
                missing.join(" and ")
            ),
        )
        .at(AttributePath::root("private_dns_enabled")),
    );
}

/// Builds the error for a service name this account cannot see.
pub(crate) fn service_not_visible(clients: &AwsClients, service_name: &str) -> Diagnostic {
    let principal = match &clients.account_id {
        Some(account) => format!("arn:aws:iam::{account}:root"),
        None => "arn:aws:iam::YOUR_ACCOUNT_ID:root".to_string(),
    };
    Diagnostic::error(
        "Endpoint service not found",
        format!(
            "Service {service_name} does not exist in region {}, or it is not shared with this \
             account. Check the name with your SaaS provider; if it is right, ask them to add \
             {principal} to the service's allowed principals.",
            clients.region
        ),
    )
    .at(AttributePath::root("service_name"))
}

fn skipped(what: &str, error: &crate::aws::errors::AwsError, attribute: &str) -> Diagnostic {
    Diagnostic::warning(
        "Check skipped",
        format!(
            "Reading {what} to check the configuration failed: {error}. This check was \
             skipped; a plan runs it again, and so does a create before it calls AWS."
        ),
    )
    .at(AttributePath::root(attribute))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subnet(id: &str, vpc: &str, zone: &str, zone_id: &str) -> Subnet {
        Subnet {
            id: id.into(),
            vpc_id: vpc.into(),
            availability_zone: zone.into(),
            availability_zone_id: zone_id.into(),
        }
    }

    fn service() -> EndpointService {
        EndpointService {
            service_name: "svc".into(),
            owner: "111111111111".into(),
            availability_zones: vec!["us-east-1a".into(), "us-east-1b".into()],
            availability_zone_ids: vec!["use1-az6".into(), "use1-az1".into()],
            private_dns_names: vec![("api.example.com".into(), "verified".into())],
            ..EndpointService::default()
        }
    }

    fn summaries(diagnostics: &[Diagnostic]) -> Vec<&str> {
        diagnostics.iter().map(|d| d.summary.as_str()).collect()
    }

    #[test]
    fn subnet_cases() {
        struct Case {
            name: &'static str,
            ids: Vec<&'static str>,
            found: Vec<Subnet>,
            expected: Vec<&'static str>,
        }
        let cases = [
            Case {
                name: "good",
                ids: vec!["a", "b"],
                found: vec![
                    subnet("a", "vpc-1", "us-east-1a", "use1-az6"),
                    subnet("b", "vpc-1", "us-east-1b", "use1-az1"),
                ],
                expected: vec![],
            },
            Case {
                name: "missing",
                ids: vec!["a", "x"],
                found: vec![subnet("a", "vpc-1", "us-east-1a", "use1-az6")],
                expected: vec!["Subnet not found"],
            },
            Case {
                name: "other VPC",
                ids: vec!["a"],
                found: vec![subnet("a", "vpc-2", "us-east-1a", "use1-az6")],
                expected: vec!["Subnet in another VPC"],
            },
            Case {
                name: "same zone",
                ids: vec!["a", "b"],
                found: vec![
                    subnet("a", "vpc-1", "us-east-1a", "use1-az6"),
                    subnet("b", "vpc-1", "us-east-1a", "use1-az6"),
                ],
                expected: vec!["Two subnets in one zone"],
            },
            Case {
                name: "zone not served, by ID",
                ids: vec!["a"],
                found: vec![subnet("a", "vpc-1", "us-east-1a", "use1-az4")],
                expected: vec!["Zone not served by the service"],
            },
        ];
        for case in cases {
            let request = Request {
                vpc_id: Some("vpc-1".into()),
                ..Request::default()
            };
            let ids: Vec<String> = case.ids.iter().map(|s| s.to_string()).collect();
            let mut diagnostics = Vec::new();
            check_subnets(
                &ids,
                &case.found,
                &request,
                Some(&service()),
                &mut diagnostics,
            );
            assert_eq!(summaries(&diagnostics), case.expected, "case {}", case.name);
        }
    }

    #[test]
    fn service_cases() {
        let mut unverified = service();
        unverified.private_dns_names[0].1 = "pendingVerification".into();
        let mut nameless = service();
        nameless.private_dns_names.clear();
        let cases = [
            ("matching owner", service(), Some("111111111111"), vec![]),
            (
                "other owner",
                service(),
                Some("222222222222"),
                vec!["Unexpected service owner"],
            ),
            (
                "unverified name",
                unverified,
                None,
                vec!["Private DNS name not verified"],
            ),
            (
                "no name",
                nameless,
                None,
                vec!["Service has no private DNS name"],
            ),
        ];
        for (name, service, owner, expected) in cases {
            let request = Request {
                private_dns_enabled: Some(true),
                expected_service_owner: owner.map(str::to_string),
                ..Request::default()
            };
            let mut diagnostics = Vec::new();
            check_service(&service, &request, &mut diagnostics);
            assert_eq!(summaries(&diagnostics), expected, "case {name}");
        }
    }

    #[test]
    fn vpc_dns_names_missing_attribute() {
        let mut diagnostics = Vec::new();
        check_vpc_dns("vpc-1", true, false, &mut diagnostics);
        assert_eq!(diagnostics.len(), 1);
        assert!(
            diagnostics[0].detail.contains("enableDnsHostnames"),
            "{:?}",
            diagnostics[0]
        );
        assert!(!diagnostics[0].detail.contains("enableDnsSupport and"));
    }
}
