//! `plink_endpoint_alarm` on real Terraform against the emulator: every
//! metric with its full dimension set, updates in place, per-subnet alarms,
//! a name already in use, import, console edits, alarms deleted outside
//! Terraform, rejected metric names and CloudWatch faults.

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, Statistic, Tag};
use serde_json::json;

use crate::support::cloudwatch::{self, alarm, dimensions};
use crate::support::stack::Stack;
use crate::support::{self, block_on, TerraformRun, Workspace, REGION};

const METRICS: [&str; 5] = [
    "ActiveConnections",
    "BytesProcessed",
    "NewConnections",
    "PacketsDropped",
    "RstPacketsReceived",
];

/// Returns the HCL body of the endpoint the stack tests watch, in the
/// subnets at `subnets`, with private DNS off so that it is available at
/// once.
fn endpoint_body(stack: &Stack, subnets: &[usize]) -> String {
    format!(
        "{}\n  ports = [443]\n  private_dns_enabled = false",
        stack.subnets(subnets)
    )
}

/// Starts a stack configured with that endpoint and an empty alarm file.
fn stack_with_endpoint() -> Stack {
    let stack = Stack::new("");
    stack.configure(&endpoint_body(&stack, &[0, 1]));
    stack.workspace.write("alarms.tf", "");
    stack
}

/// Returns HCL for one alarm per metric, with `threshold` and the extra
/// HCL lines.
fn every_metric(threshold: &str, extra: &str) -> String {
    let metrics: Vec<String> = METRICS.iter().map(|m| format!("{m:?}")).collect();
    format!(
        r#"
resource "plink_endpoint_alarm" "metric" {{
  for_each            = toset([{metrics}])
  endpoint_id         = plink_consumer_endpoint.test.endpoint_id
  metric              = each.value
  threshold           = {threshold}
  comparison_operator = "GreaterThanThreshold"
{extra}
}}
"#,
        metrics = metrics.join(", ")
    )
}

/// Returns HCL for one `PacketsDropped` alarm named `drops`, with the extra
/// HCL lines, and its alarm names as an output.
fn drops_alarm(extra: &str) -> String {
    format!(
        r#"
resource "plink_endpoint_alarm" "drops" {{
  endpoint_id         = plink_consumer_endpoint.test.endpoint_id
  metric              = "PacketsDropped"
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
{extra}
}}

output "alarm_names" {{
  value = plink_endpoint_alarm.drops.alarm_names
}}
"#
    )
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

/// Runs an apply expected to fail and returns the summary and detail of
/// each error it reports. The JSON view keeps them unwrapped, so a test can
/// look for a phrase.
fn failed_apply(stack: &Stack) -> (TerraformRun, Vec<String>) {
    let run = stack
        .workspace
        .run(&["apply", "-auto-approve", "-input=false", "-json"]);
    run.expect_exit(1);
    let errors = run
        .stdout()
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["type"] == "diagnostic" && message["@level"] == "error")
        .map(|message| {
            let diagnostic = &message["diagnostic"];
            format!("{}: {}", diagnostic["summary"], diagnostic["detail"])
        })
        .collect();
    (run, errors)
}

/// Asserts that one of `errors` contains each of `texts`.
fn assert_error_mentions(run: &TerraformRun, errors: &[String], texts: &[&str]) {
    let found = errors
        .iter()
        .any(|error| texts.iter().all(|text| error.contains(text)));
    assert!(
        found,
        "`{}` reported no error with all of {texts:?}\n--- errors ---\n{errors:#?}\n\
         --- stderr ---\n{}",
        run.command,
        run.stderr()
    );
}

/// Destroys everything and checks that the emulator has no alarm left and
/// the VPC nothing of the test's.
fn destroy_all(stack: &Stack) {
    stack.destroy_clean();
    cloudwatch::assert_no_alarms(&stack.emulator.cloudwatch());
}

