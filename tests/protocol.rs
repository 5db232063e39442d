//! Drives the provider's gRPC server the way Terraform does: the go-plugin
//! handshake line, AutoMTLS with a P-521 client certificate, and the
//! tfplugin6, GRPCController and health services. The in-process tests use
//! the real provider, unconfigured, so no RPC here reaches AWS. The `binary_*`
//! tests run the built executable as go-plugin starts it.

mod support;

use std::io::{BufRead as _, BufReader};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pb::attribute_path::step::Selector;
use pb::provider_client::ProviderClient;
use plink::protocol::handshake::{self, ServeOptions};
use plink::protocol::proto::health::health_check_response::ServingStatus;
use plink::protocol::proto::health::health_client::HealthClient;
use plink::protocol::proto::health::HealthCheckRequest;
use plink::protocol::proto::plugin::grpc_controller_client::GrpcControllerClient;
use plink::protocol::proto::plugin::Empty;
use plink::protocol::proto::tfplugin6 as pb;
use plink::protocol::service::ProviderService as _;
use plink::protocol::value::{Type, Value};
use serde_json::json;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tonic::transport::Channel;

use support::{
    client_tls_config, plain_channel, tls_channel, ChildGuard, ClientIdentity, HandshakeLine,
    STEP_TIMEOUT,
};

const RESOURCE: &str = "plink_consumer_endpoint";
const BINARY: &str = env!("CARGO_BIN_EXE_terraform-provider-plink");
/// Terraform's magic cookie for provider plugins, written out here rather
/// than taken from the crate so that a wrong constant there fails the test.
const TERRAFORM_COOKIE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
/// How soon the binary must exit after `GRPCController.Shutdown`. go-plugin's
/// `Client.Kill` waits 2 s for a graceful exit before it kills the plugin.
const SHUTDOWN_LIMIT: Duration = Duration::from_millis(1500);

// ---------------------------------------------------------------- helpers

/// A server started in-process with `handshake::start`, serving on a tokio
/// task of the test's runtime.
struct TestServer {
    line: HandshakeLine,
    shutdown: watch::Receiver<bool>,
    serving: JoinHandle<Result<(), String>>,
}

impl TestServer {
    async fn start(identity: Option<&ClientIdentity>) -> TestServer {
        let options = ServeOptions {
            client_certificate_pem: identity.map(|i| i.certificate_pem.clone()),
            client_protocol_versions: Some("6".to_string()),
            port_range: None,
        };
        let started = handshake::start(plink::provider(), options)
            .await
            .expect("starting the server failed");
        let line = HandshakeLine::parse(&started.handshake_line)
            .unwrap_or_else(|e| panic!("invalid handshake line: {e}"));
        TestServer {
            line,
            shutdown: started.shutdown,
            serving: tokio::spawn(started.serving),
        }
    }

    fn address(&self) -> SocketAddr {
        self.line.socket_address()
    }

    /// Connects over mutual TLS, presenting `identity`.
    async fn connect_as(&self, identity: &ClientIdentity) -> Result<Channel, String> {
        let config = client_tls_config(&self.line.certificate_der(), Some(identity));
        tls_channel(self.address(), config).await
    }
}

/// Starts a TLS server and connects a provider client with the right
/// certificate.
async fn connected_provider() -> (TestServer, ProviderClient<Channel>) {
    let identity = ClientIdentity::generate();
    let server = TestServer::start(Some(&identity)).await;
    let channel = server
        .connect_as(&identity)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    (server, ProviderClient::new(channel))
}

fn endpoint_type() -> Type {
    plink::provider()
        .schema()
        .resource(RESOURCE)
        .expect("the provider has no plink_consumer_endpoint resource")
        .value_type()
}

fn object(attributes: &[(&str, Value)]) -> Value {
    Value::Object(
        attributes
            .iter()
            .map(|(name, value)| (name.to_string(), value.clone()))
            .collect(),
    )
}

fn text(s: &str) -> Value {
    Value::string(s)
}

fn strings(items: &[&str]) -> Value {
    Value::Set(items.iter().map(|s| text(s)).collect())
}

fn ports(numbers: &[f64]) -> Value {
    Value::Set(numbers.iter().map(|n| Value::Number(*n)).collect())
}

/// Encodes a value of the resource's type as Terraform sends it.
fn dynamic_value(value: &Value) -> pb::DynamicValue {
    pb::DynamicValue {
        msgpack: value
            .to_msgpack(&endpoint_type())
            .unwrap_or_else(|e| panic!("encoding {value:?} failed: {e}")),
        json: Vec::new(),
    }
}

fn decode_state(value: Option<&pb::DynamicValue>, label: &str) -> Value {
    let value = value.unwrap_or_else(|| panic!("{label} is missing from the response"));
    Value::from_msgpack(&value.msgpack, &endpoint_type())
        .unwrap_or_else(|e| panic!("{label} is not valid msgpack of the resource type: {e}"))
}

