//! The CloudWatch alarms of a `plink_consumer_endpoint`: its `alarm` blocks,
//! `recommended_alarms` and the computed `alarm_names`.
//!
//! Each `alarm` block takes the arguments of `plink_endpoint_alarm` except
//! `endpoint_id` and `tags`, and this module reuses that resource's
//! validation, defaults and dimension derivation, so that both resources
//! build the same alarm from the same arguments. What this module owns is
//! the set of alarms: which names the blocks stand for, which of them exist
//! as configured, and bringing CloudWatch in line with the blocks.
//!
//! `alarm_names` lists the alarms that exist with the settings their block
//! configures. An alarm deleted or changed outside Terraform drops out of it
//! on refresh, while the plan lists every alarm the blocks configure, so the
//! drift shows as an update that puts the alarm back.
//!
//! The endpoint lifecycle decides when these functions run: alarms are put
//! after the endpoint is created and checked, and deleted before it.

use std::collections::BTreeSet;

use super::endpoint_alarm;
use super::values::{object, strings};
use crate::aws::cloudwatch::{self, MetricAlarm};
use crate::aws::ec2::VpcEndpoint;
use crate::protocol::diagnostics::{AttributePath, Diagnostic, Step};
use crate::protocol::schema::{Attribute, Block, NestedBlock, Nesting};
use crate::protocol::value::{Type, Value};
use crate::provider::clients::AwsClients;

/// The metrics `recommended_alarms` watches. Both count events that a
/// healthy endpoint does not see at all, so any non-zero sum means trouble.
/// `PacketsDropped` counts packets the endpoint discarded.
/// `RstPacketsReceived` counts TCP resets from the service, which usually
/// mean that its targets are unhealthy or reject connections.
const RECOMMENDED_METRICS: [&str; 2] = ["PacketsDropped", "RstPacketsReceived"];

/// The period of the recommended alarms: one 5-minute period, so that a
/// single burst of drops or resets alarms without paging on every minute.
const RECOMMENDED_PERIOD: f64 = 300.0;

/// Returns the `alarm` block type.
pub(super) fn alarm_block() -> NestedBlock {
    let actions = |name: &str, state: &str| {
        Attribute::optional(
            name,
            Type::set(Type::String),
            &format!("ARNs of up to five actions to run when the alarm enters the {state} state."),
        )
    };
    let attributes = vec![
        Attribute::required(
            "metric",
            Type::String,
            "The metric of `AWS/PrivateLinkEndpoints` to watch: `ActiveConnections`, \
             `BytesProcessed`, `NewConnections`, `PacketsDropped` or `RstPacketsReceived`.",
        ),
        Attribute::optional(
            "statistic",
            Type::String,
            "`SampleCount`, `Average`, `Sum`, `Minimum` or `Maximum`. Defaults to `Maximum` \
             for `ActiveConnections` and to `Sum` for the other metrics.",
        ),
        Attribute::optional(
            "period",
            Type::Number,
            "Length of one evaluation period in seconds, 60 or a multiple of it. Defaults to 60.",
        ),
        Attribute::optional(
            "evaluation_periods",
            Type::Number,
            "How many recent periods the alarm evaluates. Defaults to 5.",
        ),
        Attribute::optional(
            "datapoints_to_alarm",
            Type::Number,
            "How many of the evaluated periods must breach for the alarm to fire. Defaults to \
             `evaluation_periods`.",
        ),
        Attribute::required(
            "threshold",
            Type::Number,
            "The value the statistic is compared with.",
        ),
        Attribute::required(
            "comparison_operator",
            Type::String,
            "`GreaterThanOrEqualToThreshold`, `GreaterThanThreshold`, `LessThanThreshold` or \
             `LessThanOrEqualToThreshold`.",
        ),
        Attribute::optional(
            "treat_missing_data",
            Type::String,
            "`breaching`, `notBreaching`, `ignore` or `missing`. Defaults to treating a \
             missing data point as zero, as `plink_endpoint_alarm` does.",
        ),
        Attribute::optional(
            "per_subnet",
            Type::Bool,
            "With `true`, one alarm per subnet of the endpoint, each with the `Subnet Id` \
             dimension and named `NAME-SUBNET_ID`. Defaults to `false`.",
        ),
        actions("alarm_actions", "ALARM"),
        actions("ok_actions", "OK"),
        actions("insufficient_data_actions", "INSUFFICIENT_DATA"),
        Attribute::optional(
            "name",
            Type::String,
            "Alarm name, unique in the account and region. Defaults to \
             `plink-ENDPOINT_ID-METRIC`, so two blocks on the same metric need names.",
        ),
        Attribute::optional(
            "description",
            Type::String,
            "Alarm description, up to 1024 characters.",
        ),
    ];
    NestedBlock {
        type_name: "alarm".to_string(),
        block: Block {
            attributes,
            blocks: Vec::new(),
            description: "A CloudWatch alarm on a metric PrivateLink publishes for this \
                          endpoint, with the same arguments as `plink_endpoint_alarm` except \
                          `endpoint_id` and `tags`. The alarms carry no tags."
                .to_string(),
            deprecated: false,
        },
        nesting: Nesting::List,
        min_items: 0,
        max_items: 0,
    }
}

