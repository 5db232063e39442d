//! `plink_endpoint_alarm`: CloudWatch alarms on the metrics AWS PrivateLink
//! publishes for an interface VPC endpoint, in namespace
//! `AWS/PrivateLinkEndpoints`.
//!
//! The file follows the lifecycle: schema, validate, plan, create, read,
//! update, delete, import, upgrade, then conversions between Terraform values
//! and the typed model.
//!
//! Facts the resource rests on:
//! - PrivateLink publishes five endpoint metrics, once a minute, and only for
//!   minutes in which the endpoint carried traffic. A missing data point
//!   therefore means no traffic.
//! - An alarm receives data only when its dimensions are one complete set
//!   that PrivateLink publishes: `Endpoint Type` (`Interface`),
//!   `Service Name`, `VPC Endpoint Id` and `VPC Id`, optionally with
//!   `Subnet Id`. CloudWatch accepts any other set without complaint, and the
//!   alarm then never receives a data point. So the dimensions are derived
//!   from the endpoint with DescribeVpcEndpoints and never typed by the user.
//! - PutMetricAlarm creates an alarm or silently overwrites the one with the
//!   same name. Create and update look the names up first and reject one
//!   that is already in use.
//! - One resource manages one alarm, or with `per_subnet` one alarm per
//!   subnet of the endpoint, named `NAME-SUBNET_ID`. `alarm_names` lists the
//!   alarms that exist, so a missing one shows as drift.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use async_trait::async_trait;

use super::values::{object, set_attribute, string_entries, string_map, string_set, strings};
use crate::aws::cloudwatch::{self, MetricAlarm};
use crate::aws::ec2::{self, VpcEndpoint};
use crate::aws::errors::AwsError;
use crate::aws::wait::{self, Poll, WaitError};
use crate::protocol::diagnostics::{AttributePath, Diagnostic};
use crate::protocol::schema::{Attribute, Block, Schema};
use crate::protocol::service::{
    ApplyRequest, ApplyResponse, ImportResponse, ImportedResource, PlanRequest, PlanResponse,
    ReadRequest, ReadResponse,
};
use crate::protocol::value::{Type, Value};
use crate::provider::clients::AwsClients;
use crate::provider::{Context, Resource};

pub const TYPE_NAME: &str = "plink_endpoint_alarm";

const SCHEMA_VERSION: i64 = 0;

/// The CloudWatch namespace of the metrics PrivateLink publishes for
/// interface and Gateway Load Balancer endpoints.
pub const NAMESPACE: &str = "AWS/PrivateLinkEndpoints";

const ENDPOINT_TYPE_DIMENSION: &str = "Endpoint Type";
const SERVICE_NAME_DIMENSION: &str = "Service Name";
const ENDPOINT_ID_DIMENSION: &str = "VPC Endpoint Id";
const VPC_ID_DIMENSION: &str = "VPC Id";
const SUBNET_ID_DIMENSION: &str = "Subnet Id";
/// The `Endpoint Type` dimension value, and the endpoint type, of interface
/// endpoints.
const INTERFACE: &str = "Interface";

/// One metric of [`NAMESPACE`] with the statistic an alarm on it defaults to.
struct MetricSpec {
    name: &'static str,
    default_statistic: &'static str,
    /// The quantity the metric counts, for messages.
    meaning: &'static str,
}

/// Every endpoint metric PrivateLink publishes. `ActiveConnections` is a
/// level sampled through the minute, so it defaults to `Maximum`, which keeps
/// a peak that `Average` would flatten. The other four are counts, which add
/// up over a period, so they default to `Sum`.
const METRICS: [MetricSpec; 5] = [
    MetricSpec {
        name: "ActiveConnections",
        default_statistic: "Maximum",
        meaning: "connections open through the endpoint at the same time",
    },
    MetricSpec {
        name: "BytesProcessed",
        default_statistic: "Sum",
        meaning: "bytes exchanged with the service, in both directions",
    },
    MetricSpec {
        name: "NewConnections",
        default_statistic: "Sum",
        meaning: "connections opened through the endpoint",
    },
    MetricSpec {
        name: "PacketsDropped",
        default_statistic: "Sum",
        meaning: "packets the endpoint dropped",
    },
    MetricSpec {
        name: "RstPacketsReceived",
        default_statistic: "Sum",
        meaning: "TCP reset (RST) packets the endpoint received",
    },
];

const STATISTICS: [&str; 5] = ["SampleCount", "Average", "Sum", "Minimum", "Maximum"];

/// The operators that compare with a static threshold.
const COMPARISON_OPERATORS: [&str; 4] = [
    "GreaterThanOrEqualToThreshold",
    "GreaterThanThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
];

/// Operators CloudWatch accepts only for an anomaly detection band, which
/// this resource does not create.
const BAND_OPERATORS: [&str; 3] = [
    "LessThanLowerOrGreaterThanUpperThreshold",
    "LessThanLowerThreshold",
    "GreaterThanUpperThreshold",
];

const TREAT_MISSING_DATA: [&str; 4] = ["breaching", "notBreaching", "ignore", "missing"];

/// CloudWatch's treatment of missing data in an alarm that never set it.
const CLOUDWATCH_TREAT_MISSING_DATA: &str = "missing";

const DEFAULT_PERIOD: i32 = 60;
const DEFAULT_EVALUATION_PERIODS: i32 = 5;

/// PutMetricAlarm limits: an alarm name has 1 to 255 characters, a
/// description at most 1024, and each action list at most 5 ARNs.
const MAX_NAME_CHARS: usize = 255;
const MAX_DESCRIPTION_CHARS: usize = 1024;
const MAX_ACTIONS: usize = 5;
/// Characters a per-subnet alarm adds to `name`: `-subnet-` and 17 hex
/// digits.
const SUBNET_SUFFIX_CHARS: usize = 25;

/// CloudWatch limits `period * evaluation_periods` to one day for periods
/// shorter than an hour, and to seven days otherwise.
const ONE_HOUR: i64 = 3_600;
const ONE_DAY: i64 = 86_400;
const SEVEN_DAYS: i64 = 7 * ONE_DAY;

/// How long a new alarm may be missing from DescribeAlarms. CloudWatch
/// normally returns it at once, so this is a safety margin, not a measured
/// delay.
const NOT_FOUND_GRACE: Duration = Duration::from_secs(60);

const ACTION_ATTRIBUTES: [&str; 3] = ["alarm_actions", "ok_actions", "insufficient_data_actions"];

pub struct EndpointAlarm;

/// The arguments of the resource, read from a planned or prior state.
#[derive(Clone, Debug, Default, PartialEq)]
struct Arguments {
    endpoint_id: String,
    metric: String,
    statistic: String,
    period: i32,
    evaluation_periods: i32,
    datapoints_to_alarm: i32,
    threshold: f64,
    comparison_operator: String,
    treat_missing_data: String,
    per_subnet: bool,
    /// `None` when the configuration leaves the list null.
    alarm_actions: Option<Vec<String>>,
    ok_actions: Option<Vec<String>>,
    insufficient_data_actions: Option<Vec<String>>,
    name: String,
    description: Option<String>,
    /// `None` when the configuration leaves `tags` null. Terraform
    /// distinguishes null from an empty map and requires the state to keep
    /// the configured one.
    tags: Option<BTreeMap<String, String>>,
}

/// One alarm the resource manages: its name and dimensions.
#[derive(Clone, Debug, PartialEq)]
struct Target {
    name: String,
    dimensions: BTreeMap<String, String>,
}

/// Everything the state records, all values known.
#[derive(Clone, Debug, Default)]
struct Model {
    arguments: Arguments,
    /// The alarms that exist, sorted by name.
    alarms: Vec<MetricAlarm>,
    /// The namespace the alarms use; [`NAMESPACE`] unless one drifted.
    namespace: String,
    /// Every tag on the alarms, the provider's default tags included.
    tags_all: BTreeMap<String, String>,
}

#[async_trait]
impl Resource for EndpointAlarm {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema()
    }

    fn validate(&self, config: &Value) -> Vec<Diagnostic> {
        validate(config)
    }

    async fn plan(&self, context: &Context, request: PlanRequest) -> PlanResponse {
        plan(context, request).await
    }

    async fn apply(&self, context: &Context, request: ApplyRequest) -> ApplyResponse {
        let clients = match context.clients() {
            Ok(clients) => clients,
            Err(diagnostic) => return failed(request.prior_state, diagnostic),
        };
        if request.planned_state.is_null() {
            delete(context, clients, request.prior_state).await
        } else if request.prior_state.is_null() {
            create(context, clients, &request.planned_state).await
        } else {
            update(
                context,
                clients,
                request.prior_state,
                &request.planned_state,
            )
            .await
        }
    }

    async fn read(&self, context: &Context, request: ReadRequest) -> ReadResponse {
        let result = match context.clients() {
            Ok(clients) => read(clients, &request.current_state).await,
            Err(diagnostic) => Err(diagnostic),
        };
        match result {
            Ok(new_state) => ReadResponse {
                new_state,
                private: request.private,
                diagnostics: Vec::new(),
            },
            Err(diagnostic) => ReadResponse {
                new_state: request.current_state,
                private: request.private,
                diagnostics: vec![diagnostic],
            },
        }
    }

    async fn import(&self, context: &Context, id: &str) -> ImportResponse {
        let result = match context.clients() {
            Ok(clients) => import(clients, id).await,
            Err(diagnostic) => Err(diagnostic),
        };
        match result {
            Ok(state) => ImportResponse {
                imported: vec![ImportedResource {
                    type_name: TYPE_NAME.to_string(),
                    state,
                    private: Vec::new(),
                }],
                diagnostics: Vec::new(),
            },
            Err(diagnostic) => ImportResponse {
                imported: Vec::new(),
                diagnostics: vec![diagnostic],
            },
        }
    }

    fn upgrade(&self, version: i64, raw_state: serde_json::Value) -> (Value, Vec<Diagnostic>) {
        upgrade(version, &raw_state)
    }
}

// ---------------------------------------------------------------- schema

