//! Tests of the Terraform value codec (`plink::protocol::value`) and of the
//! schema conversion to `tfplugin6.Schema`.
//!
//! The wire cases spell out the msgpack bytes by hand, so they check the
//! encoding itself and not only that decoding undoes encoding. The bytes
//! follow the msgpack specification and cty's msgpack encoding: object
//! attributes sorted by name, unknown as extension type 0, and dynamic values
//! as a `[type JSON, value]` array.

use std::collections::BTreeMap;

use plink::protocol::proto::tfplugin6 as pb;
use plink::protocol::schema::{Attribute, Block, NestedBlock, Nesting, Schema};
use plink::protocol::server::schema_to_proto;
use plink::protocol::value::{Type, Value};
use serde_json::{json, Value as Json};

fn object(attributes: &[(&str, Value)]) -> Value {
    Value::Object(
        attributes
            .iter()
            .map(|(name, value)| (name.to_string(), value.clone()))
            .collect(),
    )
}

fn map(entries: &[(&str, Value)]) -> Value {
    Value::Map(
        entries
            .iter()
            .map(|(key, value)| (key.to_string(), value.clone()))
            .collect(),
    )
}

fn text(s: &str) -> Value {
    Value::string(s)
}

fn number(n: f64) -> Value {
    Value::Number(n)
}

/// Builds the type of a resource with a nested list of objects, which several
/// tables use.
fn endpoint_type() -> Type {
    let entry = Type::object([("dns_name", Type::String), ("zone", Type::String)]);
    Type::object([
        ("name", Type::String),
        ("ports", Type::set(Type::Number)),
        ("enabled", Type::Bool),
        ("tags", Type::map(Type::String)),
        ("entries", Type::list(entry)),
    ])
}

// ---------------------------------------------------------------- msgpack

struct RoundTripCase {
    name: &'static str,
    ty: Type,
    value: Value,
}

#[test]
fn msgpack_round_trip() {
    let entry = |dns: &str, zone: &str| object(&[("dns_name", text(dns)), ("zone", text(zone))]);
    let cases = vec![
        RoundTripCase {
            name: "bool true",
            ty: Type::Bool,
            value: Value::Bool(true),
        },
        RoundTripCase {
            name: "bool false",
            ty: Type::Bool,
            value: Value::Bool(false),
        },
        RoundTripCase {
            name: "whole number",
            ty: Type::Number,
            value: number(443.0),
        },
        RoundTripCase {
            name: "negative whole number",
            ty: Type::Number,
            value: number(-70000.0),
        },
        RoundTripCase {
            name: "zero",
            ty: Type::Number,
            value: number(0.0),
        },
        RoundTripCase {
            name: "fractional number",
            ty: Type::Number,
            value: number(0.1),
        },
        RoundTripCase {
            name: "negative fractional number",
            ty: Type::Number,
            value: number(-2.5),
        },
        RoundTripCase {
            name: "large number beyond int64",
            ty: Type::Number,
            value: number(1e20),
        },
        RoundTripCase {
            name: "largest exact float64 integer",
            ty: Type::Number,
            value: number(9_007_199_254_740_992.0),
        },
        RoundTripCase {
            name: "whole number just below the integer limit",
            ty: Type::Number,
            value: number(8_999_999_999_999_999.0),
        },
        RoundTripCase {
            name: "tiny number",
            ty: Type::Number,
            value: number(1e-7),
        },
        RoundTripCase {
            name: "string",
            ty: Type::String,
            value: text("vpc-0123456789abcdef0"),
        },
        RoundTripCase {
            name: "empty string",
            ty: Type::String,
            value: text(""),
        },
        RoundTripCase {
            name: "non-ASCII string",
            ty: Type::String,
            value: text("zürich ☃"),
        },
        RoundTripCase {
            name: "long string",
            ty: Type::String,
            value: text(&"x".repeat(70_000)),
        },
        RoundTripCase {
            name: "list of strings",
            ty: Type::list(Type::String),
            value: Value::List(vec![text("a"), text("b"), text("a")]),
        },
        RoundTripCase {
            name: "empty list",
            ty: Type::list(Type::String),
            value: Value::List(Vec::new()),
        },
        RoundTripCase {
            name: "set of numbers",
            ty: Type::set(Type::Number),
            value: Value::Set(vec![number(80.0), number(443.0)]),
        },
        RoundTripCase {
            name: "map of strings",
            ty: Type::map(Type::String),
            value: map(&[("env", text("prod")), ("team", text("net"))]),
        },
        RoundTripCase {
            name: "empty map",
            ty: Type::map(Type::String),
            value: map(&[]),
        },
        RoundTripCase {
            name: "list of lists",
            ty: Type::list(Type::list(Type::Number)),
            value: Value::List(vec![
                Value::List(vec![number(1.0)]),
                Value::List(Vec::new()),
            ]),
        },
        RoundTripCase {
            name: "object with every attribute set",
            ty: endpoint_type(),
            value: object(&[
                ("name", text("api")),
                ("ports", Value::Set(vec![number(443.0)])),
                ("enabled", Value::Bool(true)),
                ("tags", map(&[("env", text("prod"))])),
                (
                    "entries",
                    Value::List(vec![entry("a.example", "Z1"), entry("b.example", "Z2")]),
                ),
            ]),
        },
        RoundTripCase {
            name: "null at top level",
            ty: endpoint_type(),
            value: Value::Null,
        },
        RoundTripCase {
            name: "unknown at top level",
            ty: endpoint_type(),
            value: Value::Unknown,
        },
        RoundTripCase {
            name: "null and unknown attributes",
            ty: endpoint_type(),
            value: object(&[
                ("name", Value::Unknown),
                ("ports", Value::Null),
                ("enabled", Value::Unknown),
                ("tags", Value::Null),
                ("entries", Value::Unknown),
            ]),
        },
        RoundTripCase {
            name: "null and unknown elements",
            ty: Type::list(Type::String),
            value: Value::List(vec![Value::Null, Value::Unknown, text("x")]),
        },
        RoundTripCase {
            name: "unknown map entry",
            ty: Type::map(Type::Number),
            value: map(&[("a", Value::Unknown), ("b", number(2.0))]),
        },
        RoundTripCase {
            name: "unknown deep in a list of objects",
            ty: endpoint_type(),
            value: object(&[
                ("name", text("api")),
                ("ports", Value::Set(vec![Value::Unknown])),
                ("enabled", Value::Null),
                ("tags", map(&[("env", Value::Unknown)])),
                (
                    "entries",
                    Value::List(vec![
                        object(&[("dns_name", Value::Unknown), ("zone", Value::Null)]),
                        Value::Null,
                        Value::Unknown,
                    ]),
                ),
            ]),
        },
    ];

    for case in cases {
        let bytes = case
            .value
            .to_msgpack(&case.ty)
            .unwrap_or_else(|e| panic!("{}: encoding failed: {e}", case.name));
        let decoded = Value::from_msgpack(&bytes, &case.ty)
            .unwrap_or_else(|e| panic!("{}: decoding failed: {e}", case.name));
        assert_eq!(
            decoded, case.value,
            "{}: decoding the encoded value changed it",
            case.name
        );
    }
}

