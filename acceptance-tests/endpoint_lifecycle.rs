//! The composite lifecycle of `plink_consumer_endpoint` on real Terraform:
//! updates in place, replacement, drift, policy, two-phase private DNS,
//! acceptance, teardown and AWS faults. Faults and states moto cannot
//! produce come from the test gateway between the provider and moto.

use serde_json::json;

use crate::support::stack::{Stack, ADDRESS};
use crate::support::{self, block_on, vpc_contents};

const PORT_443: &str = "  ports = [443]";
const INVOKE_POLICY: &str = r#"  policy = jsonencode({Statement = [{Effect = "Allow", Principal = "*", Action = "execute-api:Invoke", Resource = "*"}]})"#;

fn body(lines: &[&str]) -> String {
    lines.join("\n")
}

#[test]
fn two_phase_private_dns() {
    if support::skipped() {
        return;
    }
    let stack = Stack::new("");
    stack.configure(&body(&[&stack.subnets(&[0, 1]), PORT_443]));
    stack.apply_clean();

    let creates = stack.calls("CreateVpcEndpoint");
    assert_eq!(creates.len(), 1, "{creates:?}");
    assert_eq!(
        creates[0]["PrivateDnsEnabled"],
        json!("false"),
        "created with DNS off"
    );
    let modifies = stack.calls("ModifyVpcEndpoint");
    assert_eq!(modifies.len(), 1, "{modifies:?}");
    assert_eq!(
        modifies[0]["PrivateDnsEnabled"],
        json!("true"),
        "DNS on afterwards"
    );

    let actions: Vec<String> = stack
        .gateway
        .requests()
        .iter()
        .map(|r| r["action"].as_str().unwrap_or_default().to_string())
        .collect();
    let create_at = actions
        .iter()
        .position(|a| a == "CreateVpcEndpoint")
        .unwrap();
    let modify_at = actions
        .iter()
        .position(|a| a == "ModifyVpcEndpoint")
        .unwrap();
    let described_between = actions[create_at..modify_at]
        .iter()
        .any(|a| a == "DescribeVpcEndpoints");
    assert!(
        described_between,
        "no wait between create and enabling DNS: {actions:?}"
    );
    stack.destroy_clean();
}

#[test]
fn updates_in_place_keep_endpoint() {
    if support::skipped() {
        return;
    }
    let stack = Stack::new("");
    let ec2 = stack.emulator.ec2();
    let extra_group = block_on(
        ec2.create_security_group()
            .group_name("extra")
            .description("extra group")
            .vpc_id(&stack.world.vpc_id)
            .send(),
    )
    .expect("CreateSecurityGroup")
    .group_id()
    .unwrap()
    .to_string();
    stack.configure(&body(&[&stack.subnets(&[0]), PORT_443]));
    stack.apply_clean();
    let endpoint_id = stack.output("endpoint_id");

    let steps = [
        ("add a subnet", body(&[&stack.subnets(&[0, 1]), PORT_443])),
        (
            "add ports and CIDRs",
            body(&[
                &stack.subnets(&[0, 1]),
                "  ports = [443, 8443]",
                "  allowed_cidrs = [\"10.0.0.0/16\", \"192.168.0.0/24\"]",
            ]),
        ),
        (
            "add groups",
            body(&[
                &stack.subnets(&[0, 1]),
                PORT_443,
                &format!("  security_group_ids = [\"{extra_group}\"]"),
                &format!("  allowed_security_group_ids = [\"{extra_group}\"]"),
            ]),
        ),
        (
            "set policy and tags, drop a subnet",
            body(&[
                &stack.subnets(&[1]),
                PORT_443,
                INVOKE_POLICY,
                "  tags = { team = \"payments\" }",
            ]),
        ),
        (
            "turn private DNS off",
            body(&[
                &stack.subnets(&[1]),
                PORT_443,
                INVOKE_POLICY,
                "  private_dns_enabled = false",
            ]),
        ),
    ];
    for (name, config) in steps {
        stack.gateway.clear_requests();
        stack.configure(&config);
        let plan = stack.workspace.plan_with_changes();
        plan.assert_mentions("0 to add, 1 to change, 0 to destroy");
        stack.apply_clean();
        assert_eq!(
            stack.output("endpoint_id"),
            endpoint_id,
            "step {name:?} replaced it"
        );
        let modifies = stack.calls("ModifyVpcEndpoint");
        assert!(
            modifies.len() <= 1,
            "step {name:?} used {} modifies",
            modifies.len()
        );
    }

    let endpoint = block_on(
        ec2.describe_vpc_endpoints()
            .vpc_endpoint_ids(&endpoint_id)
            .send(),
    )
    .expect("DescribeVpcEndpoints");
    let endpoint = &endpoint.vpc_endpoints()[0];
    assert_eq!(endpoint.subnet_ids(), [stack.world.subnet_ids[1].clone()]);
    assert!(
        endpoint
            .policy_document()
            .unwrap_or_default()
            .contains("execute-api:Invoke"),
        "policy: {:?}",
        endpoint.policy_document()
    );
    let groups: Vec<&str> = endpoint
        .groups()
        .iter()
        .filter_map(|g| g.group_id())
        .collect();
    assert_eq!(groups.len(), 1, "extra group detached: {groups:?}");
    stack.workspace.destroy();
    block_on(ec2.delete_security_group().group_id(&extra_group).send()).expect("cleanup");
    support::assert_vpc_empty(&ec2, &stack.world.vpc_id);
}