fn schema() -> Schema {
    let actions = |name: &str, state: &str| {
        Attribute::optional(
            name,
            Type::set(Type::String),
            &format!(
                "ARNs of up to five actions, such as SNS topics, to run when an alarm enters \
                 the {state} state."
            ),
        )
    };
    let attributes = vec![
        Attribute::computed("id", Type::String, "The alarm name, same as `name`."),
        Attribute::required(
            "endpoint_id",
            Type::String,
            "The interface VPC endpoint (`vpce-...`) to watch, such as \
             `plink_consumer_endpoint.x.endpoint_id`. The alarm's dimensions come from it: its \
             service name, VPC and, with `per_subnet`, its subnets. Changing it replaces the \
             alarms.",
        ),
        Attribute::required(
            "metric",
            Type::String,
            "The metric of `AWS/PrivateLinkEndpoints` to watch: `ActiveConnections`, \
             `BytesProcessed`, `NewConnections`, `PacketsDropped` or `RstPacketsReceived`.",
        ),
        Attribute::optional_computed(
            "statistic",
            Type::String,
            "`SampleCount`, `Average`, `Sum`, `Minimum` or `Maximum`. Defaults to `Maximum` \
             for `ActiveConnections`, a level whose peak an average would hide, and to `Sum` \
             for the other metrics, which are counts.",
        ),
        Attribute::optional_computed(
            "period",
            Type::Number,
            "Length of one evaluation period in seconds: 60 or a multiple of it, because \
             PrivateLink publishes one data point per minute. Defaults to 60.",
        ),
        Attribute::optional_computed(
            "evaluation_periods",
            Type::Number,
            "How many recent periods the alarm evaluates. Defaults to 5.",
        ),
        Attribute::optional_computed(
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
        Attribute::optional_computed(
            "treat_missing_data",
            Type::String,
            "`breaching`, `notBreaching`, `ignore` or `missing`. PrivateLink publishes no data \
             point for a minute without traffic, so the default treats a missing point as \
             zero: `breaching` when zero breaches the threshold (such as `NewConnections` \
             below 1), `notBreaching` otherwise (such as `PacketsDropped` above 0).",
        ),
        Attribute::optional_computed(
            "per_subnet",
            Type::Bool,
            "With `true`, one alarm per subnet of the endpoint, each with the `Subnet Id` \
             dimension and named `NAME-SUBNET_ID`. The alarms follow the endpoint's subnets: \
             after a change to them, the next plan adds and removes alarms. Defaults to \
             `false`: one alarm on the whole endpoint.",
        ),
        actions("alarm_actions", "ALARM"),
        actions("ok_actions", "OK"),
        actions("insufficient_data_actions", "INSUFFICIENT_DATA"),
        Attribute::optional_computed(
            "name",
            Type::String,
            "Alarm name, unique in the account and region. Defaults to \
             `plink-ENDPOINT_ID-METRIC`. Changing it replaces the alarms.",
        ),
        Attribute::optional(
            "description",
            Type::String,
            "Alarm description, up to 1024 characters.",
        ),
        Attribute::optional("tags", Type::map(Type::String), "Tags for the alarms."),
        Attribute::computed(
            "tags_all",
            Type::map(Type::String),
            "All tags on the alarms, including the provider's `default_tags`.",
        ),
        Attribute::computed(
            "alarm_names",
            Type::list(Type::String),
            "Names of the alarms that exist, sorted.",
        ),
        Attribute::computed(
            "alarm_arns",
            Type::list(Type::String),
            "ARNs of the alarms, in the order of `alarm_names`.",
        ),
        Attribute::computed(
            "namespace",
            Type::String,
            "The CloudWatch namespace of the metric, `AWS/PrivateLinkEndpoints`.",
        ),
        Attribute::computed(
            "dimensions",
            Type::list(Type::map(Type::String)),
            "The dimensions of each alarm, in the order of `alarm_names`.",
        ),
    ];
    Schema {
        version: SCHEMA_VERSION,
        block: Block {
            attributes,
            blocks: Vec::new(),
            description: "A CloudWatch alarm on a metric AWS PrivateLink publishes for an \
                          interface VPC endpoint, with the complete set of dimensions that \
                          metric needs to receive data."
                .to_string(),
            deprecated: false,
        },
    }
}

fn value_type() -> Type {
    schema().value_type()
}

// ---------------------------------------------------------------- validate

/// Checks one alarm's arguments. `plink_consumer_endpoint` runs it on each
/// of its `alarm` blocks too, which have no `endpoint_id` or `tags`.
pub(crate) fn validate(config: &Value) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    if let Some(id) = config.get("endpoint_id").as_str() {
        if !id.starts_with("vpce-") {
            diagnostics.push(error_at(
                "Invalid endpoint ID",
                format!(
                    "endpoint_id = {id:?} is not a VPC endpoint ID (vpce-...). Use the \
                     endpoint_id attribute of a plink_consumer_endpoint."
                ),
                "endpoint_id",
            ));
        }
    }

    if let Some(metric) = config.get("metric").as_str() {
        if metric_spec(metric).is_none() {
            diagnostics.push(unknown_metric(metric));
        }
    }
    if let Some(statistic) = config.get("statistic").as_str() {
        diagnostics.extend(validate_statistic(statistic));
    }
    validate_timing(config, &mut diagnostics);

    if let Some(operator) = config.get("comparison_operator").as_str() {
        diagnostics.extend(validate_comparison_operator(operator));
    }
    if let Some(treatment) = config.get("treat_missing_data").as_str() {
        diagnostics.extend(validate_choice(
            "treat_missing_data",
            treatment,
            &TREAT_MISSING_DATA,
        ));
    }

    for name in ACTION_ATTRIBUTES {
        validate_actions(name, config.get(name), &mut diagnostics);
    }
    validate_name(config, &mut diagnostics);
    if let Some(description) = config.get("description").as_str() {
        let length = description.chars().count();
        if length > MAX_DESCRIPTION_CHARS {
            diagnostics.push(error_at(
                "Description too long",
                format!(
                    "description has {length} characters; CloudWatch allows at most \
                     {MAX_DESCRIPTION_CHARS}. Shorten it."
                ),
                "description",
            ));
        }
    }
    validate_tags(config.get("tags"), &mut diagnostics);
    diagnostics
}

fn metric_spec(name: &str) -> Option<&'static MetricSpec> {
    METRICS.iter().find(|spec| spec.name == name)
}

fn metric_names() -> String {
    let names: Vec<&str> = METRICS.iter().map(|spec| spec.name).collect();
    names.join(", ")
}

/// Builds the error for a metric PrivateLink does not publish, naming the
/// real metric closest in meaning when there is one.
fn unknown_metric(metric: &str) -> Diagnostic {
    let advice = match suggest_metric(metric) {
        Some(suggestion) => format!(
            "Use {}. {}",
            suggestion.metrics.join(" or "),
            suggestion.reason
        ),
        None => {
            let meanings: Vec<String> = METRICS
                .iter()
                .map(|spec| format!("{} ({})", spec.name, spec.meaning))
                .collect();
            format!("Pick the one that fits: {}.", meanings.join(", "))
        }
    };
    error_at(
        "Unknown PrivateLink endpoint metric",
        format!(
            "metric = {metric:?} is not a metric of {NAMESPACE}, so an alarm on it would never \
             receive a data point and never fire. {advice} The metrics PrivateLink publishes \
             for an interface endpoint are: {}.",
            metric_names()
        ),
        "metric",
    )
}

/// Real metrics to use in place of a name PrivateLink does not publish, and
/// why.
#[derive(Debug, PartialEq)]
struct MetricSuggestion {
    metrics: Vec<&'static str>,
    reason: String,
}

/// Finds the real metrics closest in meaning to `name`: a case-insensitive
/// match first, then words that show what the name is about, then the
/// closest spelling. Returns `None` when nothing is close.
fn suggest_metric(name: &str) -> Option<MetricSuggestion> {
    let suggest = |metrics: &[&'static str], reason: &str| {
        Some(MetricSuggestion {
            metrics: metrics.to_vec(),
            reason: reason.to_string(),
        })
    };
    if let Some(spec) = METRICS.iter().find(|s| s.name.eq_ignore_ascii_case(name)) {
        return suggest(&[spec.name], "Metric names are case-sensitive.");
    }
    let words: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase();
    let mentions = |parts: &[&str]| parts.iter().any(|part| words.contains(part));

    if words.contains("endpointconnectionerror") {
        return suggest(
            &["PacketsDropped", "RstPacketsReceived"],
            "Widely copied guides name EndpointConnectionError in namespace AWS/PrivateLink, \
             but CloudWatch has neither. A connection that fails through an endpoint shows up \
             as packets the endpoint dropped (PacketsDropped) or as TCP resets from the \
             service's side (RstPacketsReceived).",
        );
    }
    if mentions(&["error", "fail", "refus", "reject", "timeout", "unhealthy"]) {
        return suggest(
            &["PacketsDropped", "RstPacketsReceived"],
            "PrivateLink publishes no error or failure metric. A connection that fails \
             through an endpoint shows up as packets the endpoint dropped (PacketsDropped) or \
             as TCP resets from the service's side (RstPacketsReceived).",
        );
    }
    if mentions(&["rst", "reset"]) {
        return suggest(
            &["RstPacketsReceived"],
            "It counts the TCP reset (RST) packets the endpoint received.",
        );
    }
    if mentions(&["drop", "discard", "lost", "loss"]) {
        return suggest(
            &["PacketsDropped"],
            "It counts the packets the endpoint dropped.",
        );
    }
    if mentions(&[
        "byte",
        "traffic",
        "throughput",
        "bandwidth",
        "processed",
        "data",
        "network",
    ]) {
        return suggest(
            &["BytesProcessed"],
            "It counts the bytes exchanged with the service, in both directions.",
        );
    }
    if mentions(&["active", "concurrent", "current", "open", "established"]) {
        return suggest(
            &["ActiveConnections"],
            "It counts the connections open through the endpoint at the same time.",
        );
    }
    if mentions(&["new", "request", "attempt", "session"]) {
        return suggest(
            &["NewConnections"],
            "It counts the connections opened through the endpoint.",
        );
    }
    if mentions(&["connection"]) {
        return suggest(
            &["ActiveConnections", "NewConnections"],
            "ActiveConnections counts the connections open at the same time, NewConnections \
             the connections opened in each period.",
        );
    }
    if mentions(&["packet"]) {
        return suggest(
            &["PacketsDropped", "RstPacketsReceived"],
            "These are the only packet counts PrivateLink publishes for an endpoint.",
        );
    }
    closest_spelling(name, METRICS.map(|spec| spec.name).as_slice())
        .and_then(|metric| suggest(&[metric], "It is the closest spelling."))
}

fn validate_statistic(statistic: &str) -> Option<Diagnostic> {
    if STATISTICS.contains(&statistic) {
        return None;
    }
    let is_extended = statistic.contains('(')
        || statistic.eq_ignore_ascii_case("IQM")
        || ["p", "tm", "wm", "tc", "ts"].iter().any(|prefix| {
            statistic
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
        });
    if is_extended {
        return Some(error_at(
            "Extended statistic not supported",
            format!(
                "statistic = {statistic:?} is a percentile or another extended statistic, \
                 which plink_endpoint_alarm does not support. Use one of: {}; Maximum is \
                 closest to a high percentile.",
                STATISTICS.join(", ")
            ),
            "statistic",
        ));
    }
    validate_choice("statistic", statistic, &STATISTICS)
}