struct WireCase {
    name: &'static str,
    ty: Type,
    value: Value,
    bytes: Vec<u8>,
}

/// Cases whose encoding is fixed: the provider must write exactly these bytes,
/// and reading them back must give the value.
#[test]
fn msgpack_wire_bytes() {
    let dynamic_string = {
        let mut bytes = vec![0x92, 0xc4, 0x08];
        bytes.extend_from_slice(b"\"string\"");
        bytes.extend_from_slice(&[0xa1, b'x']);
        bytes
    };
    let cases = vec![
        WireCase {
            name: "true",
            ty: Type::Bool,
            value: Value::Bool(true),
            bytes: vec![0xc3],
        },
        WireCase {
            name: "false",
            ty: Type::Bool,
            value: Value::Bool(false),
            bytes: vec![0xc2],
        },
        WireCase {
            name: "null",
            ty: Type::String,
            value: Value::Null,
            bytes: vec![0xc0],
        },
        WireCase {
            name: "unknown as fixext1 of type 0",
            ty: Type::String,
            value: Value::Unknown,
            bytes: vec![0xd4, 0x00, 0x00],
        },
        WireCase {
            name: "small whole number as positive fixint",
            ty: Type::Number,
            value: number(1.0),
            bytes: vec![0x01],
        },
        WireCase {
            name: "port number as uint16",
            ty: Type::Number,
            value: number(443.0),
            bytes: vec![0xcd, 0x01, 0xbb],
        },
        WireCase {
            name: "negative whole number as negative fixint",
            ty: Type::Number,
            value: number(-5.0),
            bytes: vec![0xfb],
        },
        WireCase {
            name: "fraction as float64",
            ty: Type::Number,
            value: number(1.5),
            bytes: vec![0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0],
        },
        WireCase {
            name: "fraction without an exact float64 form as decimal string",
            ty: Type::Number,
            value: number(0.1),
            bytes: vec![0xa3, b'0', b'.', b'1'],
        },
        WireCase {
            name: "1e20 as float64",
            ty: Type::Number,
            value: number(1e20),
            bytes: vec![0xcb, 0x44, 0x15, 0xaf, 0x1d, 0x78, 0xb5, 0x8c, 0x40],
        },
        WireCase {
            name: "string as fixstr",
            ty: Type::String,
            value: text("hi"),
            bytes: vec![0xa2, b'h', b'i'],
        },
        WireCase {
            name: "object with one number",
            ty: Type::object([("a", Type::Number)]),
            value: object(&[("a", number(1.0))]),
            bytes: vec![0x81, 0xa1, b'a', 0x01],
        },
        WireCase {
            name: "object attributes in name order",
            ty: Type::object([("b", Type::Bool), ("a", Type::String)]),
            value: object(&[("b", Value::Bool(true)), ("a", text("x"))]),
            bytes: vec![0x82, 0xa1, b'a', 0xa1, b'x', 0xa1, b'b', 0xc3],
        },
        WireCase {
            name: "object with unknown attribute",
            ty: Type::object([("a", Type::Number)]),
            value: object(&[("a", Value::Unknown)]),
            bytes: vec![0x81, 0xa1, b'a', 0xd4, 0x00, 0x00],
        },
        WireCase {
            name: "list of strings",
            ty: Type::list(Type::String),
            value: Value::List(vec![text("x"), text("y")]),
            bytes: vec![0x92, 0xa1, b'x', 0xa1, b'y'],
        },
        WireCase {
            name: "set of numbers",
            ty: Type::set(Type::Number),
            value: Value::Set(vec![number(1.0), number(2.0)]),
            bytes: vec![0x92, 0x01, 0x02],
        },
        WireCase {
            name: "map of strings",
            ty: Type::map(Type::String),
            value: map(&[("k", text("v"))]),
            bytes: vec![0x81, 0xa1, b'k', 0xa1, b'v'],
        },
        WireCase {
            name: "dynamic string as type and value",
            ty: Type::Dynamic,
            value: text("x"),
            bytes: dynamic_string,
        },
        WireCase {
            name: "dynamic null as nil",
            ty: Type::Dynamic,
            value: Value::Null,
            bytes: vec![0xc0],
        },
        WireCase {
            name: "dynamic unknown as bare extension",
            ty: Type::Dynamic,
            value: Value::Unknown,
            bytes: vec![0xd4, 0x00, 0x00],
        },
    ];

    for case in cases {
        let encoded = case
            .value
            .to_msgpack(&case.ty)
            .unwrap_or_else(|e| panic!("{}: encoding failed: {e}", case.name));
        assert_eq!(encoded, case.bytes, "{}: encoded bytes", case.name);
        let decoded = Value::from_msgpack(&case.bytes, &case.ty)
            .unwrap_or_else(|e| panic!("{}: decoding failed: {e}", case.name));
        assert_eq!(decoded, case.value, "{}: decoded value", case.name);
    }
}

