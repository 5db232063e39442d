//! The `flow_logs` block of `plink_consumer_endpoint`: one VPC flow log per
//! network interface of the endpoint, kept in step when the interfaces
//! change and deleted before the endpoint.

use std::collections::BTreeSet;

use crate::aws::ec2::{self, FlowLog};
use crate::protocol::diagnostics::{AttributePath, Diagnostic};
use crate::protocol::schema::{Attribute, Block, NestedBlock};
use crate::protocol::value::{Type, Value};
use crate::provider::clients::AwsClients;

const DESTINATION_TYPES: [&str; 2] = ["cloud-watch-logs", "s3"];
const TRAFFIC_TYPES: [&str; 3] = ["ACCEPT", "REJECT", "ALL"];
/// The aggregation intervals VPC flow logs accept, in seconds.
const INTERVALS: [f64; 2] = [60.0, 600.0];

pub fn block() -> NestedBlock {
    let attributes = vec![
        Attribute::optional(
            "destination_type",
            Type::String,
            "`cloud-watch-logs` (default) or `s3`.",
        ),
        Attribute::required(
            "destination_arn",
            Type::String,
            "ARN of the CloudWatch Logs log group or S3 bucket the records go to.",
        ),
        Attribute::optional(
            "iam_role_arn",
            Type::String,
            "Role that may publish to CloudWatch Logs; required for `cloud-watch-logs`.",
        ),
        Attribute::optional(
            "traffic_type",
            Type::String,
            "`ACCEPT`, `REJECT` or `ALL` (default).",
        ),
        Attribute::optional(
            "max_aggregation_interval",
            Type::Number,
            "Seconds over which packets are aggregated into one record: 60 or 600 (default).",
        ),
    ];
    NestedBlock::single(
        "flow_logs",
        Block {
            attributes,
            description: "A VPC flow log on each of the endpoint's network interfaces.".into(),
            ..Block::default()
        },
    )
}

pub fn attribute() -> Attribute {
    Attribute::computed(
        "flow_log_ids",
        Type::list(Type::String),
        "The flow logs that exist as configured, one per network interface.",
    )
}

/// Checks the block without calling AWS.
pub fn validate(config: &Value, diagnostics: &mut Vec<Diagnostic>) {
    let block = config.get("flow_logs");
    if block.is_null() || block.contains_unknown() {
        return;
    }
    let at = |name: &str| AttributePath::root("flow_logs").attribute(name);
    let destination_type = block
        .get("destination_type")
        .as_str()
        .unwrap_or("cloud-watch-logs");
    if !DESTINATION_TYPES.contains(&destination_type) {
        diagnostics.push(
            Diagnostic::error(
                "Invalid flow_logs.destination_type",
                format!(
                    "{destination_type:?} is not one of: {}.",
                    DESTINATION_TYPES.join(", ")
                ),
            )
            .at(at("destination_type")),
        );
    }
    if destination_type == "cloud-watch-logs" && block.get("iam_role_arn").is_null() {
        diagnostics.push(
            Diagnostic::error(
                "Missing flow_logs.iam_role_arn",
                "Flow logs to CloudWatch Logs need a role that may publish to the log group. \
                 Set iam_role_arn, or send the records to S3 with destination_type = \"s3\".",
            )
            .at(at("iam_role_arn")),
        );
    }
    if let Some(traffic) = block.get("traffic_type").as_str() {
        if !TRAFFIC_TYPES.contains(&traffic) {
            diagnostics.push(
                Diagnostic::error(
                    "Invalid flow_logs.traffic_type",
                    format!("{traffic:?} is not one of: {}.", TRAFFIC_TYPES.join(", ")),
                )
                .at(at("traffic_type")),
            );
        }
    }
    if let Some(interval) = block.get("max_aggregation_interval").as_f64() {
        if !INTERVALS.contains(&interval) {
            diagnostics.push(
                Diagnostic::error(
                    "Invalid flow_logs.max_aggregation_interval",
                    format!("{interval} is not 60 or 600 seconds."),
                )
                .at(at("max_aggregation_interval")),
            );
        }
    }
}

/// The settings of a configured block; `None` without one.
pub fn settings(block: &Value) -> Option<FlowLog> {
    let destination_arn = block.get("destination_arn").as_str()?.to_string();
    Some(FlowLog {
        destination_type: block
            .get("destination_type")
            .as_str()
            .unwrap_or("cloud-watch-logs")
            .to_string(),
        destination_arn,
        iam_role_arn: block
            .get("iam_role_arn")
            .as_str()
            .unwrap_or_default()
            .to_string(),
        traffic_type: block
            .get("traffic_type")
            .as_str()
            .unwrap_or("ALL")
            .to_string(),
        max_aggregation_interval: Some(
            block
                .get("max_aggregation_interval")
                .as_f64()
                .unwrap_or(600.0) as i32,
        ),
        ..FlowLog::default()
    })
}

fn matches(actual: &FlowLog, wanted: &FlowLog) -> bool {
    let interval_matches = actual.max_aggregation_interval.is_none()
        || actual.max_aggregation_interval == wanted.max_aggregation_interval;
    actual
        .traffic_type
        .eq_ignore_ascii_case(&wanted.traffic_type)
        && actual.destination_type == wanted.destination_type
        && actual.destination_arn == wanted.destination_arn
        && actual.iam_role_arn == wanted.iam_role_arn
        && interval_matches
}

