//! The gRPC services Terraform talks to: `tfplugin6.Provider`, go-plugin's
//! `GRPCController` and `GRPCStdio`, and the standard health service.
//!
//! Each Provider RPC decodes its request against the schema, calls the
//! [`ProviderService`], and encodes the answer. A value that does not decode
//! becomes an error diagnostic; `tonic::Status` is kept for transport faults.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};
use tracing::Instrument;

use super::diagnostics::{AttributePath, Diagnostic, Severity, Step};
use super::proto::health::health_server::{Health, HealthServer};
use super::proto::health::{health_check_response, HealthCheckRequest, HealthCheckResponse};
use super::proto::plugin::grpc_controller_server::{GrpcController, GrpcControllerServer};
use super::proto::plugin::grpc_stdio_server::{GrpcStdio, GrpcStdioServer};
use super::proto::plugin::{Empty, StdioData};
use super::proto::tfplugin6 as pb;
use super::proto::tfplugin6::provider_server::{Provider, ProviderServer};
use super::schema::{Attribute, Block, NestedBlock, Nesting, Schema};
use super::service::{ApplyRequest, PlanRequest, ProviderService, ReadRequest};
use super::value::{Type, Value};

type RpcResult<T> = Result<Response<T>, Status>;

/// Builds the router serving every service. `shutdown` is set to true when
/// Terraform calls `GRPCController.Shutdown`.
pub fn router(
    provider: Arc<dyn ProviderService>,
    shutdown: watch::Sender<bool>,
) -> tonic::transport::server::Router {
    let shutdown = Arc::new(shutdown);
    tonic::transport::Server::builder()
        .add_service(ProviderServer::new(ProviderRpc { provider }))
        .add_service(GrpcControllerServer::new(Controller {
            shutdown: shutdown.clone(),
        }))
        .add_service(GrpcStdioServer::new(Stdio {
            shutdown: shutdown.subscribe(),
        }))
        .add_service(HealthServer::new(HealthCheck))
}

struct ProviderRpc {
    provider: Arc<dyn ProviderService>,
}

/// Runs one RPC inside a span with the fixed fields `rpc` and `type_name`,
/// logging how long it took.
async fn traced<T>(
    rpc: &'static str,
    type_name: &str,
    work: impl std::future::Future<Output = T>,
) -> T {
    let span = tracing::info_span!("rpc", rpc, type_name);
    async move {
        let started = Instant::now();
        tracing::debug!("started");
        let result = work.await;
        tracing::debug!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            "finished"
        );
        result
    }
    .instrument(span)
    .await
}

#[tonic::async_trait]
impl Provider for ProviderRpc {
    async fn get_metadata(
        &self,
        _request: Request<pb::get_metadata::Request>,
    ) -> RpcResult<pb::get_metadata::Response> {
        let schema = self.provider.schema();
        let resources = schema
            .resources
            .iter()
            .map(|(name, _)| pb::get_metadata::ResourceMetadata {
                type_name: name.clone(),
            })
            .collect();
        let data_sources = schema
            .data_sources
            .iter()
            .map(|(name, _)| pb::get_metadata::DataSourceMetadata {
                type_name: name.clone(),
            })
            .collect();
        Ok(Response::new(pb::get_metadata::Response {
            server_capabilities: Some(server_capabilities()),
            resources,
            data_sources,
            ..Default::default()
        }))
    }

    async fn get_provider_schema(
        &self,
        _request: Request<pb::get_provider_schema::Request>,
    ) -> RpcResult<pb::get_provider_schema::Response> {
        let schema = self.provider.schema();
        let convert_all = |schemas: &[(String, Schema)]| {
            schemas
                .iter()
                .map(|(name, s)| (name.clone(), schema_to_proto(s)))
                .collect()
        };
        Ok(Response::new(pb::get_provider_schema::Response {
            provider: Some(schema_to_proto(&schema.provider)),
            resource_schemas: convert_all(&schema.resources),
            data_source_schemas: convert_all(&schema.data_sources),
            server_capabilities: Some(server_capabilities()),
            ..Default::default()
        }))
    }

    async fn validate_provider_config(
        &self,
        request: Request<pb::validate_provider_config::Request>,
    ) -> RpcResult<pb::validate_provider_config::Response> {
        let request = request.into_inner();
        let ty = self.provider.schema().provider.value_type();
        let diagnostics = traced("ValidateProviderConfig", "", async {
            match decode(request.config.as_ref(), &ty, "config") {
                Ok(config) => self.provider.validate_provider_config(config).await,
                Err(diagnostic) => vec![diagnostic],
            }
        })
        .await;
        Ok(Response::new(pb::validate_provider_config::Response {
            diagnostics: diagnostics_to_proto(diagnostics),
        }))
    }