#[test]
fn msgpack_missing_attributes_null() {
    let ty = Type::object([("a", Type::Number), ("b", Type::String)]);

    let encoded = object(&[("a", number(1.0))])
        .to_msgpack(&ty)
        .expect("encoding an object without `b` failed");
    assert_eq!(
        encoded,
        vec![0x82, 0xa1, b'a', 0x01, 0xa1, b'b', 0xc0],
        "a missing attribute must be written as nil"
    );

    let decoded = Value::from_msgpack(&[0x81, 0xa1, b'a', 0x01], &ty)
        .expect("decoding a map without `b` failed");
    assert_eq!(
        decoded,
        object(&[("a", number(1.0)), ("b", Value::Null)]),
        "a missing attribute must be read as null"
    );

    let decoded_empty = Value::from_msgpack(&[0x80], &ty).expect("decoding an empty map failed");
    assert_eq!(
        decoded_empty,
        object(&[("a", Value::Null), ("b", Value::Null)]),
        "an empty map must give an object of nulls"
    );
}

struct DecodeCase {
    name: &'static str,
    ty: Type,
    bytes: Vec<u8>,
    expected: Value,
}

/// Encodings Terraform may send that the provider never writes itself.
#[test]
fn msgpack_decode_forms() {
    let msgpack_string = |s: &str| {
        let mut bytes = vec![0xa0 | u8::try_from(s.len()).expect("short string")];
        bytes.extend_from_slice(s.as_bytes());
        bytes
    };
    let dynamic_type_as_str = {
        let mut bytes = vec![0x92, 0xa8];
        bytes.extend_from_slice(b"\"number\"");
        bytes.push(0x07);
        bytes
    };
    let cases = vec![
        DecodeCase {
            name: "refined unknown as fixext1 of type 12",
            ty: Type::String,
            bytes: vec![0xd4, 0x0c, 0x00],
            expected: Value::Unknown,
        },
        DecodeCase {
            name: "refined unknown with a refinement map",
            ty: Type::String,
            bytes: vec![0xc7, 0x03, 0x0c, 0x81, 0x01, 0xc3],
            expected: Value::Unknown,
        },
        DecodeCase {
            name: "unknown as ext8 with empty payload",
            ty: Type::Number,
            bytes: vec![0xc7, 0x00, 0x00],
            expected: Value::Unknown,
        },
        DecodeCase {
            name: "refined unknown inside a list",
            ty: Type::list(Type::Number),
            bytes: vec![0x92, 0x01, 0xd4, 0x0c, 0x00],
            expected: Value::List(vec![number(1.0), Value::Unknown]),
        },
        DecodeCase {
            name: "refined unknown deep in an object",
            ty: Type::object([("o", Type::object([("s", Type::set(Type::String))]))]),
            bytes: vec![0x81, 0xa1, b'o', 0x81, 0xa1, b's', 0xd4, 0x0c, 0x00],
            expected: object(&[("o", object(&[("s", Value::Unknown)]))]),
        },
        DecodeCase {
            name: "whole number as string",
            ty: Type::Number,
            bytes: msgpack_string("443"),
            expected: number(443.0),
        },
        DecodeCase {
            name: "fraction as string",
            ty: Type::Number,
            bytes: msgpack_string("0.25"),
            expected: number(0.25),
        },
        DecodeCase {
            name: "negative number as string",
            ty: Type::Number,
            bytes: msgpack_string("-12"),
            expected: number(-12.0),
        },
        DecodeCase {
            name: "number beyond int64 as string",
            ty: Type::Number,
            bytes: msgpack_string("100000000000000000000"),
            expected: number(1e20),
        },
        DecodeCase {
            name: "number in exponent form as string",
            ty: Type::Number,
            bytes: msgpack_string("1.5e3"),
            expected: number(1500.0),
        },
        DecodeCase {
            name: "int8",
            ty: Type::Number,
            bytes: vec![0xd0, 0x80],
            expected: number(-128.0),
        },
        DecodeCase {
            name: "uint64",
            ty: Type::Number,
            bytes: vec![0xcf, 0, 0, 0, 0x01, 0, 0, 0, 0],
            expected: number(4_294_967_296.0),
        },
        DecodeCase {
            name: "float32",
            ty: Type::Number,
            bytes: vec![0xca, 0x3f, 0xc0, 0x00, 0x00],
            expected: number(1.5),
        },
        DecodeCase {
            name: "string as str8",
            ty: Type::String,
            bytes: vec![0xd9, 0x02, b'o', b'k'],
            expected: text("ok"),
        },
        DecodeCase {
            name: "dynamic type JSON as str",
            ty: Type::Dynamic,
            bytes: dynamic_type_as_str,
            expected: number(7.0),
        },
    ];

    for case in cases {
        let decoded = Value::from_msgpack(&case.bytes, &case.ty)
            .unwrap_or_else(|e| panic!("{}: decoding failed: {e}", case.name));
        assert_eq!(decoded, case.expected, "{}: decoded value", case.name);
    }
}

