//! CloudWatch calls: metric alarms with a static threshold, and their tags.
//!
//! Each function makes one kind of call, maps the SDK's types to the small
//! types below, and turns failures into [`AwsError`]. No Terraform types here.

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::types::{AlarmType, ComparisonOperator, Dimension, Statistic, Tag};
use aws_sdk_cloudwatch::Client;

use super::errors::AwsError;

/// The maximum number of alarm names DescribeAlarms and DeleteAlarms take in
/// one call.
const NAMES_PER_CALL: usize = 100;

/// A metric alarm on one metric, as PutMetricAlarm takes it and DescribeAlarms
/// returns it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MetricAlarm {
    pub name: String,
    /// Assigned by AWS; empty in a request.
    pub arn: String,
    pub namespace: String,
    pub metric_name: String,
    /// Dimension name to value. CloudWatch compares dimensions as a set, so
    /// their order carries no meaning.
    pub dimensions: BTreeMap<String, String>,
    /// `Sum`, `Average` and so on, or a percentile such as `p99` when the
    /// alarm uses an extended statistic. Empty for a metric math alarm.
    pub statistic: String,
    pub period: i32,
    pub evaluation_periods: i32,
    /// `None` when the alarm never had it set, which CloudWatch reads as
    /// equal to `evaluation_periods`.
    pub datapoints_to_alarm: Option<i32>,
    pub threshold: f64,
    pub comparison_operator: String,
    /// `None` when never set, which CloudWatch reads as `missing`.
    pub treat_missing_data: Option<String>,
    pub description: Option<String>,
    pub alarm_actions: Vec<String>,
    pub ok_actions: Vec<String>,
    pub insufficient_data_actions: Vec<String>,
    /// Whether the alarm evaluates metric math (the `Metrics` field) rather
    /// than the single metric above.
    pub uses_metric_math: bool,
}

/// Reports whether the error means that the alarm or resource does not
/// exist. DeleteAlarms returns `ResourceNotFound`, the tagging calls
/// `ResourceNotFoundException`.
pub fn is_missing(error: &AwsError) -> bool {
    error.is_not_found() || error.has_code("ResourceNotFoundException")
}

/// Returns the metric alarms among `names` that exist, in no fixed order.
/// Names that match no alarm, or only a composite alarm, are left out.
pub async fn find_alarms(client: &Client, names: &[String]) -> Result<Vec<MetricAlarm>, AwsError> {
    let mut alarms = Vec::new();
    for chunk in names.chunks(NAMES_PER_CALL) {
        tracing::trace!(operation = "DescribeAlarms", names = ?chunk, "calling AWS");
        let mut pages = client
            .describe_alarms()
            .set_alarm_names(Some(chunk.to_vec()))
            .alarm_types(AlarmType::MetricAlarm)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("DescribeAlarms", e))?;
            alarms.extend(page.metric_alarms().iter().map(to_metric_alarm));
        }
    }
    // AlarmNames is an exact match on AWS. Checking again guards against a
    // looser emulator, so that callers never take another alarm for theirs.
    alarms.retain(|alarm| names.contains(&alarm.name));
    Ok(alarms)
}

/// Returns the metric alarm named `name`, or `None` when there is none.
pub async fn find_alarm(client: &Client, name: &str) -> Result<Option<MetricAlarm>, AwsError> {
    let alarms = find_alarms(client, &[name.to_string()]).await?;
    Ok(alarms.into_iter().next())
}

fn to_metric_alarm(alarm: &aws_sdk_cloudwatch::types::MetricAlarm) -> MetricAlarm {
    let statistic = match (alarm.statistic(), alarm.extended_statistic()) {
        (Some(statistic), _) => statistic.as_str().to_string(),
        (None, Some(extended)) => extended.to_string(),
        (None, None) => String::new(),
    };
    MetricAlarm {
        name: alarm.alarm_name().unwrap_or_default().to_string(),
        arn: alarm.alarm_arn().unwrap_or_default().to_string(),
        namespace: alarm.namespace().unwrap_or_default().to_string(),
        metric_name: alarm.metric_name().unwrap_or_default().to_string(),
        dimensions: alarm
            .dimensions()
            .iter()
            .filter_map(|d| Some((d.name()?.to_string(), d.value()?.to_string())))
            .collect(),
        statistic,
        period: alarm.period().unwrap_or_default(),
        evaluation_periods: alarm.evaluation_periods().unwrap_or_default(),
        datapoints_to_alarm: alarm.datapoints_to_alarm(),
        threshold: alarm.threshold().unwrap_or_default(),
        comparison_operator: alarm
            .comparison_operator()
            .map(|o| o.as_str().to_string())
            .unwrap_or_default(),
        treat_missing_data: alarm.treat_missing_data().map(str::to_string),
        description: alarm.alarm_description().map(str::to_string),
        alarm_actions: alarm.alarm_actions().to_vec(),
        ok_actions: alarm.ok_actions().to_vec(),
        insufficient_data_actions: alarm.insufficient_data_actions().to_vec(),
        uses_metric_math: !alarm.metrics().is_empty(),
    }
}