    async fn validate_resource_config(
        &self,
        request: Request<pb::validate_resource_config::Request>,
    ) -> RpcResult<pb::validate_resource_config::Response> {
        let request = request.into_inner();
        let type_name = request.type_name.as_str();
        let diagnostics = traced("ValidateResourceConfig", type_name, async {
            let ty = self.resource_type(type_name)?;
            let config = decode(request.config.as_ref(), &ty, "config")?;
            Ok::<_, Diagnostic>(
                self.provider
                    .validate_resource_config(type_name, config)
                    .await,
            )
        })
        .await
        .unwrap_or_else(|diagnostic| vec![diagnostic]);
        Ok(Response::new(pb::validate_resource_config::Response {
            diagnostics: diagnostics_to_proto(diagnostics),
        }))
    }

    async fn validate_data_resource_config(
        &self,
        request: Request<pb::validate_data_resource_config::Request>,
    ) -> RpcResult<pb::validate_data_resource_config::Response> {
        let request = request.into_inner();
        let type_name = request.type_name.as_str();
        let diagnostics = traced("ValidateDataResourceConfig", type_name, async {
            let ty = self.data_source_type(type_name)?;
            let config = decode(request.config.as_ref(), &ty, "config")?;
            Ok::<_, Diagnostic>(
                self.provider
                    .validate_data_source_config(type_name, config)
                    .await,
            )
        })
        .await
        .unwrap_or_else(|diagnostic| vec![diagnostic]);
        Ok(Response::new(pb::validate_data_resource_config::Response {
            diagnostics: diagnostics_to_proto(diagnostics),
        }))
    }

    async fn upgrade_resource_state(
        &self,
        request: Request<pb::upgrade_resource_state::Request>,
    ) -> RpcResult<pb::upgrade_resource_state::Response> {
        let request = request.into_inner();
        let type_name = request.type_name.as_str();
        let result = traced("UpgradeResourceState", type_name, async {
            let ty = self.resource_type(type_name)?;
            let raw = request.raw_state.unwrap_or_default();
            if raw.json.is_empty() {
                return Err(Diagnostic::error(
                    "Unsupported state format",
                    format!(
                        "The stored state of this {type_name} is in the flat format written \
                         before Terraform 0.12, which this provider cannot read. Remove the \
                         resource from state and import it again."
                    ),
                ));
            }
            let json: serde_json::Value = serde_json::from_slice(&raw.json).map_err(|e| {
                Diagnostic::error(
                    "Invalid stored state",
                    format!("The stored state of this {type_name} is not valid JSON: {e}."),
                )
            })?;
            let (state, diagnostics) = self
                .provider
                .upgrade_resource_state(type_name, request.version, json)
                .await;
            Ok((encode(&state, &ty)?, diagnostics))
        })
        .await;
        let (upgraded_state, diagnostics) = match result {
            Ok((state, diagnostics)) => (Some(state), diagnostics),
            Err(diagnostic) => (None, vec![diagnostic]),
        };
        Ok(Response::new(pb::upgrade_resource_state::Response {
            upgraded_state,
            diagnostics: diagnostics_to_proto(diagnostics),
        }))
    }

    async fn configure_provider(
        &self,
        request: Request<pb::configure_provider::Request>,
    ) -> RpcResult<pb::configure_provider::Response> {
        let request = request.into_inner();
        let ty = self.provider.schema().provider.value_type();
        let diagnostics = traced("ConfigureProvider", "", async {
            match decode(request.config.as_ref(), &ty, "config") {
                Ok(config) => {
                    self.provider
                        .configure(config, request.terraform_version)
                        .await
                }
                Err(diagnostic) => vec![diagnostic],
            }
        })
        .await;
        Ok(Response::new(pb::configure_provider::Response {
            diagnostics: diagnostics_to_proto(diagnostics),
        }))
    }