/// Builds a configuration with every required argument and `ports` as given.
/// The optional arguments stay null.
fn endpoint_config(ports: Value) -> Value {
    object(&[
        ("vpc_id", text("vpc-1")),
        (
            "service_name",
            text("com.amazonaws.vpce.eu-west-1.vpce-svc-0123456789abcdef0"),
        ),
        ("subnet_ids", strings(&["subnet-a", "subnet-b"])),
        ("ports", ports),
    ])
}

/// Builds the state of an existing endpoint in `vpc_id`, with every attribute
/// known.
fn endpoint_state(vpc_id: &str) -> Value {
    let dns_entry = object(&[
        ("dns_name", text("vpce-1.example.com")),
        ("hosted_zone_id", text("Z0123")),
    ]);
    object(&[
        ("id", text("vpce-1")),
        ("vpc_id", text(vpc_id)),
        (
            "service_name",
            text("com.amazonaws.vpce.eu-west-1.vpce-svc-0123456789abcdef0"),
        ),
        ("subnet_ids", strings(&["subnet-a", "subnet-b"])),
        ("ports", ports(&[443.0])),
        ("allowed_cidrs", strings(&["10.0.0.0/16"])),
        ("private_dns_enabled", Value::Bool(true)),
        ("tags", Value::Null),
        ("endpoint_id", text("vpce-1")),
        ("security_group_id", text("sg-1")),
        ("network_interface_ids", strings(&["eni-1", "eni-2"])),
        ("dns_entries", Value::List(vec![dns_entry])),
        ("state", text("available")),
        ("owner_id", text("123456789012")),
    ])
}

fn attribute_names(path: Option<&pb::AttributePath>) -> Vec<String> {
    path.map(|p| {
        p.steps
            .iter()
            .map(|step| match &step.selector {
                Some(Selector::AttributeName(name)) => name.clone(),
                other => format!("{other:?}"),
            })
            .collect()
    })
    .unwrap_or_default()
}

fn is_error(diagnostic: &pb::Diagnostic) -> bool {
    diagnostic.severity == pb::diagnostic::Severity::Error as i32
}

// ---------------------------------------------------------------- handshake and TLS

#[tokio::test]
async fn handshake_line_format() {
    let identity = ClientIdentity::generate();
    let server = TestServer::start(Some(&identity)).await;
    let line = &server.line;

    assert_eq!(line.core_version, "1", "go-plugin core protocol version");
    assert_eq!(line.app_version, "6", "Terraform plugin protocol version");
    assert_eq!(line.network, "tcp", "network type");
    assert_eq!(line.protocol, "grpc", "plugin protocol");
    assert_eq!(
        server.address().ip(),
        Ipv4Addr::LOCALHOST,
        "the server must listen on 127.0.0.1 only"
    );
    assert_ne!(server.address().port(), 0, "the port must be a real port");
    assert!(
        !line.certificate.contains('='),
        "the certificate must be base64 without padding"
    );
    let der = line.certificate_der();
    assert_eq!(der.first(), Some(&0x30), "the certificate must be DER");
}

#[tokio::test]
async fn mtls_provider_schema() {
    let (_server, mut client) = connected_provider().await;
    let response = timeout(
        STEP_TIMEOUT,
        client.get_provider_schema(pb::get_provider_schema::Request {}),
    )
    .await
    .expect("GetProviderSchema timed out")
    .expect("GetProviderSchema failed over mTLS")
    .into_inner();

    assert!(
        response.diagnostics.is_empty(),
        "unexpected diagnostics: {:?}",
        response.diagnostics
    );
    assert!(
        response.server_capabilities.is_some(),
        "server capabilities are missing"
    );

    let resource = response
        .resource_schemas
        .get(RESOURCE)
        .expect("plink_consumer_endpoint is missing from the schema");
    let block = resource
        .block
        .as_ref()
        .expect("resource schema has no block");
    let attribute = |name: &str| {
        block
            .attributes
            .iter()
            .find(|a| a.name == name)
            .unwrap_or_else(|| panic!("resource attribute {name} is missing"))
    };
    for name in ["vpc_id", "service_name", "subnet_ids", "ports"] {
        assert!(attribute(name).required, "{name} must be required");
    }
    for name in ["allowed_cidrs", "private_dns_enabled"] {
        assert!(attribute(name).optional, "{name} must be optional");
        assert!(attribute(name).computed, "{name} must be computed");
    }
    for name in ["id", "endpoint_id", "security_group_id", "dns_entries"] {
        assert!(attribute(name).computed, "{name} must be computed");
        assert!(!attribute(name).optional, "{name} must not be optional");
    }
    assert_eq!(
        attribute("ports").r#type,
        br#"["set","number"]"#,
        "type of ports"
    );
    assert_eq!(
        attribute("subnet_ids").r#type,
        br#"["set","string"]"#,
        "type of subnet_ids"
    );
    assert_eq!(
        attribute("private_dns_enabled").r#type,
        br#""bool""#,
        "type of private_dns_enabled"
    );

    let provider = response.provider.expect("provider schema is missing");
    let provider_block = provider.block.expect("provider schema has no block");
    let provider_attribute = |name: &str| {
        provider_block
            .attributes
            .iter()
            .find(|a| a.name == name)
            .unwrap_or_else(|| panic!("provider attribute {name} is missing"))
    };
    assert!(
        provider_attribute("region").optional,
        "region must be optional"
    );
    assert_eq!(
        provider_attribute("region").r#type,
        br#""string""#,
        "type of region"
    );
    for name in ["access_key", "secret_key", "token"] {
        assert!(
            provider_attribute(name).sensitive,
            "{name} must be sensitive"
        );
    }
    let endpoints = provider_block
        .block_types
        .iter()
        .find(|b| b.type_name == "endpoints")
        .expect("the endpoints block is missing");
    assert_eq!(
        endpoints.nesting,
        pb::schema::nested_block::NestingMode::Single as i32,
        "endpoints must be a single block"
    );
    let endpoint_names: Vec<&str> = endpoints
        .block
        .as_ref()
        .expect("the endpoints block is empty")
        .attributes
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    for service in ["ec2", "sts", "cloudwatch"] {
        assert!(
            endpoint_names.contains(&service),
            "endpoints has no {service} attribute: {endpoint_names:?}"
        );
    }
    assert!(
        provider_block
            .block_types
            .iter()
            .any(|b| b.type_name == "assume_role"),
        "the assume_role block is missing"
    );
}

