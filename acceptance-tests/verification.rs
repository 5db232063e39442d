//! DNS verification and the health check of `plink_consumer_endpoint` on
//! real Terraform. Names resolve through a DNS server the test starts on
//! 127.0.0.1: the service's name to the endpoint's interface address (data
//! only, never contacted) and the health check's name to 127.0.0.1, where
//! the test's HTTPS server listens.

use serde_json::{json, Value};

use crate::support::stack::Stack;
use crate::support::verify_servers::{DnsConfig, DnsServer, HttpsServer};
use crate::support::{self, block_on};

const SERVICE_NAME: &str = "api.saas-provider.example";
const HEALTH_NAME: &str = "health.saas-provider.example";

/// The private address of the endpoint's first network interface.
fn interface_address(stack: &Stack) -> String {
    let ec2 = stack.emulator.ec2();
    let endpoint_id = stack.output("endpoint_id");
    let endpoint = block_on(
        ec2.describe_vpc_endpoints()
            .vpc_endpoint_ids(&endpoint_id)
            .send(),
    )
    .expect("DescribeVpcEndpoints");
    let interface_id = endpoint.vpc_endpoints()[0].network_interface_ids()[0].clone();
    let interfaces = block_on(
        ec2.describe_network_interfaces()
            .network_interface_ids(interface_id)
            .send(),
    )
    .expect("DescribeNetworkInterfaces");
    interfaces.network_interfaces()[0]
        .private_ip_address()
        .expect("private address")
        .to_string()
}

fn endpoint_body(stack: &Stack, extra: &str) -> String {
    format!("{}\n  ports = [443]\n{extra}", stack.subnets(&[0]))
}

fn dns_block(server: &DnsServer, on_failure: &str) -> String {
    format!(
        "  dns_verification {{\n    mode = \"resolve\"\n    resolver = \"{}\"\n    on_failure = \"{on_failure}\"\n  }}",
        server.addr
    )
}

#[test]
fn api_mode_is_the_default() {
    if support::skipped() {
        return;
    }
    let stack = Stack::new("");
    stack.configure(&endpoint_body(&stack, ""));
    stack.apply_clean();
    let state = stack.attributes();
    assert_eq!(state["dns_verification_status"], json!("passed"), "{state}");
    assert_eq!(state["health_check_status"], Value::Null);

    // Without private DNS there is nothing to verify.
    stack.configure(&endpoint_body(&stack, "  private_dns_enabled = false"));
    stack.apply_clean();
    let status = &stack.attributes()["dns_verification_status"];
    assert!(
        status.as_str().unwrap_or_default().starts_with("skipped"),
        "{status}"
    );
    stack.destroy_clean();
}