    async fn read_resource(
        &self,
        request: Request<pb::read_resource::Request>,
    ) -> RpcResult<pb::read_resource::Response> {
        let request = request.into_inner();
        let type_name = request.type_name.clone();
        let result = traced("ReadResource", &type_name, async {
            let ty = self.resource_type(&type_name)?;
            let current_state = decode(request.current_state.as_ref(), &ty, "current state")?;
            let response = self
                .provider
                .read_resource(ReadRequest {
                    type_name: type_name.clone(),
                    current_state,
                    private: request.private,
                })
                .await;
            Ok::<_, Diagnostic>((
                encode(&response.new_state, &ty)?,
                response.private,
                response.diagnostics,
            ))
        })
        .await;
        Ok(Response::new(match result {
            Ok((new_state, private, diagnostics)) => pb::read_resource::Response {
                new_state: Some(new_state),
                private,
                diagnostics: diagnostics_to_proto(diagnostics),
                ..Default::default()
            },
            Err(diagnostic) => pb::read_resource::Response {
                diagnostics: diagnostics_to_proto(vec![diagnostic]),
                ..Default::default()
            },
        }))
    }

    async fn plan_resource_change(
        &self,
        request: Request<pb::plan_resource_change::Request>,
    ) -> RpcResult<pb::plan_resource_change::Response> {
        let request = request.into_inner();
        let type_name = request.type_name.clone();
        let result = traced("PlanResourceChange", &type_name, async {
            let ty = self.resource_type(&type_name)?;
            let plan = PlanRequest {
                type_name: type_name.clone(),
                prior_state: decode(request.prior_state.as_ref(), &ty, "prior state")?,
                proposed_new_state: decode(
                    request.proposed_new_state.as_ref(),
                    &ty,
                    "proposed new state",
                )?,
                config: decode(request.config.as_ref(), &ty, "config")?,
                prior_private: request.prior_private,
            };
            let response = self.provider.plan_resource_change(plan).await;
            Ok::<_, Diagnostic>(pb::plan_resource_change::Response {
                planned_state: Some(encode(&response.planned_state, &ty)?),
                requires_replace: response
                    .requires_replace
                    .iter()
                    .map(path_to_proto)
                    .collect(),
                planned_private: response.planned_private,
                diagnostics: diagnostics_to_proto(response.diagnostics),
                ..Default::default()
            })
        })
        .await;
        Ok(Response::new(result.unwrap_or_else(|diagnostic| {
            pb::plan_resource_change::Response {
                diagnostics: diagnostics_to_proto(vec![diagnostic]),
                ..Default::default()
            }
        })))
    }

    async fn apply_resource_change(
        &self,
        request: Request<pb::apply_resource_change::Request>,
    ) -> RpcResult<pb::apply_resource_change::Response> {
        let request = request.into_inner();
        let type_name = request.type_name.clone();
        let result = traced("ApplyResourceChange", &type_name, async {
            let ty = self.resource_type(&type_name)?;
            let apply = ApplyRequest {
                type_name: type_name.clone(),
                prior_state: decode(request.prior_state.as_ref(), &ty, "prior state")?,
                planned_state: decode(request.planned_state.as_ref(), &ty, "planned state")?,
                config: decode(request.config.as_ref(), &ty, "config")?,
                planned_private: request.planned_private,
            };
            let response = self.provider.apply_resource_change(apply).await;
            Ok::<_, Diagnostic>(pb::apply_resource_change::Response {
                new_state: Some(encode(&response.new_state, &ty)?),
                private: response.private,
                diagnostics: diagnostics_to_proto(response.diagnostics),
                ..Default::default()
            })
        })
        .await;
        Ok(Response::new(result.unwrap_or_else(|diagnostic| {
            pb::apply_resource_change::Response {
                diagnostics: diagnostics_to_proto(vec![diagnostic]),
                ..Default::default()
            }
        })))
    }

    async fn import_resource_state(
        &self,
        request: Request<pb::import_resource_state::Request>,
    ) -> RpcResult<pb::import_resource_state::Response> {
        let request = request.into_inner();
        let type_name = request.type_name.clone();
        let result = traced("ImportResourceState", &type_name, async {
            let response = self
                .provider
                .import_resource_state(&type_name, &request.id)
                .await;
            let mut imported_resources = Vec::new();
            for resource in response.imported {
                let ty = self.resource_type(&resource.type_name)?;
                imported_resources.push(pb::import_resource_state::ImportedResource {
                    type_name: resource.type_name,
                    state: Some(encode(&resource.state, &ty)?),
                    private: resource.private,
                });
            }
            Ok::<_, Diagnostic>(pb::import_resource_state::Response {
                imported_resources,
                diagnostics: diagnostics_to_proto(response.diagnostics),
                ..Default::default()
            })
        })
        .await;
        Ok(Response::new(result.unwrap_or_else(|diagnostic| {
            pb::import_resource_state::Response {
                diagnostics: diagnostics_to_proto(vec![diagnostic]),
                ..Default::default()
            }
        })))
    }