#[test]
fn every_metric_gets_full_dimensions() {
    if support::skipped() {
        return;
    }
    let stack = stack_with_endpoint();
    stack.workspace.write(
        "alarms.tf",
        &every_metric("0.1", "  tags = { team = \"net\" }"),
    );
    stack.apply_clean();
    let endpoint_id = stack.output("endpoint_id");
    let client = stack.emulator.cloudwatch();

    for metric in METRICS {
        let found = alarm(&client, &format!("plink-{endpoint_id}-{metric}"));
        assert_eq!(
            found.namespace(),
            Some("AWS/PrivateLinkEndpoints"),
            "{metric}"
        );
        assert_eq!(found.metric_name(), Some(metric));
        assert_eq!(
            dimensions(&found),
            endpoint_dimensions(&stack, &endpoint_id),
            "{metric}"
        );
        let statistic = if metric == "ActiveConnections" {
            "Maximum"
        } else {
            "Sum"
        };
        assert_eq!(
            found.statistic().map(|s| s.as_str()),
            Some(statistic),
            "{metric}"
        );
        assert_eq!(found.period(), Some(60), "{metric}");
        assert_eq!(found.evaluation_periods(), Some(5), "{metric}");
        assert_eq!(found.datapoints_to_alarm(), Some(5), "{metric}");
        assert_eq!(found.threshold(), Some(0.1), "{metric}");
        assert_eq!(found.treat_missing_data(), Some("notBreaching"), "{metric}");
        let tags = cloudwatch::tags(&client, found.alarm_arn().expect("alarm ARN"));
        assert_eq!(
            tags.get("team").map(String::as_str),
            Some("net"),
            "{metric}"
        );
        assert_eq!(
            tags.get("suite").map(String::as_str),
            Some("acceptance"),
            "{metric}: default tags"
        );
    }

    stack.gateway.clear_requests();
    let changed = [
        "  description = \"endpoint traffic\"",
        "  evaluation_periods = 3",
        "  ok_actions = [\"arn:aws:sns:us-east-1:123456789012:ops\"]",
        "  tags = { team = \"payments\" }",
    ];
    stack
        .workspace
        .write("alarms.tf", &every_metric("2.5", &changed.join("\n")));
    let plan = stack.workspace.plan_with_changes();
    plan.assert_mentions("0 to add, 5 to change, 0 to destroy");
    stack.apply_clean();

    for metric in METRICS {
        let found = alarm(&client, &format!("plink-{endpoint_id}-{metric}"));
        assert_eq!(found.threshold(), Some(2.5), "{metric}");
        assert_eq!(
            found.alarm_description(),
            Some("endpoint traffic"),
            "{metric}"
        );
        assert_eq!(found.evaluation_periods(), Some(3), "{metric}");
        assert_eq!(
            found.datapoints_to_alarm(),
            Some(3),
            "{metric}: follows evaluation_periods"
        );
        assert_eq!(
            found.ok_actions(),
            ["arn:aws:sns:us-east-1:123456789012:ops"],
            "{metric}"
        );
        let tags = cloudwatch::tags(&client, found.alarm_arn().expect("alarm ARN"));
        assert_eq!(
            tags.get("team").map(String::as_str),
            Some("payments"),
            "{metric}"
        );
    }
    assert_eq!(
        stack.calls("PutMetricAlarm").len(),
        5,
        "one write per alarm"
    );
    assert_eq!(
        stack.calls("TagResource").len(),
        5,
        "one tag call per alarm"
    );
    assert!(stack.calls("DeleteAlarms").is_empty(), "updated in place");
    destroy_all(&stack);
}

