//! Terraform values and their two wire encodings.
//!
//! Terraform sends configuration, plans and state as `DynamicValue`s: msgpack in
//! normal RPCs, JSON only in the raw state handed to `UpgradeResourceState`.
//! Neither encoding says whether an array is a list or a set, or whether a map
//! is a map or an object, so every decode takes the expected [`Type`]. This
//! module knows nothing of AWS or of any particular resource.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value as Json;

/// The msgpack extension code Terraform uses for an unknown value.
const UNKNOWN_EXTENSION: i8 = 0;
/// The extension code newer Terraform releases use for an unknown value that
/// carries refinements (for example "not null"). We read it as plain unknown.
const REFINED_UNKNOWN_EXTENSION: i8 = 12;

/// A Terraform type, as written in a schema and encoded in JSON as `"string"`,
/// `["list","string"]`, `["object",{"a":"number"}]` and so on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Type {
    Bool,
    Number,
    String,
    List(Box<Type>),
    Set(Box<Type>),
    Map(Box<Type>),
    Object(BTreeMap<String, Type>),
    /// Any type; the value travels with its own type description.
    Dynamic,
}

/// A Terraform value. `Null` and `Unknown` may stand in for any type.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Value {
    #[default]
    Null,
    Unknown,
    Bool(bool),
    Number(f64),
    String(String),
    List(Vec<Value>),
    Set(Vec<Value>),
    Map(BTreeMap<String, Value>),
    Object(BTreeMap<String, Value>),
}

/// A value that does not match the type it was decoded or encoded as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecError {
    /// Where in the value the problem is, such as `.subnet_ids[1]`.
    pub path: String,
    pub message: String,
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "at {}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for CodecError {}

fn codec_error(path: &str, message: impl Into<String>) -> CodecError {
    CodecError {
        path: path.to_string(),
        message: message.into(),
    }
}

impl Type {
    pub fn list(element: Type) -> Type {
        Type::List(Box::new(element))
    }

    pub fn set(element: Type) -> Type {
        Type::Set(Box::new(element))
    }

    pub fn map(element: Type) -> Type {
        Type::Map(Box::new(element))
    }

    pub fn object<'a>(attributes: impl IntoIterator<Item = (&'a str, Type)>) -> Type {
        Type::Object(
            attributes
                .into_iter()
                .map(|(name, t)| (name.to_string(), t))
                .collect(),
        )
    }

    /// Encodes the type in Terraform's JSON type notation.
    pub fn to_json(&self) -> Json {
        match self {
            Type::Bool => Json::from("bool"),
            Type::Number => Json::from("number"),
            Type::String => Json::from("string"),
            Type::Dynamic => Json::from("dynamic"),
            Type::List(e) => Json::Array(vec!["list".into(), e.to_json()]),
            Type::Set(e) => Json::Array(vec!["set".into(), e.to_json()]),
            Type::Map(e) => Json::Array(vec!["map".into(), e.to_json()]),
            Type::Object(attributes) => {
                let fields = attributes
                    .iter()
                    .map(|(name, t)| (name.clone(), t.to_json()))
                    .collect();
                Json::Array(vec!["object".into(), Json::Object(fields)])
            }
        }
    }

    /// Decodes Terraform's JSON type notation.
    pub fn from_json(json: &Json) -> Result<Type, CodecError> {
        match json {
            Json::String(name) => match name.as_str() {
                "bool" => Ok(Type::Bool),
                "number" => Ok(Type::Number),
                "string" => Ok(Type::String),
                "dynamic" => Ok(Type::Dynamic),
                other => Err(codec_error("", format!("unknown primitive type {other:?}"))),
            },
            Json::Array(parts) if parts.len() == 2 => {
                let kind = parts[0].as_str().unwrap_or_default();
                match kind {
                    "list" => Ok(Type::list(Type::from_json(&parts[1])?)),
                    "set" => Ok(Type::set(Type::from_json(&parts[1])?)),
                    "map" => Ok(Type::map(Type::from_json(&parts[1])?)),
                    "object" => {
                        let Json::Object(fields) = &parts[1] else {
                            return Err(codec_error("", "object type needs a map of attributes"));
                        };
                        let mut attributes = BTreeMap::new();
                        for (name, t) in fields {
                            attributes.insert(name.clone(), Type::from_json(t)?);
                        }
                        Ok(Type::Object(attributes))
                    }
                    other => Err(codec_error("", format!("unsupported type kind {other:?}"))),
                }
            }
            other => Err(codec_error("", format!("invalid type notation {other}"))),
        }
    }
}