#[tokio::test]
async fn mtls_rejects_other_certificate() {
    let terraform = ClientIdentity::generate();
    let intruder = ClientIdentity::generate();
    let server = TestServer::start(Some(&terraform)).await;

    let attempt = async {
        let channel = server.connect_as(&intruder).await?;
        ProviderClient::new(channel)
            .get_metadata(pb::get_metadata::Request {})
            .await
            .map_err(|status| format!("GetMetadata failed: {status}"))
    };
    let result = timeout(STEP_TIMEOUT, attempt)
        .await
        .expect("the server neither served nor rejected the other certificate");
    let error = result.expect_err("a client with a different certificate was served");
    assert!(
        error.contains("alert"),
        "the server did not reject the certificate with a TLS alert: {error}"
    );

    // The rejected connection must not stop the server from serving Terraform.
    let channel = server
        .connect_as(&terraform)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let metadata = timeout(
        STEP_TIMEOUT,
        ProviderClient::new(channel).get_metadata(pb::get_metadata::Request {}),
    )
    .await
    .expect("GetMetadata timed out after a rejected client");
    assert!(
        metadata.is_ok(),
        "the right client failed after a rejected one: {metadata:?}"
    );
}

#[tokio::test]
async fn mtls_rejects_missing_certificate() {
    let terraform = ClientIdentity::generate();
    let server = TestServer::start(Some(&terraform)).await;

    let attempt = async {
        let config = client_tls_config(&server.line.certificate_der(), None);
        let channel = tls_channel(server.address(), config).await?;
        ProviderClient::new(channel)
            .get_metadata(pb::get_metadata::Request {})
            .await
            .map_err(|status| format!("GetMetadata failed: {status}"))
    };
    let result = timeout(STEP_TIMEOUT, attempt)
        .await
        .expect("the server neither served nor rejected a client without a certificate");
    let error = result.expect_err("a client without a certificate was served");
    assert!(
        error.contains("alert"),
        "the server did not reject the client with a TLS alert: {error}"
    );
}

#[tokio::test]
async fn mtls_rejects_plaintext_client() {
    let terraform = ClientIdentity::generate();
    let server = TestServer::start(Some(&terraform)).await;

    let attempt = async {
        let channel = plain_channel(server.address()).await?;
        ProviderClient::new(channel)
            .get_metadata(pb::get_metadata::Request {})
            .await
            .map_err(|status| format!("GetMetadata failed: {status}"))
    };
    let result = timeout(STEP_TIMEOUT, attempt)
        .await
        .expect("the TLS server neither served nor rejected a plaintext client");
    assert!(result.is_err(), "a plaintext client was served over TLS");
}

#[tokio::test]
async fn plaintext_without_client_cert() {
    let server = TestServer::start(None).await;

    assert_eq!(
        server.line.certificate, "",
        "plaintext mode must leave the certificate field empty"
    );
    let channel = plain_channel(server.address())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let metadata = timeout(
        STEP_TIMEOUT,
        ProviderClient::new(channel).get_metadata(pb::get_metadata::Request {}),
    )
    .await
    .expect("GetMetadata timed out")
    .expect("GetMetadata failed over plaintext")
    .into_inner();
    assert!(
        metadata.resources.iter().any(|r| r.type_name == RESOURCE),
        "plaintext GetMetadata does not list {RESOURCE}"
    );
}

