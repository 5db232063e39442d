//! A CloudWatch client for inspecting the emulator, and readers for the
//! alarms it contains.

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_cloudwatch::types::MetricAlarm;

use super::{block_on, Emulator, REGION};

impl Emulator {
    /// Builds a CloudWatch client for inspecting the emulator.
    pub fn cloudwatch(&self) -> aws_sdk_cloudwatch::Client {
        let config = aws_sdk_cloudwatch::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(&self.url)
            .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
            .build();
        aws_sdk_cloudwatch::Client::from_conf(config)
    }
}

/// Returns every metric alarm in the emulator, sorted by name.
pub fn all_alarms(client: &aws_sdk_cloudwatch::Client) -> Vec<MetricAlarm> {
    let output = block_on(client.describe_alarms().send()).expect("DescribeAlarms");
    let mut alarms = output.metric_alarms().to_vec();
    alarms.sort_by(|a, b| a.alarm_name().cmp(&b.alarm_name()));
    alarms
}

/// Returns the metric alarm named `name`, if the emulator has one.
pub fn find_alarm(client: &aws_sdk_cloudwatch::Client, name: &str) -> Option<MetricAlarm> {
    let output = block_on(client.describe_alarms().alarm_names(name).send())
        .unwrap_or_else(|e| panic!("DescribeAlarms {name}: {e:?}"));
    output.metric_alarms().first().cloned()
}

/// Returns the alarm named `name`, panicking with the emulator's alarm names
/// when there is none.
pub fn alarm(client: &aws_sdk_cloudwatch::Client, name: &str) -> MetricAlarm {
    find_alarm(client, name).unwrap_or_else(|| {
        let names: Vec<String> = all_alarms(client)
            .iter()
            .filter_map(|a| a.alarm_name().map(str::to_string))
            .collect();
        panic!("no alarm named {name}; the emulator has {names:?}")
    })
}

/// Returns the alarm's dimensions as name to value.
pub fn dimensions(alarm: &MetricAlarm) -> BTreeMap<String, String> {
    alarm
        .dimensions()
        .iter()
        .map(|d| {
            (
                d.name().unwrap_or_default().to_string(),
                d.value().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Returns the tags of the alarm with ARN `arn`.
pub fn tags(client: &aws_sdk_cloudwatch::Client, arn: &str) -> BTreeMap<String, String> {
    let output = block_on(client.list_tags_for_resource().resource_arn(arn).send())
        .unwrap_or_else(|e| panic!("ListTagsForResource {arn}: {e:?}"));
    output
        .tags()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Deletes the named alarms, as someone working outside Terraform would.
pub fn delete_alarms(client: &aws_sdk_cloudwatch::Client, names: &[&str]) {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    block_on(client.delete_alarms().set_alarm_names(Some(names)).send()).expect("DeleteAlarms");
}

/// Asserts that the emulator has no metric alarm.
pub fn assert_no_alarms(client: &aws_sdk_cloudwatch::Client) {
    let names: Vec<String> = all_alarms(client)
        .iter()
        .filter_map(|a| a.alarm_name().map(str::to_string))
        .collect();
    assert!(names.is_empty(), "alarms left in the emulator: {names:?}");
}
