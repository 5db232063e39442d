//! The `alarm` blocks and `recommended_alarms` of `plink_consumer_endpoint`
//! on real Terraform against the emulator: alarms with the full dimension
//! set, per-subnet alarms, updates, removed blocks, the recommended set,
//! alarms deleted outside Terraform, and alarms deleted before the endpoint
//! on destroy.

use std::collections::BTreeMap;

use crate::support::cloudwatch::{self, alarm, dimensions};
use crate::support::stack::Stack;
use crate::support::{self, TerraformRun};

/// An `alarm_names` output, kept in its own file because the stack rewrites
/// `main.tf`.
const NAMES_OUTPUT: &str = r#"
output "alarm_names" {
  value = plink_consumer_endpoint.test.alarm_names
}
"#;

/// One `PacketsDropped` alarm with the default name.
const DROPS_BLOCK: &str = r#"
  alarm {
    metric              = "PacketsDropped"
    threshold           = 0
    comparison_operator = "GreaterThanThreshold"
  }"#;

/// One `NewConnections` alarm per subnet, named `conns`.
const CONNECTIONS_BLOCK: &str = r#"
  alarm {
    name                = "conns"
    metric              = "NewConnections"
    threshold           = 1
    comparison_operator = "LessThanThreshold"
    per_subnet          = true
  }"#;

/// Starts a stack whose endpoint is in subnets 0 and 1 with `extra` HCL,
/// with private DNS off so that it is available at once.
fn monitored_stack(extra: &str) -> Stack {
    let stack = Stack::new("");
    configure(&stack, extra);
    stack.workspace.write("outputs.tf", NAMES_OUTPUT);
    stack
}

fn configure(stack: &Stack, extra: &str) {
    let body = format!(
        "{}\n  ports = [443]\n  private_dns_enabled = false\n{extra}",
        stack.subnets(&[0, 1])
    );
    stack.configure(&body);
}

/// Returns the dimension set PrivateLink publishes for the whole endpoint.
fn endpoint_dimensions(stack: &Stack, endpoint_id: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("Endpoint Type".to_string(), "Interface".to_string()),
        ("Service Name".to_string(), stack.world.service_name.clone()),
        ("VPC Endpoint Id".to_string(), endpoint_id.to_string()),
        ("VPC Id".to_string(), stack.world.vpc_id.clone()),
    ])
}

fn alarm_names(stack: &Stack) -> Vec<String> {
    let outputs = stack.workspace.outputs();
    outputs["alarm_names"]
        .as_array()
        .unwrap_or_else(|| panic!("alarm_names output missing: {outputs:?}"))
        .iter()
        .map(|name| name.as_str().expect("alarm name").to_string())
        .collect()
}

fn emulator_alarm_names(stack: &Stack) -> Vec<String> {
    cloudwatch::all_alarms(&stack.emulator.cloudwatch())
        .iter()
        .filter_map(|a| a.alarm_name().map(str::to_string))
        .collect()
}

/// Returns the position of the first request for `action` in the gateway's
/// log, panicking with every action logged when there is none.
fn first_request(actions: &[String], action: &str) -> usize {
    actions
        .iter()
        .position(|a| a == action)
        .unwrap_or_else(|| panic!("no {action} request; requests were {actions:?}"))
}

/// Destroys, checks that the alarms went before the endpoint, and that
/// neither alarms nor anything in the VPC is left.
fn destroy_checking_order(stack: &Stack) {
    stack.gateway.clear_requests();
    stack.destroy_clean();
    let actions: Vec<String> = stack
        .gateway
        .requests()
        .iter()
        .map(|r| r["action"].as_str().unwrap_or_default().to_string())
        .collect();
    let alarms_at = first_request(&actions, "DeleteAlarms");
    let endpoint_at = first_request(&actions, "DeleteVpcEndpoints");
    assert!(
        alarms_at < endpoint_at,
        "DeleteAlarms must come before DeleteVpcEndpoints: {actions:?}"
    );
    cloudwatch::assert_no_alarms(&stack.emulator.cloudwatch());
}

fn assert_plan_mentions(run: &TerraformRun, text: &str) {
    run.assert_mentions(text);
}