/// Returns the top-level attributes this module adds.
pub(super) fn attributes() -> Vec<Attribute> {
    vec![
        Attribute::optional(
            "recommended_alarms",
            Type::Bool,
            "With `true`, adds two alarms named `plink-ENDPOINT_ID-recommended-METRIC`: \
             `PacketsDropped` and `RstPacketsReceived`, each firing when its sum over one \
             5-minute period is above 0. A healthy endpoint neither drops packets nor receives \
             TCP resets, so any count is worth a look, and the longer period keeps one burst \
             from firing every minute. They have no actions; add an `alarm` block to be \
             notified. Defaults to `false`.",
        ),
        Attribute::computed(
            "alarm_names",
            Type::list(Type::String),
            "Names of the alarms from `alarm` and `recommended_alarms` that exist with their \
             configured settings, sorted. An alarm deleted or changed outside Terraform drops \
             out, and the next apply puts it back.",
        ),
    ]
}

/// Checks each `alarm` block as `plink_endpoint_alarm` checks its
/// arguments, and that no two blocks share an alarm name.
pub(super) fn validate(config: &Value, diagnostics: &mut Vec<Diagnostic>) {
    let mut seen = BTreeSet::new();
    for (index, block) in config.get("alarm").elements().iter().enumerate() {
        for diagnostic in endpoint_alarm::validate(block) {
            diagnostics.push(in_block(diagnostic, index));
        }
        let name = match (block.get("name"), block.get("metric")) {
            (Value::String(name), _) => name.clone(),
            (Value::Null, Value::String(metric)) => format!("the default name for {metric}"),
            _ => continue,
        };
        let per_subnet = block.get("per_subnet").as_bool() == Some(true);
        if !seen.insert((name.clone(), per_subnet)) {
            let detail = format!(
                "Two alarm blocks would create alarms with {name}. Give one of them another \
                 name."
            );
            let diagnostic = Diagnostic::error("Duplicate alarm name", detail);
            diagnostics.push(in_block(diagnostic, index));
        }
    }
}

/// Moves a diagnostic about an attribute of one alarm into block `index`.
fn in_block(mut diagnostic: Diagnostic, index: usize) -> Diagnostic {
    let mut steps = vec![
        Step::Attribute("alarm".to_string()),
        Step::Index(index as i64),
    ];
    if let Some(AttributePath(inner)) = diagnostic.attribute.take() {
        steps.extend(inner);
    }
    diagnostic.at(AttributePath(steps))
}

/// Returns the alarm argument blocks of `state`: its `alarm` blocks, then
/// the recommended ones, each paired with the name it gets when its own
/// `name` is null.
fn blocks(state: &Value, endpoint_id: &str) -> Vec<(Value, String)> {
    let mut blocks: Vec<(Value, String)> = state
        .get("alarm")
        .elements()
        .iter()
        .map(|block| {
            let metric = block.get("metric").as_str().unwrap_or_default();
            (
                block.clone(),
                endpoint_alarm::default_name(endpoint_id, metric),
            )
        })
        .collect();
    if state.get("recommended_alarms").as_bool() == Some(true) {
        for metric in RECOMMENDED_METRICS {
            let block = object([
                ("metric", Value::string(metric)),
                ("threshold", Value::Number(0.0)),
                ("comparison_operator", Value::string("GreaterThanThreshold")),
                ("period", Value::Number(RECOMMENDED_PERIOD)),
                ("evaluation_periods", Value::Number(1.0)),
                (
                    "description",
                    Value::string(format!("{metric} above 0 on {endpoint_id}")),
                ),
            ]);
            let name = format!("plink-{endpoint_id}-recommended-{metric}");
            blocks.push((block, name));
        }
    }
    blocks
}