// ---------------------------------------------------------------- provider RPCs

struct ValidateCase {
    name: &'static str,
    config: Value,
    /// The attribute the single error diagnostic points at, or `None` when the
    /// configuration is valid.
    error_at: Option<&'static str>,
}

#[tokio::test]
async fn validate_resource_config() {
    let (_server, mut client) = connected_provider().await;
    let with_cidrs = |cidrs: &[&str]| {
        let mut config = endpoint_config(ports(&[443.0]));
        if let Value::Object(attributes) = &mut config {
            attributes.insert("allowed_cidrs".to_string(), strings(cidrs));
        }
        config
    };
    let cases = vec![
        ValidateCase {
            name: "valid",
            config: endpoint_config(ports(&[443.0, 8443.0])),
            error_at: None,
        },
        ValidateCase {
            name: "port 0",
            config: endpoint_config(ports(&[0.0])),
            error_at: Some("ports"),
        },
        ValidateCase {
            name: "port above 65535",
            config: endpoint_config(ports(&[65536.0])),
            error_at: Some("ports"),
        },
        ValidateCase {
            name: "fractional port",
            config: endpoint_config(ports(&[443.5])),
            error_at: Some("ports"),
        },
        ValidateCase {
            name: "no ports",
            config: endpoint_config(ports(&[])),
            error_at: Some("ports"),
        },
        ValidateCase {
            name: "unknown ports",
            config: endpoint_config(Value::Unknown),
            error_at: None,
        },
        ValidateCase {
            name: "valid CIDR",
            config: with_cidrs(&["10.0.0.0/16"]),
            error_at: None,
        },
        ValidateCase {
            name: "CIDR without prefix",
            config: with_cidrs(&["10.0.0.0"]),
            error_at: Some("allowed_cidrs"),
        },
    ];

    for case in cases {
        let request = pb::validate_resource_config::Request {
            type_name: RESOURCE.to_string(),
            config: Some(dynamic_value(&case.config)),
            client_capabilities: None,
        };
        let diagnostics = timeout(STEP_TIMEOUT, client.validate_resource_config(request))
            .await
            .unwrap_or_else(|_| panic!("{}: ValidateResourceConfig timed out", case.name))
            .unwrap_or_else(|status| panic!("{}: gRPC error {status}", case.name))
            .into_inner()
            .diagnostics;
        match case.error_at {
            None => assert!(
                diagnostics.is_empty(),
                "{}: unexpected diagnostics {diagnostics:?}",
                case.name
            ),
            Some(attribute) => {
                assert_eq!(
                    diagnostics.len(),
                    1,
                    "{}: expected one diagnostic, got {diagnostics:?}",
                    case.name
                );
                assert!(
                    is_error(&diagnostics[0]),
                    "{}: the diagnostic is not an error",
                    case.name
                );
                assert_eq!(
                    attribute_names(diagnostics[0].attribute.as_ref()),
                    vec![attribute.to_string()],
                    "{}: attribute path of the diagnostic",
                    case.name
                );
            }
        }
    }
}

#[tokio::test]
async fn validate_undecodable_config() {
    let (_server, mut client) = connected_provider().await;
    let request = pb::validate_resource_config::Request {
        type_name: RESOURCE.to_string(),
        // A map with an attribute the schema does not have.
        config: Some(pb::DynamicValue {
            msgpack: vec![0x81, 0xa5, b'b', b'o', b'g', b'u', b's', 0x01],
            json: Vec::new(),
        }),
        client_capabilities: None,
    };
    let diagnostics = client
        .validate_resource_config(request)
        .await
        .expect("a bad value must give a diagnostic, not a gRPC error")
        .into_inner()
        .diagnostics;
    assert_eq!(diagnostics.len(), 1, "diagnostics: {diagnostics:?}");
    assert!(is_error(&diagnostics[0]), "the diagnostic is not an error");
    assert!(
        diagnostics[0].detail.contains("bogus"),
        "the detail does not name the attribute: {:?}",
        diagnostics[0].detail
    );
}