fn validate_comparison_operator(operator: &str) -> Option<Diagnostic> {
    if BAND_OPERATORS.contains(&operator) {
        return Some(error_at(
            "Invalid comparison_operator",
            format!(
                "comparison_operator = {operator:?} compares with an anomaly detection band, \
                 which plink_endpoint_alarm does not create; it compares with a static \
                 threshold. Use one of: {}.",
                COMPARISON_OPERATORS.join(", ")
            ),
            "comparison_operator",
        ));
    }
    let symbol = match operator.trim() {
        ">" => Some("GreaterThanThreshold"),
        ">=" => Some("GreaterThanOrEqualToThreshold"),
        "<" => Some("LessThanThreshold"),
        "<=" => Some("LessThanOrEqualToThreshold"),
        _ => None,
    };
    if let Some(name) = symbol {
        return Some(error_at(
            "Invalid comparison_operator",
            format!(
                "comparison_operator = {operator:?} is not a CloudWatch operator name. Write \
                 {name:?}."
            ),
            "comparison_operator",
        ));
    }
    validate_choice("comparison_operator", operator, &COMPARISON_OPERATORS)
}

/// Checks that `value` is one of `choices`, suggesting the closest one.
fn validate_choice(attribute: &str, value: &str, choices: &[&'static str]) -> Option<Diagnostic> {
    if choices.contains(&value) {
        return None;
    }
    let hint = match closest_spelling(value, choices) {
        Some(choice) => format!(" Did you mean {choice:?}?"),
        None => String::new(),
    };
    Some(error_at(
        &format!("Invalid {attribute}"),
        format!(
            "{attribute} = {value:?} is not one of: {}.{hint}",
            choices.join(", ")
        ),
        attribute,
    ))
}

/// Returns the choice equal to `text` but for case, or else the one within
/// a third of its length in edit distance.
fn closest_spelling(text: &str, choices: &[&'static str]) -> Option<&'static str> {
    if let Some(choice) = choices.iter().find(|c| c.eq_ignore_ascii_case(text)) {
        return Some(choice);
    }
    let text = text.to_ascii_lowercase();
    choices
        .iter()
        .map(|choice| (edit_distance(&text, &choice.to_ascii_lowercase()), *choice))
        .filter(|(distance, choice)| *distance <= choice.len() / 3)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, choice)| choice)
}

/// Computes the Levenshtein distance between two strings, in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            let deletion = previous[j + 1] + 1;
            let insertion = current[j] + 1;
            current.push(substitution.min(deletion).min(insertion));
        }
        previous = current;
    }
    previous[b.len()]
}

/// Checks `period`, `evaluation_periods` and `datapoints_to_alarm` alone and
/// together.
fn validate_timing(config: &Value, diagnostics: &mut Vec<Diagnostic>) {
    let whole = |name: &str, diagnostics: &mut Vec<Diagnostic>| -> Option<i64> {
        let n = config.get(name).as_f64()?;
        match whole_number(n) {
            Some(n) if n >= 1 => Some(n),
            _ => {
                diagnostics.push(error_at(
                    &format!("Invalid {name}"),
                    format!("{name} = {n} is not a whole number of at least 1."),
                    name,
                ));
                None
            }
        }
    };
    let period = whole("period", diagnostics);
    let evaluation_periods = whole("evaluation_periods", diagnostics);
    let datapoints = whole("datapoints_to_alarm", diagnostics);

    if let Some(period) = period {
        if period % 60 != 0 {
            diagnostics.push(error_at(
                "Invalid period",
                format!(
                    "period = {period} seconds. PrivateLink publishes one data point per \
                     minute, so the period must be 60 or a multiple of it; a shorter period \
                     would see no data most of the time and be billed as a high-resolution \
                     alarm."
                ),
                "period",
            ));
        }
    }
    let period_known = config.get("period").is_null() || period.is_some();
    let evaluation_known =
        config.get("evaluation_periods").is_null() || evaluation_periods.is_some();
    if period_known && evaluation_known {
        let period = period.unwrap_or(i64::from(DEFAULT_PERIOD));
        let evaluation_periods =
            evaluation_periods.unwrap_or(i64::from(DEFAULT_EVALUATION_PERIODS));
        let limit = if period < ONE_HOUR {
            ONE_DAY
        } else {
            SEVEN_DAYS
        };
        let total = period.saturating_mul(evaluation_periods);
        if total > limit {
            diagnostics.push(error_at(
                "Evaluation range too long",
                format!(
                    "period * evaluation_periods = {period} * {evaluation_periods} = {total} \
                     seconds. CloudWatch allows at most {limit} seconds (one day for periods \
                     under an hour, seven days otherwise). Lower evaluation_periods or raise \
                     period."
                ),
                "evaluation_periods",
            ));
        }
    }
    if let Some(datapoints) = datapoints {
        let evaluation_periods = match config.get("evaluation_periods") {
            Value::Null => Some(i64::from(DEFAULT_EVALUATION_PERIODS)),
            _ => evaluation_periods,
        };
        if let Some(evaluation_periods) = evaluation_periods.filter(|n| datapoints > *n) {
            diagnostics.push(error_at(
                "Invalid datapoints_to_alarm",
                format!(
                    "datapoints_to_alarm = {datapoints} is more than evaluation_periods = \
                     {evaluation_periods}; an alarm cannot need more breaching periods than it \
                     evaluates. Lower it, or raise evaluation_periods."
                ),
                "datapoints_to_alarm",
            ));
        }
    }
}

fn validate_actions(name: &str, actions: &Value, diagnostics: &mut Vec<Diagnostic>) {
    if actions.contains_unknown() {
        return;
    }
    for action in strings(actions) {
        if !action.starts_with("arn:") {
            diagnostics.push(error_at(
                "Invalid alarm action",
                format!(
                    "{action:?} in {name} is not an ARN. Alarm actions are ARNs, such as an \
                     SNS topic's (arn:aws:sns:REGION:ACCOUNT:TOPIC)."
                ),
                name,
            ));
        }
    }
    let count = actions.elements().len();
    if count > MAX_ACTIONS {
        diagnostics.push(error_at(
            "Too many alarm actions",
            format!(
                "{name} has {count} ARNs; CloudWatch allows at most {MAX_ACTIONS}. Send the \
                 alarm to one SNS topic and subscribe the rest to it."
            ),
            name,
        ));
    }
}

fn validate_name(config: &Value, diagnostics: &mut Vec<Diagnostic>) {
    let Some(name) = config.get("name").as_str() else {
        return;
    };
    let length = name.chars().count();
    let per_subnet = config.get("per_subnet").as_bool() == Some(true);
    let max = if per_subnet {
        MAX_NAME_CHARS - SUBNET_SUFFIX_CHARS
    } else {
        MAX_NAME_CHARS
    };
    let problem = if name.is_empty() {
        Some("name is empty".to_string())
    } else if name.chars().any(char::is_control) {
        Some("name contains a control character".to_string())
    } else if length > max && per_subnet {
        Some(format!(
            "name has {length} characters; with per_subnet, at most {max} leave room for the \
             subnet ID CloudWatch's limit of {MAX_NAME_CHARS} needs"
        ))
    } else if length > max {
        Some(format!(
            "name has {length} characters; CloudWatch allows at most {MAX_NAME_CHARS}"
        ))
    } else {
        None
    };
    if let Some(problem) = problem {
        diagnostics.push(error_at(
            "Invalid alarm name",
            format!("{problem}. Choose another name, or leave name out to use the default."),
            "name",
        ));
    }
}

fn validate_tags(tags: &Value, diagnostics: &mut Vec<Diagnostic>) {
    let Some(entries) = tags.entries() else {
        return;
    };
    for (key, value) in entries {
        let value_length = value.as_str().map_or(0, |v| v.chars().count());
        let problem = if key.is_empty() || key.chars().count() > 128 {
            Some(format!("tag key {key:?} must have 1 to 128 characters"))
        } else if key.to_ascii_lowercase().starts_with("aws:") {
            Some(format!(
                "tag key {key:?} uses the prefix aws:, which AWS reserves"
            ))
        } else if value_length > 256 {
            Some(format!(
                "the value of tag {key:?} has more than 256 characters"
            ))
        } else {
            None
        };
        if let Some(problem) = problem {
            diagnostics.push(error_at(
                "Invalid tag",
                format!("{problem}. Change the tag."),
                "tags",
            ));
        }
    }
}

/// Returns `n` as an integer when it is a whole number within range.
fn whole_number(n: f64) -> Option<i64> {
    (n.fract() == 0.0 && n.abs() < 1.0e15).then_some(n as i64)
}

// ---------------------------------------------------------------- plan

async fn plan(context: &Context, request: PlanRequest) -> PlanResponse {
    let mut planned = request.proposed_new_state;
    if planned.is_null() {
        return PlanResponse::default();
    }
    let prior = &request.prior_state;
    let config = &request.config;
    let mut diagnostics = Vec::new();

    plan_defaults(&mut planned, config);
    plan_name(&mut planned, prior, config);

    let mut requires_replace = Vec::new();
    if !prior.is_null() {
        for name in ["endpoint_id", "name"] {
            if prior.get(name) != planned.get(name) {
                requires_replace.push(AttributePath::root(name));
            }
        }
    }
    let creating = prior.is_null() || !requires_replace.is_empty();
    if !requires_replace.is_empty() {
        tracing::debug!(?requires_replace, "planning replacement");
    }

    plan_targets(context, &mut planned, prior, creating, &mut diagnostics).await;
    let names_unchanged = !creating && planned.get("alarm_names") == prior.get("alarm_names");
    if !names_unchanged {
        set_attribute(&mut planned, "alarm_arns", Value::Unknown);
    }
    let id = match planned.get("name") {
        Value::String(name) => Value::string(name),
        _ => Value::Unknown,
    };
    set_attribute(&mut planned, "id", id);
    set_attribute(&mut planned, "namespace", Value::string(NAMESPACE));
    let tags = planned.get("tags").clone();
    let tags_all = match context.configured_clients() {
        Some(clients) if !tags.contains_unknown() => {
            string_map(&merged_tags(clients, &string_entries(&tags)))
        }
        _ => Value::Unknown,
    };
    set_attribute(&mut planned, "tags_all", tags_all);

    PlanResponse {
        planned_state: planned,
        requires_replace,
        planned_private: request.prior_private,
        diagnostics,
    }
}

/// Fills the defaults of optional arguments the configuration leaves null.
/// A default follows the arguments it derives from, so a null
/// `datapoints_to_alarm` always plans as `evaluation_periods`, whatever the
/// prior state holds.
fn plan_defaults(planned: &mut Value, config: &Value) {
    if config.get("statistic").is_null() {
        let statistic = match planned.get("metric").as_str().and_then(metric_spec) {
            Some(spec) => Value::string(spec.default_statistic),
            None => Value::Unknown,
        };
        set_attribute(planned, "statistic", statistic);
    }
    if config.get("period").is_null() {
        set_attribute(planned, "period", Value::Number(f64::from(DEFAULT_PERIOD)));
    }
    if config.get("evaluation_periods").is_null() {
        let default = Value::Number(f64::from(DEFAULT_EVALUATION_PERIODS));
        set_attribute(planned, "evaluation_periods", default);
    }
    if config.get("datapoints_to_alarm").is_null() {
        let evaluation_periods = planned.get("evaluation_periods").clone();
        set_attribute(planned, "datapoints_to_alarm", evaluation_periods);
    }
    if config.get("treat_missing_data").is_null() {
        let operator = planned.get("comparison_operator").as_str();
        let threshold = planned.get("threshold").as_f64();
        let treatment = match (operator, threshold) {
            (Some(operator), Some(threshold)) => {
                Value::string(default_treat_missing_data(operator, threshold))
            }
            _ => Value::Unknown,
        };
        set_attribute(planned, "treat_missing_data", treatment);
    }
    if config.get("per_subnet").is_null() {
        set_attribute(planned, "per_subnet", Value::Bool(false));
    }
}

