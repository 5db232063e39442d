//! Plan-time checks of `plink_consumer_endpoint` on real Terraform: each bad
//! configuration fails the plan with a message that says what to do, and the
//! emulator shows nothing new. Facts moto lacks (zone IDs, verification
//! states, supported IP types) come from gateway rewrites.

use serde_json::json;

use crate::support::stack::Stack;
use crate::support::{self, assert_vpc_empty, block_on};

const PORTS: &str = "  ports = [443]";

/// Runs a plan that must fail and returns its output.
fn failing_plan(stack: &Stack) -> support::TerraformRun {
    let plan = stack.workspace.run(&["plan", "-input=false", "-no-color"]);
    plan.expect_exit(1);
    assert_vpc_empty(&stack.emulator.ec2(), &stack.world.vpc_id);
    plan
}

fn rewrite_services(stack: &Stack, pattern: &str, replacement: &str) {
    stack.gateway.add_rule(json!({
        "action": "DescribeVpcEndpointServices",
        "then": {"rewrite": [{"pattern": pattern, "replacement": replacement}]},
    }));
}

#[test]
fn good_plan_shows_service_facts() {
    if support::skipped() {
        return;
    }
    let stack = Stack::new("");
    stack.configure(
        &[
            stack.subnets(&[0, 1]).as_str(),
            PORTS,
            "  expected_service_owner = \"123456789012\"",
        ]
        .join("\n"),
    );
    let plan = stack.workspace.plan_with_changes();
    plan.assert_mentions("service_owner");
    plan.assert_mentions("\"123456789012\"");
    plan.assert_mentions("\"api.saas-provider.example\"");
    plan.assert_mentions("\"us-east-1a\"");
    stack.apply_clean();
    stack.destroy_clean();
}

#[test]
fn missing_subnet_fails_plan() {
    if support::skipped() {
        return;
    }
    let stack = Stack::new("");
    stack.configure(&["  subnet_ids = [\"subnet-0000000000000000f\"]", PORTS].join("\n"));
    let plan = failing_plan(&stack);
    plan.assert_mentions("Subnet not found");
    plan.assert_mentions("subnet-0000000000000000f");
}

#[test]
fn subnet_in_other_vpc_fails_plan() {
    if support::skipped() {
        return;
    }
    let stack = Stack::new("");
    let ec2 = stack.emulator.ec2();
    let vpc = block_on(ec2.create_vpc().cidr_block("10.7.0.0/16").send()).expect("CreateVpc");
    let vpc_id = vpc.vpc().and_then(|v| v.vpc_id()).unwrap().to_string();
    let subnet = block_on(
        ec2.create_subnet()
            .vpc_id(&vpc_id)
            .cidr_block("10.7.1.0/24")
            .send(),
    )
    .expect("CreateSubnet");
    let subnet_id = subnet
        .subnet()
        .and_then(|s| s.subnet_id())
        .unwrap()
        .to_string();
    stack.configure(&[format!("  subnet_ids = [\"{subnet_id}\"]").as_str(), PORTS].join("\n"));
    let plan = failing_plan(&stack);
    plan.assert_mentions("Subnet in another VPC");
    plan.assert_mentions(&vpc_id);
}

#[test]
fn two_subnets_in_one_zone_fail_plan() {
    if support::skipped() {
        return;
    }
    let stack = Stack::new("");
    let ec2 = stack.emulator.ec2();
    let subnet = block_on(
        ec2.create_subnet()
            .vpc_id(&stack.world.vpc_id)
            .cidr_block("10.0.9.0/24")
            .availability_zone("us-east-1a")
            .send(),
    )
    .expect("CreateSubnet");
    let extra = subnet
        .subnet()
        .and_then(|s| s.subnet_id())
        .unwrap()
        .to_string();
    let subnets = format!(
        "  subnet_ids = [\"{}\", \"{extra}\"]",
        stack.world.subnet_ids[0]
    );
    stack.configure(&[subnets.as_str(), PORTS].join("\n"));
    let plan = stack.workspace.run(&["plan", "-input=false", "-no-color"]);
    plan.expect_exit(1);
    plan.assert_mentions("Two subnets in one zone");
    plan.assert_mentions("us-east-1a");
    plan.assert_mentions(&extra);
    block_on(ec2.delete_subnet().subnet_id(&extra).send()).expect("cleanup");
    assert_vpc_empty(&ec2, &stack.world.vpc_id);
}