#[tokio::test]
async fn plan_create_unconfigured() {
    let (_server, mut client) = connected_provider().await;
    let config = endpoint_config(ports(&[443.0]));
    let request = pb::plan_resource_change::Request {
        type_name: RESOURCE.to_string(),
        prior_state: Some(dynamic_value(&Value::Null)),
        proposed_new_state: Some(dynamic_value(&config)),
        config: Some(dynamic_value(&config)),
        ..Default::default()
    };
    let response = timeout(STEP_TIMEOUT, client.plan_resource_change(request))
        .await
        .expect("PlanResourceChange timed out")
        .expect("PlanResourceChange failed")
        .into_inner();

    // Unconfigured, the provider cannot check the plan against AWS, which
    // is a warning, never an error.
    assert!(
        response.diagnostics.iter().all(|d| !is_error(d)),
        "unexpected errors: {:?}",
        response.diagnostics
    );
    assert!(
        response
            .diagnostics
            .iter()
            .any(|d| d.summary == "Checks skipped"),
        "missing the skipped-checks warning: {:?}",
        response.diagnostics
    );
    assert!(
        response.requires_replace.is_empty(),
        "a create must not require replacement"
    );
    assert!(
        !response.legacy_type_system,
        "legacy_type_system must stay false"
    );
    let planned = decode_state(response.planned_state.as_ref(), "planned state");
    assert_eq!(
        planned.get("private_dns_enabled"),
        &Value::Bool(true),
        "private_dns_enabled default"
    );
    assert_eq!(planned.get("id"), &Value::Unknown, "id");
    assert_eq!(planned.get("endpoint_id"), &Value::Unknown, "endpoint_id");
    assert_eq!(
        planned.get("allowed_cidrs"),
        &Value::Unknown,
        "allowed_cidrs cannot be looked up while unconfigured"
    );
    assert_eq!(
        planned.get("security_group_id"),
        &Value::Unknown,
        "security_group_id"
    );
    assert_eq!(planned.get("vpc_id"), &text("vpc-1"), "vpc_id is kept");
    assert_eq!(planned.get("ports"), &ports(&[443.0]), "ports are kept");
    assert_eq!(planned.get("tags"), &Value::Null, "tags stay null");
}

#[tokio::test]
async fn plan_destroy_null() {
    let (_server, mut client) = connected_provider().await;
    let request = pb::plan_resource_change::Request {
        type_name: RESOURCE.to_string(),
        prior_state: Some(dynamic_value(&endpoint_state("vpc-1"))),
        proposed_new_state: Some(dynamic_value(&Value::Null)),
        config: Some(dynamic_value(&Value::Null)),
        ..Default::default()
    };
    let response = timeout(STEP_TIMEOUT, client.plan_resource_change(request))
        .await
        .expect("PlanResourceChange timed out")
        .expect("PlanResourceChange failed")
        .into_inner();

    assert!(
        response.diagnostics.is_empty(),
        "unexpected diagnostics: {:?}",
        response.diagnostics
    );
    let planned = decode_state(response.planned_state.as_ref(), "planned state");
    assert_eq!(planned, Value::Null, "a destroy plans a null state");
}

#[tokio::test]
async fn plan_vpc_change_replaces() {
    let (_server, mut client) = connected_provider().await;
    let prior = endpoint_state("vpc-1");
    let mut config = endpoint_config(ports(&[443.0]));
    let mut proposed = prior.clone();
    for value in [&mut config, &mut proposed] {
        if let Value::Object(attributes) = value {
            attributes.insert("vpc_id".to_string(), text("vpc-2"));
        }
    }
    let request = pb::plan_resource_change::Request {
        type_name: RESOURCE.to_string(),
        prior_state: Some(dynamic_value(&prior)),
        proposed_new_state: Some(dynamic_value(&proposed)),
        config: Some(dynamic_value(&config)),
        prior_private: b"opaque".to_vec(),
        ..Default::default()
    };
    let response = timeout(STEP_TIMEOUT, client.plan_resource_change(request))
        .await
        .expect("PlanResourceChange timed out")
        .expect("PlanResourceChange failed")
        .into_inner();

    // Unconfigured, the provider cannot check the plan against AWS, which
    // is a warning, never an error.
    assert!(
        response.diagnostics.iter().all(|d| !is_error(d)),
        "unexpected errors: {:?}",
        response.diagnostics
    );
    assert!(
        response
            .diagnostics
            .iter()
            .any(|d| d.summary == "Checks skipped"),
        "missing the skipped-checks warning: {:?}",
        response.diagnostics
    );
    let replace: Vec<Vec<String>> = response
        .requires_replace
        .iter()
        .map(|path| attribute_names(Some(path)))
        .collect();
    assert!(
        replace.contains(&vec!["vpc_id".to_string()]),
        "requires_replace {replace:?} does not contain vpc_id"
    );
    assert!(
        !replace.contains(&vec!["service_name".to_string()]),
        "requires_replace {replace:?} contains the unchanged service_name"
    );
    assert_eq!(
        response.planned_private, b"opaque",
        "private data must pass through"
    );
    let planned = decode_state(response.planned_state.as_ref(), "planned state");
    assert_eq!(planned.get("vpc_id"), &text("vpc-2"), "planned vpc_id");
    assert_eq!(
        planned.get("id"),
        &Value::Unknown,
        "a replacement gets a new id"
    );
}

