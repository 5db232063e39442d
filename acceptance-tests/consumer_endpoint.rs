//! `plink_consumer_endpoint` from `examples/basic` on real Terraform against
//! plain moto: basic, update in place, disappears and import.

use serde_json::json;

use crate::support::{self, assert_vpc_empty, block_on, vpc_contents, Emulator, Workspace, World};

/// `examples/basic` against a freshly seeded emulator.
fn basic_workspace(emulator: &Emulator, world: &World) -> Workspace {
    let workspace = Workspace::from_example(
        "basic",
        emulator,
        json!({
            "vpc_id": world.vpc_id,
            "subnet_ids": world.subnet_ids,
            "service_name": world.service_name,
        }),
    );
    workspace.init();
    workspace
}

fn output_string(workspace: &Workspace, name: &str) -> String {
    let outputs = workspace.outputs();
    outputs
        .get(name)
        .and_then(|v| v.as_str())
        .unwrap_or_else(|| panic!("output {name} missing or not a string: {outputs:?}"))
        .to_string()
}

#[test]
fn basic_apply_plan_destroy() {
    if support::skipped() {
        return;
    }
    let emulator = Emulator::start();
    let world = emulator.seed_world();
    let workspace = basic_workspace(&emulator, &world);

    workspace.apply();
    let outputs = workspace.outputs();
    let endpoint_id = outputs["endpoint_id"].as_str().expect("endpoint_id output");
    let group_id = outputs["security_group_id"]
        .as_str()
        .expect("security_group_id output");
    assert!(
        endpoint_id.starts_with("vpce-"),
        "endpoint_id = {endpoint_id}"
    );
    assert!(
        group_id.starts_with("sg-"),
        "security_group_id = {group_id}"
    );
    assert_eq!(outputs["state"], json!("available"));
    assert_eq!(outputs["allowed_cidrs"], json!([world.vpc_cidr]));
    let dns_entries = outputs["dns_entries"].as_array().expect("dns_entries list");
    assert!(!dns_entries.is_empty(), "no DNS entries: {outputs:?}");
    assert!(
        dns_entries[0]["dns_name"]
            .as_str()
            .unwrap_or_default()
            .contains(endpoint_id),
        "DNS name does not name the endpoint: {dns_entries:?}"
    );

    let ec2 = emulator.ec2();
    let endpoint = block_on(
        ec2.describe_vpc_endpoints()
            .vpc_endpoint_ids(endpoint_id)
            .send(),
    )
    .expect("DescribeVpcEndpoints");
    let endpoint = &endpoint.vpc_endpoints()[0];
    let groups: Vec<&str> = endpoint
        .groups()
        .iter()
        .filter_map(|g| g.group_id())
        .collect();
    assert_eq!(
        groups,
        vec![group_id],
        "endpoint must use only the managed group"
    );
    assert_eq!(
        endpoint.private_dns_enabled(),
        Some(false),
        "the example turns it off"
    );
    let tags: Vec<(&str, &str)> = endpoint
        .tags()
        .iter()
        .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()))
        .collect();
    assert!(
        tags.contains(&("Name", "saas-api")),
        "endpoint tags: {tags:?}"
    );
    assert!(
        tags.contains(&("managed-by", "terraform")),
        "default tags: {tags:?}"
    );

    let group = block_on(ec2.describe_security_groups().group_ids(group_id).send())
        .expect("DescribeSecurityGroups");
    let group = &group.security_groups()[0];
    let ingress = group.ip_permissions();
    assert_eq!(ingress.len(), 1, "one rule expected: {ingress:?}");
    assert_eq!(ingress[0].from_port(), Some(443));
    assert_eq!(ingress[0].to_port(), Some(443));
    assert_eq!(
        ingress[0].ip_ranges()[0].cidr_ip(),
        Some(world.vpc_cidr.as_str())
    );
    let managed = group
        .tags()
        .iter()
        .any(|t| t.key() == Some("plink:managed-by"));
    assert!(managed, "group lacks the plink tag: {:?}", group.tags());

    workspace.assert_plan_empty();
    workspace.destroy();
    assert_vpc_empty(&ec2, &world.vpc_id);
}