/// Returns the sorted names of the alarms `state` configures on endpoint
/// `endpoint_id` with `subnet_ids`, or `None` while a value they depend on
/// is unknown. An empty `endpoint_id` (no endpoint yet) has no alarms.
pub(super) fn expected_names(
    state: &Value,
    endpoint_id: &str,
    subnet_ids: &Value,
) -> Option<Vec<String>> {
    if endpoint_id.is_empty() {
        return Some(Vec::new());
    }
    let unknown = |name: &str| matches!(state.get(name), Value::Unknown);
    if unknown("recommended_alarms") || unknown("alarm") {
        return None;
    }
    let subnets = strings(subnet_ids);
    let mut names = Vec::new();
    for (block, default_name) in blocks(state, endpoint_id) {
        let per_subnet = match block.get("per_subnet") {
            Value::Null => false,
            Value::Bool(per_subnet) => *per_subnet,
            _ => return None,
        };
        if per_subnet && subnet_ids.contains_unknown() {
            return None;
        }
        let name = match block.get("name") {
            Value::Null if matches!(block.get("metric"), Value::Unknown) => return None,
            Value::Null => default_name,
            Value::String(name) => name.clone(),
            _ => return None,
        };
        names.extend(endpoint_alarm::alarm_names(&name, per_subnet, &subnets));
    }
    names.sort();
    Some(names)
}

/// Plans `alarm_names`: the names the planned blocks configure on the prior
/// endpoint, or unknown while they cannot be worked out.
pub(super) fn planned_names(planned: &Value, endpoint_id: Option<&str>) -> Value {
    let names = match endpoint_id {
        Some(id) if !id.is_empty() => expected_names(planned, id, planned.get("subnet_ids")),
        _ => None,
    };
    match names {
        Some(names) => Value::List(names.into_iter().map(Value::String).collect()),
        None => Value::Unknown,
    }
}

/// Builds the PutMetricAlarm requests for every alarm `state` configures on
/// `endpoint`, sorted by name.
pub(super) fn expected_alarms(
    state: &Value,
    endpoint: &VpcEndpoint,
) -> Result<Vec<MetricAlarm>, Diagnostic> {
    let mut alarms = Vec::new();
    for (index, (block, name)) in blocks(state, &endpoint.id).into_iter().enumerate() {
        let requests = endpoint_alarm::alarm_requests(&block, &name, endpoint)
            .map_err(|diagnostic| in_block(diagnostic, index))?;
        alarms.extend(requests);
    }
    alarms.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(pair) = alarms.windows(2).find(|pair| pair[0].name == pair[1].name) {
        let detail = format!(
            "Two alarms of VPC endpoint {} would both be named {}. Give one alarm block another \
             name.",
            endpoint.id, pair[0].name
        );
        return Err(
            Diagnostic::error("Duplicate alarm name", detail).at(AttributePath::root("alarm"))
        );
    }
    Ok(alarms)
}

/// Returns the names of the `expected` alarms that exist with all of their
/// settings.
pub(super) async fn matching_names(
    clients: &AwsClients,
    expected: &[MetricAlarm],
) -> Result<Vec<String>, Diagnostic> {
    let names: Vec<String> = expected.iter().map(|a| a.name.clone()).collect();
    let existing = cloudwatch::find_alarms(&clients.cloudwatch, &names)
        .await
        .map_err(|error| {
            let detail = format!(
                "reading alarms {}: {error}. Check that the credentials allow \
                 cloudwatch:DescribeAlarms.",
                names.join(", ")
            );
            Diagnostic::error("Reading endpoint alarms failed", detail)
        })?;
    let matching = expected
        .iter()
        .filter(|expected| {
            existing.iter().any(|actual| {
                actual.name == expected.name && endpoint_alarm::same_alarm(actual, expected)
            })
        })
        .map(|alarm| alarm.name.clone())
        .collect();
    Ok(matching)
}