struct DecodeErrorCase {
    name: &'static str,
    ty: Type,
    bytes: Vec<u8>,
    path: &'static str,
    message: &'static str,
}

#[test]
fn msgpack_decode_errors() {
    let cases = vec![
        DecodeErrorCase {
            name: "string where bool expected",
            ty: Type::Bool,
            bytes: vec![0xa1, b'x'],
            path: "",
            message: "expected bool",
        },
        DecodeErrorCase {
            name: "number attribute where string expected",
            ty: Type::object([("a", Type::String)]),
            bytes: vec![0x81, 0xa1, b'a', 0x01],
            path: ".a",
            message: "expected string",
        },
        DecodeErrorCase {
            name: "bad list element",
            ty: Type::object([("l", Type::list(Type::Number))]),
            bytes: vec![0x81, 0xa1, b'l', 0x92, 0x01, 0xc3],
            path: ".l[1]",
            message: "expected number",
        },
        DecodeErrorCase {
            name: "bad map entry",
            ty: Type::object([("tags", Type::map(Type::String))]),
            bytes: vec![0x81, 0xa4, b't', b'a', b'g', b's', 0x81, 0xa1, b'k', 0xc3],
            path: ".tags[k]",
            message: "expected string",
        },
        DecodeErrorCase {
            name: "number string that is not a number",
            ty: Type::Number,
            bytes: vec![0xa3, b'a', b'b', b'c'],
            path: "",
            message: "not a decimal number",
        },
        DecodeErrorCase {
            name: "map where list expected",
            ty: Type::list(Type::String),
            bytes: vec![0x80],
            path: "",
            message: "expected an array",
        },
        DecodeErrorCase {
            name: "array where object expected",
            ty: Type::object([("a", Type::String)]),
            bytes: vec![0x90],
            path: "",
            message: "expected a map",
        },
        DecodeErrorCase {
            name: "unexpected attribute",
            ty: Type::object([("a", Type::Number)]),
            bytes: vec![0x82, 0xa1, b'a', 0x01, 0xa1, b'b', 0x02],
            path: "",
            message: "unexpected attribute \"b\"",
        },
        DecodeErrorCase {
            name: "unexpected attribute in nested object",
            ty: Type::object([("o", Type::object([("a", Type::Number)]))]),
            bytes: vec![0x81, 0xa1, b'o', 0x81, 0xa1, b'z', 0x01],
            path: ".o",
            message: "unexpected attribute \"z\"",
        },
        DecodeErrorCase {
            name: "integer map key",
            ty: Type::map(Type::String),
            bytes: vec![0x81, 0x01, 0xa1, b'v'],
            path: "",
            message: "map key is not a string",
        },
        DecodeErrorCase {
            name: "trailing bytes",
            ty: Type::Bool,
            bytes: vec![0xc3, 0xc3],
            path: "",
            message: "trailing bytes",
        },
        DecodeErrorCase {
            name: "truncated array",
            ty: Type::list(Type::Number),
            bytes: vec![0x92, 0x01],
            path: "",
            message: "invalid msgpack",
        },
        DecodeErrorCase {
            name: "empty input",
            ty: Type::String,
            bytes: Vec::new(),
            path: "",
            message: "invalid msgpack",
        },
        DecodeErrorCase {
            name: "unrelated extension type",
            ty: Type::String,
            bytes: vec![0xd4, 0x05, 0x00],
            path: "",
            message: "expected string",
        },
        DecodeErrorCase {
            name: "dynamic value that is not a pair",
            ty: Type::object([("d", Type::Dynamic)]),
            bytes: vec![0x81, 0xa1, b'd', 0x91, 0x01],
            path: ".d",
            message: "[type, value] pair",
        },
        DecodeErrorCase {
            name: "dynamic value with a bad type",
            ty: Type::Dynamic,
            bytes: vec![0x92, 0xc4, 0x03, b'"', b'x', b'"', 0x01],
            path: "",
            message: "unknown primitive type \"x\"",
        },
    ];

    for case in cases {
        let error = match Value::from_msgpack(&case.bytes, &case.ty) {
            Ok(value) => panic!("{}: decoding succeeded with {value:?}", case.name),
            Err(error) => error,
        };
        assert_eq!(error.path, case.path, "{}: error path", case.name);
        assert!(
            error.message.contains(case.message),
            "{}: message {:?} does not contain {:?}",
            case.name,
            error.message,
            case.message
        );
        let displayed = error.to_string();
        if case.path.is_empty() {
            assert_eq!(
                displayed, error.message,
                "{}: a root error shows only the message",
                case.name
            );
        } else {
            assert!(
                displayed.starts_with(&format!("at {}: ", case.path)),
                "{}: displayed error {displayed:?} does not start with the path",
                case.name
            );
        }
    }
}

struct EncodeErrorCase {
    name: &'static str,
    ty: Type,
    value: Value,
    path: &'static str,
    message: &'static str,
}