#[test]
fn policy_equivalence_and_removal() {
    if support::skipped() {
        return;
    }
    let stack = Stack::new("");
    let subnets = stack.subnets(&[0]);
    let compact = r#"  policy = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":[\"execute-api:Invoke\"],\"Resource\":\"*\"}]}""#;
    stack.configure(&body(&[&subnets, PORT_443, compact]));
    stack.apply_clean();
    let creates = stack.calls("CreateVpcEndpoint");
    let sent = creates[0]["PolicyDocument"].as_str().unwrap_or_default();
    assert!(
        sent.contains("execute-api:Invoke"),
        "policy sent at create: {creates:?}"
    );

    // The same policy, reordered and reformatted, with "x" for ["x"].
    let reformatted = r#"  policy = <<-EOT
    {
      "Statement": {
        "Resource": ["*"],
        "Action": "execute-api:Invoke",
        "Principal": "*",
        "Effect": "Allow"
      },
      "Version": "2012-10-17"
    }
  EOT"#;
    stack.configure(&body(&[&subnets, PORT_443, reformatted]));
    stack.workspace.assert_plan_empty();

    stack.configure(&body(&[&subnets, PORT_443]));
    let plan = stack.workspace.plan_with_changes();
    plan.assert_mentions("policy");
    stack.apply_clean();
    let endpoint_id = stack.output("endpoint_id");
    let ec2 = stack.emulator.ec2();
    let endpoint = block_on(
        ec2.describe_vpc_endpoints()
            .vpc_endpoint_ids(&endpoint_id)
            .send(),
    )
    .expect("DescribeVpcEndpoints");
    let document = endpoint.vpc_endpoints()[0]
        .policy_document()
        .unwrap_or_default()
        .to_string();
    assert!(
        !document.contains("execute-api"),
        "policy not reset: {document}"
    );

    let invalid = stack.workspace.run(&["validate", "-no-color"]);
    invalid.expect_exit(0);
    stack.configure(&body(&[&subnets, PORT_443, "  policy = \"{not json\""]));
    let invalid = stack.workspace.run(&["plan", "-no-color", "-input=false"]);
    invalid.expect_exit(1);
    invalid.assert_mentions("Invalid policy");
    stack.configure(&body(&[&subnets, PORT_443]));
    stack.destroy_clean();
}

