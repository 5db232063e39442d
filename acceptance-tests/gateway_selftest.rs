//! The test gateway on its own: the AWS SDK for Rust, pointed at the gateway,
//! checks that requests reach moto unchanged and that each kind of rule
//! (error, rewrite, status_only, delay_ms) does what gateway.py documents.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use aws_sdk_ec2::config::retry::RetryConfig;
use aws_sdk_ec2::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_ec2::error::ProvideErrorMetadata as _;
use aws_sdk_ec2::types::VpcEndpointType;
use serde_json::{json, Value};

use crate::support::gateway::Gateway;
use crate::support::{self, block_on, vpc_contents, Emulator, REGION};

/// Builds an EC2 client that sends every request to `url`.
fn ec2_client(url: &str, retry: RetryConfig) -> aws_sdk_ec2::Client {
    let config = aws_sdk_ec2::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(url)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .retry_config(retry)
        .build();
    aws_sdk_ec2::Client::from_conf(config)
}

/// Builds a CloudWatch client that sends every request to `url` and never
/// retries. Version 1.99 of the client speaks the query protocol.
fn cloudwatch_client(url: &str) -> aws_sdk_cloudwatch::Client {
    use aws_sdk_cloudwatch::config::retry::RetryConfig;
    use aws_sdk_cloudwatch::config::{BehaviorVersion, Credentials, Region};

    let config = aws_sdk_cloudwatch::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(url)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .retry_config(RetryConfig::disabled())
        .build();
    aws_sdk_cloudwatch::Client::from_conf(config)
}

/// Collects the values of one field across request-log entries, so that one
/// assert compares them all.
fn field(requests: &[Value], name: &str) -> Vec<Value> {
    requests
        .iter()
        .map(|request| request[name].clone())
        .collect()
}

/// Runs `action` and returns its panic message, or None if it did not panic.
fn panic_message(action: impl FnOnce()) -> Option<String> {
    let payload = catch_unwind(AssertUnwindSafe(action)).err()?;
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    Some(message)
}

#[test]
fn forwards_describe_vpcs() {
    if support::skipped() {
        return;
    }
    let emulator = Emulator::start();
    let world = emulator.seed_world();
    let gateway = Gateway::start(&emulator.url);
    let ec2 = ec2_client(&gateway.url, RetryConfig::disabled());

    let output = block_on(ec2.describe_vpcs().vpc_ids(&world.vpc_id).send())
        .expect("DescribeVpcs through the gateway");
    let vpcs = output.vpcs();
    assert_eq!(vpcs.len(), 1, "{vpcs:?}");
    assert_eq!(vpcs[0].vpc_id(), Some(world.vpc_id.as_str()));
    assert_eq!(vpcs[0].cidr_block(), Some(world.vpc_cidr.as_str()));

    let requests = gateway.requests();
    assert_eq!(requests.len(), 1, "{requests:#?}");
    let request = &requests[0];
    assert_eq!(request["action"], "DescribeVpcs");
    assert_eq!(request["service"], "ec2");
    assert_eq!(request["params"]["Action"], "DescribeVpcs");
    assert_eq!(request["params"]["VpcId.1"], world.vpc_id.as_str());
    assert_eq!(request["status"], 200);
    assert_eq!(request["forwarded"], true);
    assert_eq!(request["rule"], Value::Null);

    gateway.clear_requests();
    assert_eq!(gateway.requests(), Vec::<Value>::new());
}

#[test]
fn injected_error_is_not_forwarded() {
    if support::skipped() {
        return;
    }
    let emulator = Emulator::start();
    let world = emulator.seed_world();
    let gateway = Gateway::start(&emulator.url);
    let direct = emulator.ec2();
    let group = block_on(
        direct
            .create_security_group()
            .group_name("gateway-selftest")
            .description("deleted through the test gateway")
            .vpc_id(&world.vpc_id)
            .send(),
    )
    .expect("CreateSecurityGroup");
    let group_id = group.group_id().expect("group id").to_string();

    let message = format!("resource {group_id} has a dependent object");
    gateway.add_rule(json!({
        "action": "DeleteSecurityGroup",
        "times": 1,
        "when": {"param_equals": {"GroupId": group_id}},
        "then": {"error": {"status": 400, "code": "DependencyViolation", "message": message}},
    }));
    let ec2 = ec2_client(&gateway.url, RetryConfig::disabled());

    let error = block_on(ec2.delete_security_group().group_id(&group_id).send())
        .expect_err("the first DeleteSecurityGroup should get the injected error");
    assert_eq!(error.code(), Some("DependencyViolation"), "{error:?}");
    assert_eq!(error.message(), Some(message.as_str()), "{error:?}");
    let groups = vpc_contents(&direct, &world.vpc_id).security_groups;
    assert!(
        groups.contains(&group_id),
        "moto deleted {group_id}, so the gateway forwarded a request that the rule should \
         have stopped: {groups:?}"
    );

    block_on(ec2.delete_security_group().group_id(&group_id).send())
        .expect("the second DeleteSecurityGroup should reach moto once the rule is used up");
    let groups = vpc_contents(&direct, &world.vpc_id).security_groups;
    assert!(
        !groups.contains(&group_id),
        "{group_id} still exists: {groups:?}"
    );

    let deletes = gateway.requests_for("DeleteSecurityGroup");
    assert_eq!(field(&deletes, "status"), [json!(400), json!(200)]);
    assert_eq!(field(&deletes, "forwarded"), [json!(false), json!(true)]);
    assert_eq!(field(&deletes, "rule"), [json!(0), Value::Null]);
    let rules = gateway.rules();
    assert_eq!(rules.len(), 1, "{rules:#?}");
    assert_eq!(rules[0]["remaining"], 0);
    assert_eq!(rules[0]["applied"], 1);
}