/// Returns the default `treat_missing_data`. PrivateLink publishes no data
/// point for a minute without traffic, which for every endpoint metric means
/// a value of zero, so a missing point breaches exactly when zero would.
fn default_treat_missing_data(operator: &str, threshold: f64) -> &'static str {
    let zero_breaches = match operator {
        "GreaterThanOrEqualToThreshold" => 0.0 >= threshold,
        "GreaterThanThreshold" => 0.0 > threshold,
        "LessThanThreshold" => 0.0 < threshold,
        "LessThanOrEqualToThreshold" => 0.0 <= threshold,
        _ => false,
    };
    if zero_breaches {
        "breaching"
    } else {
        "notBreaching"
    }
}

/// Returns the name an alarm gets when the configuration sets none.
pub(crate) fn default_name(endpoint_id: &str, metric: &str) -> String {
    format!("plink-{endpoint_id}-{metric}")
}

/// Plans `name` when the configuration leaves it null. It follows the
/// default (and so the endpoint and metric) unless the prior state contains
/// a name that is not the default, as after importing an alarm named by
/// hand, which it then keeps.
fn plan_name(planned: &mut Value, prior: &Value, config: &Value) {
    if !config.get("name").is_null() {
        return;
    }
    let prior_default = match (
        prior.get("endpoint_id").as_str(),
        prior.get("metric").as_str(),
    ) {
        (Some(endpoint_id), Some(metric)) => Some(default_name(endpoint_id, metric)),
        _ => None,
    };
    let follows_default = prior.is_null() || prior.get("name").as_str() == prior_default.as_deref();
    if !follows_default {
        return;
    }
    let name = match (
        planned.get("endpoint_id").as_str(),
        planned.get("metric").as_str(),
    ) {
        (Some(endpoint_id), Some(metric)) => Value::string(default_name(endpoint_id, metric)),
        _ => Value::Unknown,
    };
    set_attribute(planned, "name", name);
}

/// Plans `alarm_names` and `dimensions` from the endpoint, looked up now so
/// that the plan shows the alarms and their dimensions. When the endpoint
/// cannot be looked up yet (its ID unknown, or the provider not configured),
/// a create plans them as unknown and an update keeps the prior values
/// unless `name` or `per_subnet` changed.
async fn plan_targets(
    context: &Context,
    planned: &mut Value,
    prior: &Value,
    creating: bool,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let endpoint = match (
        context.configured_clients(),
        planned.get("endpoint_id").as_str(),
    ) {
        (Some(clients), Some(endpoint_id)) => match find_endpoint(clients, endpoint_id).await {
            Ok(endpoint) => Some(endpoint),
            Err(diagnostic) => {
                diagnostics.push(diagnostic);
                None
            }
        },
        _ => None,
    };
    let per_subnet = planned.get("per_subnet").as_bool();
    let name = planned.get("name").as_str();
    let (names, dimensions) = match (&endpoint, per_subnet) {
        (Some(endpoint), Some(per_subnet)) => {
            let targets = targets(name.unwrap_or_default(), per_subnet, endpoint);
            let names = match name {
                Some(_) => Value::List(targets.iter().map(|t| Value::string(&t.name)).collect()),
                None => Value::Unknown,
            };
            (
                names,
                dimensions_value(targets.iter().map(|t| &t.dimensions)),
            )
        }
        _ => {
            let unchanged = !creating
                && ["name", "per_subnet"]
                    .iter()
                    .all(|attribute| prior.get(attribute) == planned.get(attribute));
            if unchanged {
                return;
            }
            (Value::Unknown, Value::Unknown)
        }
    };
    if let Some(endpoint) = &endpoint {
        if per_subnet == Some(true) && endpoint.subnet_ids.is_empty() {
            diagnostics.push(no_subnets(&endpoint.id));
        }
    }
    set_attribute(planned, "alarm_names", names);
    set_attribute(planned, "dimensions", dimensions);
}

/// Looks up the endpoint the alarms watch, which must be an interface
/// endpoint.
async fn find_endpoint(clients: &AwsClients, endpoint_id: &str) -> Result<VpcEndpoint, Diagnostic> {
    let endpoint = ec2::find_vpc_endpoint(&clients.ec2, endpoint_id)
        .await
        .map_err(|error| {
            error_at(
                "Reading the endpoint failed",
                format!(
                    "reading VPC endpoint {endpoint_id}, whose service name, VPC and subnets \
                     make the alarm's dimensions: {error}. Check that the credentials allow \
                     ec2:DescribeVpcEndpoints, then run the command again."
                ),
                "endpoint_id",
            )
        })?
        .ok_or_else(|| {
            error_at(
                "Endpoint not found",
                format!(
                    "VPC endpoint {endpoint_id} does not exist in region {}. Check endpoint_id \
                     and the provider's region; when the endpoint is created in the same \
                     configuration, refer to it as plink_consumer_endpoint.NAME.endpoint_id.",
                    clients.region
                ),
                "endpoint_id",
            )
        })?;
    // An empty type means the response left it out, which is no reason to
    // reject the endpoint.
    if !endpoint.endpoint_type.is_empty() && endpoint.endpoint_type != INTERFACE {
        return Err(error_at(
            "Not an interface endpoint",
            format!(
                "VPC endpoint {endpoint_id} is a {} endpoint. PrivateLink publishes the metrics \
                 this resource watches, with Endpoint Type = Interface, only for interface \
                 endpoints.",
                endpoint.endpoint_type
            ),
            "endpoint_id",
        ));
    }
    Ok(endpoint)
}

/// Lists the alarms named after `name` on `endpoint`, sorted by name: one
/// with the endpoint's dimensions or, with `per_subnet`, one per subnet with
/// `Subnet Id` added.
fn targets(name: &str, per_subnet: bool, endpoint: &VpcEndpoint) -> Vec<Target> {
    let dimensions = BTreeMap::from([
        (ENDPOINT_TYPE_DIMENSION.to_string(), INTERFACE.to_string()),
        (
            SERVICE_NAME_DIMENSION.to_string(),
            endpoint.service_name.clone(),
        ),
        (ENDPOINT_ID_DIMENSION.to_string(), endpoint.id.clone()),
        (VPC_ID_DIMENSION.to_string(), endpoint.vpc_id.clone()),
    ]);
    if !per_subnet {
        return vec![Target {
            name: name.to_string(),
            dimensions,
        }];
    }
    let subnet_ids: BTreeSet<&String> = endpoint.subnet_ids.iter().collect();
    subnet_ids
        .into_iter()
        .map(|subnet_id| {
            let mut dimensions = dimensions.clone();
            dimensions.insert(SUBNET_ID_DIMENSION.to_string(), subnet_id.clone());
            Target {
                name: format!("{name}-{subnet_id}"),
                dimensions,
            }
        })
        .collect()
}

fn dimensions_value<'a>(sets: impl Iterator<Item = &'a BTreeMap<String, String>>) -> Value {
    Value::List(sets.map(string_map).collect())
}

fn no_subnets(endpoint_id: &str) -> Diagnostic {
    error_at(
        "Endpoint has no subnets",
        format!(
            "per_subnet = true makes one alarm per subnet of VPC endpoint {endpoint_id}, which \
             has none. Give the endpoint subnets, or set per_subnet = false."
        ),
        "per_subnet",
    )
}

/// Returns the names of the alarms named after `name` on an endpoint with
/// `subnet_ids`: `name` itself, or with `per_subnet` one `NAME-SUBNET_ID` per
/// subnet, sorted.
pub(crate) fn alarm_names(name: &str, per_subnet: bool, subnet_ids: &[String]) -> Vec<String> {
    let endpoint = VpcEndpoint {
        subnet_ids: subnet_ids.to_vec(),
        ..VpcEndpoint::default()
    };
    targets(name, per_subnet, &endpoint)
        .into_iter()
        .map(|target| target.name)
        .collect()
}

/// Builds the PutMetricAlarm requests for alarm arguments without
/// `endpoint_id` (such as one `alarm` block of a `plink_consumer_endpoint`)
/// on `endpoint`. Null arguments take this resource's defaults, except that
/// a null `name` becomes `default_name`. The alarms carry no tags.
pub(crate) fn alarm_requests(
    config: &Value,
    default_name: &str,
    endpoint: &VpcEndpoint,
) -> Result<Vec<MetricAlarm>, Diagnostic> {
    let mut arguments = config.clone();
    plan_defaults(&mut arguments, config);
    set_attribute(&mut arguments, "endpoint_id", Value::string(&endpoint.id));
    if config.get("name").is_null() {
        set_attribute(&mut arguments, "name", Value::string(default_name));
    }
    let arguments = Arguments::from_value(&arguments)?;
    if arguments.per_subnet && endpoint.subnet_ids.is_empty() {
        return Err(no_subnets(&endpoint.id));
    }
    let requests = targets(&arguments.name, arguments.per_subnet, endpoint)
        .iter()
        .map(|target| alarm_request(&arguments, target))
        .collect();
    Ok(requests)
}

// ---------------------------------------------------------------- create

