//! The `flow_logs` block of `plink_consumer_endpoint` on real Terraform:
//! one flow log per network interface, replaced when its settings change,
//! put back when deleted outside Terraform, and deleted before the endpoint.

use serde_json::{json, Value};

use crate::support::stack::Stack;
use crate::support::{self, block_on};

const LOG_GROUP: &str = "arn:aws:logs:us-east-1:123456789012:log-group:endpoint-flows";
const ROLE: &str = "arn:aws:iam::123456789012:role/flow-logs";

fn body(stack: &Stack, traffic_type: &str) -> String {
    format!(
        "{}\n  ports = [443]\n  flow_logs {{\n    destination_arn = \"{LOG_GROUP}\"\n    iam_role_arn = \"{ROLE}\"\n    traffic_type = \"{traffic_type}\"\n  }}",
        stack.subnets(&[0])
    )
}

fn ids(state: &Value) -> Vec<String> {
    state["flow_log_ids"]
        .as_array()
        .map(|ids| {
            ids.iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The flow logs the emulator has on the endpoint's interfaces.
fn flow_logs_in_emulator(stack: &Stack, state: &Value) -> Vec<aws_sdk_ec2::types::FlowLog> {
    let interfaces: Vec<String> = state["network_interface_ids"]
        .as_array()
        .map(|ids| {
            ids.iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let filter = aws_sdk_ec2::types::Filter::builder()
        .name("resource-id")
        .set_values(Some(interfaces))
        .build();
    let output = block_on(
        stack
            .emulator
            .ec2()
            .describe_flow_logs()
            .filter(filter)
            .send(),
    )
    .expect("DescribeFlowLogs");
    output.flow_logs().to_vec()
}

#[test]
fn flow_logs_follow_configuration() {
    if support::skipped() {
        return;
    }
    let stack = Stack::new("");
    stack.configure(&body(&stack, "ALL"));
    stack.apply_clean();
    let state = stack.attributes();
    let first = ids(&state);
    let interfaces = state["network_interface_ids"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(
        first.len(),
        interfaces,
        "one flow log per interface: {state}"
    );
    let logs = flow_logs_in_emulator(&stack, &state);
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert_eq!(logs[0].log_destination(), Some(LOG_GROUP));
    assert_eq!(logs[0].traffic_type().map(|t| t.as_str()), Some("ALL"));

    // New settings replace the flow log.
    stack.configure(&body(&stack, "REJECT"));
    stack.apply_clean();
    let state = stack.attributes();
    let second = ids(&state);
    assert_ne!(second, first, "the flow log must be replaced");
    let logs = flow_logs_in_emulator(&stack, &state);
    assert_eq!(logs.len(), 1, "the old flow log is deleted: {logs:?}");
    assert_eq!(logs[0].traffic_type().map(|t| t.as_str()), Some("REJECT"));

    // Deleted outside Terraform: the plan shows it and the apply puts it back.
    block_on(
        stack
            .emulator
            .ec2()
            .delete_flow_logs()
            .set_flow_log_ids(Some(second.clone()))
            .send(),
    )
    .expect("DeleteFlowLogs");
    stack.workspace.plan_with_changes();
    stack.apply_clean();
    assert_eq!(flow_logs_in_emulator(&stack, &stack.attributes()).len(), 1);

    // Destroy deletes the flow logs before the endpoint.
    stack.gateway.clear_requests();
    let state = stack.attributes();
    stack.destroy_clean();
    let actions: Vec<String> = stack
        .gateway
        .requests()
        .iter()
        .map(|r| r["action"].as_str().unwrap_or_default().to_string())
        .collect();
    let flow_logs_at = actions.iter().position(|a| a == "DeleteFlowLogs");
    let endpoint_at = actions.iter().position(|a| a == "DeleteVpcEndpoints");
    assert!(
        flow_logs_at.is_some() && flow_logs_at < endpoint_at,
        "flow logs must go first: {actions:?}"
    );
    assert!(
        flow_logs_in_emulator(&stack, &state).is_empty(),
        "flow logs left"
    );
    assert_eq!(json!(ids(&state).len()), json!(1));
}

#[test]
fn flow_logs_block_removed() {
    if support::skipped() {
        return;
    }
    let stack = Stack::new("");
    stack.configure(&body(&stack, "ALL"));
    stack.apply_clean();
    let state = stack.attributes();

    stack.configure(&format!("{}\n  ports = [443]", stack.subnets(&[0])));
    stack.apply_clean();
    assert!(ids(&stack.attributes()).is_empty());
    assert!(
        flow_logs_in_emulator(&stack, &state).is_empty(),
        "flow log left behind"
    );
    stack.destroy_clean();
}

#[test]
fn flow_logs_follow_interfaces() {
    if support::skipped() {
        return;
    }
    let stack = Stack::new("");
    stack.configure(&body(&stack, "ALL"));
    stack.apply_clean();

    // AWS adds a network interface when a subnet is added; moto does not,
    // so the test makes one and the gateway reports it as the endpoint's.
    let ec2 = stack.emulator.ec2();
    let added = block_on(
        ec2.create_network_interface()
            .subnet_id(&stack.world.subnet_ids[1])
            .send(),
    )
    .expect("CreateNetworkInterface")
    .network_interface()
    .and_then(|i| i.network_interface_id())
    .expect("interface id")
    .to_string();
    stack.gateway.add_rule(json!({
        "action": "DescribeVpcEndpoints",
        "then": {"rewrite": [{
            "pattern": "<networkInterfaceIdSet>",
            "replacement": format!("<networkInterfaceIdSet><item>{added}</item>"),
        }]},
    }));
    let two_subnets = body(&stack, "ALL").replace(&stack.subnets(&[0]), &stack.subnets(&[0, 1]));
    stack.configure(&two_subnets);
    stack.apply_clean();
    let state = stack.attributes();
    assert_eq!(ids(&state).len(), 2, "one flow log per interface: {state}");
    assert_eq!(flow_logs_in_emulator(&stack, &state).len(), 2);

    // The subnet goes again, and with it the interface and its flow log.
    stack.gateway.clear_rules();
    stack.configure(&body(&stack, "ALL"));
    stack.apply_clean();
    let after = stack.attributes();
    assert_eq!(ids(&after).len(), 1, "{after}");
    let left = flow_logs_in_emulator(&stack, &state);
    assert_eq!(
        left.len(),
        1,
        "the added interface's log must be deleted: {left:?}"
    );

    stack.workspace.destroy();
    block_on(
        ec2.delete_network_interface()
            .network_interface_id(&added)
            .send(),
    )
    .expect("cleanup");
    support::assert_vpc_empty(&ec2, &stack.world.vpc_id);
}