#[tokio::test]
async fn plan_tag_change_in_place() {
    let (_server, mut client) = connected_provider().await;
    let prior = endpoint_state("vpc-1");
    let tags = Value::Map([("env".to_string(), text("prod"))].into_iter().collect());
    let mut proposed = prior.clone();
    if let Value::Object(attributes) = &mut proposed {
        attributes.insert("tags".to_string(), tags.clone());
    }
    let mut config = endpoint_config(ports(&[443.0]));
    if let Value::Object(attributes) = &mut config {
        attributes.insert("tags".to_string(), tags.clone());
    }
    let request = pb::plan_resource_change::Request {
        type_name: RESOURCE.to_string(),
        prior_state: Some(dynamic_value(&prior)),
        proposed_new_state: Some(dynamic_value(&proposed)),
        config: Some(dynamic_value(&config)),
        ..Default::default()
    };
    let response = timeout(STEP_TIMEOUT, client.plan_resource_change(request))
        .await
        .expect("PlanResourceChange timed out")
        .expect("PlanResourceChange failed")
        .into_inner();

    assert!(
        response.requires_replace.is_empty(),
        "a tag change must not replace: {:?}",
        response.requires_replace
    );
    let planned = decode_state(response.planned_state.as_ref(), "planned state");
    assert_eq!(planned.get("id"), &text("vpce-1"), "id is kept");
    assert_eq!(planned.get("tags"), &tags, "planned tags");
    assert_eq!(
        planned.get("allowed_cidrs"),
        &strings(&["10.0.0.0/16"]),
        "an update keeps the prior default CIDRs"
    );
}

#[tokio::test]
async fn upgrade_state_version_0() {
    let (_server, mut client) = connected_provider().await;
    let raw = json!({
        "id": "vpce-1",
        "vpc_id": "vpc-1",
        "service_name": "com.amazonaws.vpce.eu-west-1.vpce-svc-0123456789abcdef0",
        "subnet_ids": ["subnet-a", "subnet-b"],
        "ports": [443],
        "allowed_cidrs": ["10.0.0.0/16"],
        "private_dns_enabled": true,
        "tags": null,
        "endpoint_id": "vpce-1",
        "security_group_id": "sg-1",
        "network_interface_ids": ["eni-1", "eni-2"],
        "dns_entries": [{"dns_name": "vpce-1.example.com", "hosted_zone_id": "Z0123"}],
        "state": "available",
        "owner_id": "123456789012",
    });
    let request = pb::upgrade_resource_state::Request {
        type_name: RESOURCE.to_string(),
        version: 0,
        raw_state: Some(pb::RawState {
            json: raw.to_string().into_bytes(),
            flatmap: Default::default(),
        }),
    };
    let response = timeout(STEP_TIMEOUT, client.upgrade_resource_state(request))
        .await
        .expect("UpgradeResourceState timed out")
        .expect("UpgradeResourceState failed")
        .into_inner();

    assert!(
        response.diagnostics.is_empty(),
        "unexpected diagnostics: {:?}",
        response.diagnostics
    );
    // Attributes added to the schema after version 0 may get defaults, so
    // only the attributes the stored state contains are compared.
    let upgraded = decode_state(response.upgraded_state.as_ref(), "upgraded state");
    let stored = endpoint_state("vpc-1");
    let Value::Object(stored_attributes) = &stored else {
        panic!("the stored state is not an object");
    };
    for (name, value) in stored_attributes {
        assert_eq!(
            upgraded.get(name),
            value,
            "upgraded attribute {name} differs from the stored one"
        );
    }
}

#[tokio::test]
async fn upgrade_unknown_type_diagnostic() {
    let (_server, mut client) = connected_provider().await;
    let request = pb::upgrade_resource_state::Request {
        type_name: "plink_no_such_thing".to_string(),
        version: 0,
        raw_state: Some(pb::RawState {
            json: b"{}".to_vec(),
            flatmap: Default::default(),
        }),
    };
    let response = timeout(STEP_TIMEOUT, client.upgrade_resource_state(request))
        .await
        .expect("UpgradeResourceState timed out")
        .expect("an unknown type must give a diagnostic, not a gRPC error")
        .into_inner();

    assert_eq!(
        response.diagnostics.len(),
        1,
        "diagnostics: {:?}",
        response.diagnostics
    );
    assert!(
        is_error(&response.diagnostics[0]),
        "the diagnostic is not an error"
    );
    assert!(
        response.diagnostics[0]
            .detail
            .contains("plink_no_such_thing"),
        "the detail does not name the type: {:?}",
        response.diagnostics[0].detail
    );
}

#[tokio::test]
async fn metadata_lists_resource() {
    let (_server, mut client) = connected_provider().await;
    let metadata = timeout(
        STEP_TIMEOUT,
        client.get_metadata(pb::get_metadata::Request {}),
    )
    .await
    .expect("GetMetadata timed out")
    .expect("GetMetadata failed")
    .into_inner();

    let names: Vec<&str> = metadata
        .resources
        .iter()
        .map(|r| r.type_name.as_str())
        .collect();
    assert_eq!(
        names,
        vec![RESOURCE, "plink_endpoint_alarm"],
        "resource types in the metadata"
    );
    let data_sources: Vec<&str> = metadata
        .data_sources
        .iter()
        .map(|d| d.type_name.as_str())
        .collect();
    assert_eq!(
        data_sources,
        vec!["plink_endpoint_service"],
        "data source types in the metadata"
    );
    assert!(
        metadata.diagnostics.is_empty(),
        "unexpected diagnostics: {:?}",
        metadata.diagnostics
    );
}