#[test]
fn msgpack_encode_errors() {
    let cases = vec![
        EncodeErrorCase {
            name: "string for a number",
            ty: Type::Number,
            value: text("1"),
            path: "",
            message: "does not match type \"number\"",
        },
        EncodeErrorCase {
            name: "list for a set",
            ty: Type::set(Type::String),
            value: Value::List(Vec::new()),
            path: "",
            message: "does not match type",
        },
        EncodeErrorCase {
            name: "map for an object",
            ty: Type::object([("a", Type::String)]),
            value: map(&[("a", text("x"))]),
            path: "",
            message: "does not match type",
        },
        EncodeErrorCase {
            name: "attribute not in the type",
            ty: Type::object([("a", Type::String)]),
            value: object(&[("a", text("x")), ("extra", text("y"))]),
            path: "",
            message: "unexpected attribute \"extra\"",
        },
        EncodeErrorCase {
            name: "bad element in a nested list",
            ty: Type::object([("l", Type::list(Type::Bool))]),
            value: object(&[("l", Value::List(vec![Value::Bool(true), number(1.0)]))]),
            path: ".l[1]",
            message: "does not match type \"bool\"",
        },
        EncodeErrorCase {
            name: "bad map entry",
            ty: Type::map(Type::Number),
            value: map(&[("k", Value::Bool(false))]),
            path: "[k]",
            message: "does not match type",
        },
    ];

    for case in cases {
        let error = match case.value.to_msgpack(&case.ty) {
            Ok(bytes) => panic!("{}: encoding succeeded with {bytes:02x?}", case.name),
            Err(error) => error,
        };
        assert_eq!(error.path, case.path, "{}: error path", case.name);
        assert!(
            error.message.contains(case.message),
            "{}: message {:?} does not contain {:?}",
            case.name,
            error.message,
            case.message
        );
    }
}

// ---------------------------------------------------------------- dynamic

/// A value of dynamic type carries its own type, so it decodes although the
/// caller passes only `Type::Dynamic`.
#[test]
fn dynamic_round_trip() {
    let cases = vec![
        RoundTripCase {
            name: "bool",
            ty: Type::Dynamic,
            value: Value::Bool(false),
        },
        RoundTripCase {
            name: "fractional number",
            ty: Type::Dynamic,
            value: number(2.5),
        },
        RoundTripCase {
            name: "list of strings",
            ty: Type::Dynamic,
            value: Value::List(vec![text("a"), text("b")]),
        },
        RoundTripCase {
            name: "empty list",
            ty: Type::Dynamic,
            value: Value::List(Vec::new()),
        },
        RoundTripCase {
            name: "set of numbers",
            ty: Type::Dynamic,
            value: Value::Set(vec![number(1.0)]),
        },
        RoundTripCase {
            name: "map of numbers",
            ty: Type::Dynamic,
            value: map(&[("x", number(1.0))]),
        },
        RoundTripCase {
            name: "object",
            ty: Type::Dynamic,
            value: object(&[("a", text("x")), ("n", number(3.0))]),
        },
        RoundTripCase {
            name: "object with a null attribute",
            ty: Type::Dynamic,
            value: object(&[("a", Value::Null), ("b", Value::Bool(true))]),
        },
        RoundTripCase {
            name: "dynamic attribute of a typed object",
            ty: Type::object([("d", Type::Dynamic), ("s", Type::String)]),
            value: object(&[("d", Value::List(vec![number(1.0)])), ("s", text("x"))]),
        },
        RoundTripCase {
            name: "null dynamic attribute",
            ty: Type::object([("d", Type::Dynamic)]),
            value: object(&[("d", Value::Null)]),
        },
        RoundTripCase {
            name: "unknown dynamic attribute",
            ty: Type::object([("d", Type::Dynamic)]),
            value: object(&[("d", Value::Unknown)]),
        },
    ];

    for case in cases {
        let bytes = case
            .value
            .to_msgpack(&case.ty)
            .unwrap_or_else(|e| panic!("{}: encoding failed: {e}", case.name));
        let decoded = Value::from_msgpack(&bytes, &case.ty)
            .unwrap_or_else(|e| panic!("{}: decoding failed: {e}", case.name));
        assert_eq!(decoded, case.value, "{}: decoded value", case.name);
    }
}

#[test]
fn dynamic_type_header() {
    let value = object(&[("a", text("x")), ("n", number(3.0))]);
    let bytes = value
        .to_msgpack(&Type::Dynamic)
        .expect("encoding a dynamic object failed");

    let mut reader = bytes.as_slice();
    let raw = rmpv::decode::read_value(&mut reader).expect("the encoding is not msgpack");
    let rmpv::Value::Array(pair) = raw else {
        panic!("a dynamic value must be an array, got {raw}");
    };
    assert_eq!(pair.len(), 2, "a dynamic value must have two elements");
    let rmpv::Value::Binary(type_bytes) = &pair[0] else {
        panic!("the type must be msgpack bin, got {}", pair[0]);
    };
    let type_json: Json = serde_json::from_slice(type_bytes).expect("the type bytes are not JSON");
    assert_eq!(
        type_json,
        json!(["object", {"a": "string", "n": "number"}]),
        "type JSON of the dynamic object"
    );
    assert!(
        matches!(pair[1], rmpv::Value::Map(_)),
        "the value must be a msgpack map, got {}",
        pair[1]
    );
}

// ---------------------------------------------------------------- JSON

struct JsonDecodeCase {
    name: &'static str,
    ty: Type,
    json: Json,
    expected: Value,
}

