//! Client-side helpers for driving the provider as Terraform does: parsing
//! the go-plugin handshake line, generating Terraform's client certificate,
//! and opening gRPC channels over mutual TLS or plaintext.

use std::net::SocketAddr;
use std::process::Child;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine as _;
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tonic::transport::{Channel, Endpoint, Uri};

/// Upper bound for any single network step in the tests, so that a hung
/// server fails the test instead of stalling it.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// The fields of the line a go-plugin plugin prints on stdout:
/// `CORE|APP|NETWORK|ADDRESS|PROTOCOL|CERT`.
#[derive(Debug)]
pub struct HandshakeLine {
    pub core_version: String,
    pub app_version: String,
    pub network: String,
    pub address: String,
    pub protocol: String,
    /// The server certificate as base64 DER without padding. It is empty in
    /// plaintext mode.
    pub certificate: String,
}

impl HandshakeLine {
    /// Splits a handshake line into its six fields.
    pub fn parse(line: &str) -> Result<HandshakeLine, String> {
        let fields: Vec<&str> = line.trim_end_matches('\n').split('|').collect();
        let [core, app, network, address, protocol, certificate] = fields.as_slice() else {
            return Err(format!(
                "handshake line {line:?} has {} fields, expected 6",
                fields.len()
            ));
        };
        Ok(HandshakeLine {
            core_version: core.to_string(),
            app_version: app.to_string(),
            network: network.to_string(),
            address: address.to_string(),
            protocol: protocol.to_string(),
            certificate: certificate.to_string(),
        })
    }

    pub fn socket_address(&self) -> SocketAddr {
        self.address
            .parse()
            .unwrap_or_else(|e| panic!("handshake address {:?} is invalid: {e}", self.address))
    }

    /// Decodes the server certificate. go-plugin's client reads it with
    /// Go's `base64.RawStdEncoding`, which is standard base64 without padding.
    pub fn certificate_der(&self) -> Vec<u8> {
        STANDARD_NO_PAD
            .decode(&self.certificate)
            .unwrap_or_else(|e| panic!("handshake certificate is not unpadded base64: {e}"))
    }
}

/// A client certificate and key shaped like the one Terraform generates for
/// each plugin through go-plugin's `generateCert` (mtls.go). It is a
/// self-signed ECDSA P-521 CA certificate for `localhost`, usable for both
/// client and server authentication.
pub struct ClientIdentity {
    pub certificate_pem: String,
    pub certificate_der: CertificateDer<'static>,
    key_der: PrivatePkcs8KeyDer<'static>,
}

impl ClientIdentity {
    pub fn generate() -> ClientIdentity {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512)
            .expect("generating a P-521 key failed");
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .expect("building the client certificate parameters failed");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "localhost");
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "HashiCorp");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::DigitalSignature,
            rcgen::KeyUsagePurpose::KeyEncipherment,
            rcgen::KeyUsagePurpose::KeyAgreement,
            rcgen::KeyUsagePurpose::KeyCertSign,
        ];
        params.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        ];
        let certificate = params
            .self_signed(&key)
            .expect("self-signing the client certificate failed");
        ClientIdentity {
            certificate_pem: certificate.pem(),
            certificate_der: certificate.der().clone(),
            key_der: PrivatePkcs8KeyDer::from(key.serialize_der()),
        }
    }
}

/// Builds the TLS client configuration go-plugin's client uses: trust only
/// the server certificate from the handshake line, expect the name
/// `localhost`, offer ALPN `h2`, and present `identity` when given.
pub fn client_tls_config(
    server_certificate: &[u8],
    identity: Option<&ClientIdentity>,
) -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(server_certificate.to_vec()))
        .expect("the server certificate cannot be used as a trust anchor");
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("the aws-lc-rs provider supports no TLS version")
        .with_root_certificates(roots);
    let mut config = match identity {
        Some(identity) => builder
            .with_client_auth_cert(
                vec![identity.certificate_der.clone()],
                PrivateKeyDer::Pkcs8(identity.key_der.clone_key()),
            )
            .expect("the client certificate or key was rejected by rustls"),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    config
}

/// Opens a gRPC channel over TLS to `address`, as Terraform does after the
/// handshake.
pub async fn tls_channel(
    address: SocketAddr,
    config: rustls::ClientConfig,
) -> Result<Channel, String> {
    let connector = TlsConnector::from(Arc::new(config));
    let connect = tower::service_fn(move |_: Uri| {
        let connector = connector.clone();
        async move {
            let tcp = TcpStream::connect(address).await?;
            let name = ServerName::try_from("localhost")
                .map_err(std::io::Error::other)?
                .to_owned();
            let tls = connector.connect(name, tcp).await?;
            Ok::<_, std::io::Error>(TokioIo::new(tls))
        }
    });
    let endpoint = Endpoint::from_shared(format!("http://{address}"))
        .map_err(|e| format!("invalid endpoint for {address}: {e}"))?
        .connect_timeout(STEP_TIMEOUT);
    endpoint
        .connect_with_connector(connect)
        .await
        .map_err(|e| format!("connecting over TLS to {address} failed: {e:?}"))
}

/// Opens a plaintext HTTP/2 gRPC channel to `address`.
pub async fn plain_channel(address: SocketAddr) -> Result<Channel, String> {
    Endpoint::from_shared(format!("http://{address}"))
        .map_err(|e| format!("invalid endpoint for {address}: {e}"))?
        .connect_timeout(STEP_TIMEOUT)
        .connect()
        .await
        .map_err(|e| format!("connecting to {address} failed: {e:?}"))
}

/// Guard that kills and reaps a child process when dropped, so a failed
/// assertion does not leave a provider process running.
pub struct ChildGuard(pub Child);

impl ChildGuard {
    /// Polls until the child exits or `limit` passes. Returns `None` when the
    /// child is still running.
    pub async fn wait_for_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            match self.0.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if tokio::time::Instant::now() >= deadline => return None,
                Ok(None) => tokio::time::sleep(Duration::from_millis(5)).await,
                Err(e) => panic!("checking the child process failed: {e}"),
            }
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}