async fn create(context: &Context, clients: &AwsClients, planned: &Value) -> ApplyResponse {
    let arguments = match Arguments::from_value(planned) {
        Ok(arguments) => arguments,
        Err(diagnostic) => return failed(Value::Null, diagnostic),
    };
    let targets = match resolve_targets(clients, &arguments, planned).await {
        Ok(targets) => targets,
        Err(diagnostic) => return failed(Value::Null, diagnostic),
    };
    let _guard = context.locks.lock(&lock_key(&arguments.name)).await;
    let names: Vec<String> = targets.iter().map(|t| t.name.clone()).collect();

    // PutMetricAlarm would silently take over an alarm of the same name.
    match cloudwatch::find_alarms(&clients.cloudwatch, &names).await {
        Ok(existing) if !existing.is_empty() => {
            return failed(Value::Null, names_in_use(&arguments, &existing));
        }
        Ok(_) => {}
        Err(error) => {
            let detail = format!(
                "checking whether alarm {} already exists: {error}. Nothing was created. Check \
                 that the credentials allow cloudwatch:DescribeAlarms.",
                names.join(", ")
            );
            return failed(
                Value::Null,
                error_at("Creating endpoint alarm failed", detail, "name"),
            );
        }
    }

    let tags = merged_tags(clients, &arguments.tags.clone().unwrap_or_default());
    let mut created = Vec::new();
    let mut diagnostics = Vec::new();
    for target in &targets {
        let request = alarm_request(&arguments, target);
        match cloudwatch::put_metric_alarm(&clients.cloudwatch, &request, &tags).await {
            Ok(()) => {
                tracing::info!(alarm_name = target.name, "created CloudWatch alarm");
                created.push(target.name.clone());
            }
            Err(error) => {
                diagnostics.push(put_error(
                    "Creating endpoint alarm failed",
                    &target.name,
                    &error,
                    &created,
                ));
                break;
            }
        }
    }
    if created.is_empty() {
        return failed_with(Value::Null, diagnostics);
    }

    let alarms = match wait_until_visible(context, clients, &created).await {
        Ok(alarms) => alarms,
        Err(diagnostic) => {
            // Record the names without ARNs, so that destroy still finds
            // the alarms and the next refresh fills in the rest.
            diagnostics.push(diagnostic);
            targets
                .iter()
                .filter(|t| created.contains(&t.name))
                .map(|t| MetricAlarm {
                    name: t.name.clone(),
                    dimensions: t.dimensions.clone(),
                    ..MetricAlarm::default()
                })
                .collect()
        }
    };
    let model = Model {
        arguments,
        alarms,
        namespace: NAMESPACE.to_string(),
        tags_all: tags,
    };
    ApplyResponse {
        new_state: model.to_value(),
        private: Vec::new(),
        diagnostics,
    }
}

/// Looks up the endpoint and returns the alarms to manage, checking them
/// against the plan: Terraform rejects an apply whose result differs from a
/// known planned value.
async fn resolve_targets(
    clients: &AwsClients,
    arguments: &Arguments,
    planned: &Value,
) -> Result<Vec<Target>, Diagnostic> {
    let endpoint = find_endpoint(clients, &arguments.endpoint_id).await?;
    if arguments.per_subnet && endpoint.subnet_ids.is_empty() {
        return Err(no_subnets(&endpoint.id));
    }
    let targets = targets(&arguments.name, arguments.per_subnet, &endpoint);
    let names = Value::List(targets.iter().map(|t| Value::string(&t.name)).collect());
    let dimensions = dimensions_value(targets.iter().map(|t| &t.dimensions));
    let differs = |attribute: &str, actual: &Value| {
        let planned = planned.get(attribute);
        !planned.contains_unknown() && planned != actual
    };
    if differs("alarm_names", &names) || differs("dimensions", &dimensions) {
        return Err(error_at(
            "Endpoint changed since the plan",
            format!(
                "VPC endpoint {} no longer has the subnets, service or VPC the plan used for \
                 the alarms' dimensions. Nothing was changed. Run plan and apply again.",
                arguments.endpoint_id
            ),
            "endpoint_id",
        ));
    }
    Ok(targets)
}

/// Builds the error for alarm names already in use, with how to adopt the
/// alarm instead.
fn names_in_use(arguments: &Arguments, existing: &[MetricAlarm]) -> Diagnostic {
    let names: Vec<&str> = existing.iter().map(|a| a.name.as_str()).collect();
    let advice = if arguments.per_subnet {
        "Per-subnet alarms cannot be imported. Delete those alarms, or choose another name."
            .to_string()
    } else {
        format!(
            "To manage it with Terraform, import it with `terraform import \
             plink_endpoint_alarm.RESOURCE_NAME {}`, where RESOURCE_NAME is this resource's \
             name in the configuration. Otherwise choose another name.",
            arguments.name
        )
    };
    error_at(
        "Alarm already exists",
        format!(
            "CloudWatch already has an alarm named {}. PutMetricAlarm would overwrite it, so \
             nothing was created. {advice}",
            names.join(", ")
        ),
        "name",
    )
}

fn put_error(summary: &str, name: &str, error: &AwsError, done: &[String]) -> Diagnostic {
    let recorded = if done.is_empty() {
        String::new()
    } else {
        format!(
            " Alarms {} were written before this one and are recorded in state.",
            done.join(", ")
        )
    };
    error_at(
        summary,
        format!(
            "writing alarm {name} with PutMetricAlarm: {error}.{recorded} Check the arguments \
             the AWS message names and that the credentials allow cloudwatch:PutMetricAlarm, \
             then run apply again."
        ),
        "name",
    )
}

/// Waits until DescribeAlarms returns every alarm in `names`, and returns
/// them sorted by name.
async fn wait_until_visible(
    context: &Context,
    clients: &AwsClients,
    names: &[String],
) -> Result<Vec<MetricAlarm>, Diagnostic> {
    let outcome = wait::until(NOT_FOUND_GRACE, &context.stop, || async {
        let mut alarms = cloudwatch::find_alarms(&clients.cloudwatch, names).await?;
        if alarms.len() < names.len() {
            let found: BTreeSet<&str> = alarms.iter().map(|a| a.name.as_str()).collect();
            let missing: Vec<&str> = names
                .iter()
                .map(String::as_str)
                .filter(|name| !found.contains(name))
                .collect();
            return Ok(Poll::Pending(format!(
                "{} not visible yet",
                missing.join(", ")
            )));
        }
        alarms.sort_by(|a, b| a.name.cmp(&b.name));
        Ok::<_, AwsError>(Poll::Done(alarms))
    })
    .await;
    outcome.map_err(|error| {
        let detail = match error {
            WaitError::Failed(error) => format!("reading alarms {}: {error}", names.join(", ")),
            WaitError::Stopped => "interrupted by Terraform".to_string(),
            WaitError::TimedOut(last) => format!(
                "DescribeAlarms still did not return them after {} s: {last}",
                NOT_FOUND_GRACE.as_secs()
            ),
        };
        error_at(
            "Reading the new alarms failed",
            format!(
                "PutMetricAlarm succeeded for {}, but {detail}. The alarms are recorded in \
                 state; run plan to see what exists.",
                names.join(", ")
            ),
            "name",
        )
    })
}

fn lock_key(name: &str) -> String {
    format!("{TYPE_NAME}:{name}")
}

// ---------------------------------------------------------------- read

/// Refreshes the state from CloudWatch. Returns null when none of the alarms
/// exists any more.
async fn read(clients: &AwsClients, current: &Value) -> Result<Value, Diagnostic> {
    let prior = Arguments::from_value(current)?;
    let names = strings(current.get("alarm_names"));
    if names.is_empty() {
        return Ok(Value::Null);
    }
    let alarms = cloudwatch::find_alarms(&clients.cloudwatch, &names)
        .await
        .map_err(|error| read_error(&names, error))?;
    if alarms.is_empty() {
        tracing::info!(?names, "alarms no longer exist");
        return Ok(Value::Null);
    }
    let model = observe(clients, alarms, &prior).await?;
    Ok(model.to_value())
}

/// Builds the model from the alarms CloudWatch returns. `prior` supplies what
/// CloudWatch does not store (`endpoint_id`, `per_subnet`, `name`), the
/// configured spelling of equal values, and the baseline for drift. Of
/// several alarms, the first whose settings or tags differ from `prior` is
/// the one recorded, so that a change to any of them shows in the plan.
async fn observe(
    clients: &AwsClients,
    mut alarms: Vec<MetricAlarm>,
    prior: &Arguments,
) -> Result<Model, Diagnostic> {
    alarms.sort_by(|a, b| a.name.cmp(&b.name));
    let observed: Vec<Arguments> = alarms
        .iter()
        .map(|a| observed_arguments(a, prior))
        .collect();
    let mut arguments = observed
        .iter()
        .find(|arguments| *arguments != prior)
        .or(observed.first())
        .cloned()
        .unwrap_or_else(|| prior.clone());

    let expected_tags = merged_tags(clients, &prior.tags.clone().unwrap_or_default());
    let mut tags_all = None;
    for alarm in alarms.iter().filter(|a| !a.arn.is_empty()) {
        let tags = cloudwatch::find_alarm_tags(&clients.cloudwatch, &alarm.arn)
            .await
            .map_err(|error| read_error(std::slice::from_ref(&alarm.name), error))?;
        let drifted = tags != expected_tags;
        if tags_all.is_none() || drifted {
            tags_all = Some(tags);
        }
        if drifted {
            break;
        }
    }
    let tags_all = tags_all.unwrap_or(expected_tags);
    let tags = user_tags(clients, &tags_all, &prior.tags.clone().unwrap_or_default());
    arguments.tags = match (&prior.tags, tags.is_empty()) {
        (None, true) => None,
        _ => Some(tags),
    };

    let namespace = alarms
        .iter()
        .map(|a| a.namespace.clone())
        .find(|namespace| namespace != NAMESPACE)
        .unwrap_or_else(|| NAMESPACE.to_string());
    Ok(Model {
        arguments,
        alarms,
        namespace,
        tags_all,
    })
}

/// Derives the arguments one alarm's settings imply, keeping from `prior`
/// what CloudWatch does not store and the prior form of equal values.
fn observed_arguments(alarm: &MetricAlarm, prior: &Arguments) -> Arguments {
    let actions = |observed: &[String], prior: &Option<Vec<String>>| {
        if observed.is_empty() && prior.as_ref().is_none_or(Vec::is_empty) {
            return prior.clone();
        }
        let mut observed = observed.to_vec();
        observed.sort();
        observed.dedup();
        Some(observed)
    };
    let threshold = if same_number(alarm.threshold, prior.threshold) {
        prior.threshold
    } else {
        alarm.threshold
    };
    // An empty description and none at all are the same to CloudWatch.
    let description = match (&alarm.description, &prior.description) {
        (None, Some(text)) if text.is_empty() => prior.description.clone(),
        (Some(text), None) if text.is_empty() => None,
        (observed, _) => observed.clone(),
    };
    Arguments {
        endpoint_id: prior.endpoint_id.clone(),
        metric: alarm.metric_name.clone(),
        statistic: alarm.statistic.clone(),
        period: alarm.period,
        evaluation_periods: alarm.evaluation_periods,
        datapoints_to_alarm: alarm
            .datapoints_to_alarm
            .unwrap_or(alarm.evaluation_periods),
        threshold,
        comparison_operator: alarm.comparison_operator.clone(),
        treat_missing_data: alarm
            .treat_missing_data
            .clone()
            .unwrap_or_else(|| CLOUDWATCH_TREAT_MISSING_DATA.to_string()),
        per_subnet: prior.per_subnet,
        alarm_actions: actions(&alarm.alarm_actions, &prior.alarm_actions),
        ok_actions: actions(&alarm.ok_actions, &prior.ok_actions),
        insufficient_data_actions: actions(
            &alarm.insufficient_data_actions,
            &prior.insufficient_data_actions,
        ),
        name: prior.name.clone(),
        description,
        tags: prior.tags.clone(),
    }
}

/// Reports whether two thresholds are the same number. A decimal written by
/// Terraform and read back from CloudWatch's response can differ in the last
/// bits, so a relative difference below 1e-12 counts as rounding.
fn same_number(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
}