#[test]
fn per_subnet_alarms_follow_subnets() {
    if support::skipped() {
        return;
    }
    let stack = stack_with_endpoint();
    let client = stack.emulator.cloudwatch();

    // A CloudWatch error names its code and request id, and nothing is
    // recorded for the alarm.
    stack.gateway.add_rule(json!({
        "action": "PutMetricAlarm",
        "times": 1,
        "then": {"error": {"code": "LimitExceeded", "message": "alarm quota reached"}},
    }));
    stack
        .workspace
        .write("alarms.tf", &drops_alarm("  per_subnet = true"));
    let (run, errors) = failed_apply(&stack);
    assert_error_mentions(
        &run,
        &errors,
        &[
            "PutMetricAlarm failed: AWS LimitExceeded: alarm quota reached",
            "(request id gw-",
        ],
    );
    stack.gateway.clear_rules();
    stack.apply_clean();

    let endpoint_id = stack.output("endpoint_id");
    let base = format!("plink-{endpoint_id}-PacketsDropped");
    let mut subnets = stack.world.subnet_ids.clone();
    subnets.sort();
    let expected: Vec<String> = subnets.iter().map(|s| format!("{base}-{s}")).collect();
    assert_eq!(alarm_names(&stack), expected);
    for (name, subnet) in expected.iter().zip(&subnets) {
        let mut wanted = endpoint_dimensions(&stack, &endpoint_id);
        wanted.insert("Subnet Id".to_string(), subnet.clone());
        assert_eq!(dimensions(&alarm(&client, name)), wanted, "{name}");
    }
    assert!(cloudwatch::find_alarm(&client, &base).is_none());

    // One of the two deleted outside Terraform is drift, put back in place.
    cloudwatch::delete_alarms(&client, &[&expected[0]]);
    let plan = stack.workspace.plan_with_changes();
    plan.assert_mentions("0 to add, 1 to change, 0 to destroy");
    stack.apply_clean();
    assert_eq!(alarm_names(&stack), expected);
    alarm(&client, &expected[0]);

    // Back to one alarm on the whole endpoint. DeleteAlarms fails for a
    // batch with a missing name; the provider then deletes one by one.
    stack.gateway.clear_requests();
    stack.gateway.add_rule(json!({
        "action": "DeleteAlarms",
        "times": 1,
        "then": {"error": {"code": "ResourceNotFound", "message": "an alarm does not exist"}},
    }));
    stack.workspace.write("alarms.tf", &drops_alarm(""));
    let plan = stack.workspace.plan_with_changes();
    plan.assert_mentions("0 to add, 1 to change, 0 to destroy");
    stack.apply_clean();
    stack.gateway.clear_rules();
    assert_eq!(alarm_names(&stack), std::slice::from_ref(&base));
    assert_eq!(
        dimensions(&alarm(&client, &base)),
        endpoint_dimensions(&stack, &endpoint_id)
    );
    for name in &expected {
        assert!(
            cloudwatch::find_alarm(&client, name).is_none(),
            "{name} left"
        );
    }
    assert_eq!(
        stack.calls("DeleteAlarms").len(),
        3,
        "one batch, then each name"
    );

    // The alarms follow the endpoint's subnets. The plan that changes the
    // endpoint still reads its old subnets, so the next plan moves the
    // alarms.
    stack
        .workspace
        .write("alarms.tf", &drops_alarm("  per_subnet = true"));
    stack.apply_clean();
    stack.configure(&endpoint_body(&stack, &[1]));
    stack.workspace.apply();
    let plan = stack.workspace.plan_with_changes();
    plan.assert_mentions("0 to add, 1 to change, 0 to destroy");
    stack.apply_clean();
    let remaining = format!("{base}-{}", stack.world.subnet_ids[1]);
    assert_eq!(alarm_names(&stack), std::slice::from_ref(&remaining));
    let others: Vec<String> = cloudwatch::all_alarms(&client)
        .iter()
        .filter_map(|a| a.alarm_name().map(str::to_string))
        .collect();
    assert_eq!(others, [remaining]);
    destroy_all(&stack);
}