/// Puts each of the `expected` alarms that is missing or differs, then
/// deletes the `owned` alarms that are not expected. `owned` lists the names
/// this resource managed before. An expected name outside it that an alarm
/// already uses is an error, because PutMetricAlarm would silently take that
/// alarm over. Returns the names of the expected alarms that are now as
/// configured, and the errors.
pub(super) async fn sync(
    clients: &AwsClients,
    expected: &[MetricAlarm],
    owned: &[String],
) -> (Vec<String>, Vec<Diagnostic>) {
    let names: Vec<String> = expected.iter().map(|a| a.name.clone()).collect();
    let existing = match cloudwatch::find_alarms(&clients.cloudwatch, &names).await {
        Ok(existing) => existing,
        Err(error) => {
            let detail = format!(
                "reading alarms {} before putting them: {error}. Nothing was changed. Check \
                 that the credentials allow cloudwatch:DescribeAlarms.",
                names.join(", ")
            );
            return (
                Vec::new(),
                vec![Diagnostic::error("Updating endpoint alarms failed", detail)],
            );
        }
    };

    let mut done = Vec::new();
    let mut diagnostics = Vec::new();
    for expected in expected {
        let actual = existing.iter().find(|a| a.name == expected.name);
        match actual {
            Some(_) if !owned.contains(&expected.name) => {
                diagnostics.push(name_in_use(&expected.name));
                continue;
            }
            Some(actual) if endpoint_alarm::same_alarm(actual, expected) => {
                done.push(expected.name.clone());
                continue;
            }
            _ => {}
        }
        let no_tags = Default::default();
        match cloudwatch::put_metric_alarm(&clients.cloudwatch, expected, &no_tags).await {
            Ok(()) => {
                tracing::info!(alarm_name = expected.name, "put CloudWatch alarm");
                done.push(expected.name.clone());
            }
            Err(error) => {
                let detail = format!(
                    "putting alarm {}: {error}. Check the alarm block's arguments and that the \
                     credentials allow cloudwatch:PutMetricAlarm, then apply again.",
                    expected.name
                );
                diagnostics.push(
                    Diagnostic::error("Putting endpoint alarm failed", detail)
                        .at(AttributePath::root("alarm")),
                );
            }
        }
    }

    let stale: Vec<String> = owned
        .iter()
        .filter(|name| !names.contains(name))
        .cloned()
        .collect();
    if let Err(diagnostic) = delete(clients, &stale).await {
        diagnostics.push(diagnostic);
    }
    done.sort();
    (done, diagnostics)
}

fn name_in_use(name: &str) -> Diagnostic {
    let detail = format!(
        "A CloudWatch alarm named {name} already exists and this endpoint does not manage it; \
         putting the alarm would overwrite it. Delete that alarm, or give the alarm block \
         another name."
    );
    Diagnostic::error("Alarm name already in use", detail).at(AttributePath::root("alarm"))
}

/// Deletes the named alarms; missing ones count as deleted.
pub(super) async fn delete(clients: &AwsClients, names: &[String]) -> Result<(), Diagnostic> {
    if names.is_empty() {
        return Ok(());
    }
    cloudwatch::delete_alarms(&clients.cloudwatch, names)
        .await
        .map_err(|error| {
            let detail = format!(
                "deleting alarms {}: {error}. Check that the credentials allow \
                 cloudwatch:DeleteAlarms, then run the command again.",
                names.join(", ")
            );
            Diagnostic::error("Deleting endpoint alarms failed", detail)
        })?;
    tracing::info!(?names, "deleted CloudWatch alarms");
    Ok(())
}