#[test]
fn rewrite_reports_pending_acceptance() {
    if support::skipped() {
        return;
    }
    let emulator = Emulator::start();
    let world = emulator.seed_world();
    let gateway = Gateway::start(&emulator.url);
    let created = block_on(
        emulator
            .ec2()
            .create_vpc_endpoint()
            .vpc_id(&world.vpc_id)
            .service_name(&world.service_name)
            .vpc_endpoint_type(VpcEndpointType::Interface)
            .subnet_ids(&world.subnet_ids[0])
            .send(),
    )
    .expect("CreateVpcEndpoint");
    let endpoint_id = created
        .vpc_endpoint()
        .and_then(|e| e.vpc_endpoint_id())
        .expect("endpoint id")
        .to_string();

    gateway.add_rule(json!({
        "action": "DescribeVpcEndpoints",
        "times": 2,
        "when": {"param_contains": {"VpcEndpointId.1": "vpce-"}},
        "then": {"rewrite": [{
            "pattern": "<state>available</state>",
            "replacement": "<state>pendingAcceptance</state>",
        }]},
    }));
    let ec2 = ec2_client(&gateway.url, RetryConfig::disabled());
    // moto returns states in camel case (`available`, `pendingAcceptance`), but
    // the SDK's `State` enum lists PascalCase names, so states are compared as text.
    let endpoint_state = |by_id: bool| -> String {
        let mut request = ec2.describe_vpc_endpoints();
        if by_id {
            request = request.vpc_endpoint_ids(&endpoint_id);
        }
        let output = block_on(request.send()).expect("DescribeVpcEndpoints through the gateway");
        let endpoint = output
            .vpc_endpoints()
            .iter()
            .find(|e| e.vpc_endpoint_id() == Some(endpoint_id.as_str()))
            .unwrap_or_else(|| panic!("{endpoint_id} missing from {output:?}"));
        endpoint
            .state()
            .expect("endpoint state")
            .as_str()
            .to_string()
    };

    // Without a VpcEndpointId.1 parameter the rule's condition does not hold.
    assert_eq!(endpoint_state(false), "available");
    assert_eq!(endpoint_state(true), "pendingAcceptance");
    assert_eq!(endpoint_state(true), "pendingAcceptance");
    assert_eq!(endpoint_state(true), "available");

    let describes = gateway.requests_for("DescribeVpcEndpoints");
    assert_eq!(
        field(&describes, "rule"),
        [Value::Null, json!(0), json!(0), Value::Null]
    );
    assert_eq!(field(&describes, "forwarded"), vec![json!(true); 4]);
    assert_eq!(
        describes[1]["params"]["VpcEndpointId.1"],
        endpoint_id.as_str()
    );
}

#[test]
fn request_limit_exceeded_is_retried() {
    if support::skipped() {
        return;
    }
    let emulator = Emulator::start();
    let gateway = Gateway::start(&emulator.url);
    gateway.add_rule(json!({
        "action": "DescribeVpcs",
        "times": 2,
        "then": {"error": {
            "status": 503,
            "code": "RequestLimitExceeded",
            "message": "Request limit exceeded.",
        }},
    }));
    // Three attempts is also RetryConfig::standard()'s default (aws-smithy-types 1.9).
    let ec2 = ec2_client(&gateway.url, RetryConfig::standard().with_max_attempts(3));

    let output = block_on(ec2.describe_vpcs().send())
        .expect("DescribeVpcs should succeed on the third attempt");
    assert!(!output.vpcs().is_empty(), "moto's default VPC is missing");

    let describes = gateway.requests_for("DescribeVpcs");
    assert_eq!(
        field(&describes, "status"),
        [json!(503), json!(503), json!(200)]
    );
    assert_eq!(
        field(&describes, "forwarded"),
        [json!(false), json!(false), json!(true)]
    );
}