#[test]
fn zone_not_served_compared_by_id() {
    if support::skipped() {
        return;
    }
    let stack = Stack::new("");
    // The service reports zone IDs and serves only use1-az1 (us-east-1b).
    rewrite_services(
        &stack,
        "</availabilityZoneSet>",
        "</availabilityZoneSet><availabilityZoneIdSet><item>use1-az1</item></availabilityZoneIdSet>",
    );
    stack.configure(&[stack.subnets(&[0]).as_str(), PORTS].join("\n"));
    let plan = failing_plan(&stack);
    plan.assert_mentions("Zone not served by the service");
    plan.assert_mentions("use1-az1");

    stack.configure(&[stack.subnets(&[1]).as_str(), PORTS].join("\n"));
    stack.apply_clean();
    stack.destroy_clean();
}

#[test]
fn unknown_service_names_principal() {
    if support::skipped() {
        return;
    }
    let stack = Stack::new("");
    stack.configure(&[stack.subnets(&[0]).as_str(), PORTS].join("\n"));
    let config = stack.workspace.read("main.tf").replace(
        &stack.world.service_name,
        "com.amazonaws.vpce.us-east-1.vpce-svc-0typo",
    );
    stack.workspace.write("main.tf", &config);
    let plan = failing_plan(&stack);
    plan.assert_mentions("Endpoint service not found");
    plan.assert_mentions("arn:aws:iam::123456789012:root");
}

#[test]
fn owner_pinning_rejects_other_account() {
    if support::skipped() {
        return;
    }
    let stack = Stack::new("");
    stack.configure(
        &[
            stack.subnets(&[0]).as_str(),
            PORTS,
            "  expected_service_owner = \"999999999999\"",
        ]
        .join("\n"),
    );
    let plan = failing_plan(&stack);
    plan.assert_mentions("Unexpected service owner");
    plan.assert_mentions("123456789012");
    plan.assert_mentions("999999999999");
}

#[test]
fn private_dns_needs_vpc_hostnames() {
    if support::skipped() {
        return;
    }
    let stack = Stack::new("");
    let ec2 = stack.emulator.ec2();
    block_on(
        ec2.modify_vpc_attribute()
            .vpc_id(&stack.world.vpc_id)
            .enable_dns_hostnames(
                aws_sdk_ec2::types::AttributeBooleanValue::builder()
                    .value(false)
                    .build(),
            )
            .send(),
    )
    .expect("ModifyVpcAttribute");
    stack.configure(&[stack.subnets(&[0]).as_str(), PORTS].join("\n"));
    let plan = failing_plan(&stack);
    plan.assert_mentions("VPC DNS settings block private DNS");
    plan.assert_mentions("enableDnsHostnames");

    // Without private DNS the same VPC is fine.
    stack.configure(
        &[
            stack.subnets(&[0]).as_str(),
            PORTS,
            "  private_dns_enabled = false",
        ]
        .join("\n"),
    );
    stack.apply_clean();
    stack.destroy_clean();
}

#[test]
fn unverified_private_dns_name_fails_plan() {
    if support::skipped() {
        return;
    }
    let stack = Stack::new("");
    rewrite_services(
        &stack,
        "(<privateDnsName>[^<]+</privateDnsName>)",
        "\\1<privateDnsNameVerificationState>pendingVerification</privateDnsNameVerificationState>",
    );
    stack.configure(&[stack.subnets(&[0]).as_str(), PORTS].join("\n"));
    let plan = failing_plan(&stack);
    plan.assert_mentions("Private DNS name not verified");
    plan.assert_mentions("pendingVerification");
}