    async fn read_data_source(
        &self,
        request: Request<pb::read_data_source::Request>,
    ) -> RpcResult<pb::read_data_source::Response> {
        let request = request.into_inner();
        let type_name = request.type_name.clone();
        let result = traced("ReadDataSource", &type_name, async {
            let ty = self.data_source_type(&type_name)?;
            let config = decode(request.config.as_ref(), &ty, "config")?;
            let (state, diagnostics) = self.provider.read_data_source(&type_name, config).await;
            Ok::<_, Diagnostic>(pb::read_data_source::Response {
                state: Some(encode(&state, &ty)?),
                diagnostics: diagnostics_to_proto(diagnostics),
                ..Default::default()
            })
        })
        .await;
        Ok(Response::new(result.unwrap_or_else(|diagnostic| {
            pb::read_data_source::Response {
                diagnostics: diagnostics_to_proto(vec![diagnostic]),
                ..Default::default()
            }
        })))
    }

    async fn stop_provider(
        &self,
        _request: Request<pb::stop_provider::Request>,
    ) -> RpcResult<pb::stop_provider::Response> {
        tracing::info!(rpc = "StopProvider", "stop requested");
        self.provider.stop().await;
        Ok(Response::new(pb::stop_provider::Response::default()))
    }
}

impl ProviderRpc {
    fn resource_type(&self, type_name: &str) -> Result<Type, Diagnostic> {
        self.provider
            .schema()
            .resource(type_name)
            .map(Schema::value_type)
            .ok_or_else(|| unknown_type_name("resource", type_name))
    }

    fn data_source_type(&self, type_name: &str) -> Result<Type, Diagnostic> {
        self.provider
            .schema()
            .data_source(type_name)
            .map(Schema::value_type)
            .ok_or_else(|| unknown_type_name("data source", type_name))
    }
}

fn unknown_type_name(kind: &str, type_name: &str) -> Diagnostic {
    Diagnostic::error(
        format!("Unknown {kind} type"),
        format!(
            "This provider has no {kind} type {type_name:?}. Check the spelling, and run \
             `terraform init -upgrade` if it comes from a newer provider version."
        ),
    )
}

fn server_capabilities() -> pb::ServerCapabilities {
    pb::ServerCapabilities {
        plan_destroy: false,
        get_provider_schema_optional: false,
        move_resource_state: false,
    }
}

/// Decodes a request value; `what` names it in the error ("prior state").
fn decode(value: Option<&pb::DynamicValue>, ty: &Type, what: &str) -> Result<Value, Diagnostic> {
    let Some(value) = value else {
        return Ok(Value::Null);
    };
    let decoded = if !value.msgpack.is_empty() {
        Value::from_msgpack(&value.msgpack, ty)
    } else if !value.json.is_empty() {
        serde_json::from_slice::<serde_json::Value>(&value.json)
            .map_err(|e| super::value::CodecError {
                path: String::new(),
                message: e.to_string(),
            })
            .and_then(|json| Value::from_json(&json, ty))
    } else {
        Ok(Value::Null)
    };
    decoded.map_err(|e| {
        Diagnostic::error(
            "Invalid value from Terraform",
            format!(
                "The {what} sent by Terraform does not match this provider's schema ({e}). \
                 This is a bug in the provider or a Terraform version it does not support; \
                 please report it with the Terraform version."
            ),
        )
    })
}

fn encode(value: &Value, ty: &Type) -> Result<pb::DynamicValue, Diagnostic> {
    let msgpack = value.to_msgpack(ty).map_err(|e| {
        Diagnostic::error(
            "Provider produced an invalid value",
            format!("The provider built a value that does not match its own schema ({e}). This is a bug in the provider; please report it."),
        )
    })?;
    Ok(pb::DynamicValue {
        msgpack,
        json: Vec::new(),
    })
}

fn diagnostics_to_proto(diagnostics: Vec<Diagnostic>) -> Vec<pb::Diagnostic> {
    diagnostics
        .into_iter()
        .map(|d| pb::Diagnostic {
            severity: match d.severity {
                Severity::Error => pb::diagnostic::Severity::Error,
                Severity::Warning => pb::diagnostic::Severity::Warning,
            } as i32,
            summary: d.summary,
            detail: d.detail,
            attribute: d.attribute.as_ref().map(path_to_proto),
        })
        .collect()
}