#[test]
fn update_in_place_keeps_endpoint() {
    if support::skipped() {
        return;
    }
    let emulator = Emulator::start();
    let world = emulator.seed_world();
    let workspace = basic_workspace(&emulator, &world);
    workspace.apply();
    let endpoint_id = output_string(&workspace, "endpoint_id");

    let config = workspace
        .read("main.tf")
        .replace("ports        = [443]", "ports        = [443, 8443]")
        .replace(
            "Name = \"saas-api\"",
            "Name = \"saas-api\"\n    team = \"payments\"",
        );
    workspace.write("main.tf", &config);
    let plan = workspace.plan_with_changes();
    plan.assert_mentions("1 to change, 0 to destroy");
    workspace.apply();

    assert_eq!(
        output_string(&workspace, "endpoint_id"),
        endpoint_id,
        "endpoint replaced"
    );
    let group_id = output_string(&workspace, "security_group_id");
    let ec2 = emulator.ec2();
    let group = block_on(ec2.describe_security_groups().group_ids(&group_id).send())
        .expect("DescribeSecurityGroups");
    let mut ports: Vec<i32> = group.security_groups()[0]
        .ip_permissions()
        .iter()
        .filter_map(|p| p.from_port())
        .collect();
    ports.sort_unstable();
    assert_eq!(ports, vec![443, 8443]);
    workspace.assert_plan_empty();

    let config = workspace.read("main.tf").replace("[443, 8443]", "[8443]");
    workspace.write("main.tf", &config);
    workspace.apply();
    let group = block_on(ec2.describe_security_groups().group_ids(&group_id).send())
        .expect("DescribeSecurityGroups");
    let ports: Vec<i32> = group.security_groups()[0]
        .ip_permissions()
        .iter()
        .filter_map(|p| p.from_port())
        .collect();
    assert_eq!(ports, vec![8443], "port 443 must be revoked");
    workspace.assert_plan_empty();

    workspace.destroy();
    assert_vpc_empty(&ec2, &world.vpc_id);
}

#[test]
fn endpoint_deleted_outside_is_recreated() {
    if support::skipped() {
        return;
    }
    let emulator = Emulator::start();
    let world = emulator.seed_world();
    let workspace = basic_workspace(&emulator, &world);
    workspace.apply();
    let endpoint_id = output_string(&workspace, "endpoint_id");
    let old_group_id = output_string(&workspace, "security_group_id");

    let ec2 = emulator.ec2();
    block_on(
        ec2.delete_vpc_endpoints()
            .vpc_endpoint_ids(&endpoint_id)
            .send(),
    )
    .expect("DeleteVpcEndpoints");
    let plan = workspace.plan_with_changes();
    plan.assert_mentions("must be replaced");
    workspace.apply();

    let new_endpoint_id = output_string(&workspace, "endpoint_id");
    assert_ne!(
        new_endpoint_id, endpoint_id,
        "a new endpoint must be created"
    );
    let contents = vpc_contents(&ec2, &world.vpc_id);
    assert!(
        !contents.security_groups.contains(&old_group_id),
        "the old managed group must be deleted: {contents:?}"
    );
    workspace.assert_plan_empty();

    workspace.destroy();
    assert_vpc_empty(&ec2, &world.vpc_id);
}

#[test]
fn import_then_plan_is_empty() {
    if support::skipped() {
        return;
    }
    let emulator = Emulator::start();
    let world = emulator.seed_world();
    let workspace = basic_workspace(&emulator, &world);
    workspace.apply();
    let endpoint_id = output_string(&workspace, "endpoint_id");

    workspace.ok(&["state", "rm", "plink_consumer_endpoint.saas_api"]);
    workspace.ok(&[
        "import",
        "-input=false",
        "-no-color",
        "plink_consumer_endpoint.saas_api",
        &endpoint_id,
    ]);
    workspace.assert_no_resource_changes();
    workspace.apply();
    workspace.assert_plan_empty();
    assert_eq!(output_string(&workspace, "endpoint_id"), endpoint_id);

    let missing = workspace.run(&[
        "import",
        "-input=false",
        "-no-color",
        "plink_consumer_endpoint.other",
        "vpce-0000000000000000f",
    ]);
    missing.expect_exit(1);

    workspace.destroy();
    assert_vpc_empty(&emulator.ec2(), &world.vpc_id);
}