#[test]
fn json_decode() {
    let cases = vec![
        JsonDecodeCase {
            name: "null",
            ty: endpoint_type(),
            json: Json::Null,
            expected: Value::Null,
        },
        JsonDecodeCase {
            name: "missing attributes become null",
            ty: endpoint_type(),
            json: json!({"name": "api"}),
            expected: object(&[
                ("name", text("api")),
                ("ports", Value::Null),
                ("enabled", Value::Null),
                ("tags", Value::Null),
                ("entries", Value::Null),
            ]),
        },
        JsonDecodeCase {
            name: "attributes from an older schema are dropped",
            ty: Type::object([("a", Type::String)]),
            json: json!({"a": "x", "removed": 1}),
            expected: object(&[("a", text("x"))]),
        },
        JsonDecodeCase {
            name: "numbers as strings",
            ty: Type::object([("ports", Type::set(Type::Number)), ("n", Type::Number)]),
            json: json!({"ports": ["443", "80"], "n": "-1.25"}),
            expected: object(&[
                ("ports", Value::Set(vec![number(443.0), number(80.0)])),
                ("n", number(-1.25)),
            ]),
        },
        JsonDecodeCase {
            name: "numbers as JSON numbers",
            ty: Type::list(Type::Number),
            json: json!([1, 2.5, -3, 1e20]),
            expected: Value::List(vec![number(1.0), number(2.5), number(-3.0), number(1e20)]),
        },
        JsonDecodeCase {
            name: "primitives converted to string",
            ty: Type::list(Type::String),
            json: json!(["s", 12, true]),
            expected: Value::List(vec![text("s"), text("12"), text("true")]),
        },
        JsonDecodeCase {
            name: "full nested object",
            ty: endpoint_type(),
            json: json!({
                "name": "api",
                "ports": [443],
                "enabled": false,
                "tags": {"env": "prod"},
                "entries": [{"dns_name": "a.example", "zone": null}, null],
            }),
            expected: object(&[
                ("name", text("api")),
                ("ports", Value::Set(vec![number(443.0)])),
                ("enabled", Value::Bool(false)),
                ("tags", map(&[("env", text("prod"))])),
                (
                    "entries",
                    Value::List(vec![
                        object(&[("dns_name", text("a.example")), ("zone", Value::Null)]),
                        Value::Null,
                    ]),
                ),
            ]),
        },
        JsonDecodeCase {
            name: "nested object with missing attributes",
            ty: endpoint_type(),
            json: json!({"entries": [{"zone": "Z1"}]}),
            expected: object(&[
                ("name", Value::Null),
                ("ports", Value::Null),
                ("enabled", Value::Null),
                ("tags", Value::Null),
                (
                    "entries",
                    Value::List(vec![object(&[
                        ("dns_name", Value::Null),
                        ("zone", text("Z1")),
                    ])]),
                ),
            ]),
        },
        JsonDecodeCase {
            name: "dynamic with type and value",
            ty: Type::object([("d", Type::Dynamic)]),
            json: json!({"d": {"type": ["list", "string"], "value": ["a"]}}),
            expected: object(&[("d", Value::List(vec![text("a")]))]),
        },
    ];

    for case in cases {
        let decoded = Value::from_json(&case.json, &case.ty)
            .unwrap_or_else(|e| panic!("{}: decoding failed: {e}", case.name));
        assert_eq!(decoded, case.expected, "{}: decoded value", case.name);
    }
}

struct JsonErrorCase {
    name: &'static str,
    ty: Type,
    json: Json,
    path: &'static str,
    message: &'static str,
}

#[test]
fn json_decode_errors() {
    let cases = vec![
        JsonErrorCase {
            name: "string where bool expected",
            ty: Type::object([("a", Type::Bool)]),
            json: json!({"a": "yes"}),
            path: ".a",
            message: "expected bool",
        },
        JsonErrorCase {
            name: "number string that is not a number",
            ty: Type::object([("l", Type::list(Type::Number))]),
            json: json!({"l": [1, "many"]}),
            path: ".l[1]",
            message: "not a decimal number",
        },
        JsonErrorCase {
            name: "object where list expected",
            ty: Type::set(Type::String),
            json: json!({}),
            path: "",
            message: "expected an array",
        },
        JsonErrorCase {
            name: "array where object expected",
            ty: Type::object([("a", Type::String)]),
            json: json!([]),
            path: "",
            message: "expected an object",
        },
        JsonErrorCase {
            name: "array where string expected",
            ty: Type::String,
            json: json!(["x"]),
            path: "",
            message: "expected string",
        },
        JsonErrorCase {
            name: "dynamic without type",
            ty: Type::object([("d", Type::Dynamic)]),
            json: json!({"d": {"value": 1}}),
            path: ".d",
            message: "needs a \"type\"",
        },
    ];

    for case in cases {
        let error = match Value::from_json(&case.json, &case.ty) {
            Ok(value) => panic!("{}: decoding succeeded with {value:?}", case.name),
            Err(error) => error,
        };
        assert_eq!(error.path, case.path, "{}: error path", case.name);
        assert!(
            error.message.contains(case.message),
            "{}: message {:?} does not contain {:?}",
            case.name,
            error.message,
            case.message
        );
    }
}

struct JsonEncodeCase {
    name: &'static str,
    value: Value,
    json: Json,
}

#[test]
fn json_encode() {
    let cases = vec![
        JsonEncodeCase {
            name: "null",
            value: Value::Null,
            json: Json::Null,
        },
        JsonEncodeCase {
            name: "whole number as integer",
            value: number(443.0),
            json: json!(443),
        },
        JsonEncodeCase {
            name: "negative whole number as integer",
            value: number(-7.0),
            json: json!(-7),
        },
        JsonEncodeCase {
            name: "fraction",
            value: number(0.5),
            json: json!(0.5),
        },
        JsonEncodeCase {
            name: "large number as float",
            value: number(1e20),
            json: json!(1e20),
        },
        JsonEncodeCase {
            name: "bool",
            value: Value::Bool(true),
            json: json!(true),
        },
        JsonEncodeCase {
            name: "string",
            value: text("x"),
            json: json!("x"),
        },
        JsonEncodeCase {
            name: "list and set as arrays",
            value: Value::List(vec![Value::Set(vec![number(1.0)]), Value::List(Vec::new())]),
            json: json!([[1], []]),
        },
        JsonEncodeCase {
            name: "object with null attribute",
            value: object(&[("a", Value::Null), ("b", text("y"))]),
            json: json!({"a": null, "b": "y"}),
        },
        JsonEncodeCase {
            name: "map of numbers",
            value: map(&[("k", number(2.0))]),
            json: json!({"k": 2}),
        },
    ];

    for case in cases {
        let encoded = case
            .value
            .to_json()
            .unwrap_or_else(|e| panic!("{}: encoding failed: {e}", case.name));
        assert_eq!(encoded, case.json, "{}: JSON", case.name);
        assert_eq!(
            encoded.to_string(),
            case.json.to_string(),
            "{}: JSON text",
            case.name
        );
    }
}