#[test]
fn drift_is_put_back() {
    if support::skipped() {
        return;
    }
    let stack = Stack::new("");
    let subnets = stack.subnets(&[0, 1]);
    stack.configure(&body(&[&subnets, "  ports = [443, 8443]"]));
    stack.apply_clean();
    let endpoint_id = stack.output("endpoint_id");
    let group_id = stack.output("security_group_id");
    let ec2 = stack.emulator.ec2();

    // Revoke one of the four rules, add one nobody asked for, detach a
    // subnet and change the policy, all outside Terraform.
    let permission = |port: i32, cidr: &str| {
        aws_sdk_ec2::types::IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(port)
            .to_port(port)
            .ip_ranges(aws_sdk_ec2::types::IpRange::builder().cidr_ip(cidr).build())
            .build()
    };
    block_on(
        ec2.revoke_security_group_ingress()
            .group_id(&group_id)
            .ip_permissions(permission(8443, &stack.world.vpc_cidr))
            .send(),
    )
    .expect("RevokeSecurityGroupIngress");
    block_on(
        ec2.authorize_security_group_ingress()
            .group_id(&group_id)
            .ip_permissions(permission(22, "0.0.0.0/0"))
            .send(),
    )
    .expect("AuthorizeSecurityGroupIngress");
    block_on(
        ec2.modify_vpc_endpoint()
            .vpc_endpoint_id(&endpoint_id)
            .remove_subnet_ids(&stack.world.subnet_ids[1])
            .policy_document(
                r#"{"Statement":[{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*"}]}"#,
            )
            .send(),
    )
    .expect("ModifyVpcEndpoint");

    let plan = stack.workspace.plan_with_changes();
    plan.assert_mentions("1 to change");
    stack.apply_clean();
    assert_eq!(stack.output("endpoint_id"), endpoint_id);

    let group = block_on(ec2.describe_security_groups().group_ids(&group_id).send())
        .expect("DescribeSecurityGroups");
    let mut ports: Vec<i32> = group.security_groups()[0]
        .ip_permissions()
        .iter()
        .filter_map(|p| p.from_port())
        .collect();
    ports.sort_unstable();
    assert_eq!(ports, vec![443, 8443], "port 22 revoked and 8443 restored");
    let endpoint = block_on(
        ec2.describe_vpc_endpoints()
            .vpc_endpoint_ids(&endpoint_id)
            .send(),
    )
    .expect("DescribeVpcEndpoints");
    let endpoint = &endpoint.vpc_endpoints()[0];
    assert_eq!(endpoint.subnet_ids().len(), 2, "subnet re-attached");
    assert!(
        !endpoint
            .policy_document()
            .unwrap_or_default()
            .contains("Deny"),
        "policy restored: {:?}",
        endpoint.policy_document()
    );
    stack.destroy_clean();
}