/// Returns every alarm name a state may own: those it recorded in
/// `alarm_names` and those its blocks configure, so that an alarm that
/// drifted out of `alarm_names` is still cleaned up.
pub(super) fn owned_names(state: &Value) -> Vec<String> {
    let endpoint_id = state.get("endpoint_id").as_str().unwrap_or_default();
    let mut names: BTreeSet<String> = strings(state.get("alarm_names")).into_iter().collect();
    let expected = expected_names(state, endpoint_id, state.get("subnet_ids"));
    names.extend(expected.unwrap_or_default());
    names.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(pairs: &[(&str, Value)]) -> Value {
        object(pairs.iter().map(|(k, v)| (*k, v.clone())))
    }

    fn state(alarms: Vec<Value>, recommended: Value) -> Value {
        object([
            ("alarm", Value::List(alarms)),
            ("recommended_alarms", recommended),
            ("endpoint_id", Value::string("vpce-1")),
            (
                "subnet_ids",
                Value::Set(vec![Value::string("subnet-b"), Value::string("subnet-a")]),
            ),
        ])
    }

    #[test]
    fn expected_names_cases() {
        let drops = block(&[("metric", Value::string("PacketsDropped"))]);
        let named = block(&[
            ("metric", Value::string("NewConnections")),
            ("name", Value::string("conn")),
            ("per_subnet", Value::Bool(true)),
        ]);
        let cases = [
            ("none", state(vec![], Value::Null), Some(vec![])),
            (
                "default name",
                state(vec![drops.clone()], Value::Bool(false)),
                Some(vec!["plink-vpce-1-PacketsDropped"]),
            ),
            (
                "per subnet",
                state(vec![named], Value::Null),
                Some(vec!["conn-subnet-a", "conn-subnet-b"]),
            ),
            (
                "recommended",
                state(vec![drops], Value::Bool(true)),
                Some(vec![
                    "plink-vpce-1-PacketsDropped",
                    "plink-vpce-1-recommended-PacketsDropped",
                    "plink-vpce-1-recommended-RstPacketsReceived",
                ]),
            ),
            (
                "unknown metric",
                state(vec![block(&[("metric", Value::Unknown)])], Value::Null),
                None,
            ),
            ("unknown recommended", state(vec![], Value::Unknown), None),
        ];
        for (case, state, expected) in cases {
            let expected =
                expected.map(|names| names.iter().map(|n| n.to_string()).collect::<Vec<_>>());
            let actual = expected_names(&state, "vpce-1", state.get("subnet_ids"));
            assert_eq!(actual, expected, "{case}");
        }
    }

    #[test]
    fn validate_paths_into_block() {
        let config = object([(
            "alarm",
            Value::List(vec![
                block(&[("metric", Value::string("PacketsDropped"))]),
                block(&[
                    ("metric", Value::string("PacketsDropped")),
                    ("period", Value::Number(61.0)),
                ]),
            ]),
        )]);
        let mut diagnostics = Vec::new();
        validate(&config, &mut diagnostics);
        let paths: Vec<String> = diagnostics
            .iter()
            .map(|d| d.attribute.clone().unwrap_or_default().to_string())
            .collect();
        assert!(paths.contains(&"alarm[1].period".to_string()), "{paths:?}");
        assert!(paths.contains(&"alarm[1]".to_string()), "{paths:?}");
        assert_eq!(paths.len(), 2, "{diagnostics:?}");
    }

    #[test]
    fn expected_alarms_use_full_dimensions() {
        let endpoint = VpcEndpoint {
            id: "vpce-1".to_string(),
            vpc_id: "vpc-1".to_string(),
            service_name: "com.example.svc".to_string(),
            subnet_ids: vec!["subnet-a".to_string()],
            ..VpcEndpoint::default()
        };
        let state = state(vec![], Value::Bool(true));
        let alarms = expected_alarms(&state, &endpoint).expect("alarms");
        assert_eq!(alarms.len(), 2);
        let drops = &alarms[0];
        assert_eq!(drops.name, "plink-vpce-1-recommended-PacketsDropped");
        assert_eq!(drops.statistic, "Sum");
        assert_eq!(drops.period, 300);
        assert_eq!(drops.evaluation_periods, 1);
        assert_eq!(drops.treat_missing_data.as_deref(), Some("notBreaching"));
        assert_eq!(drops.dimensions.len(), 4, "{:?}", drops.dimensions);
        assert_eq!(
            drops.dimensions.get("VPC Endpoint Id").map(String::as_str),
            Some("vpce-1")
        );
    }
}