#[test]
fn cloudwatch_error_uses_query_shape() {
    if support::skipped() {
        return;
    }
    let emulator = Emulator::start();
    let gateway = Gateway::start(&emulator.url);
    gateway.add_rule(json!({
        "action": "DescribeAlarms",
        "times": 1,
        "when": {"service": "monitoring"},
        "then": {"error": {"status": 400, "code": "Throttling", "message": "Rate exceeded"}},
    }));
    let cloudwatch = cloudwatch_client(&gateway.url);

    let error = block_on(cloudwatch.describe_alarms().send())
        .expect_err("the first DescribeAlarms should get the injected error");
    assert_eq!(error.code(), Some("Throttling"), "{error:?}");
    assert_eq!(error.message(), Some("Rate exceeded"), "{error:?}");

    let output = block_on(cloudwatch.describe_alarms().send())
        .expect("the second DescribeAlarms should reach moto");
    assert!(output.metric_alarms().is_empty(), "{output:?}");

    let describes = gateway.requests_for("DescribeAlarms");
    assert_eq!(
        field(&describes, "service"),
        [json!("monitoring"), json!("monitoring")]
    );
    assert_eq!(field(&describes, "status"), [json!(400), json!(200)]);
}

#[test]
fn status_only_returns_bare_status() {
    if support::skipped() {
        return;
    }
    let emulator = Emulator::start();
    let gateway = Gateway::start(&emulator.url);
    gateway.add_rule(json!({"action": "DescribeVpcs", "times": 1, "then": {"status_only": 503}}));
    let ec2 = ec2_client(&gateway.url, RetryConfig::disabled());

    let error = block_on(ec2.describe_vpcs().send()).expect_err("DescribeVpcs should get a 503");
    let status = error.raw_response().map(|r| r.status().as_u16());
    assert_eq!(status, Some(503), "{error:?}");
    let body = error.raw_response().and_then(|r| r.body().bytes());
    assert_eq!(body, Some(&b""[..]), "{error:?}");

    block_on(ec2.describe_vpcs().send()).expect("the second DescribeVpcs should reach moto");
    let describes = gateway.requests_for("DescribeVpcs");
    assert_eq!(field(&describes, "forwarded"), [json!(false), json!(true)]);
}

#[test]
fn delay_slows_forwarded_request() {
    if support::skipped() {
        return;
    }
    let emulator = Emulator::start();
    let gateway = Gateway::start(&emulator.url);
    let delay = Duration::from_millis(600);
    gateway.add_rule(json!({
        "action": "DescribeVpcs",
        "times": 1,
        "then": {"delay_ms": delay.as_millis() as u64},
    }));
    let ec2 = ec2_client(&gateway.url, RetryConfig::disabled());

    let started = Instant::now();
    block_on(ec2.describe_vpcs().send()).expect("delayed DescribeVpcs");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= delay,
        "DescribeVpcs took {elapsed:?}, expected at least {delay:?}"
    );

    let describes = gateway.requests_for("DescribeVpcs");
    assert_eq!(field(&describes, "forwarded"), [json!(true)]);
    assert_eq!(field(&describes, "rule"), [json!(0)]);
    assert_eq!(field(&describes, "status"), [json!(200)]);
}

#[test]
fn control_api_rejects_invalid_rule() {
    if support::skipped() {
        return;
    }
    // No request reaches the upstream here, so no emulator is needed.
    let gateway = Gateway::start("http://127.0.0.1:9");
    let message = panic_message(|| {
        gateway
            .add_rule(json!({"action": "DescribeVpcs", "times": 0, "then": {"status_only": 500}}))
    })
    .expect("add_rule should panic on times = 0");
    assert!(
        message.contains("\"times\" must be a positive integer"),
        "unexpected panic message: {message}"
    );
    assert_eq!(gateway.rules(), Vec::<Value>::new());

    gateway.add_rule(json!({"action": "*", "then": {"delay_ms": 1}}));
    let rules = gateway.rules();
    assert_eq!(rules.len(), 1, "{rules:#?}");
    assert_eq!(rules[0]["remaining"], Value::Null);
    gateway.clear_rules();
    assert_eq!(gateway.rules(), Vec::<Value>::new());
}

#[test]
fn non_loopback_upstream_rejected() {
    if support::skipped() {
        return;
    }
    // 192.0.2.1 is reserved for documentation, and the gateway exits before
    // connecting to it.
    let message = panic_message(|| {
        Gateway::start("http://192.0.2.1:80");
    })
    .expect("Gateway::start should panic on a non-loopback upstream");
    assert!(
        message.contains("is not a loopback address"),
        "unexpected panic message: {message}"
    );
}
