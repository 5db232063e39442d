//! Small conversions between Terraform values and Rust types, shared by the
//! resource modules.

use std::collections::BTreeMap;

use crate::protocol::value::Value;

/// A set of strings, sorted so that state is stable.
pub fn string_set<I, S>(items: I) -> Value
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut strings: Vec<String> = items.into_iter().map(Into::into).collect();
    strings.sort();
    strings.dedup();
    Value::Set(strings.into_iter().map(Value::String).collect())
}

/// Builds a list of strings, keeping their order.
pub fn string_list(items: &[String]) -> Value {
    Value::List(items.iter().map(Value::string).collect())
}

pub fn number_set(items: impl IntoIterator<Item = u16>) -> Value {
    let mut numbers: Vec<u16> = items.into_iter().collect();
    numbers.sort_unstable();
    numbers.dedup();
    Value::Set(
        numbers
            .into_iter()
            .map(|n| Value::Number(f64::from(n)))
            .collect(),
    )
}

pub fn string_map(entries: &BTreeMap<String, String>) -> Value {
    Value::Map(
        entries
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

/// The strings of a known list or set; unknown or non-string elements are
/// skipped, so callers check `contains_unknown` first where it matters.
pub fn strings(value: &Value) -> Vec<String> {
    value
        .elements()
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

/// The entries of a known map of strings; null gives an empty map.
pub fn string_entries(value: &Value) -> BTreeMap<String, String> {
    value
        .entries()
        .map(|entries| {
            entries
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// An object value from name/value pairs.
pub fn object<'a>(attributes: impl IntoIterator<Item = (&'a str, Value)>) -> Value {
    Value::Object(
        attributes
            .into_iter()
            .map(|(name, value)| (name.to_string(), value))
            .collect(),
    )
}

/// Replaces attribute `name` of an object value; does nothing to non-objects.
pub fn set_attribute(object: &mut Value, name: &str, value: Value) {
    if let Value::Object(attributes) = object {
        attributes.insert(name.to_string(), value);
    }
}