#[test]
fn unsupported_ip_type_fails_plan() {
    if support::skipped() {
        return;
    }
    let stack = Stack::new("");
    rewrite_services(
        &stack,
        "</availabilityZoneSet>",
        "</availabilityZoneSet><supportedIpAddressTypeSet><item>ipv4</item></supportedIpAddressTypeSet>",
    );
    stack.configure(
        &[
            stack.subnets(&[0]).as_str(),
            PORTS,
            "  ip_address_type = \"ipv6\"",
        ]
        .join("\n"),
    );
    let plan = failing_plan(&stack);
    plan.assert_mentions("IP address type not supported");
}

#[test]
fn unreachable_aws_warns_not_fails() {
    if support::skipped() {
        return;
    }
    let stack = Stack::new("");
    stack.gateway.add_rule(json!({
        "action": "DescribeVpcEndpointServices",
        "times": 1,
        "then": {"error": {"status": 403, "code": "UnauthorizedOperation", "message": "not allowed"}},
    }));
    stack.configure(&[stack.subnets(&[0]).as_str(), PORTS].join("\n"));
    let plan = stack.workspace.plan_with_changes();
    plan.assert_mentions("Check skipped");
    plan.assert_mentions("UnauthorizedOperation");
    stack.apply_clean();
    stack.destroy_clean();
}

#[test]
fn endpoint_service_data_source() {
    if support::skipped() {
        return;
    }
    let stack = Stack::new("");
    // Only us-east-1b (use1-az1) is served, reported by zone ID.
    rewrite_services(
        &stack,
        "</availabilityZoneSet>",
        "</availabilityZoneSet><availabilityZoneIdSet><item>use1-az1</item></availabilityZoneIdSet>",
    );
    let config = format!(
        r#"
terraform {{
  required_providers {{
    plink = {{
      source = "plink/plink"
    }}
  }}
}}

provider "plink" {{
  region = "us-east-1"
  endpoints {{
    ec2 = "{url}"
    sts = "{url}"
  }}
}}

data "plink_endpoint_service" "saas" {{
  service_name = "{service}"
  subnet_ids   = ["{a}", "{b}"]
}}

output "owner" {{
  value = data.plink_endpoint_service.saas.owner
}}

output "dns_names" {{
  value = data.plink_endpoint_service.saas.private_dns_names
}}

output "supported" {{
  value = data.plink_endpoint_service.saas.supported_subnet_ids
}}

output "zones" {{
  value = data.plink_endpoint_service.saas.availability_zones
}}
"#,
        url = stack.gateway.url,
        service = stack.world.service_name,
        a = stack.world.subnet_ids[0],
        b = stack.world.subnet_ids[1],
    );
    stack.workspace.write("main.tf", &config);
    stack.workspace.apply();
    let outputs = stack.workspace.outputs();
    assert_eq!(outputs["owner"], json!("123456789012"));
    assert_eq!(
        outputs["dns_names"],
        json!([{"name": "api.saas-provider.example", "verification_state": "verified"}])
    );
    assert_eq!(outputs["supported"], json!([stack.world.subnet_ids[1]]));
    assert_eq!(outputs["zones"], json!(["us-east-1a", "us-east-1b"]));

    let missing = config.replace(&stack.world.service_name, "com.example.missing");
    stack.workspace.write("main.tf", &missing);
    let plan = stack.workspace.run(&["plan", "-input=false", "-no-color"]);
    plan.expect_exit(1);
    plan.assert_mentions("Endpoint service not found");
    assert_vpc_empty(&stack.emulator.ec2(), &stack.world.vpc_id);
}

#[test]
fn service_without_private_dns_name_fails_plan() {
    if support::skipped() {
        return;
    }
    let stack = Stack::new("");
    rewrite_services(&stack, "<privateDnsName>[^<]+</privateDnsName>", "");
    stack.configure(&[stack.subnets(&[0]).as_str(), PORTS].join("\n"));
    let plan = failing_plan(&stack);
    plan.assert_mentions("Service has no private DNS name");
    plan.assert_mentions("private_dns_enabled = false");
}