#[test]
fn replace_on_vpc_change() {
    if support::skipped() {
        return;
    }
    let stack = Stack::new("");
    stack.configure(&body(&[&stack.subnets(&[0]), PORT_443]));
    stack.apply_clean();
    let old_endpoint = stack.output("endpoint_id");
    let old_group = stack.output("security_group_id");

    // Moving to another VPC forces replacement.
    let ec2 = stack.emulator.ec2();
    let vpc_id = block_on(ec2.create_vpc().cidr_block("10.9.0.0/16").send())
        .expect("CreateVpc")
        .vpc()
        .and_then(|v| v.vpc_id())
        .expect("VPC id")
        .to_string();
    let subnet_id = block_on(
        ec2.create_subnet()
            .vpc_id(&vpc_id)
            .cidr_block("10.9.1.0/24")
            .availability_zone("us-east-1a")
            .send(),
    )
    .expect("CreateSubnet")
    .subnet()
    .and_then(|s| s.subnet_id())
    .expect("subnet id")
    .to_string();
    // Private DNS, on by default, needs DNS hostnames in the new VPC.
    block_on(
        ec2.modify_vpc_attribute()
            .vpc_id(&vpc_id)
            .enable_dns_hostnames(
                aws_sdk_ec2::types::AttributeBooleanValue::builder()
                    .value(true)
                    .build(),
            )
            .send(),
    )
    .expect("ModifyVpcAttribute");
    let config = stack
        .workspace
        .read("main.tf")
        .replace(&stack.world.vpc_id, &vpc_id)
        .replace(&stack.world.subnet_ids[0], &subnet_id);
    stack.workspace.write("main.tf", &config);
    let plan = stack.workspace.plan_with_changes();
    plan.assert_mentions("forces replacement");
    plan.assert_mentions("1 to add, 0 to change, 1 to destroy");
    stack.apply_clean();
    assert_ne!(stack.output("endpoint_id"), old_endpoint);
    let contents = vpc_contents(&ec2, &stack.world.vpc_id);
    assert!(contents.is_empty(), "old VPC must be empty: {contents:?}");
    assert!(old_group.starts_with("sg-"));
    stack.workspace.destroy();
    support::assert_vpc_empty(&ec2, &vpc_id);
}

#[test]
fn acceptance_wait_succeeds() {
    if support::skipped() {
        return;
    }
    let stack = Stack::new("");
    stack.configure(&body(&[&stack.subnets(&[0]), PORT_443]));
    // Three polls see pendingAcceptance, then the owner "accepts".
    stack.report_state("pendingAcceptance", Some(3));
    stack.apply_clean();
    assert_eq!(stack.output("state"), "available");
    stack.destroy_clean();
}

#[test]
fn acceptance_without_waiting() {
    if support::skipped() {
        return;
    }
    let stack = Stack::new("");
    let subnets = stack.subnets(&[0]);
    stack.configure(&body(&[
        &subnets,
        PORT_443,
        "  wait_for_acceptance = false",
    ]));
    stack.report_state("pendingAcceptance", None);
    let apply = stack.workspace.apply();
    apply.assert_mentions("pendingAcceptance");
    apply.assert_mentions("must accept");
    assert_eq!(stack.output("state"), "pendingAcceptance");
    assert!(
        stack.calls("ModifyVpcEndpoint").is_empty(),
        "DNS must wait for acceptance"
    );

    // The owner accepts; the next apply turns private DNS on.
    stack.gateway.clear_rules();
    let plan = stack.workspace.plan_with_changes();
    plan.assert_mentions("private_dns_enabled");
    stack.apply_clean();
    let modifies = stack.calls("ModifyVpcEndpoint");
    assert_eq!(modifies.len(), 1, "{modifies:?}");
    assert_eq!(modifies[0]["PrivateDnsEnabled"], json!("true"));
    stack.destroy_clean();
}