#[test]
fn json_encode_errors() {
    let unknown = object(&[("a", Value::List(vec![Value::Unknown]))]);
    let error = unknown
        .to_json()
        .expect_err("encoding an unknown value as JSON must fail");
    assert_eq!(error.path, ".a[0]", "path of the unknown value");
    assert!(
        error.message.contains("no JSON form"),
        "unexpected message {:?}",
        error.message
    );

    let error = number(f64::NAN)
        .to_json()
        .expect_err("encoding NaN as JSON must fail");
    assert!(
        error.message.contains("not finite"),
        "unexpected message {:?}",
        error.message
    );
}

#[test]
fn json_state_round_trip() {
    let ty = endpoint_type();
    let state = object(&[
        ("name", text("api")),
        ("ports", Value::Set(vec![number(443.0), number(8443.0)])),
        ("enabled", Value::Bool(true)),
        ("tags", Value::Null),
        (
            "entries",
            Value::List(vec![object(&[
                ("dns_name", text("a.example")),
                ("zone", text("Z1")),
            ])]),
        ),
    ]);
    let json = state.to_json().expect("encoding the state as JSON failed");
    let decoded = Value::from_json(&json, &ty).expect("decoding the JSON state failed");
    assert_eq!(decoded, state, "JSON round trip changed the state");
}

// ---------------------------------------------------------------- types

struct TypeCase {
    name: &'static str,
    ty: Type,
    json: Json,
}

#[test]
fn type_json_round_trip() {
    let cases = vec![
        TypeCase {
            name: "bool",
            ty: Type::Bool,
            json: json!("bool"),
        },
        TypeCase {
            name: "number",
            ty: Type::Number,
            json: json!("number"),
        },
        TypeCase {
            name: "string",
            ty: Type::String,
            json: json!("string"),
        },
        TypeCase {
            name: "dynamic",
            ty: Type::Dynamic,
            json: json!("dynamic"),
        },
        TypeCase {
            name: "list",
            ty: Type::list(Type::String),
            json: json!(["list", "string"]),
        },
        TypeCase {
            name: "set",
            ty: Type::set(Type::Number),
            json: json!(["set", "number"]),
        },
        TypeCase {
            name: "map",
            ty: Type::map(Type::Bool),
            json: json!(["map", "bool"]),
        },
        TypeCase {
            name: "empty object",
            ty: Type::Object(BTreeMap::new()),
            json: json!(["object", {}]),
        },
        TypeCase {
            name: "nested",
            ty: endpoint_type(),
            json: json!(["object", {
                "name": "string",
                "ports": ["set", "number"],
                "enabled": "bool",
                "tags": ["map", "string"],
                "entries": ["list", ["object", {"dns_name": "string", "zone": "string"}]],
            }]),
        },
    ];

    for case in cases {
        assert_eq!(case.ty.to_json(), case.json, "{}: to_json", case.name);
        let parsed = Type::from_json(&case.json)
            .unwrap_or_else(|e| panic!("{}: from_json failed: {e}", case.name));
        assert_eq!(parsed, case.ty, "{}: from_json", case.name);
    }
}

#[test]
fn type_json_errors() {
    let cases = [
        (
            "unknown primitive",
            json!("float"),
            "unknown primitive type",
        ),
        (
            "tuple",
            json!(["tuple", ["string"]]),
            "unsupported type kind",
        ),
        (
            "object without attributes",
            json!(["object", "x"]),
            "map of attributes",
        ),
        (
            "one-element array",
            json!(["list"]),
            "invalid type notation",
        ),
        ("number", json!(3), "invalid type notation"),
        (
            "bad element",
            json!(["list", "text"]),
            "unknown primitive type",
        ),
    ];

    for (name, json, message) in cases {
        let error = match Type::from_json(&json) {
            Ok(ty) => panic!("{name}: parsing succeeded with {ty:?}"),
            Err(error) => error,
        };
        assert!(
            error.message.contains(message),
            "{name}: message {:?} does not contain {message:?}",
            error.message
        );
    }
}

// ---------------------------------------------------------------- schema

fn sample_schema() -> Schema {
    let credentials = Block {
        attributes: vec![
            Attribute::required("role_arn", Type::String, "Role to assume."),
            Attribute::optional("duration", Type::Number, "Session length in seconds."),
        ],
        description: "Credentials.".into(),
        ..Block::default()
    };
    Schema {
        version: 3,
        block: Block {
            attributes: vec![
                Attribute::required("name", Type::String, "Name."),
                Attribute::optional("ports", Type::set(Type::Number), "Ports."),
                Attribute::computed("id", Type::String, "Identifier."),
                Attribute::optional_computed("enabled", Type::Bool, "Switch."),
                Attribute::optional("secret", Type::String, "Secret.").sensitive(),
            ],
            blocks: vec![NestedBlock::single("credentials", credentials)],
            description: "A sample.".into(),
            deprecated: false,
        },
    }
}

struct AttributeCase {
    name: &'static str,
    type_json: &'static str,
    required: bool,
    optional: bool,
    computed: bool,
    sensitive: bool,
}