fn read_error(names: &[String], error: AwsError) -> Diagnostic {
    error_at(
        "Reading endpoint alarm failed",
        format!(
            "reading alarm {}: {error}. Check that the credentials allow \
             cloudwatch:DescribeAlarms and cloudwatch:ListTagsForResource, then run the command \
             again.",
            names.join(", ")
        ),
        "name",
    )
}

// ---------------------------------------------------------------- update

async fn update(
    context: &Context,
    clients: &AwsClients,
    prior_state: Value,
    planned: &Value,
) -> ApplyResponse {
    let arguments = match Arguments::from_value(planned) {
        Ok(arguments) => arguments,
        Err(diagnostic) => return failed(prior_state, diagnostic),
    };
    let targets = match resolve_targets(clients, &arguments, planned).await {
        Ok(targets) => targets,
        Err(diagnostic) => return failed(prior_state, diagnostic),
    };
    let _guard = context.locks.lock(&lock_key(&arguments.name)).await;
    let recorded = strings(prior_state.get("alarm_names"));
    let expected: Vec<String> = targets.iter().map(|t| t.name.clone()).collect();
    let mut involved: Vec<String> = recorded.iter().chain(&expected).cloned().collect();
    involved.sort();
    involved.dedup();

    let current = match cloudwatch::find_alarms(&clients.cloudwatch, &involved).await {
        Ok(alarms) => alarms,
        Err(error) => {
            let detail = format!(
                "reading alarms {}: {error}. Nothing was changed; run apply again.",
                involved.join(", ")
            );
            return failed(
                prior_state,
                error_at("Updating endpoint alarm failed", detail, "name"),
            );
        }
    };
    // A new name (another subnet, or per_subnet turned on) may belong to an
    // alarm this resource does not manage.
    let conflicting: Vec<MetricAlarm> = current
        .iter()
        .filter(|a| expected.contains(&a.name) && !recorded.contains(&a.name))
        .cloned()
        .collect();
    if !conflicting.is_empty() {
        return failed(prior_state, names_in_use(&arguments, &conflicting));
    }

    let tags = merged_tags(clients, &arguments.tags.clone().unwrap_or_default());
    let current: BTreeMap<String, MetricAlarm> =
        current.into_iter().map(|a| (a.name.clone(), a)).collect();
    let mut outcome = apply_changes(clients, &arguments, &targets, &current, &tags).await;
    if outcome.is_ok() {
        // Delete only after the new alarms exist, so that monitoring never
        // stops.
        let removed: Vec<String> = recorded
            .iter()
            .filter(|name| !expected.contains(name))
            .cloned()
            .collect();
        outcome = delete_removed(clients, &removed).await;
    }
    let diagnostic = match outcome {
        Ok(()) => match wait_until_visible(context, clients, &expected).await {
            Ok(alarms) => {
                let model = Model {
                    arguments,
                    alarms,
                    namespace: NAMESPACE.to_string(),
                    tags_all: tags,
                };
                return ApplyResponse {
                    new_state: model.to_value(),
                    private: Vec::new(),
                    diagnostics: Vec::new(),
                };
            }
            Err(diagnostic) => diagnostic,
        },
        Err(diagnostic) => diagnostic,
    };

    // Record what CloudWatch has now, whichever alarms the failure left.
    let mut partial = prior_state.clone();
    let involved = Value::List(involved.iter().map(Value::string).collect());
    set_attribute(&mut partial, "alarm_names", involved);
    let new_state = match read(clients, &partial).await {
        Ok(state) if !state.is_null() => state,
        _ => prior_state,
    };
    failed(new_state, diagnostic)
}

/// Writes each target alarm that is missing or differs from `arguments`, and
/// makes the tags of the existing ones equal `tags`.
async fn apply_changes(
    clients: &AwsClients,
    arguments: &Arguments,
    targets: &[Target],
    current: &BTreeMap<String, MetricAlarm>,
    tags: &BTreeMap<String, String>,
) -> Result<(), Diagnostic> {
    let mut written = Vec::new();
    for target in targets {
        let request = alarm_request(arguments, target);
        let Some(alarm) = current.get(&target.name) else {
            cloudwatch::put_metric_alarm(&clients.cloudwatch, &request, tags)
                .await
                .map_err(|e| {
                    put_error("Updating endpoint alarm failed", &target.name, &e, &written)
                })?;
            tracing::info!(alarm_name = target.name, "created CloudWatch alarm");
            written.push(target.name.clone());
            continue;
        };
        if !same_alarm(alarm, &request) {
            tracing::debug!(
                alarm_name = target.name,
                "alarm differs from the plan; writing it"
            );
            cloudwatch::put_metric_alarm(&clients.cloudwatch, &request, &BTreeMap::new())
                .await
                .map_err(|e| {
                    put_error("Updating endpoint alarm failed", &target.name, &e, &written)
                })?;
            written.push(target.name.clone());
        }
        sync_tags(clients, alarm, tags).await?;
    }
    Ok(())
}

/// Reports whether `actual` already has every setting of `expected`,
/// counting unset optional settings as CloudWatch's defaults.
pub(crate) fn same_alarm(actual: &MetricAlarm, expected: &MetricAlarm) -> bool {
    let sorted = |items: &[String]| {
        let mut items = items.to_vec();
        items.sort();
        items.dedup();
        items
    };
    let datapoints = |alarm: &MetricAlarm| {
        alarm
            .datapoints_to_alarm
            .unwrap_or(alarm.evaluation_periods)
    };
    let treatment = |alarm: &MetricAlarm| {
        alarm
            .treat_missing_data
            .clone()
            .unwrap_or_else(|| CLOUDWATCH_TREAT_MISSING_DATA.to_string())
    };
    let description = |alarm: &MetricAlarm| alarm.description.clone().unwrap_or_default();
    !actual.uses_metric_math
        && actual.namespace == expected.namespace
        && actual.metric_name == expected.metric_name
        && actual.dimensions == expected.dimensions
        && actual.statistic == expected.statistic
        && actual.period == expected.period
        && actual.evaluation_periods == expected.evaluation_periods
        && datapoints(actual) == datapoints(expected)
        && same_number(actual.threshold, expected.threshold)
        && actual.comparison_operator == expected.comparison_operator
        && treatment(actual) == treatment(expected)
        && description(actual) == description(expected)
        && sorted(&actual.alarm_actions) == sorted(&expected.alarm_actions)
        && sorted(&actual.ok_actions) == sorted(&expected.ok_actions)
        && sorted(&actual.insufficient_data_actions) == sorted(&expected.insufficient_data_actions)
}

/// Makes the alarm's tags equal `expected`, touching only the keys that
/// differ.
async fn sync_tags(
    clients: &AwsClients,
    alarm: &MetricAlarm,
    expected: &BTreeMap<String, String>,
) -> Result<(), Diagnostic> {
    let tag_error = |error: AwsError| {
        error_at(
            "Updating endpoint alarm failed",
            format!(
                "updating the tags of alarm {}: {error}. Check that the credentials allow \
                 cloudwatch:TagResource and cloudwatch:UntagResource, then run apply again.",
                alarm.name
            ),
            "tags",
        )
    };
    let current = cloudwatch::find_alarm_tags(&clients.cloudwatch, &alarm.arn)
        .await
        .map_err(tag_error)?;
    let stale: Vec<String> = current
        .keys()
        .filter(|key| !expected.contains_key(*key))
        .cloned()
        .collect();
    let changed: BTreeMap<String, String> = expected
        .iter()
        .filter(|(key, value)| current.get(*key) != Some(*value))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    cloudwatch::untag_alarm(&clients.cloudwatch, &alarm.arn, &stale)
        .await
        .map_err(tag_error)?;
    cloudwatch::tag_alarm(&clients.cloudwatch, &alarm.arn, &changed)
        .await
        .map_err(tag_error)
}

async fn delete_removed(clients: &AwsClients, names: &[String]) -> Result<(), Diagnostic> {
    if names.is_empty() {
        return Ok(());
    }
    cloudwatch::delete_alarms(&clients.cloudwatch, names)
        .await
        .map_err(|error| {
            error_at(
                "Updating endpoint alarm failed",
                format!(
                    "deleting alarms {} that the configuration no longer needs: {error}. The \
                     new alarms exist; check that the credentials allow cloudwatch:DeleteAlarms, \
                     then run apply again.",
                    names.join(", ")
                ),
                "per_subnet",
            )
        })?;
    tracing::info!(?names, "deleted CloudWatch alarms");
    Ok(())
}

// ---------------------------------------------------------------- delete

async fn delete(context: &Context, clients: &AwsClients, prior_state: Value) -> ApplyResponse {
    let names = strings(prior_state.get("alarm_names"));
    let name = prior_state.get("name").as_str().unwrap_or_default();
    let _guard = context.locks.lock(&lock_key(name)).await;
    match cloudwatch::delete_alarms(&clients.cloudwatch, &names).await {
        Ok(()) => {
            tracing::info!(?names, "deleted CloudWatch alarms");
            ApplyResponse::default()
        }
        Err(error) => {
            let detail = format!(
                "deleting alarms {}: {error}. The resource stays in state; check that the \
                 credentials allow cloudwatch:DeleteAlarms, then run destroy again.",
                names.join(", ")
            );
            failed(
                prior_state,
                error_at("Deleting endpoint alarm failed", detail, "name"),
            )
        }
    }
}

// ---------------------------------------------------------------- import

/// Imports one alarm by name. Its `VPC Endpoint Id` dimension gives
/// `endpoint_id`; every other argument comes from the alarm, with
/// `per_subnet = false`.
async fn import(clients: &AwsClients, id: &str) -> Result<Value, Diagnostic> {
    let import_error = |detail: String| error_at("Cannot import endpoint alarm", detail, "id");
    let alarm = cloudwatch::find_alarm(&clients.cloudwatch, id)
        .await
        .map_err(|error| read_error(&[id.to_string()], error))?
        .ok_or_else(|| {
            import_error(format!(
                "CloudWatch has no metric alarm named {id:?} in region {}. Import with the \
                 alarm's name, such as `terraform import plink_endpoint_alarm.example \
                 plink-vpce-0123456789abcdef0-PacketsDropped`.",
                clients.region
            ))
        })?;
    if alarm.uses_metric_math
        || alarm.namespace != NAMESPACE
        || metric_spec(&alarm.metric_name).is_none()
    {
        let watched = if alarm.uses_metric_math {
            "a metric math expression".to_string()
        } else {
            format!("{} in namespace {}", alarm.metric_name, alarm.namespace)
        };
        return Err(import_error(format!(
            "alarm {id} watches {watched}, not one of the metrics of {NAMESPACE} ({}). Manage \
             it with a general alarm resource, such as the AWS provider's \
             aws_cloudwatch_metric_alarm.",
            metric_names()
        )));
    }
    if alarm.dimensions.contains_key(SUBNET_ID_DIMENSION) {
        return Err(import_error(format!(
            "alarm {id} has the {SUBNET_ID_DIMENSION} dimension, so it is one alarm of a \
             per-subnet group, and such groups cannot be imported. Delete the per-subnet \
             alarms and let Terraform create them with per_subnet = true."
        )));
    }
    let Some(endpoint_id) = alarm.dimensions.get(ENDPOINT_ID_DIMENSION).cloned() else {
        return Err(import_error(format!(
            "alarm {id} has no {ENDPOINT_ID_DIMENSION} dimension, so it receives no data for \
             any endpoint. Delete it and let Terraform create the alarm."
        )));
    };
    let prior = Arguments {
        endpoint_id,
        name: id.to_string(),
        ..Arguments::default()
    };
    let model = observe(clients, vec![alarm], &prior).await?;
    Ok(model.to_value())
}