/// Creates the alarm, or replaces every setting of an existing alarm with
/// the same name. PutMetricAlarm is an upsert, so callers that must not
/// overwrite check with [`find_alarm`] first. `tags` apply only when the call
/// creates the alarm, because AWS ignores them on an update. Change the tags
/// of an existing alarm with [`tag_alarm`] and [`untag_alarm`].
pub async fn put_metric_alarm(
    client: &Client,
    alarm: &MetricAlarm,
    tags: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    tracing::trace!(
        operation = "PutMetricAlarm",
        alarm_name = alarm.name,
        "calling AWS"
    );
    let dimensions = alarm
        .dimensions
        .iter()
        .map(|(name, value)| Dimension::builder().name(name).value(value).build())
        .collect();
    let non_empty = |items: &Vec<String>| (!items.is_empty()).then(|| items.clone());
    client
        .put_metric_alarm()
        .alarm_name(&alarm.name)
        .namespace(&alarm.namespace)
        .metric_name(&alarm.metric_name)
        .set_dimensions(Some(dimensions))
        .statistic(Statistic::from(alarm.statistic.as_str()))
        .period(alarm.period)
        .evaluation_periods(alarm.evaluation_periods)
        .set_datapoints_to_alarm(alarm.datapoints_to_alarm)
        .threshold(alarm.threshold)
        .comparison_operator(ComparisonOperator::from(alarm.comparison_operator.as_str()))
        .set_treat_missing_data(alarm.treat_missing_data.clone())
        .set_alarm_description(alarm.description.clone())
        .set_alarm_actions(non_empty(&alarm.alarm_actions))
        .set_ok_actions(non_empty(&alarm.ok_actions))
        .set_insufficient_data_actions(non_empty(&alarm.insufficient_data_actions))
        .set_tags((!tags.is_empty()).then(|| to_tags(tags)))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("PutMetricAlarm", e))?;
    Ok(())
}

/// Deletes the named alarms. Alarms that do not exist count as deleted.
pub async fn delete_alarms(client: &Client, names: &[String]) -> Result<(), AwsError> {
    for chunk in names.chunks(NAMES_PER_CALL) {
        match delete_alarm_batch(client, chunk).await {
            Err(error) if is_missing(&error) && chunk.len() > 1 => {
                // The error does not say which name is missing, so the
                // others may still exist: delete them one at a time.
                for name in chunk {
                    match delete_alarm_batch(client, std::slice::from_ref(name)).await {
                        Err(error) if !is_missing(&error) => return Err(error),
                        _ => {}
                    }
                }
            }
            Err(error) if is_missing(&error) => {}
            other => other?,
        }
    }
    Ok(())
}

async fn delete_alarm_batch(client: &Client, names: &[String]) -> Result<(), AwsError> {
    tracing::trace!(operation = "DeleteAlarms", ?names, "calling AWS");
    client
        .delete_alarms()
        .set_alarm_names(Some(names.to_vec()))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DeleteAlarms", e))?;
    Ok(())
}

/// Returns the tags of the alarm with ARN `arn`.
pub async fn find_alarm_tags(
    client: &Client,
    arn: &str,
) -> Result<BTreeMap<String, String>, AwsError> {
    tracing::trace!(operation = "ListTagsForResource", arn, "calling AWS");
    let output = client
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ListTagsForResource", e))?;
    Ok(output
        .tags()
        .iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
        .collect())
}

/// Adds or overwrites the given tags on the alarm with ARN `arn`.
pub async fn tag_alarm(
    client: &Client,
    arn: &str,
    tags: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    if tags.is_empty() {
        return Ok(());
    }
    tracing::trace!(operation = "TagResource", arn, "calling AWS");
    client
        .tag_resource()
        .resource_arn(arn)
        .set_tags(Some(to_tags(tags)))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("TagResource", e))?;
    Ok(())
}

/// Removes the tags with the given keys from the alarm with ARN `arn`.
pub async fn untag_alarm(client: &Client, arn: &str, keys: &[String]) -> Result<(), AwsError> {
    if keys.is_empty() {
        return Ok(());
    }
    tracing::trace!(operation = "UntagResource", arn, ?keys, "calling AWS");
    client
        .untag_resource()
        .resource_arn(arn)
        .set_tag_keys(Some(keys.to_vec()))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("UntagResource", e))?;
    Ok(())
}

fn to_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(key, value)| Tag::builder().key(key).value(value).build())
        .collect()
}
