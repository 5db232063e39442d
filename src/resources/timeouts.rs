//! The `timeouts { create, update, delete }` block and its durations, written
//! as Terraform users know them: `30s`, `10m`, `1h30m`.

use std::time::Duration;

use crate::protocol::diagnostics::{AttributePath, Diagnostic};
use crate::protocol::schema::{Attribute, Block, NestedBlock};
use crate::protocol::value::{Type, Value};

/// Used for any operation the block does not set.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// The longest timeout accepted: a week. Longer values are almost certainly
/// typos, and they must stay far from the limit of the monotonic clock.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);

const OPERATIONS: [&str; 3] = ["create", "update", "delete"];

/// How long each operation may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    pub create: Duration,
    pub update: Duration,
    pub delete: Duration,
}

pub fn block() -> NestedBlock {
    let attribute = |name: &str| {
        Attribute::optional(
            name,
            Type::String,
            &format!("How long {name} may take, such as `30s`, `10m` or `1h`. Defaults to `10m`."),
        )
    };
    NestedBlock::single(
        "timeouts",
        Block {
            attributes: OPERATIONS.iter().map(|name| attribute(name)).collect(),
            description: "Limits on how long each operation waits for AWS.".to_string(),
            ..Block::default()
        },
    )
}

/// Checks every duration in the `timeouts` block of `config`.
pub fn validate(config: &Value) -> Vec<Diagnostic> {
    let block = config.get("timeouts");
    OPERATIONS
        .iter()
        .filter_map(|name| {
            let text = block.get(name).as_str()?;
            let problem = parse_duration(text).err()?;
            Some(
                Diagnostic::error(
                    "Invalid timeout",
                    format!("timeouts.{name} = {text:?}: {problem}. Write it like \"30s\", \"10m\" or \"1h30m\"."),
                )
                .at(AttributePath::root("timeouts").attribute(name)),
            )
        })
        .collect()
}

impl Timeouts {
    /// Reads the block from a planned or prior state; unset or invalid
    /// values take the default (validation has reported the invalid ones).
    pub fn from_value(state: &Value) -> Timeouts {
        let block = state.get("timeouts");
        let read = |name: &str| {
            block
                .get(name)
                .as_str()
                .and_then(|text| parse_duration(text).ok())
                .unwrap_or(DEFAULT_TIMEOUT)
        };
        Timeouts {
            create: read("create"),
            update: read("update"),
            delete: read("delete"),
        }
    }
}

/// Parses a sequence of number-unit pairs with units `h`, `m` and `s`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let mut total = 0u64;
    let mut digits = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            other => return Err(format!("unknown unit {other:?}")),
        };
        let amount: u64 = digits
            .parse()
            .map_err(|_| format!("a number must come before {c:?}"))?;
        total = total.saturating_add(amount.saturating_mul(unit));
        digits.clear();
    }
    if !digits.is_empty() {
        return Err(format!("{digits} has no unit"));
    }
    if total == 0 {
        return Err("the duration must be longer than zero".to_string());
    }
    if total > MAX_TIMEOUT.as_secs() {
        return Err(format!(
            "{}h is longer than the maximum, {}h",
            total / 3600,
            MAX_TIMEOUT.as_secs() / 3600
        ));
    }
    Ok(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_duration_cases() {
        let cases = [
            ("seconds", "30s", Ok(30)),
            ("minutes", "10m", Ok(600)),
            ("combined", "1h30m", Ok(5400)),
            ("no unit", "10", Err(())),
            ("bad unit", "10d", Err(())),
            ("zero", "0s", Err(())),
            ("too long", "9999999999999999h", Err(())),
            ("a week", "168h", Ok(604800)),
            ("empty", "", Err(())),
        ];
        for (name, text, expected) in cases {
            let parsed = parse_duration(text).map(|d| d.as_secs()).map_err(|_| ());
            assert_eq!(parsed, expected, "case {name}");
        }
    }
}