#[test]
fn existing_alarm_refused_then_imported() {
    if support::skipped() {
        return;
    }
    let stack = stack_with_endpoint();
    stack.apply_clean();
    let endpoint_id = stack.output("endpoint_id");
    let name = format!("plink-{endpoint_id}-PacketsDropped");
    let client = stack.emulator.cloudwatch();
    let dimension_set = endpoint_dimensions(&stack, &endpoint_id);

    // An alarm made by hand, without DatapointsToAlarm, as older alarms are,
    // and with the provider's default tag.
    let put_by_hand = |datapoints: Option<i32>| {
        let dimension_list: Vec<Dimension> = dimension_set
            .iter()
            .map(|(k, v)| Dimension::builder().name(k).value(v).build())
            .collect();
        let request = client
            .put_metric_alarm()
            .alarm_name(&name)
            .namespace("AWS/PrivateLinkEndpoints")
            .metric_name("PacketsDropped")
            .set_dimensions(Some(dimension_list))
            .statistic(Statistic::Sum)
            .period(60)
            .evaluation_periods(5)
            .set_datapoints_to_alarm(datapoints)
            .threshold(0.0)
            .comparison_operator(ComparisonOperator::GreaterThanThreshold)
            .treat_missing_data("notBreaching")
            .tags(Tag::builder().key("suite").value("acceptance").build());
        block_on(request.send()).expect("PutMetricAlarm");
    };
    put_by_hand(None);

    stack.gateway.clear_requests();
    stack.workspace.write("alarms.tf", &drops_alarm(""));
    let (run, errors) = failed_apply(&stack);
    let import_command = format!("terraform import plink_endpoint_alarm.RESOURCE_NAME {name}");
    assert_error_mentions(&run, &errors, &["Alarm already exists", &import_command]);
    assert!(
        stack.calls("PutMetricAlarm").is_empty(),
        "the existing alarm was overwritten"
    );

    stack.workspace.ok(&[
        "import",
        "-input=false",
        "-no-color",
        "plink_endpoint_alarm.drops",
        &name,
    ]);
    // Import leaves the outputs out of state, so only resources must be
    // unchanged; the apply then records the outputs.
    stack.workspace.assert_no_resource_changes();
    stack.apply_clean();

    // A console edit that sets datapoints_to_alarm to its default changes
    // nothing; one that sets another value is drift, put back by apply.
    put_by_hand(Some(5));
    stack.workspace.assert_plan_empty();
    put_by_hand(Some(3));
    let plan = stack.workspace.plan_with_changes();
    plan.assert_mentions("datapoints_to_alarm");
    stack.apply_clean();
    assert_eq!(alarm(&client, &name).datapoints_to_alarm(), Some(5));

    // Deleted outside Terraform: the next apply creates it again.
    cloudwatch::delete_alarms(&client, &[&name]);
    let plan = stack.workspace.plan_with_changes();
    plan.assert_mentions("1 to add, 0 to change, 0 to destroy");
    stack.apply_clean();
    alarm(&client, &name);
    destroy_all(&stack);
}

#[test]
fn bogus_metric_names_rejected_at_validate() {
    if support::skipped() {
        return;
    }
    let workspace = Workspace::empty();
    let write = |metric: &str, operator: &str| {
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
  region = "{REGION}"
}}

resource "plink_endpoint_alarm" "test" {{
  endpoint_id         = "vpce-0123456789abcdef0"
  metric              = "{metric}"
  threshold           = 0
  comparison_operator = "{operator}"
}}
"#
        );
        workspace.write("main.tf", &config);
    };
    write("PacketsDropped", "GreaterThanThreshold");
    workspace.init();

    for metric in METRICS {
        write(metric, "GreaterThanThreshold");
        workspace.ok(&["validate", "-no-color"]);
    }
    let cases = [
        (
            "EndpointConnectionError",
            "GreaterThanThreshold",
            vec![
                "Use PacketsDropped or RstPacketsReceived",
                "AWS/PrivateLink",
            ],
        ),
        (
            "packetsdropped",
            "GreaterThanThreshold",
            vec!["Use PacketsDropped", "case-sensitive"],
        ),
        (
            "NetworkTraffic",
            "GreaterThanThreshold",
            vec!["Use BytesProcessed"],
        ),
        (
            "PacketsDropped",
            ">",
            vec!["Write \"GreaterThanThreshold\""],
        ),
    ];
    for (metric, operator, expected) in cases {
        write(metric, operator);
        let run = workspace.run(&["validate", "-json", "-no-color"]);
        run.expect_exit(1);
        let report: serde_json::Value =
            serde_json::from_slice(&run.output.stdout).expect("terraform validate -json");
        let details: Vec<&str> = report["diagnostics"]
            .as_array()
            .expect("diagnostics")
            .iter()
            .filter_map(|d| d["detail"].as_str())
            .collect();
        for text in expected {
            assert!(
                details.iter().any(|detail| detail.contains(text)),
                "{metric}/{operator}: no diagnostic mentions {text:?}: {details:#?}"
            );
        }
    }
}
