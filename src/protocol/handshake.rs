//! Start-up as a go-plugin plugin: the magic cookie, the listener, the
//! handshake line on stdout, and serving until Terraform says to shut down.
//!
//! go-plugin starts the plugin with a magic cookie in the environment, reads
//! one line from its stdout (`CORE|APP|NETWORK|ADDRESS|PROTOCOL|CERT`) and then
//! talks gRPC to that address. Nothing else may be written to stdout.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine as _;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::Connected;

use super::server;
use super::service::ProviderService;
use super::tls;

/// The environment variable go-plugin sets to show the process was started
/// by Terraform.
pub const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
/// Terraform's fixed cookie value for provider plugins.
pub const MAGIC_COOKIE_VALUE: &str =
    "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
/// go-plugin's own protocol version, the first field of the handshake line.
const CORE_PROTOCOL_VERSION: u32 = 1;
/// The Terraform plugin protocol this provider speaks.
pub const PLUGIN_PROTOCOL_VERSION: u32 = 6;

/// What the plugin needs from its environment to start.
#[derive(Clone, Debug, Default)]
pub struct ServeOptions {
    /// Terraform's client certificate (PEM), from `PLUGIN_CLIENT_CERT`. Without
    /// it the server speaks plaintext gRPC, as go-plugin does.
    pub client_certificate_pem: Option<String>,
    /// Comma-separated protocol versions the client speaks, from
    /// `PLUGIN_PROTOCOL_VERSIONS`; absent means "whatever the plugin speaks".
    pub client_protocol_versions: Option<String>,
    /// Inclusive port range from `PLUGIN_MIN_PORT` and `PLUGIN_MAX_PORT`.
    pub port_range: Option<(u16, u16)>,
}

impl ServeOptions {
    /// Reads the options go-plugin passes through the environment.
    pub fn from_env() -> ServeOptions {
        let non_empty = |key: &str| std::env::var(key).ok().filter(|v| !v.trim().is_empty());
        let port = |key: &str| non_empty(key).and_then(|v| v.trim().parse::<u16>().ok());
        ServeOptions {
            client_certificate_pem: non_empty("PLUGIN_CLIENT_CERT"),
            client_protocol_versions: non_empty("PLUGIN_PROTOCOL_VERSIONS"),
            port_range: port("PLUGIN_MIN_PORT").zip(port("PLUGIN_MAX_PORT")),
        }
    }
}

/// Whether the magic cookie shows the process was started by Terraform.
pub fn started_by_terraform() -> bool {
    std::env::var(MAGIC_COOKIE_KEY).is_ok_and(|v| v == MAGIC_COOKIE_VALUE)
}

/// A started server: the handshake line to print, and a future that serves
/// until `GRPCController.Shutdown` is called.
pub struct StartedServer {
    pub handshake_line: String,
    pub address: SocketAddr,
    /// The server certificate (DER) when TLS is on.
    pub certificate: Option<Vec<u8>>,
    pub serving: Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>>,
    /// Becomes true when Terraform calls `GRPCController.Shutdown`.
    pub shutdown: watch::Receiver<bool>,
}

/// Binds the listener and prepares the gRPC server without blocking.
pub async fn start(
    provider: Arc<dyn ProviderService>,
    options: ServeOptions,
) -> Result<StartedServer, String> {
    check_protocol_versions(options.client_protocol_versions.as_deref())?;
    let listener = bind(options.port_range).await?;
    let address = listener
        .local_addr()
        .map_err(|e| format!("reading the listener address failed: {e}"))?;

    let (acceptor, certificate) = match &options.client_certificate_pem {
        Some(pem) => {
            let identity = tls::generate_server_identity()?;
            let config = tls::server_config(&identity, pem)?;
            let certificate = identity.certificate.to_vec();
            (Some(TlsAcceptor::from(Arc::new(config))), Some(certificate))
        }
        None => (None, None),
    };
    let encoded_certificate = certificate
        .as_deref()
        .map(|der| STANDARD_NO_PAD.encode(der))
        .unwrap_or_default();
    let handshake_line = format!(
        "{CORE_PROTOCOL_VERSION}|{PLUGIN_PROTOCOL_VERSION}|tcp|{address}|grpc|{encoded_certificate}"
    );

    let (shutdown_sender, shutdown) = watch::channel(false);
    let mut server_shutdown = shutdown.clone();
    let router = server::router(provider, shutdown_sender);
    let incoming = accept_connections(listener, acceptor);
    let serving = Box::pin(async move {
        let stopping = async move {
            let _ = server_shutdown.wait_for(|stopping| *stopping).await;
        };
        router
            .serve_with_incoming_shutdown(incoming, stopping)
            .await
            .map_err(|e| format!("gRPC server failed: {e}"))
    });

    Ok(StartedServer {
        handshake_line,
        address,
        certificate,
        serving,
        shutdown,
    })
}

fn check_protocol_versions(client_versions: Option<&str>) -> Result<(), String> {
    let Some(list) = client_versions else {
        return Ok(());
    };
    let speaks_ours = list
        .split(',')
        .any(|v| v.trim().parse::<u32>() == Ok(PLUGIN_PROTOCOL_VERSION));
    if speaks_ours {
        Ok(())
    } else {
        Err(format!(
            "this provider speaks plugin protocol {PLUGIN_PROTOCOL_VERSION}, but the client \
             offers only {list:?}; use Terraform 1.0 or later, or OpenTofu"
        ))
    }
}

async fn bind(port_range: Option<(u16, u16)>) -> Result<TcpListener, String> {
    let Some((min, max)) = port_range else {
        return TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(|e| format!("listening on 127.0.0.1 failed: {e}"));
    };
    for port in min..=max {
        if let Ok(listener) = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await {
            return Ok(listener);
        }
    }
    Err(format!("no free port on 127.0.0.1 between {min} and {max}"))
}

/// Accepts TCP connections, turning off Nagle's algorithm (otherwise every
/// small gRPC message waits ~40 ms for a delayed ACK) and completing TLS in a
/// task per connection so one slow client cannot hold up the others.
fn accept_connections(
    listener: TcpListener,
    acceptor: Option<TlsAcceptor>,
) -> ReceiverStream<io::Result<Connection>> {
    let (sender, receiver) = mpsc::channel(16);
    tokio::spawn(async move {
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection failed");
                    continue;
                }
            };
            if let Err(e) = stream.set_nodelay(true) {
                tracing::warn!(error = %e, "setting TCP_NODELAY failed");
            }
            let sender = sender.clone();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let connection = match acceptor {
                    None => Connection::Plain(stream),
                    Some(acceptor) => match acceptor.accept(stream).await {
                        Ok(tls) => Connection::Tls(Box::new(tls)),
                        Err(e) => {
                            tracing::warn!(%peer, error = %e, "rejected a TLS connection");
                            return;
                        }
                    },
                };
                let _ = sender.send(Ok(connection)).await;
            });
        }
    });
    ReceiverStream::new(receiver)
}

/// An accepted connection, with or without TLS.
pub enum Connection {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Connected for Connection {
    type ConnectInfo = ();

    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl AsyncRead for Connection {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Connection::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Connection::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Connection::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Connection::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Connection::Plain(s) => Pin::new(s).poll_flush(cx),
            Connection::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Connection::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Connection::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
