//! VPC endpoint policies: validation and semantic comparison.
//!
//! AWS stores a policy in its own formatting and may hand back a document
//! that differs from the configured one only in key order, white space or
//! `"x"` versus `["x"]`. Comparing the normalised forms keeps such
//! differences out of plans.

use serde_json::Value as Json;

/// AWS's limit on a VPC endpoint policy document, in characters.
pub const MAX_POLICY_LENGTH: usize = 20_480;

/// Checks that `text` is a JSON object within AWS's size limit.
pub fn validate(text: &str) -> Result<(), String> {
    if text.chars().count() > MAX_POLICY_LENGTH {
        return Err(format!(
            "the policy is {} characters long; AWS accepts at most {MAX_POLICY_LENGTH}",
            text.chars().count()
        ));
    }
    match serde_json::from_str::<Json>(text) {
        Ok(Json::Object(_)) => Ok(()),
        Ok(_) => Err("the policy must be a JSON object".to_string()),
        Err(e) => Err(format!("the policy is not valid JSON: {e}")),
    }
}

/// Whether two policy documents mean the same to AWS. Text that does not
/// parse is compared as written.
pub fn equivalent(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<Json>(a),
        serde_json::from_str::<Json>(b),
    ) {
        (Ok(a), Ok(b)) => normalize(a) == normalize(b),
        _ => a == b,
    }
}

/// Whether `text` is the full-access policy AWS attaches when none is given:
/// every principal may perform every action on every resource.
pub fn is_full_access(text: &str) -> bool {
    let Ok(document) = serde_json::from_str::<Json>(text) else {
        return false;
    };
    let document = normalize(document);
    let statement = &document["Statement"];
    statement["Effect"] == "Allow"
        && statement["Principal"] == "*"
        && statement["Action"] == "*"
        && statement["Resource"] == "*"
        && statement.get("Condition").is_none()
}

/// Rewrites a document into one canonical form: a one-element array becomes
/// its element, arrays of strings are sorted and deduplicated (IAM treats
/// them as sets), and object keys are ordered (serde_json's map is sorted).
fn normalize(value: Json) -> Json {
    match value {
        Json::Array(items) => {
            let mut items: Vec<Json> = items.into_iter().map(normalize).collect();
            if items.iter().all(Json::is_string) {
                items.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
                items.dedup();
            }
            if items.len() == 1 {
                items.pop().unwrap_or(Json::Null)
            } else {
                Json::Array(items)
            }
        }
        Json::Object(fields) => {
            Json::Object(fields.into_iter().map(|(k, v)| (k, normalize(v))).collect())
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Case {
        name: &'static str,
        a: &'static str,
        b: &'static str,
        equivalent: bool,
    }

    #[test]
    fn equivalence_cases() {
        let cases = [
            Case {
                name: "key order and spacing",
                a: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*"}]}"#,
                b: r#"{ "Statement": [ { "Action": "*", "Effect": "Allow" } ], "Version": "2012-10-17" }"#,
                equivalent: true,
            },
            Case {
                name: "string versus one-element array",
                a: r#"{"Statement":{"Action":"s3:GetObject","Resource":["*"]}}"#,
                b: r#"{"Statement":[{"Action":["s3:GetObject"],"Resource":"*"}]}"#,
                equivalent: true,
            },
            Case {
                name: "action order",
                a: r#"{"Statement":[{"Action":["a:X","a:Y"]}]}"#,
                b: r#"{"Statement":[{"Action":["a:Y","a:X"]}]}"#,
                equivalent: true,
            },
            Case {
                name: "different effect",
                a: r#"{"Statement":[{"Effect":"Allow"}]}"#,
                b: r#"{"Statement":[{"Effect":"Deny"}]}"#,
                equivalent: false,
            },
            Case {
                name: "extra action",
                a: r#"{"Statement":[{"Action":["a:X"]}]}"#,
                b: r#"{"Statement":[{"Action":["a:X","a:Y"]}]}"#,
                equivalent: false,
            },
        ];
        for case in cases {
            assert_eq!(
                equivalent(case.a, case.b),
                case.equivalent,
                "case {}",
                case.name
            );
        }
    }

    #[test]
    fn full_access_detected() {
        let aws_default = r#"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#;
        assert!(is_full_access(aws_default));
        let narrowed =
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}]}"#;
        assert!(!is_full_access(narrowed));
    }

    #[test]
    fn validate_rejects_bad_documents() {
        assert!(validate("{not json").is_err(), "invalid JSON");
        assert!(validate("[1]").is_err(), "not an object");
        let long = format!("{{\"Sid\":\"{}\"}}", "x".repeat(MAX_POLICY_LENGTH));
        assert!(validate(&long).is_err(), "too long");
        assert!(validate(r#"{"Statement":[]}"#).is_ok(), "valid");
    }
}