#[test]
fn alarm_blocks_follow_configuration() {
    if support::skipped() {
        return;
    }
    let stack = monitored_stack(&format!("{DROPS_BLOCK}\n{CONNECTIONS_BLOCK}"));
    stack.apply_clean();
    let endpoint_id = stack.output("endpoint_id");
    let client = stack.emulator.cloudwatch();
    let drops = format!("plink-{endpoint_id}-PacketsDropped");
    let mut subnets = stack.world.subnet_ids[..2].to_vec();
    subnets.sort();
    let per_subnet: Vec<String> = subnets.iter().map(|s| format!("conns-{s}")).collect();

    let mut expected = vec![drops.clone()];
    expected.extend(per_subnet.iter().cloned());
    expected.sort();
    assert_eq!(alarm_names(&stack), expected);
    assert_eq!(emulator_alarm_names(&stack), expected);

    let found = alarm(&client, &drops);
    assert_eq!(found.namespace(), Some("AWS/PrivateLinkEndpoints"));
    assert_eq!(found.metric_name(), Some("PacketsDropped"));
    assert_eq!(
        dimensions(&found),
        endpoint_dimensions(&stack, &endpoint_id)
    );
    assert_eq!(found.statistic().map(|s| s.as_str()), Some("Sum"));
    assert_eq!(found.period(), Some(60));
    assert_eq!(found.evaluation_periods(), Some(5));
    assert_eq!(found.datapoints_to_alarm(), Some(5));
    assert_eq!(found.treat_missing_data(), Some("notBreaching"));
    for (name, subnet) in per_subnet.iter().zip(&subnets) {
        let found = alarm(&client, name);
        let mut wanted = endpoint_dimensions(&stack, &endpoint_id);
        wanted.insert("Subnet Id".to_string(), subnet.clone());
        assert_eq!(dimensions(&found), wanted, "{name}");
        assert_eq!(found.treat_missing_data(), Some("breaching"), "{name}");
    }

    // A changed block is an in-place update of the alarm.
    let changed = DROPS_BLOCK.replace("threshold           = 0", "threshold = 5");
    configure(&stack, &format!("{changed}\n{CONNECTIONS_BLOCK}"));
    assert_plan_mentions(
        &stack.workspace.plan_with_changes(),
        "0 to add, 1 to change, 0 to destroy",
    );
    stack.apply_clean();
    assert_eq!(alarm(&client, &drops).threshold(), Some(5.0));

    // A removed block deletes its alarms and keeps the others.
    configure(&stack, &changed);
    stack.apply_clean();
    assert_eq!(alarm_names(&stack), vec![drops.clone()]);
    assert_eq!(emulator_alarm_names(&stack), vec![drops.clone()]);

    destroy_checking_order(&stack);
}

#[test]
fn recommended_alarms_and_drift() {
    if support::skipped() {
        return;
    }
    let stack = monitored_stack("  recommended_alarms = true");
    stack.apply_clean();
    let endpoint_id = stack.output("endpoint_id");
    let client = stack.emulator.cloudwatch();
    let expected: Vec<String> = ["PacketsDropped", "RstPacketsReceived"]
        .iter()
        .map(|metric| format!("plink-{endpoint_id}-recommended-{metric}"))
        .collect();
    assert_eq!(alarm_names(&stack), expected);

    for (name, metric) in expected
        .iter()
        .zip(["PacketsDropped", "RstPacketsReceived"])
    {
        let found = alarm(&client, name);
        assert_eq!(found.metric_name(), Some(metric), "{name}");
        assert_eq!(
            dimensions(&found),
            endpoint_dimensions(&stack, &endpoint_id),
            "{name}"
        );
        assert_eq!(found.statistic().map(|s| s.as_str()), Some("Sum"), "{name}");
        assert_eq!(found.period(), Some(300), "{name}");
        assert_eq!(found.evaluation_periods(), Some(1), "{name}");
        assert_eq!(found.threshold(), Some(0.0), "{name}");
        assert_eq!(
            found.comparison_operator().map(|o| o.as_str()),
            Some("GreaterThanThreshold"),
            "{name}"
        );
    }

    // An alarm deleted outside Terraform shows as an update and comes back.
    cloudwatch::delete_alarms(&client, &[&expected[1]]);
    assert_plan_mentions(
        &stack.workspace.plan_with_changes(),
        "0 to add, 1 to change, 0 to destroy",
    );
    stack.apply_clean();
    assert_eq!(alarm_names(&stack), expected);
    alarm(&client, &expected[1]);

    // Adding a block next to the recommended set.
    configure(
        &stack,
        &format!("  recommended_alarms = true\n{DROPS_BLOCK}"),
    );
    stack.apply_clean();
    assert_eq!(alarm_names(&stack).len(), 3);

    // Turning the recommended set off deletes it.
    configure(&stack, DROPS_BLOCK);
    stack.apply_clean();
    let drops = format!("plink-{endpoint_id}-PacketsDropped");
    assert_eq!(alarm_names(&stack), vec![drops.clone()]);
    assert_eq!(emulator_alarm_names(&stack), vec![drops]);

    destroy_checking_order(&stack);
}

#[test]
fn alarm_name_in_use_rejected() {
    if support::skipped() {
        return;
    }
    let stack = monitored_stack("");
    stack.apply_clean();
    let endpoint_id = stack.output("endpoint_id");
    let client = stack.emulator.cloudwatch();

    // An alarm someone else made under the name the block would take.
    let name_in_use = format!("plink-{endpoint_id}-PacketsDropped");
    support::block_on(
        client
            .put_metric_alarm()
            .alarm_name(&name_in_use)
            .namespace("Other")
            .metric_name("Other")
            .statistic(aws_sdk_cloudwatch::types::Statistic::Sum)
            .period(60)
            .evaluation_periods(1)
            .threshold(1.0)
            .comparison_operator(
                aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold,
            )
            .send(),
    )
    .expect("PutMetricAlarm");

    // Rejected, and again on the next apply: a failed put must not make the
    // name count as this endpoint's.
    configure(&stack, DROPS_BLOCK);
    for _ in 0..2 {
        let run = stack
            .workspace
            .run(&["apply", "-auto-approve", "-input=false", "-no-color"]);
        run.expect_exit(1);
        run.assert_mentions("Alarm name already in use");
    }
    assert_eq!(
        alarm(&client, &name_in_use).namespace(),
        Some("Other"),
        "the other alarm must stay untouched"
    );

    cloudwatch::delete_alarms(&client, &[&name_in_use]);
    stack.apply_clean();
    assert_eq!(alarm_names(&stack), vec![name_in_use]);
    destroy_checking_order(&stack);
}