// ---------------------------------------------------------------- upgrade

/// Reads stored state into the current schema. Version 0 is the only
/// version so far.
fn upgrade(version: i64, raw_state: &serde_json::Value) -> (Value, Vec<Diagnostic>) {
    if version > SCHEMA_VERSION {
        let detail = format!(
            "The state was written by a newer plink provider (schema version {version}; this \
             provider reads up to {SCHEMA_VERSION}). Upgrade the provider."
        );
        return (
            Value::Null,
            vec![Diagnostic::error("State from a newer provider", detail)],
        );
    }
    match Value::from_json(raw_state, &value_type()) {
        Ok(state) => (state, Vec::new()),
        Err(e) => {
            let detail = format!("The stored state of this {TYPE_NAME} cannot be read: {e}.");
            (
                Value::Null,
                vec![Diagnostic::error("Invalid stored state", detail)],
            )
        }
    }
}

// ---------------------------------------------------------------- conversions

impl Arguments {
    /// Reads the arguments of a planned or prior state, all of which are
    /// known at apply time.
    fn from_value(value: &Value) -> Result<Arguments, Diagnostic> {
        let string = |name: &str| {
            value
                .get(name)
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| internal_error(&format!("{name} is not a known string")))
        };
        let integer = |name: &str| {
            value
                .get(name)
                .as_f64()
                .and_then(whole_number)
                .and_then(|n| i32::try_from(n).ok())
                .ok_or_else(|| internal_error(&format!("{name} is not a known whole number")))
        };
        let actions = |name: &str| match value.get(name) {
            Value::Null => None,
            actions => {
                let mut actions = strings(actions);
                actions.sort();
                Some(actions)
            }
        };
        let tags = match value.get("tags") {
            Value::Null => None,
            tags => Some(string_entries(tags)),
        };
        Ok(Arguments {
            endpoint_id: string("endpoint_id")?,
            metric: string("metric")?,
            statistic: string("statistic")?,
            period: integer("period")?,
            evaluation_periods: integer("evaluation_periods")?,
            datapoints_to_alarm: integer("datapoints_to_alarm")?,
            threshold: value
                .get("threshold")
                .as_f64()
                .ok_or_else(|| internal_error("threshold is not a known number"))?,
            comparison_operator: string("comparison_operator")?,
            treat_missing_data: string("treat_missing_data")?,
            per_subnet: value.get("per_subnet").as_bool().unwrap_or(false),
            alarm_actions: actions("alarm_actions"),
            ok_actions: actions("ok_actions"),
            insufficient_data_actions: actions("insufficient_data_actions"),
            name: string("name")?,
            description: value.get("description").as_str().map(str::to_string),
            tags,
        })
    }
}

/// Builds the PutMetricAlarm request that makes `target` match `arguments`.
fn alarm_request(arguments: &Arguments, target: &Target) -> MetricAlarm {
    MetricAlarm {
        name: target.name.clone(),
        arn: String::new(),
        namespace: NAMESPACE.to_string(),
        metric_name: arguments.metric.clone(),
        dimensions: target.dimensions.clone(),
        statistic: arguments.statistic.clone(),
        period: arguments.period,
        evaluation_periods: arguments.evaluation_periods,
        datapoints_to_alarm: Some(arguments.datapoints_to_alarm),
        threshold: arguments.threshold,
        comparison_operator: arguments.comparison_operator.clone(),
        treat_missing_data: Some(arguments.treat_missing_data.clone()),
        description: arguments.description.clone(),
        alarm_actions: arguments.alarm_actions.clone().unwrap_or_default(),
        ok_actions: arguments.ok_actions.clone().unwrap_or_default(),
        insufficient_data_actions: arguments
            .insufficient_data_actions
            .clone()
            .unwrap_or_default(),
        uses_metric_math: false,
    }
}

impl Model {
    /// Converts the model to the state value, with every attribute known.
    fn to_value(&self) -> Value {
        let arguments = &self.arguments;
        let number = |n: i32| Value::Number(f64::from(n));
        let optional_set = |items: &Option<Vec<String>>| match items {
            Some(items) => string_set(items.clone()),
            None => Value::Null,
        };
        let list = |items: Vec<String>| Value::List(items.into_iter().map(Value::String).collect());
        object([
            ("id", Value::string(&arguments.name)),
            ("endpoint_id", Value::string(&arguments.endpoint_id)),
            ("metric", Value::string(&arguments.metric)),
            ("statistic", Value::string(&arguments.statistic)),
            ("period", number(arguments.period)),
            ("evaluation_periods", number(arguments.evaluation_periods)),
            ("datapoints_to_alarm", number(arguments.datapoints_to_alarm)),
            ("threshold", Value::Number(arguments.threshold)),
            (
                "comparison_operator",
                Value::string(&arguments.comparison_operator),
            ),
            (
                "treat_missing_data",
                Value::string(&arguments.treat_missing_data),
            ),
            ("per_subnet", Value::Bool(arguments.per_subnet)),
            ("alarm_actions", optional_set(&arguments.alarm_actions)),
            ("ok_actions", optional_set(&arguments.ok_actions)),
            (
                "insufficient_data_actions",
                optional_set(&arguments.insufficient_data_actions),
            ),
            ("name", Value::string(&arguments.name)),
            (
                "description",
                arguments
                    .description
                    .as_ref()
                    .map_or(Value::Null, Value::string),
            ),
            (
                "tags",
                arguments.tags.as_ref().map_or(Value::Null, string_map),
            ),
            ("tags_all", string_map(&self.tags_all)),
            (
                "alarm_names",
                list(self.alarms.iter().map(|a| a.name.clone()).collect()),
            ),
            (
                "alarm_arns",
                list(self.alarms.iter().map(|a| a.arn.clone()).collect()),
            ),
            ("namespace", Value::string(&self.namespace)),
            (
                "dimensions",
                dimensions_value(self.alarms.iter().map(|a| &a.dimensions)),
            ),
        ])
    }
}

/// Returns the provider's default tags overlaid with the resource's own.
fn merged_tags(clients: &AwsClients, tags: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut merged = clients.default_tags.clone();
    merged.extend(tags.iter().map(|(k, v)| (k.clone(), v.clone())));
    merged
}