#[test]
fn acceptance_timeout_names_owner() {
    if support::skipped() {
        return;
    }
    let stack = Stack::new("");
    let subnets = stack.subnets(&[0]);
    stack.configure(&body(&[
        &subnets,
        PORT_443,
        "  timeouts {\n    create = \"2s\"\n  }",
    ]));
    stack.report_state("pendingAcceptance", None);
    let apply = stack
        .workspace
        .run(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    apply.expect_exit(1);
    apply.assert_mentions("Timed out waiting for acceptance");
    apply.assert_mentions("accept-vpc-endpoint-connections");
    apply.assert_mentions("123456789012");
    stack
        .workspace
        .ok(&["state", "show", "-no-color", ADDRESS])
        .assert_mentions("vpce-");
    stack.destroy_clean();
}

#[test]
fn failed_state_reports_aws_reason() {
    if support::skipped() {
        return;
    }
    let stack = Stack::new("");
    stack.configure(&body(&[&stack.subnets(&[0]), PORT_443]));
    stack.gateway.add_rule(json!({
        "action": "DescribeVpcEndpoints",
        "then": {"rewrite": [
            {"pattern": "<state>available</state>", "replacement": "<state>rejected</state><lastError><code>Client.Rejected</code><message>owner said no</message></lastError>"}
        ]},
    }));
    let apply = stack
        .workspace
        .run(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    apply.expect_exit(1);
    apply.assert_mentions("rejected");
    apply.assert_mentions("owner said no");
    stack.destroy_clean();
}

#[test]
fn transient_faults_are_retried() {
    if support::skipped() {
        return;
    }
    let stack = Stack::new("");
    stack.configure(&body(&[&stack.subnets(&[0]), PORT_443]));
    // Eventual consistency right after create, then a busy endpoint.
    stack.gateway.add_rule(json!({
        "action": "DescribeVpcEndpoints", "times": 2,
        "then": {"error": {"status": 400, "code": "InvalidVpcEndpointId.NotFound", "message": "not yet"}},
    }));
    stack.gateway.add_rule(json!({
        "action": "ModifyVpcEndpoint", "times": 2,
        "then": {"error": {"status": 400, "code": "OperationInProgress", "message": "busy"}},
    }));
    stack.apply_clean();
    assert_eq!(stack.output("state"), "available");

    // Teardown while network interfaces linger: the group refuses deletion
    // twice before it goes.
    stack.gateway.add_rule(json!({
        "action": "DeleteSecurityGroup", "times": 2,
        "then": {"error": {"status": 400, "code": "DependencyViolation", "message": "resource has a dependent object"}},
    }));
    stack.workspace.destroy();
    let deletes = stack.calls("DeleteSecurityGroup");
    assert_eq!(deletes.len(), 3, "two refusals then success: {deletes:?}");
    support::assert_vpc_empty(&stack.emulator.ec2(), &stack.world.vpc_id);
}

#[test]
fn teardown_timeout_names_interfaces() {
    if support::skipped() {
        return;
    }
    let stack = Stack::new("");
    let subnets = stack.subnets(&[0]);
    stack.configure(&body(&[
        &subnets,
        PORT_443,
        "  timeouts {\n    delete = \"2s\"\n  }",
    ]));
    stack.apply_clean();
    stack.gateway.add_rule(json!({
        "action": "DeleteSecurityGroup",
        "then": {"error": {"status": 400, "code": "DependencyViolation", "message": "resource has a dependent object"}},
    }));
    let destroy = stack
        .workspace
        .run(&["destroy", "-auto-approve", "-input=false", "-no-color"]);
    destroy.expect_exit(1);
    destroy.assert_mentions("Timed out deleting the security group");
    destroy.assert_mentions("DependencyViolation");
    stack.destroy_clean();
}

#[test]
fn upgrade_from_version_zero_plans_nothing() {
    if support::skipped() {
        return;
    }
    let stack = Stack::new("");
    stack.configure(&body(&[&stack.subnets(&[0, 1]), PORT_443]));
    stack.apply_clean();

    // Rewrite the state as the first schema version stored it.
    let mut state: serde_json::Value =
        serde_json::from_str(&stack.workspace.read("terraform.tfstate")).expect("state JSON");
    let instance = &mut state["resources"][0]["instances"][0];
    instance["schema_version"] = json!(0);
    let attributes = instance["attributes"].as_object_mut().expect("attributes");
    for added in [
        "allowed_security_group_ids",
        "security_group_ids",
        "ip_address_type",
        "dns_record_ip_type",
        "policy",
        "wait_for_acceptance",
        "tags_all",
        "timeouts",
    ] {
        attributes.remove(added);
    }
    state["serial"] = json!(state["serial"].as_u64().unwrap_or(1) + 1);
    stack.workspace.write(
        "terraform.tfstate",
        &serde_json::to_string_pretty(&state).unwrap(),
    );

    stack.workspace.assert_plan_empty();
    stack.destroy_clean();
}

#[test]
fn pending_state_is_waited_out() {
    if support::skipped() {
        return;
    }
    let stack = Stack::new("");
    stack.configure(&body(&[&stack.subnets(&[0]), PORT_443]));
    stack.report_state("pending", Some(3));
    stack.apply_clean();
    assert_eq!(stack.output("state"), "available");
    let describes = stack.calls("DescribeVpcEndpoints");
    assert!(
        describes.len() >= 4,
        "three pending polls, then available: {describes:?}"
    );
    stack.destroy_clean();
}

#[test]
fn cidr_host_bits_are_cleared() {
    if support::skipped() {
        return;
    }
    let stack = Stack::new("");
    // Two spellings of one block: one rule, both kept in state.
    let cidrs = "  allowed_cidrs = [\"10.0.0.5/16\", \"10.0.0.0/16\"]";
    stack.configure(&body(&[&stack.subnets(&[0]), PORT_443, cidrs]));
    let apply = stack.workspace.apply();
    apply.assert_mentions("host bits");
    apply.assert_mentions("Duplicate CIDR block");
    stack.workspace.assert_plan_empty();

    let group_id = stack.output("security_group_id");
    let ec2 = stack.emulator.ec2();
    let group = block_on(ec2.describe_security_groups().group_ids(&group_id).send())
        .expect("DescribeSecurityGroups");
    let ranges = group.security_groups()[0].ip_permissions()[0].ip_ranges();
    assert_eq!(ranges.len(), 1, "one rule for both spellings: {ranges:?}");
    assert_eq!(
        ranges[0].cidr_ip(),
        Some("10.0.0.0/16"),
        "the rule uses the canonical block"
    );
    stack.destroy_clean();
}

#[test]
fn import_reports_foreign_groups() {
    if support::skipped() {
        return;
    }
    let stack = Stack::new("");
    let ec2 = stack.emulator.ec2();
    let foreign = block_on(
        ec2.create_security_group()
            .group_name("foreign")
            .description("made by hand")
            .vpc_id(&stack.world.vpc_id)
            .send(),
    )
    .expect("CreateSecurityGroup")
    .group_id()
    .unwrap()
    .to_string();
    let groups = format!("  security_group_ids = [\"{foreign}\"]");
    stack.configure(&body(&[&stack.subnets(&[0]), PORT_443, &groups]));
    stack.apply_clean();
    let endpoint_id = stack.output("endpoint_id");

    stack.workspace.ok(&["state", "rm", ADDRESS]);
    stack
        .workspace
        .ok(&["import", "-input=false", "-no-color", ADDRESS, &endpoint_id]);
    let shown = stack.workspace.ok(&["state", "show", "-no-color", ADDRESS]);
    shown.assert_mentions(&foreign);
    stack.workspace.assert_no_resource_changes();

    stack.workspace.destroy();
    let left = vpc_contents(&ec2, &stack.world.vpc_id);
    assert_eq!(
        left.security_groups,
        vec![foreign.clone()],
        "the foreign group is kept"
    );
    block_on(ec2.delete_security_group().group_id(&foreign).send()).expect("cleanup");
    support::assert_vpc_empty(&ec2, &stack.world.vpc_id);
}

#[test]
fn private_dns_drift_is_put_back() {
    if support::skipped() {
        return;
    }
    let stack = Stack::new("");
    stack.configure(&body(&[&stack.subnets(&[0]), PORT_443]));
    stack.apply_clean();
    let endpoint_id = stack.output("endpoint_id");

    // Turned off by hand; sent through the gateway, which keeps private DNS
    // settings that moto itself ignores.
    let ec2 = stack.ec2_via_gateway();
    block_on(
        ec2.modify_vpc_endpoint()
            .vpc_endpoint_id(&endpoint_id)
            .private_dns_enabled(false)
            .send(),
    )
    .expect("ModifyVpcEndpoint");
    let plan = stack.workspace.plan_with_changes();
    plan.assert_mentions("private_dns_enabled");
    stack.gateway.clear_requests();
    stack.apply_clean();
    let modifies = stack.calls("ModifyVpcEndpoint");
    assert_eq!(modifies.len(), 1, "{modifies:?}");
    assert_eq!(modifies[0]["PrivateDnsEnabled"], json!("true"));
    stack.destroy_clean();
}

#[test]
fn ip_types_are_sent_and_kept() {
    if support::skipped() {
        return;
    }
    let stack = Stack::new("");
    stack.configure(&body(&[
        &stack.subnets(&[0]),
        PORT_443,
        "  ip_address_type    = \"ipv4\"",
        "  dns_record_ip_type = \"ipv4\"",
    ]));
    stack.apply_clean();
    let creates = stack.calls("CreateVpcEndpoint");
    assert_eq!(creates[0]["IpAddressType"], json!("ipv4"), "{creates:?}");
    assert_eq!(
        creates[0]["DnsOptions.DnsRecordIpType"],
        json!("ipv4"),
        "{creates:?}"
    );

    stack.gateway.clear_requests();
    stack.configure(&body(&[
        &stack.subnets(&[0]),
        PORT_443,
        "  ip_address_type    = \"ipv4\"",
        "  dns_record_ip_type = \"service-defined\"",
    ]));
    stack.apply_clean();
    let modifies = stack.calls("ModifyVpcEndpoint");
    assert_eq!(modifies.len(), 1, "{modifies:?}");
    assert_eq!(
        modifies[0]["DnsOptions.DnsRecordIpType"],
        json!("service-defined")
    );
    assert!(
        modifies[0].get("IpAddressType").is_none(),
        "unchanged type not sent"
    );
    stack.destroy_clean();
}

#[test]
fn failed_create_leaves_nothing_behind() {
    if support::skipped() {
        return;
    }
    let stack = Stack::new("");
    stack.configure(&body(&[&stack.subnets(&[0]), PORT_443]));
    // The security group is made first; then the endpoint fails.
    stack.gateway.add_rule(json!({
        "action": "CreateVpcEndpoint",
        "then": {"error": {"status": 400, "code": "VpcEndpointLimitExceeded", "message": "too many endpoints"}},
    }));
    let apply = stack
        .workspace
        .run(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    apply.expect_exit(1);
    apply.assert_mentions("VpcEndpointLimitExceeded");
    // The request id comes from the gateway's injected response.
    apply.assert_mentions("gw-");
    apply.assert_mentions("recorded in state");
    stack
        .workspace
        .ok(&["state", "list"])
        .assert_mentions(ADDRESS);
    let contents = vpc_contents(&stack.emulator.ec2(), &stack.world.vpc_id);
    assert_eq!(
        contents.security_groups.len(),
        1,
        "group recorded: {contents:?}"
    );

    // The next plan replaces the half-built record; destroy removes it.
    stack.gateway.clear_rules();
    stack
        .workspace
        .plan_with_changes()
        .assert_mentions("must be replaced");
    stack.destroy_clean();
}

#[test]
fn throttling_storm_ends_at_timeout() {
    if support::skipped() {
        return;
    }
    let stack = Stack::new("");
    let subnets = stack.subnets(&[0]);
    stack.configure(&body(&[
        &subnets,
        PORT_443,
        "  timeouts {\n    create = \"5s\"\n  }",
    ]));
    stack.gateway.add_rule(json!({
        "action": "CreateVpcEndpoint",
        "then": {"error": {"status": 503, "code": "RequestLimitExceeded", "message": "slow down"}},
    }));
    let started = std::time::Instant::now();
    let apply = stack
        .workspace
        .run(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    apply.expect_exit(1);
    let elapsed = started.elapsed();
    // The SDK alone would retry 25 times with backoff for minutes.
    assert!(
        elapsed < std::time::Duration::from_secs(60),
        "apply took {elapsed:?}"
    );
    apply.assert_mentions("Creating endpoint failed");
    stack.destroy_clean();
}