impl Value {
    pub fn string(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Whether this value or any value nested in it is unknown.
    pub fn contains_unknown(&self) -> bool {
        match self {
            Value::Unknown => true,
            Value::List(items) | Value::Set(items) => items.iter().any(Value::contains_unknown),
            Value::Map(items) | Value::Object(items) => items.values().any(Value::contains_unknown),
            _ => false,
        }
    }

    /// Returns the attribute `name` of an object, or `Null` for a null object
    /// or a missing attribute.
    pub fn get(&self, name: &str) -> &Value {
        match self {
            Value::Object(attributes) => attributes.get(name).unwrap_or(&Value::Null),
            _ => &Value::Null,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// Elements of a list or set; empty for anything else.
    pub fn elements(&self) -> &[Value] {
        match self {
            Value::List(items) | Value::Set(items) => items,
            _ => &[],
        }
    }

    /// Elements of a map; `None` for anything else.
    pub fn entries(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// Decodes a msgpack `DynamicValue` of type `ty`.
    pub fn from_msgpack(bytes: &[u8], ty: &Type) -> Result<Value, CodecError> {
        let mut reader = bytes;
        let raw = rmpv::decode::read_value(&mut reader)
            .map_err(|e| codec_error("", format!("invalid msgpack: {e}")))?;
        if !reader.is_empty() {
            return Err(codec_error("", "trailing bytes after msgpack value"));
        }
        from_msgpack_value(raw, ty, "")
    }

    /// Encodes the value as a msgpack `DynamicValue` of type `ty`.
    pub fn to_msgpack(&self, ty: &Type) -> Result<Vec<u8>, CodecError> {
        let raw = to_msgpack_value(self, ty, "")?;
        let mut out = Vec::new();
        rmpv::encode::write_value(&mut out, &raw)
            .map_err(|e| codec_error("", format!("msgpack encoding failed: {e}")))?;
        Ok(out)
    }

    /// Decodes a JSON value of type `ty`, as found in raw state. Object
    /// attributes missing from the JSON become null.
    pub fn from_json(json: &Json, ty: &Type) -> Result<Value, CodecError> {
        from_json_value(json, ty, "")
    }

    /// Encodes the value as JSON. Unknown values have no JSON form and fail.
    pub fn to_json(&self) -> Result<Json, CodecError> {
        to_json_value(self, "")
    }
}

fn child_path(path: &str, step: impl fmt::Display, is_attribute: bool) -> String {
    if is_attribute {
        format!("{path}.{step}")
    } else {
        format!("{path}[{step}]")
    }
}

fn from_msgpack_value(raw: rmpv::Value, ty: &Type, path: &str) -> Result<Value, CodecError> {
    use rmpv::Value as M;

    match raw {
        M::Nil => return Ok(Value::Null),
        M::Ext(code, _) if code == UNKNOWN_EXTENSION || code == REFINED_UNKNOWN_EXTENSION => {
            return Ok(Value::Unknown)
        }
        _ => {}
    }
    match ty {
        Type::Bool => match raw {
            M::Boolean(b) => Ok(Value::Bool(b)),
            other => Err(codec_error(path, format!("expected bool, got {other}"))),
        },
        Type::Number => msgpack_number(raw, path).map(Value::Number),
        Type::String => match raw {
            M::String(s) => s
                .into_str()
                .map(Value::String)
                .ok_or_else(|| codec_error(path, "string is not valid UTF-8")),
            other => Err(codec_error(path, format!("expected string, got {other}"))),
        },
        Type::List(element) | Type::Set(element) => {
            let M::Array(items) = raw else {
                return Err(codec_error(path, "expected an array"));
            };
            let mut values = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                values.push(from_msgpack_value(
                    item,
                    element,
                    &child_path(path, i, false),
                )?);
            }
            Ok(match ty {
                Type::List(_) => Value::List(values),
                _ => Value::Set(values),
            })
        }
        Type::Map(element) => {
            let mut entries = BTreeMap::new();
            for (key, item) in msgpack_map(raw, path)? {
                let value = from_msgpack_value(item, element, &child_path(path, &key, false))?;
                entries.insert(key, value);
            }
            Ok(Value::Map(entries))
        }
        Type::Object(attribute_types) => {
            let mut given = msgpack_map(raw, path)?;
            let mut attributes = BTreeMap::new();
            for (name, attribute_type) in attribute_types {
                let item_path = child_path(path, name, true);
                let value = match given.remove(name) {
                    Some(item) => from_msgpack_value(item, attribute_type, &item_path)?,
                    None => Value::Null,
                };
                attributes.insert(name.clone(), value);
            }
            if let Some(extra) = given.keys().next() {
                return Err(codec_error(path, format!("unexpected attribute {extra:?}")));
            }
            Ok(Value::Object(attributes))
        }
        Type::Dynamic => {
            let M::Array(mut pair) = raw else {
                return Err(codec_error(
                    path,
                    "dynamic value must be a [type, value] pair",
                ));
            };
            if pair.len() != 2 {
                return Err(codec_error(
                    path,
                    "dynamic value must be a [type, value] pair",
                ));
            }
            let value = pair.pop().unwrap_or(M::Nil);
            let type_json = match pair.pop() {
                Some(M::Binary(bytes)) => bytes,
                Some(M::String(s)) => s.into_bytes(),
                _ => return Err(codec_error(path, "dynamic value type must be JSON bytes")),
            };
            let json: Json = serde_json::from_slice(&type_json)
                .map_err(|e| codec_error(path, format!("invalid dynamic type: {e}")))?;
            let actual_type = Type::from_json(&json)?;
            from_msgpack_value(value, &actual_type, path)
        }
    }
}

fn msgpack_number(raw: rmpv::Value, path: &str) -> Result<f64, CodecError> {
    use rmpv::Value as M;

    match raw {
        M::Integer(i) => i
            .as_f64()
            .ok_or_else(|| codec_error(path, "integer out of range")),
        M::F32(f) => Ok(f64::from(f)),
        M::F64(f) => Ok(f),
        // Terraform writes numbers that do not fit a float64 as decimal strings.
        M::String(s) => s
            .as_str()
            .and_then(|s| s.parse::<f64>().ok())
            .ok_or_else(|| codec_error(path, "number string is not a decimal number")),
        other => Err(codec_error(path, format!("expected number, got {other}"))),
    }
}

fn msgpack_map(raw: rmpv::Value, path: &str) -> Result<BTreeMap<String, rmpv::Value>, CodecError> {
    let rmpv::Value::Map(pairs) = raw else {
        return Err(codec_error(path, "expected a map"));
    };
    let mut entries = BTreeMap::new();
    for (key, item) in pairs {
        let rmpv::Value::String(key) = key else {
            return Err(codec_error(path, "map key is not a string"));
        };
        let key = key
            .into_str()
            .ok_or_else(|| codec_error(path, "map key is not valid UTF-8"))?;
        entries.insert(key, item);
    }
    Ok(entries)
}

fn to_msgpack_value(value: &Value, ty: &Type, path: &str) -> Result<rmpv::Value, CodecError> {
    use rmpv::Value as M;

    if let Type::Dynamic = ty {
        return dynamic_to_msgpack(value, path);
    }
    match (value, ty) {
        (Value::Null, _) => Ok(M::Nil),
        (Value::Unknown, _) => Ok(M::Ext(UNKNOWN_EXTENSION, vec![0])),
        (Value::Bool(b), Type::Bool) => Ok(M::Boolean(*b)),
        (Value::Number(n), Type::Number) => Ok(number_to_msgpack(*n)),
        (Value::String(s), Type::String) => Ok(M::from(s.as_str())),
        (Value::List(items), Type::List(element)) | (Value::Set(items), Type::Set(element)) => {
            let mut encoded = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                encoded.push(to_msgpack_value(
                    item,
                    element,
                    &child_path(path, i, false),
                )?);
            }
            Ok(M::Array(encoded))
        }
        (Value::Map(entries), Type::Map(element)) => {
            let mut encoded = Vec::with_capacity(entries.len());
            for (key, item) in entries {
                let item_path = child_path(path, key, false);
                encoded.push((
                    M::from(key.as_str()),
                    to_msgpack_value(item, element, &item_path)?,
                ));
            }
            Ok(M::Map(encoded))
        }
        (Value::Object(attributes), Type::Object(attribute_types)) => {
            if let Some(extra) = attributes
                .keys()
                .find(|k| !attribute_types.contains_key(*k))
            {
                return Err(codec_error(path, format!("unexpected attribute {extra:?}")));
            }
            let mut encoded = Vec::with_capacity(attribute_types.len());
            for (name, attribute_type) in attribute_types {
                let item = attributes.get(name).unwrap_or(&Value::Null);
                let item_path = child_path(path, name, true);
                encoded.push((
                    M::from(name.as_str()),
                    to_msgpack_value(item, attribute_type, &item_path)?,
                ));
            }
            Ok(M::Map(encoded))
        }
        (value, ty) => Err(codec_error(
            path,
            format!("value {value:?} does not match type {}", ty.to_json()),
        )),
    }
}

fn number_to_msgpack(n: f64) -> rmpv::Value {
    // Whole numbers go out as integers so that Terraform shows `443`, not `443.0`.
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        return rmpv::Value::from(n as i64);
    }
    // Terraform sends a decimal such as 0.1, which has no exact float64 form,
    // as the string "0.1" and keeps it at high precision. Terraform 1.0
    // compares planned and configured values exactly, so the float64 nearest
    // 0.1 would not match. The shortest decimal that reads back as the same
    // float64 does match. Numbers whose float64 value is exactly that
    // decimal, such as 1.5, stay float64.
    let shortest = n.to_string();
    if n.is_finite() && !is_exact_decimal(n, &shortest) {
        rmpv::Value::from(shortest.as_str())
    } else {
        rmpv::Value::F64(n)
    }
}

/// Reports whether `decimal`, the shortest decimal form of `n`, is exactly
/// the value of `n`. A finite float64 has at most 1074 digits after the point, so
/// printing that many gives its exact expansion.
fn is_exact_decimal(n: f64, decimal: &str) -> bool {
    let exact = format!("{n:.1074}");
    let exact = exact.trim_end_matches('0').trim_end_matches('.');
    exact == decimal
}

/// Encodes a value of dynamic type as the `[type JSON, value]` pair Terraform
/// expects, inferring the type from the value.
fn dynamic_to_msgpack(value: &Value, path: &str) -> Result<rmpv::Value, CodecError> {
    match value {
        Value::Unknown => return Ok(rmpv::Value::Ext(UNKNOWN_EXTENSION, vec![0])),
        // An untyped null is plain nil, as cty writes it. Inferring a type
        // gives `dynamic` again, so without this the encoding never ends.
        Value::Null => return Ok(rmpv::Value::Nil),
        _ => {}
    }
    let ty = infer_type(value);
    let type_json = serde_json::to_vec(&ty.to_json())
        .map_err(|e| codec_error(path, format!("type encoding failed: {e}")))?;
    Ok(rmpv::Value::Array(vec![
        rmpv::Value::Binary(type_json),
        to_msgpack_value(value, &ty, path)?,
    ]))
}

fn infer_type(value: &Value) -> Type {
    let first_element_type = |items: &[Value]| items.first().map_or(Type::Dynamic, infer_type);
    match value {
        Value::Null | Value::Unknown => Type::Dynamic,
        Value::Bool(_) => Type::Bool,
        Value::Number(_) => Type::Number,
        Value::String(_) => Type::String,
        Value::List(items) => Type::list(first_element_type(items)),
        Value::Set(items) => Type::set(first_element_type(items)),
        Value::Map(entries) => Type::map(entries.values().next().map_or(Type::Dynamic, infer_type)),
        Value::Object(attributes) => Type::Object(
            attributes
                .iter()
                .map(|(name, v)| (name.clone(), infer_type(v)))
                .collect(),
        ),
    }
}

fn from_json_value(json: &Json, ty: &Type, path: &str) -> Result<Value, CodecError> {
    if json.is_null() {
        return Ok(Value::Null);
    }
    match ty {
        Type::Bool => json
            .as_bool()
            .map(Value::Bool)
            .ok_or_else(|| codec_error(path, "expected bool")),
        Type::Number => match json {
            Json::Number(n) => n
                .as_f64()
                .map(Value::Number)
                .ok_or_else(|| codec_error(path, "number out of range")),
            Json::String(s) => s
                .parse::<f64>()
                .map(Value::Number)
                .map_err(|_| codec_error(path, "number string is not a decimal number")),
            _ => Err(codec_error(path, "expected number")),
        },
        Type::String => match json {
            Json::String(s) => Ok(Value::String(s.clone())),
            // Terraform converts primitives to strings where a string is expected.
            Json::Bool(b) => Ok(Value::String(b.to_string())),
            Json::Number(n) => Ok(Value::String(n.to_string())),
            _ => Err(codec_error(path, "expected string")),
        },
        Type::List(element) | Type::Set(element) => {
            let Json::Array(items) = json else {
                return Err(codec_error(path, "expected an array"));
            };
            let mut values = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                values.push(from_json_value(item, element, &child_path(path, i, false))?);
            }
            Ok(match ty {
                Type::List(_) => Value::List(values),
                _ => Value::Set(values),
            })
        }
        Type::Map(element) => {
            let Json::Object(fields) = json else {
                return Err(codec_error(path, "expected an object"));
            };
            let mut entries = BTreeMap::new();
            for (key, item) in fields {
                let item_path = child_path(path, key, false);
                entries.insert(key.clone(), from_json_value(item, element, &item_path)?);
            }
            Ok(Value::Map(entries))
        }
        Type::Object(attribute_types) => {
            let Json::Object(fields) = json else {
                return Err(codec_error(path, "expected an object"));
            };
            let mut attributes = BTreeMap::new();
            for (name, attribute_type) in attribute_types {
                let item_path = child_path(path, name, true);
                let value = match fields.get(name) {
                    Some(item) => from_json_value(item, attribute_type, &item_path)?,
                    None => Value::Null,
                };
                attributes.insert(name.clone(), value);
            }
            Ok(Value::Object(attributes))
        }
        Type::Dynamic => {
            let type_json = json
                .get("type")
                .ok_or_else(|| codec_error(path, "dynamic value needs a \"type\""))?;
            let actual_type = Type::from_json(type_json)?;
            let inner = json.get("value").unwrap_or(&Json::Null);
            from_json_value(inner, &actual_type, path)
        }
    }
}

fn to_json_value(value: &Value, path: &str) -> Result<Json, CodecError> {
    Ok(match value {
        Value::Null => Json::Null,
        Value::Unknown => return Err(codec_error(path, "unknown values have no JSON form")),
        Value::Bool(b) => Json::Bool(*b),
        Value::Number(n) => match serde_json::Number::from_f64(*n) {
            Some(_) if n.fract() == 0.0 && n.abs() < 9.0e15 => Json::from(*n as i64),
            Some(number) => Json::Number(number),
            None => return Err(codec_error(path, "number is not finite")),
        },
        Value::String(s) => Json::String(s.clone()),
        Value::List(items) | Value::Set(items) => {
            let mut encoded = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                encoded.push(to_json_value(item, &child_path(path, i, false))?);
            }
            Json::Array(encoded)
        }
        Value::Map(entries) | Value::Object(entries) => {
            let mut encoded = serde_json::Map::new();
            for (key, item) in entries {
                encoded.insert(
                    key.clone(),
                    to_json_value(item, &child_path(path, key, true))?,
                );
            }
            Json::Object(encoded)
        }
    })
}