#[tokio::test]
async fn stop_provider_ok() {
    let (_server, mut client) = connected_provider().await;
    let response = timeout(
        STEP_TIMEOUT,
        client.stop_provider(pb::stop_provider::Request {}),
    )
    .await
    .expect("StopProvider timed out")
    .expect("StopProvider failed")
    .into_inner();
    assert_eq!(response.error, "", "StopProvider returned an error");
}

// ---------------------------------------------------------------- go-plugin services

#[tokio::test]
async fn health_check_serving() {
    let identity = ClientIdentity::generate();
    let server = TestServer::start(Some(&identity)).await;
    let channel = server
        .connect_as(&identity)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let response = timeout(
        STEP_TIMEOUT,
        HealthClient::new(channel).check(HealthCheckRequest {
            service: "plugin".to_string(),
        }),
    )
    .await
    .expect("health Check timed out")
    .expect("health Check failed")
    .into_inner();
    assert_eq!(
        response.status,
        ServingStatus::Serving as i32,
        "health status"
    );
}

#[tokio::test]
async fn controller_shutdown_stops() {
    let identity = ClientIdentity::generate();
    let mut server = TestServer::start(Some(&identity)).await;
    let channel = server
        .connect_as(&identity)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !*server.shutdown.borrow(),
        "shutdown is set before any request"
    );

    timeout(
        STEP_TIMEOUT,
        GrpcControllerClient::new(channel.clone()).shutdown(Empty {}),
    )
    .await
    .expect("Shutdown timed out")
    .expect("Shutdown failed");

    let flagged = timeout(STEP_TIMEOUT, server.shutdown.wait_for(|stopping| *stopping)).await;
    assert!(
        matches!(flagged, Ok(Ok(_))),
        "the shutdown watch did not become true"
    );

    drop(channel);
    let served = timeout(STEP_TIMEOUT, &mut server.serving)
        .await
        .expect("the server kept serving after Shutdown")
        .expect("the serving task panicked");
    assert_eq!(served, Ok(()), "serving ended with an error");
}

// ---------------------------------------------------------------- the binary

fn plugin_command() -> Command {
    let mut command = Command::new(BINARY);
    command.env_clear().stdin(Stdio::null());
    command
}

/// The binary started as go-plugin starts it, with its stdout lines
/// forwarded to `stdout` and its stderr kept in a file for failure messages.
struct RunningPlugin {
    child: ChildGuard,
    stdout: mpsc::UnboundedReceiver<String>,
    stderr: tempfile::NamedTempFile,
}

impl RunningPlugin {
    fn spawn(protocol_versions: &str, identity: &ClientIdentity) -> RunningPlugin {
        let stderr = tempfile::NamedTempFile::new().expect("creating the stderr file failed");
        let mut child = plugin_command()
            .env("TF_PLUGIN_MAGIC_COOKIE", TERRAFORM_COOKIE)
            .env("PLUGIN_PROTOCOL_VERSIONS", protocol_versions)
            .env("PLUGIN_CLIENT_CERT", &identity.certificate_pem)
            .stdout(Stdio::piped())
            .stderr(stderr.reopen().expect("reopening the stderr file failed"))
            .spawn()
            .expect("starting the provider binary failed");
        let pipe = child.stdout.take().expect("stdout is not piped");
        let (sender, receiver) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        RunningPlugin {
            child: ChildGuard(child),
            stdout: receiver,
            stderr,
        }
    }

    /// Returns the next stdout line, or `None` at end of output.
    async fn next_line(&mut self) -> Option<String> {
        match timeout(STEP_TIMEOUT, self.stdout.recv()).await {
            Ok(line) => line,
            Err(_) => panic!(
                "no stdout line within {STEP_TIMEOUT:?}; stderr: {}",
                self.stderr_text()
            ),
        }
    }

    fn stderr_text(&self) -> String {
        std::fs::read_to_string(self.stderr.path()).unwrap_or_default()
    }

    /// Reads the handshake line and connects over mutual TLS.
    async fn connect(&mut self, identity: &ClientIdentity) -> Channel {
        let line = self
            .next_line()
            .await
            .unwrap_or_else(|| panic!("no handshake line; stderr: {}", self.stderr_text()));
        let handshake = HandshakeLine::parse(&line).unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(
            handshake.certificate, "",
            "the binary must serve TLS when given a client certificate"
        );
        let config = client_tls_config(&handshake.certificate_der(), Some(identity));
        tls_channel(handshake.socket_address(), config)
            .await
            .unwrap_or_else(|e| panic!("{e}; stderr: {}", self.stderr_text()))
    }
}