#[test]
fn resolve_mode_checks_answers() {
    if support::skipped() {
        return;
    }
    let stack = Stack::new("");
    stack.configure(&endpoint_body(&stack, ""));
    stack.apply_clean();
    let address = interface_address(&stack);

    let good = DnsServer::start(&DnsConfig::records(json!({ SERVICE_NAME: address })));
    stack.configure(&endpoint_body(&stack, &dns_block(&good, "error")));
    stack.apply_clean();
    let state = stack.attributes();
    assert_eq!(state["dns_verification_status"], json!("passed"), "{state}");
    assert_eq!(state["dns_addresses"][SERVICE_NAME], json!([address]));
    let queried = good
        .queries()
        .iter()
        .any(|q| q["name"].as_str() == Some(SERVICE_NAME));
    assert!(
        queried,
        "the test DNS server was not asked: {:?}",
        good.queries()
    );

    // A resolver that points the name elsewhere fails the apply.
    let wrong = DnsServer::start(&DnsConfig::records(json!({ SERVICE_NAME: "10.99.99.99" })));
    stack.configure(&endpoint_body(&stack, &dns_block(&wrong, "error")));
    let apply = stack
        .workspace
        .run(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    apply.expect_exit(1);
    apply.assert_mentions("DNS verification failed");
    apply.assert_mentions("10.99.99.99");

    // With on_failure = "warn" the failure is recorded, and the next plan
    // verifies again.
    stack.configure(&endpoint_body(&stack, &dns_block(&wrong, "warn")));
    let apply = stack.workspace.apply();
    apply.assert_mentions("DNS verification failed");
    let status = stack.attributes()["dns_verification_status"].clone();
    assert!(
        status.as_str().unwrap_or_default().starts_with("failed"),
        "{status}"
    );
    stack.workspace.plan_with_changes();

    stack.configure(&endpoint_body(&stack, &dns_block(&good, "error")));
    stack.apply_clean();
    assert_eq!(
        stack.attributes()["dns_verification_status"],
        json!("passed")
    );
    stack.destroy_clean();
}

fn health_block(server: &HttpsServer, on_failure: &str) -> String {
    format!(
        "  health_check {{\n    url = \"{}\"\n    ca_bundle = {:?}\n    headers = {{ \"x-api-key\" = \"s3cret\" }}\n    on_failure = \"{on_failure}\"\n  }}",
        server.url("/health"),
        server.ca_pem
    )
}

#[test]
fn health_check_passes_and_fails() {
    if support::skipped() {
        return;
    }
    let stack = Stack::new("");
    stack.configure(&endpoint_body(&stack, ""));
    stack.apply_clean();
    let address = interface_address(&stack);
    let dns = DnsServer::start(&DnsConfig::records(json!({
        SERVICE_NAME: address,
        HEALTH_NAME: "127.0.0.1",
    })));

    let healthy = HttpsServer::start(HEALTH_NAME, 200);
    let body = format!(
        "{}\n{}",
        dns_block(&dns, "error"),
        health_block(&healthy, "error")
    );
    stack.configure(&endpoint_body(&stack, &body));
    let apply = stack.workspace.apply();
    assert!(
        !apply.stdout().contains("s3cret"),
        "a header value leaked into the output"
    );
    stack.workspace.assert_plan_empty();
    assert_eq!(stack.attributes()["health_check_status"], json!("passed"));
    let requests = healthy.requests();
    let sent_key = requests.iter().any(|r| {
        r["headers"].as_array().is_some_and(|h| {
            h.iter()
                .any(|pair| pair[0] == "x-api-key" && pair[1] == "s3cret")
        })
    });
    assert!(sent_key, "header not received: {requests:?}");

    // A failing service only warns by default.
    let failing = HttpsServer::start(HEALTH_NAME, 503);
    let body = format!(
        "{}\n{}",
        dns_block(&dns, "error"),
        health_block(&failing, "warn")
    );
    stack.configure(&endpoint_body(&stack, &body));
    let apply = stack.workspace.apply();
    apply.assert_mentions("Health check failed");
    apply.assert_mentions("503");
    let status = stack.attributes()["health_check_status"].clone();
    assert!(
        status.as_str().unwrap_or_default().starts_with("failed"),
        "{status}"
    );

    let body = format!(
        "{}\n{}",
        dns_block(&dns, "error"),
        health_block(&failing, "error")
    );
    stack.configure(&endpoint_body(&stack, &body));
    let apply = stack
        .workspace
        .run(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    apply.expect_exit(1);
    apply.assert_mentions("Health check failed");

    stack.configure(&endpoint_body(&stack, ""));
    stack.destroy_clean();
}

#[test]
fn api_mode_failure_and_off_mode() {
    if support::skipped() {
        return;
    }
    let stack = Stack::new("");
    let on_failure = "  dns_verification {\n    on_failure = \"warn\"\n  }";
    stack.configure(&endpoint_body(&stack, on_failure));
    stack.apply_clean();

    // The service's name loses its verification after the endpoint exists:
    // the refresh records the failure, and the plan checks again.
    stack.gateway.add_rule(json!({
        "action": "DescribeVpcEndpointServices",
        "then": {"rewrite": [{
            "pattern": "(<privateDnsName>[^<]+</privateDnsName>)",
            "replacement": "\\1<privateDnsNameVerificationState>failed</privateDnsNameVerificationState>",
        }]},
    }));
    let plan = stack.workspace.plan_with_changes();
    plan.assert_mentions("DNS verification failed");
    plan.assert_mentions("not verified");
    stack.workspace.apply();
    let status = stack.attributes()["dns_verification_status"].clone();
    assert!(
        status.as_str().unwrap_or_default().starts_with("failed"),
        "{status}"
    );

    let off = "  dns_verification {\n    mode = \"off\"\n  }";
    stack.configure(&endpoint_body(&stack, off));
    stack.apply_clean();
    assert_eq!(stack.attributes()["dns_verification_status"], json!("off"));
    stack.destroy_clean();
}
