//! Data source `plink_endpoint_service`: looks up a PrivateLink endpoint
//! service by name and reports what a consumer needs to know before
//! connecting: owner, zones, private DNS names and their verification state,
//! acceptance, IP types, and which of the given subnets it can serve.

use async_trait::async_trait;

use super::preflight;
use super::values::{object, string_list, string_set, strings};
use crate::aws::ec2::{self, EndpointService, Subnet};
use crate::protocol::diagnostics::{AttributePath, Diagnostic};
use crate::protocol::schema::{Attribute, Block, Schema};
use crate::protocol::value::{Type, Value};
use crate::provider::{Context, DataSource};

pub const TYPE_NAME: &str = "plink_endpoint_service";

pub struct EndpointServiceLookup;

#[async_trait]
impl DataSource for EndpointServiceLookup {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema()
    }

    fn validate(&self, config: &Value) -> Vec<Diagnostic> {
        let mut diagnostics = Vec::new();
        if config.get("service_name").as_str() == Some("") {
            diagnostics.push(
                Diagnostic::error("Empty service name", "service_name must not be empty.")
                    .at(AttributePath::root("service_name")),
            );
        }
        diagnostics
    }

    async fn read(&self, context: &Context, config: Value) -> (Value, Vec<Diagnostic>) {
        match read(context, &config).await {
            Ok(state) => (state, Vec::new()),
            Err(diagnostic) => (Value::Null, vec![diagnostic]),
        }
    }
}

fn schema() -> Schema {
    let strings = || Type::list(Type::String);
    let dns_name = Type::object([("name", Type::String), ("verification_state", Type::String)]);
    let attributes =
        vec![
        Attribute::computed("id", Type::String, "The service name."),
        Attribute::required(
            "service_name",
            Type::String,
            "Name of the endpoint service, such as \
             `com.amazonaws.vpce.eu-west-1.vpce-svc-0123456789abcdef0`.",
        ),
        Attribute::optional(
            "subnet_ids",
            Type::set(Type::String),
            "Subnets to check against the zones the service serves.",
        ),
        Attribute::computed("service_id", Type::String, "The service ID (`vpce-svc-...`)."),
        Attribute::computed("owner", Type::String, "AWS account that owns the service."),
        Attribute::computed(
            "acceptance_required",
            Type::Bool,
            "Whether the owner must accept each new endpoint connection.",
        ),
        Attribute::computed("availability_zones", strings(), "Zone names the service serves."),
        Attribute::computed(
            "availability_zone_ids",
            strings(),
            "Zone IDs the service serves, such as `use1-az1`; empty when AWS does not report them.",
        ),
        Attribute::computed(
            "private_dns_names",
            Type::list(dns_name),
            "Private DNS names the service publishes, with their verification state.",
        ),
        Attribute::computed(
            "supported_ip_address_types",
            Type::set(Type::String),
            "IP address types the service supports, such as `ipv4`.",
        ),
        Attribute::computed(
            "supported_subnet_ids",
            Type::set(Type::String),
            "Those of `subnet_ids` whose zone the service serves, compared by zone ID when AWS \
             reports zone IDs and by name otherwise.",
        ),
    ];
    Schema {
        version: 0,
        block: Block {
            attributes,
            description: "Looks up a PrivateLink endpoint service as a consumer sees it.".into(),
            ..Block::default()
        },
    }
}

async fn read(context: &Context, config: &Value) -> Result<Value, Diagnostic> {
    let clients = context.clients()?;
    let service_name = config.get("service_name").as_str().unwrap_or_default();
    let service = ec2::find_endpoint_service(&clients.ec2, service_name)
        .await
        .map_err(|error| {
            Diagnostic::error(
                "Reading the endpoint service failed",
                format!(
                    "looking up endpoint service {service_name}: {error}. Check that the \
                     credentials allow ec2:DescribeVpcEndpointServices."
                ),
            )
            .at(AttributePath::root("service_name"))
        })?
        .ok_or_else(|| preflight::service_not_visible(clients, service_name))?;

    let subnet_ids = strings(config.get("subnet_ids"));
    let subnets = ec2::find_subnets(&clients.ec2, &subnet_ids)
        .await
        .map_err(|error| {
            Diagnostic::error(
                "Reading the subnets failed",
                format!("looking up subnets {}: {error}.", subnet_ids.join(", ")),
            )
            .at(AttributePath::root("subnet_ids"))
        })?;
    Ok(state_value(config, &service, &subnets))
}

fn state_value(config: &Value, service: &EndpointService, subnets: &[Subnet]) -> Value {
    let dns_names = service
        .private_dns_names
        .iter()
        .map(|(name, state)| {
            object([
                ("name", Value::string(name)),
                ("verification_state", Value::string(state)),
            ])
        })
        .collect();
    let supported: Vec<String> = subnets
        .iter()
        .filter(|subnet| preflight::zone_served(subnet, service))
        .map(|subnet| subnet.id.clone())
        .collect();
    object([
        ("id", Value::string(&service.service_name)),
        ("service_name", Value::string(&service.service_name)),
        ("subnet_ids", config.get("subnet_ids").clone()),
        ("service_id", Value::string(&service.service_id)),
        ("owner", Value::string(&service.owner)),
        (
            "acceptance_required",
            Value::Bool(service.acceptance_required),
        ),
        (
            "availability_zones",
            string_list(&service.availability_zones),
        ),
        (
            "availability_zone_ids",
            string_list(&service.availability_zone_ids),
        ),
        ("private_dns_names", Value::List(dns_names)),
        (
            "supported_ip_address_types",
            string_set(service.supported_ip_address_types.clone()),
        ),
        ("supported_subnet_ids", string_set(supported)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supported_subnets_follow_zone_ids() {
        let service = EndpointService {
            service_name: "svc".into(),
            availability_zones: vec!["us-east-1a".into()],
            availability_zone_ids: vec!["use1-az1".into()],
            ..EndpointService::default()
        };
        let subnet = |id: &str, zone_id: &str| Subnet {
            id: id.into(),
            vpc_id: "vpc-1".into(),
            availability_zone: "us-east-1a".into(),
            availability_zone_id: zone_id.into(),
        };
        let subnets = [subnet("a", "use1-az1"), subnet("b", "use1-az4")];
        let state = state_value(&Value::Null, &service, &subnets);
        assert_eq!(strings(state.get("supported_subnet_ids")), vec!["a"]);
        assert_eq!(state.get("id"), &Value::string("svc"));
    }
}