#[tokio::test]
async fn binary_without_cookie() {
    let output = plugin_command()
        .output()
        .expect("running the provider binary failed");
    let stderr = String::from_utf8_lossy(&output.stderr);

    assert_eq!(
        output.status.code(),
        Some(1),
        "exit code without the cookie"
    );
    assert!(
        output.stdout.is_empty(),
        "nothing may go to stdout without the cookie"
    );
    assert!(
        stderr.contains("not meant to be run"),
        "stderr does not explain the binary is a plugin: {stderr:?}"
    );
}

#[tokio::test]
async fn binary_wrong_cookie() {
    let output = plugin_command()
        .env("TF_PLUGIN_MAGIC_COOKIE", "not-the-cookie")
        .output()
        .expect("running the provider binary failed");
    assert_eq!(
        output.status.code(),
        Some(1),
        "exit code with a wrong cookie"
    );
    assert!(
        output.stdout.is_empty(),
        "nothing may go to stdout with a wrong cookie"
    );
}

#[tokio::test]
async fn binary_version_flag() {
    let output = plugin_command()
        .arg("--version")
        .output()
        .expect("running the provider binary failed");
    assert!(output.status.success(), "--version must exit 0");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!("terraform-provider-plink {}\n", env!("CARGO_PKG_VERSION")),
        "--version output"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_serves_and_shuts_down() {
    let identity = ClientIdentity::generate();
    let mut plugin = RunningPlugin::spawn("6", &identity);
    let channel = plugin.connect(&identity).await;

    let schema = timeout(
        STEP_TIMEOUT,
        ProviderClient::new(channel.clone())
            .get_provider_schema(pb::get_provider_schema::Request {}),
    )
    .await
    .expect("GetProviderSchema timed out")
    .expect("GetProviderSchema failed against the binary")
    .into_inner();
    assert!(
        schema.resource_schemas.contains_key(RESOURCE),
        "the binary's schema lacks {RESOURCE}"
    );

    timeout(
        STEP_TIMEOUT,
        GrpcControllerClient::new(channel).shutdown(Empty {}),
    )
    .await
    .expect("Shutdown timed out")
    .expect("Shutdown failed");
    let requested = Instant::now();
    let status = plugin.child.wait_for_exit(STEP_TIMEOUT).await;
    let elapsed = requested.elapsed();

    let status = status.unwrap_or_else(|| {
        panic!(
            "the binary still runs {STEP_TIMEOUT:?} after Shutdown; stderr: {}",
            plugin.stderr_text()
        )
    });
    assert!(
        elapsed < SHUTDOWN_LIMIT,
        "the binary took {elapsed:?} to exit after Shutdown"
    );
    assert!(status.success(), "exit status after Shutdown: {status}");

    let mut extra_lines = Vec::new();
    while let Some(line) = plugin.next_line().await {
        extra_lines.push(line);
    }
    assert!(
        extra_lines.is_empty(),
        "stdout must hold only the handshake line, also got {extra_lines:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_ignores_sigint() {
    let identity = ClientIdentity::generate();
    let mut plugin = RunningPlugin::spawn("6", &identity);
    let channel = plugin.connect(&identity).await;

    let pid = plugin.child.0.id().to_string();
    let sent = Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("running kill failed");
    assert!(sent.success(), "kill -INT {pid} failed");

    let early_exit = plugin.child.wait_for_exit(Duration::from_millis(300)).await;
    assert!(
        early_exit.is_none(),
        "the binary exited on SIGINT with {early_exit:?}; stderr: {}",
        plugin.stderr_text()
    );

    let health = timeout(
        STEP_TIMEOUT,
        HealthClient::new(channel.clone()).check(HealthCheckRequest {
            service: "plugin".to_string(),
        }),
    )
    .await
    .expect("health Check timed out after SIGINT");
    assert!(
        health.is_ok(),
        "the binary stopped serving after SIGINT: {health:?}"
    );

    timeout(
        STEP_TIMEOUT,
        GrpcControllerClient::new(channel).shutdown(Empty {}),
    )
    .await
    .expect("Shutdown timed out")
    .expect("Shutdown failed");
    let status = plugin.child.wait_for_exit(STEP_TIMEOUT).await;
    assert!(
        status.is_some_and(|s| s.success()),
        "the binary did not exit cleanly after Shutdown: {status:?}"
    );
}

#[tokio::test]
async fn binary_rejects_protocol_5() {
    let identity = ClientIdentity::generate();
    let mut plugin = RunningPlugin::spawn("5", &identity);

    let status = plugin.child.wait_for_exit(STEP_TIMEOUT).await;
    let stderr = plugin.stderr_text();
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(1),
        "exit status when only protocol 5 is offered; stderr: {stderr}"
    );
    assert!(
        stderr.contains("plugin protocol 6"),
        "stderr does not name the protocol this provider speaks: {stderr:?}"
    );
    assert_eq!(
        plugin.next_line().await,
        None,
        "no handshake line may be printed when the protocol is rejected"
    );
}