/// Returns the tags the user manages in `tags`: those on the alarm, less the
/// keys of the provider's default tags unless `tags` set the same key
/// itself. A changed default tag then shows in `tags_all`, not in `tags`.
fn user_tags(
    clients: &AwsClients,
    aws_tags: &BTreeMap<String, String>,
    prior_tags: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    aws_tags
        .iter()
        .filter(|(k, _)| prior_tags.contains_key(*k) || !clients.default_tags.contains_key(*k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn error_at(summary: &str, detail: String, attribute: &str) -> Diagnostic {
    Diagnostic::error(summary, detail).at(AttributePath::root(attribute))
}

fn internal_error(detail: &str) -> Diagnostic {
    Diagnostic::error(
        "Unexpected plan value",
        format!(
            "{TYPE_NAME}: {detail}. This is a bug in the provider; please report it with the \
             plan output."
        ),
    )
}

fn failed(new_state: Value, diagnostic: Diagnostic) -> ApplyResponse {
    failed_with(new_state, vec![diagnostic])
}

fn failed_with(new_state: Value, diagnostics: Vec<Diagnostic>) -> ApplyResponse {
    ApplyResponse {
        new_state,
        private: Vec::new(),
        diagnostics,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, Value)]) -> Value {
        object(pairs.iter().map(|(name, value)| (*name, value.clone())))
    }

    fn arguments() -> Arguments {
        Arguments {
            endpoint_id: "vpce-1".into(),
            metric: "PacketsDropped".into(),
            statistic: "Sum".into(),
            period: 60,
            evaluation_periods: 5,
            datapoints_to_alarm: 5,
            threshold: 0.1,
            comparison_operator: "GreaterThanThreshold".into(),
            treat_missing_data: "notBreaching".into(),
            name: "plink-vpce-1-PacketsDropped".into(),
            ..Arguments::default()
        }
    }

    fn endpoint() -> VpcEndpoint {
        VpcEndpoint {
            id: "vpce-1".into(),
            vpc_id: "vpc-1".into(),
            service_name: "com.amazonaws.vpce.us-east-1.vpce-svc-1".into(),
            subnet_ids: vec!["subnet-b".into(), "subnet-a".into()],
            ..VpcEndpoint::default()
        }
    }

    #[test]
    fn suggest_metric_cases() {
        let cases: [(&str, &str, Option<&[&str]>); 12] = [
            (
                "copied guide name",
                "EndpointConnectionError",
                Some(&["PacketsDropped", "RstPacketsReceived"]),
            ),
            (
                "guide name with namespace",
                "AWS/PrivateLink/EndpointConnectionError",
                Some(&["PacketsDropped", "RstPacketsReceived"]),
            ),
            (
                "errors in general",
                "ConnectionErrors",
                Some(&["PacketsDropped", "RstPacketsReceived"]),
            ),
            ("wrong case", "packetsdropped", Some(&["PacketsDropped"])),
            ("resets", "ResetCount", Some(&["RstPacketsReceived"])),
            ("singular drop", "PacketDropped", Some(&["PacketsDropped"])),
            ("traffic", "NetworkTraffic", Some(&["BytesProcessed"])),
            ("misspelt bytes", "BytesProcesed", Some(&["BytesProcessed"])),
            (
                "concurrency",
                "ConcurrentConnections",
                Some(&["ActiveConnections"]),
            ),
            (
                "new connections",
                "NewConnectionCount",
                Some(&["NewConnections"]),
            ),
            (
                "connections alone",
                "Connections",
                Some(&["ActiveConnections", "NewConnections"]),
            ),
            ("unrelated", "CPUUtilization", None),
        ];
        for (case, name, expected) in cases {
            let suggested = suggest_metric(name).map(|s| s.metrics);
            assert_eq!(suggested.as_deref(), expected, "case {case}");
        }
    }

    #[test]
    fn unknown_metric_explains_copied_name() {
        let diagnostics = validate(&config(&[(
            "metric",
            Value::string("EndpointConnectionError"),
        )]));
        assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
        let diagnostic = &diagnostics[0];
        assert_eq!(diagnostic.attribute, Some(AttributePath::root("metric")));
        for text in [
            "Use PacketsDropped or RstPacketsReceived",
            "AWS/PrivateLink",
            "never receive a data point",
            NAMESPACE,
        ] {
            assert!(
                diagnostic.detail.contains(text),
                "{text:?} missing: {}",
                diagnostic.detail
            );
        }
    }

    #[test]
    fn validate_accepts_every_metric() {
        for spec in &METRICS {
            let diagnostics = validate(&config(&[("metric", Value::string(spec.name))]));
            assert!(diagnostics.is_empty(), "{}: {diagnostics:?}", spec.name);
        }
    }

    #[test]
    fn validate_cases() {
        let number = Value::Number;
        let cases: Vec<(&str, Value, Vec<&str>)> = vec![
            ("valid", config(&[("period", number(300.0))]), vec![]),
            (
                "unknown values",
                config(&[("period", Value::Unknown)]),
                vec![],
            ),
            (
                "sub-minute period",
                config(&[("period", number(30.0))]),
                vec!["period"],
            ),
            (
                "fractional period",
                config(&[("period", number(60.5))]),
                vec!["period"],
            ),
            (
                "zero evaluation periods",
                config(&[("evaluation_periods", number(0.0))]),
                vec!["evaluation_periods"],
            ),
            (
                "more than a day of minutes",
                config(&[("evaluation_periods", number(1441.0))]),
                vec!["evaluation_periods"],
            ),
            (
                "seven days of hours",
                config(&[
                    ("period", number(3600.0)),
                    ("evaluation_periods", number(168.0)),
                ]),
                vec![],
            ),
            (
                "datapoints above default evaluation periods",
                config(&[("datapoints_to_alarm", number(6.0))]),
                vec!["datapoints_to_alarm"],
            ),
            (
                "datapoints within evaluation periods",
                config(&[
                    ("datapoints_to_alarm", number(6.0)),
                    ("evaluation_periods", number(10.0)),
                ]),
                vec![],
            ),
            (
                "band operator",
                config(&[(
                    "comparison_operator",
                    Value::string("LessThanLowerOrGreaterThanUpperThreshold"),
                )]),
                vec!["comparison_operator"],
            ),
            (
                "symbol operator",
                config(&[("comparison_operator", Value::string(">"))]),
                vec!["comparison_operator"],
            ),
            (
                "treat missing data case",
                config(&[("treat_missing_data", Value::string("NotBreaching"))]),
                vec!["treat_missing_data"],
            ),
            (
                "percentile",
                config(&[("statistic", Value::string("p99"))]),
                vec!["statistic"],
            ),
            (
                "action not an ARN",
                config(&[("alarm_actions", string_set(["my-topic"]))]),
                vec!["alarm_actions"],
            ),
            (
                "six actions",
                config(&[(
                    "ok_actions",
                    string_set((0..6).map(|i| format!("arn:aws:sns:us-east-1:1:t{i}"))),
                )]),
                vec!["ok_actions"],
            ),
            (
                "name too long for subnets",
                config(&[
                    ("name", Value::string("a".repeat(240))),
                    ("per_subnet", Value::Bool(true)),
                ]),
                vec!["name"],
            ),
            (
                "name fits without subnets",
                config(&[("name", Value::string("a".repeat(240)))]),
                vec![],
            ),
            (
                "endpoint ID",
                config(&[("endpoint_id", Value::string("vpc-1"))]),
                vec!["endpoint_id"],
            ),
            (
                "reserved tag",
                config(&[(
                    "tags",
                    string_map(&BTreeMap::from([("aws:x".into(), "y".into())])),
                )]),
                vec!["tags"],
            ),
        ];
        for (case, config, expected) in cases {
            let paths: Vec<String> = validate(&config)
                .iter()
                .filter_map(|d| d.attribute.as_ref().map(|p| p.to_string()))
                .collect();
            assert_eq!(paths, expected, "case {case}");
        }
    }

    #[test]
    fn validate_choice_suggests_spelling() {
        let diagnostic = validate_choice("treat_missing_data", "notbreaching", &TREAT_MISSING_DATA);
        let detail = diagnostic.map(|d| d.detail).unwrap_or_default();
        assert!(
            detail.contains("Did you mean \"notBreaching\"?"),
            "{detail}"
        );
    }

    #[test]
    fn default_treat_missing_data_cases() {
        let cases = [
            ("above zero", "GreaterThanThreshold", 0.0, "notBreaching"),
            (
                "at least one",
                "GreaterThanOrEqualToThreshold",
                1.0,
                "notBreaching",
            ),
            (
                "at least zero",
                "GreaterThanOrEqualToThreshold",
                0.0,
                "breaching",
            ),
            ("below one", "LessThanThreshold", 1.0, "breaching"),
            ("below zero", "LessThanThreshold", 0.0, "notBreaching"),
            (
                "at most zero",
                "LessThanOrEqualToThreshold",
                0.0,
                "breaching",
            ),
        ];
        for (case, operator, threshold, expected) in cases {
            assert_eq!(
                default_treat_missing_data(operator, threshold),
                expected,
                "case {case}"
            );
        }
    }

    #[test]
    fn plan_defaults_follow_metric_and_evaluation_periods() {
        let mut planned = config(&[
            ("metric", Value::string("ActiveConnections")),
            ("evaluation_periods", Value::Number(3.0)),
            ("datapoints_to_alarm", Value::Number(2.0)),
            ("comparison_operator", Value::string("LessThanThreshold")),
            ("threshold", Value::Number(1.0)),
        ]);
        let configured = config(&[("evaluation_periods", Value::Number(3.0))]);
        plan_defaults(&mut planned, &configured);
        assert_eq!(planned.get("statistic"), &Value::string("Maximum"));
        assert_eq!(planned.get("period"), &Value::Number(60.0));
        assert_eq!(
            planned.get("datapoints_to_alarm"),
            &Value::Number(3.0),
            "a null datapoints_to_alarm follows evaluation_periods"
        );
        assert_eq!(
            planned.get("treat_missing_data"),
            &Value::string("breaching")
        );
        assert_eq!(planned.get("per_subnet"), &Value::Bool(false));
    }

    #[test]
    fn plan_name_cases() {
        let state = |endpoint: &str, metric: &str, name: &str| {
            config(&[
                ("endpoint_id", Value::string(endpoint)),
                ("metric", Value::string(metric)),
                ("name", Value::string(name)),
            ])
        };
        let unset = config(&[]);
        let cases = [
            (
                "create",
                Value::Null,
                state("vpce-1", "PacketsDropped", ""),
                Value::string("plink-vpce-1-PacketsDropped"),
            ),
            (
                "default follows the metric",
                state("vpce-1", "PacketsDropped", "plink-vpce-1-PacketsDropped"),
                state("vpce-1", "NewConnections", "plink-vpce-1-PacketsDropped"),
                Value::string("plink-vpce-1-NewConnections"),
            ),
            (
                "imported name kept",
                state("vpce-1", "PacketsDropped", "team-alarm"),
                state("vpce-2", "PacketsDropped", "team-alarm"),
                Value::string("team-alarm"),
            ),
            (
                "endpoint not known yet",
                Value::Null,
                config(&[
                    ("endpoint_id", Value::Unknown),
                    ("metric", Value::string("PacketsDropped")),
                ]),
                Value::Unknown,
            ),
        ];
        for (case, prior, mut planned, expected) in cases {
            plan_name(&mut planned, &prior, &unset);
            assert_eq!(planned.get("name"), &expected, "case {case}");
        }
    }

    #[test]
    fn targets_one_per_subnet() {
        let whole = targets("a", false, &endpoint());
        assert_eq!(whole.len(), 1);
        assert_eq!(
            whole[0].dimensions.keys().collect::<Vec<_>>(),
            ["Endpoint Type", "Service Name", "VPC Endpoint Id", "VPC Id"]
        );
        assert_eq!(whole[0].dimensions["Endpoint Type"], "Interface");

        let split = targets("a", true, &endpoint());
        let names: Vec<&str> = split.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["a-subnet-a", "a-subnet-b"]);
        assert_eq!(split[1].dimensions["Subnet Id"], "subnet-b");
        assert_eq!(split[1].dimensions.len(), 5);
    }

    #[test]
    fn observed_arguments_keep_equal_values() {
        let prior = arguments();
        let target = targets(&prior.name, false, &endpoint()).remove(0);
        let mut alarm = alarm_request(&prior, &target);
        // What a console edit that sets nothing new, or an older alarm,
        // looks like: optional settings absent.
        alarm.datapoints_to_alarm = None;
        alarm.threshold = 0.1 + 1e-16;
        assert_eq!(observed_arguments(&alarm, &prior), prior);

        alarm.datapoints_to_alarm = Some(3);
        alarm.alarm_actions = vec!["arn:aws:sns:us-east-1:1:t".into()];
        let observed = observed_arguments(&alarm, &prior);
        assert_eq!(observed.datapoints_to_alarm, 3);
        assert_eq!(
            observed.alarm_actions,
            Some(vec!["arn:aws:sns:us-east-1:1:t".to_string()])
        );
    }

    #[test]
    fn same_alarm_counts_defaults() {
        let prior = arguments();
        let target = targets(&prior.name, false, &endpoint()).remove(0);
        let expected = alarm_request(&prior, &target);
        let mut actual = expected.clone();
        actual.datapoints_to_alarm = None;
        actual.description = Some(String::new());
        assert!(same_alarm(&actual, &expected));

        actual.dimensions.remove("VPC Id");
        assert!(
            !same_alarm(&actual, &expected),
            "a missing dimension is a change"
        );
    }

    #[test]
    fn model_round_trips_through_arguments() {
        let mut args = arguments();
        args.per_subnet = true;
        args.ok_actions = Some(vec!["arn:aws:sns:us-east-1:1:t".into()]);
        args.description = Some("drops".into());
        args.tags = Some(BTreeMap::from([("team".to_string(), "net".to_string())]));
        let alarms = targets(&args.name, true, &endpoint())
            .iter()
            .map(|t| alarm_request(&args, t))
            .collect();
        let model = Model {
            arguments: args,
            alarms,
            namespace: NAMESPACE.to_string(),
            tags_all: BTreeMap::new(),
        };
        let value = model.to_value();
        assert!(value.to_msgpack(&value_type()).is_ok());
        assert_eq!(Arguments::from_value(&value).unwrap(), model.arguments);
        assert_eq!(value.get("alarm_names").elements().len(), 2);
        assert_eq!(value.get("dimensions").elements().len(), 2);
    }

    #[test]
    fn edit_distance_cases() {
        let cases = [("", "abc", 3), ("abc", "abc", 0), ("kitten", "sitting", 3)];
        for (a, b, expected) in cases {
            assert_eq!(edit_distance(a, b), expected, "{a:?} to {b:?}");
        }
    }

    #[test]
    fn upgrade_rejects_newer_version() {
        let (state, diagnostics) = upgrade(1, &serde_json::json!({}));
        assert!(state.is_null());
        assert_eq!(diagnostics.len(), 1);
    }
}