/// Returns the IDs, sorted, of the flow logs on `interface_ids` that match
/// `wanted`, plus those of `prior_ids` that still exist elsewhere: a flow
/// log on an interface the endpoint no longer has stays recorded, so that
/// the next apply deletes it. Without a block, only the latter.
pub async fn observe(
    clients: &AwsClients,
    wanted: Option<&FlowLog>,
    interface_ids: &[String],
    prior_ids: &[String],
) -> Result<Vec<String>, Diagnostic> {
    let read_error =
        |e: crate::aws::errors::AwsError| flow_log_error("reading the flow logs", &e.to_string());
    let mut ids: BTreeSet<String> = match wanted {
        Some(wanted) => ec2::find_flow_logs(&clients.ec2, interface_ids)
            .await
            .map_err(read_error)?
            .iter()
            .filter(|f| matches(f, wanted))
            .map(|f| f.id.clone())
            .collect(),
        None => BTreeSet::new(),
    };
    let elsewhere = ec2::find_flow_logs_by_id(&clients.ec2, prior_ids)
        .await
        .map_err(read_error)?;
    ids.extend(
        elsewhere
            .into_iter()
            .filter(|f| !interface_ids.contains(&f.interface_id))
            .map(|f| f.id),
    );
    Ok(ids.into_iter().collect())
}

/// Makes the flow logs match: deletes the `owned` ones that are no longer
/// wanted (or whose interface is gone), then creates one for each interface
/// that lacks a matching one. Returns the IDs that exist as configured.
pub async fn sync(
    clients: &AwsClients,
    wanted: Option<&FlowLog>,
    interface_ids: &[String],
    owned: &[String],
) -> Result<Vec<String>, Diagnostic> {
    let found = ec2::find_flow_logs(&clients.ec2, interface_ids)
        .await
        .map_err(|e| flow_log_error("reading the flow logs", &e.to_string()))?;
    let keep: BTreeSet<String> = match wanted {
        Some(wanted) => found
            .iter()
            .filter(|f| matches(f, wanted))
            .map(|f| f.id.clone())
            .collect(),
        None => BTreeSet::new(),
    };
    let stale: Vec<String> = owned
        .iter()
        .filter(|id| !keep.contains(*id))
        .cloned()
        .collect();
    ec2::delete_flow_logs(&clients.ec2, &stale)
        .await
        .map_err(|e| flow_log_error("deleting flow logs", &e.to_string()))?;

    let Some(wanted) = wanted else {
        return Ok(Vec::new());
    };
    let covered: BTreeSet<&str> = found
        .iter()
        .filter(|f| keep.contains(&f.id))
        .map(|f| f.interface_id.as_str())
        .collect();
    let missing: Vec<String> = interface_ids
        .iter()
        .filter(|id| !covered.contains(id.as_str()))
        .cloned()
        .collect();
    let created = ec2::create_flow_logs(&clients.ec2, &missing, wanted)
        .await
        .map_err(|e| flow_log_error("creating flow logs", &e.to_string()))?;
    let mut ids: Vec<String> = keep.into_iter().chain(created).collect();
    ids.sort();
    Ok(ids)
}

/// Deletes the flow logs in `ids`.
pub async fn delete(clients: &AwsClients, ids: &[String]) -> Result<(), Diagnostic> {
    ec2::delete_flow_logs(&clients.ec2, ids)
        .await
        .map_err(|e| flow_log_error("deleting flow logs", &e.to_string()))
}

fn flow_log_error(step: &str, error: &str) -> Diagnostic {
    Diagnostic::error(
        "Flow logs failed",
        format!(
            "{step}: {error}. Check flow_logs.destination_arn and iam_role_arn, and that the \
             credentials allow ec2:CreateFlowLogs, ec2:DescribeFlowLogs and \
             ec2:DeleteFlowLogs; then run apply again."
        ),
    )
    .at(AttributePath::root("flow_logs"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::values::object;

    #[test]
    fn validate_cases() {
        let block = |pairs: Vec<(&'static str, Value)>| object([("flow_logs", object(pairs))]);
        let arn = || Value::string("arn:aws:logs:us-east-1:123456789012:log-group:x");
        let cases = [
            (
                "s3 without role",
                block(vec![
                    ("destination_arn", Value::string("arn:aws:s3:::bucket")),
                    ("destination_type", Value::string("s3")),
                ]),
                0,
            ),
            (
                "logs without role",
                block(vec![("destination_arn", arn())]),
                1,
            ),
            (
                "bad interval",
                block(vec![
                    ("destination_arn", arn()),
                    ("iam_role_arn", Value::string("arn:aws:iam::1:role/r")),
                    ("max_aggregation_interval", Value::Number(30.0)),
                ]),
                1,
            ),
            (
                "bad traffic",
                block(vec![
                    ("destination_arn", arn()),
                    ("iam_role_arn", Value::string("arn:aws:iam::1:role/r")),
                    ("traffic_type", Value::string("SOME")),
                ]),
                1,
            ),
        ];
        for (name, config, errors) in cases {
            let mut diagnostics = Vec::new();
            validate(&config, &mut diagnostics);
            assert_eq!(diagnostics.len(), errors, "case {name}: {diagnostics:?}");
        }
    }

    #[test]
    fn settings_take_defaults() {
        let block = object([("destination_arn", Value::string("arn:x"))]);
        let wanted = settings(&block).expect("settings");
        assert_eq!(wanted.traffic_type, "ALL");
        assert_eq!(wanted.destination_type, "cloud-watch-logs");
        assert_eq!(wanted.max_aggregation_interval, Some(600));
        assert!(settings(&Value::Null).is_none());
    }
}