fn path_to_proto(path: &AttributePath) -> pb::AttributePath {
    use pb::attribute_path::step::Selector;

    let steps = path
        .0
        .iter()
        .map(|step| pb::attribute_path::Step {
            selector: Some(match step {
                Step::Attribute(name) => Selector::AttributeName(name.clone()),
                Step::Key(key) => Selector::ElementKeyString(key.clone()),
                Step::Index(index) => Selector::ElementKeyInt(*index),
            }),
        })
        .collect();
    pb::AttributePath { steps }
}

/// Converts a schema to its protobuf form. Descriptions are Markdown.
pub fn schema_to_proto(schema: &Schema) -> pb::Schema {
    pb::Schema {
        version: schema.version,
        block: Some(block_to_proto(&schema.block, schema.version)),
    }
}

fn block_to_proto(block: &Block, version: i64) -> pb::schema::Block {
    pb::schema::Block {
        version,
        attributes: block.attributes.iter().map(attribute_to_proto).collect(),
        block_types: block.blocks.iter().map(nested_block_to_proto).collect(),
        description: block.description.clone(),
        description_kind: pb::StringKind::Markdown as i32,
        deprecated: block.deprecated,
    }
}

fn attribute_to_proto(attribute: &Attribute) -> pb::schema::Attribute {
    pb::schema::Attribute {
        name: attribute.name.clone(),
        r#type: attribute.ty.to_json().to_string().into_bytes(),
        nested_type: None,
        description: attribute.description.clone(),
        required: attribute.required,
        optional: attribute.optional,
        computed: attribute.computed,
        sensitive: attribute.sensitive,
        description_kind: pb::StringKind::Markdown as i32,
        deprecated: attribute.deprecated,
        write_only: false,
    }
}

fn nested_block_to_proto(nested: &NestedBlock) -> pb::schema::NestedBlock {
    use pb::schema::nested_block::NestingMode;

    let nesting = match nested.nesting {
        Nesting::Single => NestingMode::Single,
        Nesting::List => NestingMode::List,
        Nesting::Set => NestingMode::Set,
    };
    pb::schema::NestedBlock {
        type_name: nested.type_name.clone(),
        block: Some(block_to_proto(&nested.block, 0)),
        nesting: nesting as i32,
        min_items: nested.min_items,
        max_items: nested.max_items,
    }
}

/// go-plugin's controller: `Shutdown` ends the process.
struct Controller {
    shutdown: Arc<watch::Sender<bool>>,
}

#[tonic::async_trait]
impl GrpcController for Controller {
    async fn shutdown(&self, _request: Request<Empty>) -> RpcResult<Empty> {
        tracing::info!("shutdown requested by Terraform");
        let _ = self.shutdown.send(true);
        Ok(Response::new(Empty {}))
    }
}

/// go-plugin's stdio forwarding. This provider writes nothing to stdout or
/// stderr that Terraform must relay through gRPC (logs go to stderr, which
/// go-plugin reads directly), so the stream stays open and empty until
/// shutdown.
struct Stdio {
    shutdown: watch::Receiver<bool>,
}

type StdioStream = Pin<Box<dyn tokio_stream::Stream<Item = Result<StdioData, Status>> + Send>>;

#[tonic::async_trait]
impl GrpcStdio for Stdio {
    type StreamStdioStream = StdioStream;

    async fn stream_stdio(&self, _request: Request<()>) -> RpcResult<Self::StreamStdioStream> {
        let (sender, receiver) = mpsc::channel(1);
        let mut shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = shutdown.wait_for(|stopping| *stopping) => {}
                _ = sender.closed() => {}
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }
}

/// The standard health service; go-plugin checks the service "plugin".
struct HealthCheck;

type HealthStream =
    Pin<Box<dyn tokio_stream::Stream<Item = Result<HealthCheckResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Health for HealthCheck {
    type WatchStream = HealthStream;

    async fn check(&self, _request: Request<HealthCheckRequest>) -> RpcResult<HealthCheckResponse> {
        Ok(Response::new(HealthCheckResponse {
            status: health_check_response::ServingStatus::Serving as i32,
        }))
    }

    async fn watch(&self, _request: Request<HealthCheckRequest>) -> RpcResult<Self::WatchStream> {
        let serving = HealthCheckResponse {
            status: health_check_response::ServingStatus::Serving as i32,
        };
        Ok(Response::new(Box::pin(tokio_stream::once(Ok(serving)))))
    }
}
