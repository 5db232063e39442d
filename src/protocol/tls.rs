//! go-plugin's automatic mutual TLS (AutoMTLS).
//!
//! Terraform generates a fresh self-signed client certificate for every plugin
//! process and passes it in `PLUGIN_CLIENT_CERT` (PEM). The provider generates
//! its own certificate at start, prints it in the handshake line, and accepts
//! only connections that present exactly Terraform's certificate.
//!
//! Terraform's certificate is an ECDSA P-521 CA certificate used as a client
//! certificate. WebPKI path validation rejects a CA certificate in the
//! end-entity position, so instead of building a chain we pin the certificate:
//! the presented one must be byte-for-byte the one from the environment, and
//! the handshake signature must verify with its key. The aws-lc-rs crypto
//! provider is used because it verifies P-521 signatures.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{
    aws_lc_rs, verify_tls12_signature, verify_tls13_signature, WebPkiSupportedAlgorithms,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};

/// The server's freshly generated certificate and key.
pub struct ServerIdentity {
    pub certificate: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
}

/// Generates a self-signed ECDSA P-256 certificate for `localhost`, the name
/// go-plugin's client checks, valid for both server and client use as
/// go-plugin's own certificates are.
pub fn generate_server_identity() -> Result<ServerIdentity, String> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|e| format!("generating the server key failed: {e}"))?;
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .map_err(|e| format!("building the server certificate failed: {e}"))?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "plink");
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::DigitalSignature,
        rcgen::KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let certificate = params
        .self_signed(&key)
        .map_err(|e| format!("signing the server certificate failed: {e}"))?;

    Ok(ServerIdentity {
        certificate: certificate.der().clone(),
        key: PrivatePkcs8KeyDer::from(key.serialize_der()),
    })
}

/// Builds the TLS server configuration that requires Terraform's client
/// certificate, given as PEM.
pub fn server_config(
    identity: &ServerIdentity,
    client_certificate_pem: &str,
) -> Result<rustls::ServerConfig, String> {
    let client_certificate = CertificateDer::from_pem_slice(client_certificate_pem.as_bytes())
        .map_err(|e| format!("PLUGIN_CLIENT_CERT is not a PEM certificate: {e}"))?;
    let provider = Arc::new(aws_lc_rs::default_provider());
    let verifier = PinnedClientVerifier {
        expected: client_certificate.into_owned(),
        algorithms: provider.signature_verification_algorithms,
    };

    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("configuring TLS failed: {e}"))?
        .with_client_cert_verifier(Arc::new(verifier))
        .with_single_cert(
            vec![identity.certificate.clone()],
            PrivateKeyDer::Pkcs8(identity.key.clone_key()),
        )
        .map_err(|e| format!("loading the server certificate failed: {e}"))?;
    // gRPC runs over HTTP/2, and recent gRPC clients insist on ALPN saying so.
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

/// Accepts exactly one client certificate.
#[derive(Debug)]
struct PinnedClientVerifier {
    expected: CertificateDer<'static>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for PinnedClientVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.expected.as_ref() {
            Ok(ClientCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