#[test]
fn schema_proto_attributes() {
    let proto = schema_to_proto(&sample_schema());
    assert_eq!(proto.version, 3, "schema version");
    let block = proto.block.expect("the schema has no block");
    assert_eq!(block.version, 3, "top-level block version");
    assert_eq!(block.description, "A sample.", "block description");
    assert_eq!(
        block.description_kind,
        pb::StringKind::Markdown as i32,
        "block description kind"
    );

    let cases = [
        AttributeCase {
            name: "name",
            type_json: "\"string\"",
            required: true,
            optional: false,
            computed: false,
            sensitive: false,
        },
        AttributeCase {
            name: "ports",
            type_json: "[\"set\",\"number\"]",
            required: false,
            optional: true,
            computed: false,
            sensitive: false,
        },
        AttributeCase {
            name: "id",
            type_json: "\"string\"",
            required: false,
            optional: false,
            computed: true,
            sensitive: false,
        },
        AttributeCase {
            name: "enabled",
            type_json: "\"bool\"",
            required: false,
            optional: true,
            computed: true,
            sensitive: false,
        },
        AttributeCase {
            name: "secret",
            type_json: "\"string\"",
            required: false,
            optional: true,
            computed: false,
            sensitive: true,
        },
    ];
    assert_eq!(block.attributes.len(), cases.len(), "number of attributes");
    for case in cases {
        let attribute = block
            .attributes
            .iter()
            .find(|a| a.name == case.name)
            .unwrap_or_else(|| panic!("{}: attribute missing", case.name));
        assert_eq!(
            String::from_utf8_lossy(&attribute.r#type),
            case.type_json,
            "{}: type bytes",
            case.name
        );
        assert_eq!(attribute.required, case.required, "{}: required", case.name);
        assert_eq!(attribute.optional, case.optional, "{}: optional", case.name);
        assert_eq!(attribute.computed, case.computed, "{}: computed", case.name);
        assert_eq!(
            attribute.sensitive, case.sensitive,
            "{}: sensitive",
            case.name
        );
        assert!(
            attribute.nested_type.is_none(),
            "{}: nested attributes are not used",
            case.name
        );
        assert_eq!(
            attribute.description_kind,
            pb::StringKind::Markdown as i32,
            "{}: description kind",
            case.name
        );
    }
}

#[test]
fn schema_proto_nested_block() {
    use pb::schema::nested_block::NestingMode;

    let block = schema_to_proto(&sample_schema())
        .block
        .expect("the schema has no block");
    assert_eq!(block.block_types.len(), 1, "number of nested blocks");
    let nested = &block.block_types[0];
    assert_eq!(nested.type_name, "credentials", "nested block name");
    assert_eq!(
        nested.nesting,
        NestingMode::Single as i32,
        "nesting mode of a single block"
    );
    assert_eq!(nested.min_items, 0, "min_items of a single block");
    assert_eq!(nested.max_items, 0, "max_items of a single block");

    let inner = nested.block.as_ref().expect("the nested block is empty");
    assert_eq!(inner.version, 0, "nested block version");
    let role_arn = inner
        .attributes
        .iter()
        .find(|a| a.name == "role_arn")
        .expect("role_arn missing from the nested block");
    assert!(role_arn.required, "role_arn must be required");
    assert_eq!(role_arn.r#type, b"\"string\"", "role_arn type bytes");
    let duration = inner
        .attributes
        .iter()
        .find(|a| a.name == "duration")
        .expect("duration missing from the nested block");
    assert!(duration.optional, "duration must be optional");
    assert_eq!(duration.r#type, b"\"number\"", "duration type bytes");
}

#[test]
fn schema_proto_nesting_modes() {
    use pb::schema::nested_block::NestingMode;

    let inner = Block {
        attributes: vec![Attribute::required("x", Type::String, "X.")],
        ..Block::default()
    };
    let cases = [
        ("single", Nesting::Single, NestingMode::Single),
        ("list", Nesting::List, NestingMode::List),
        ("set", Nesting::Set, NestingMode::Set),
    ];
    for (name, nesting, expected) in cases {
        let schema = Schema {
            version: 0,
            block: Block {
                blocks: vec![NestedBlock {
                    type_name: "item".into(),
                    block: inner.clone(),
                    nesting,
                    min_items: 1,
                    max_items: 4,
                }],
                ..Block::default()
            },
        };
        let block = schema_to_proto(&schema).block.expect("no block");
        let nested = &block.block_types[0];
        assert_eq!(nested.nesting, expected as i32, "{name}: nesting mode");
        assert_eq!(nested.min_items, 1, "{name}: min_items");
        assert_eq!(nested.max_items, 4, "{name}: max_items");
    }
}

#[test]
fn block_value_type_nested() {
    let item = Block {
        attributes: vec![Attribute::required("x", Type::String, "X.")],
        ..Block::default()
    };
    let nested = |name: &str, nesting| NestedBlock {
        type_name: name.into(),
        block: item.clone(),
        nesting,
        min_items: 0,
        max_items: 0,
    };
    let block = Block {
        attributes: vec![Attribute::optional("a", Type::Number, "A.")],
        blocks: vec![
            nested("one", Nesting::Single),
            nested("many", Nesting::List),
            nested("unique", Nesting::Set),
        ],
        ..Block::default()
    };

    let item_type = Type::object([("x", Type::String)]);
    let expected = Type::object([
        ("a", Type::Number),
        ("one", item_type.clone()),
        ("many", Type::list(item_type.clone())),
        ("unique", Type::set(item_type)),
    ]);
    assert_eq!(block.value_type(), expected, "value type of the block");

    let schema = sample_schema();
    let credentials = Type::object([("role_arn", Type::String), ("duration", Type::Number)]);
    let expected_schema_type = Type::object([
        ("name", Type::String),
        ("ports", Type::set(Type::Number)),
        ("id", Type::String),
        ("enabled", Type::Bool),
        ("secret", Type::String),
        ("credentials", credentials),
    ]);
    assert_eq!(
        schema.value_type(),
        expected_schema_type,
        "value type of the sample schema"
    );
}
