//! TLS (rustls with the ring provider) as a transport: configuration, a handshake with a
//! deadline, and a tunnel that turns a TLS connection into a plain stream for the relay and
//! the servers, so the end-of-input rules live in one place (`relay`).
//!
//! A server uses a certificate and key (PEM) or makes a self-signed certificate and says its
//! SHA-256 fingerprint, so a client can check it. A client verifies the server against a CA
//! file or the system's roots, or skips that when told to be insecure (handshake signatures
//! are still checked). The tunnel is one thread polling the socket and its end of a socket
//! pair: rustls moves records; the plain side's EOF becomes close_notify then FIN, and the
//! peer's close_notify or FIN becomes EOF on the plain side.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, ServerConfig, SignatureScheme};

use crate::conn::Conn;
use crate::net::{Doing, NetError, Why};

mod tunnel;

/// How long a peer has to finish its TLS handshake.
pub const HANDSHAKE: Duration = Duration::from_secs(10);

/// A server's certificate: PEM files, or self-signed when both are `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerTls {
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

/// What a client trusts: a CA file, the system's roots, one certificate by its SHA-256
/// fingerprint, or (insecure) any certificate; what it shows a server that asks for a
/// certificate; and the name it asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientTls {
    pub ca: Option<PathBuf>,
    pub insecure: bool,
    /// The server's certificate must have this SHA-256 digest (a self-signed server prints it).
    pub fingerprint: Option<[u8; 32]>,
    /// A certificate chain and its key (PEM files), for a server that asks for one.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// The name sent (SNI) and checked, in place of the host connected to.
    pub server_name: Option<String>,
}

/// A SHA-256 fingerprint as people copy it: 64 hex digits, with or without colons.
pub fn parse_fingerprint(s: &str) -> Option<[u8; 32]> {
    let hex: Vec<u8> = s.bytes().filter(|&b| b != b':').collect();
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in hex.chunks(2).enumerate() {
        out[i] = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(out)
}

/// The certificate a pinned client was shown, when it was not the pinned one.
#[derive(Debug)]
struct FingerprintMismatch {
    seen: String,
}

impl std::fmt::Display for FingerprintMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the server's certificate has SHA-256 fingerprint {}, not the one pinned", self.seen)
    }
}

impl std::error::Error for FingerprintMismatch {}

/// A server configuration for a listener on `local`, with its certificate's fingerprint. A
/// self-signed certificate names localhost, the loopback addresses, the bound address and the
/// host name.
pub fn server_config_for(
    tls: &ServerTls,
    local: std::net::SocketAddr,
) -> Result<(Arc<ServerConfig>, String), NetError> {
    let mut names = vec!["localhost".to_string(), "127.0.0.1".into(), "::1".into(), crate::host::hostname()];
    if !local.ip().is_unspecified() {
        names.push(local.ip().to_string());
    }
    names.dedup();
    server_config(tls.cert.as_deref(), tls.key.as_deref(), &names)
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn tls_error(doing: Doing, cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> NetError {
    NetError::failed(doing, Why::Library(cause.into()))
}

/// SHA-256 of a certificate, as colon-separated hex (the form browsers and openssl show).
pub fn fingerprint(cert: &CertificateDer<'_>) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, cert.as_ref());
    d.as_ref().iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
}

/// A server configuration from PEM files, or self-signed for `names` when none are given.
/// Returns it with the certificate's fingerprint.
pub fn server_config(
    cert: Option<&Path>,
    key: Option<&Path>,
    names: &[String],
) -> Result<(Arc<ServerConfig>, String), NetError> {
    let (chain, key): (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) = match (cert, key) {
        (Some(c), Some(k)) => (certificates(c)?, private_key(k)?),
        (None, None) => {
            let ck =
                rcgen::generate_simple_self_signed(names.to_vec()).map_err(|e| tls_error(Doing::MakeCertificate, e))?;
            let key =
                PrivateKeyDer::try_from(ck.signing_key.serialize_der()).map_err(|e| tls_error(Doing::MakeKey, e))?;
            (vec![ck.cert.der().clone()], key)
        }
        _ => {
            return Err(NetError::Advice {
                text: "a certificate without its key, or a key without its certificate".into(),
                hint: crate::hint::Hint::CertAndKey,
            });
        }
    };
    let fp = fingerprint(&chain[0]);
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(Doing::TlsVersions, e))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| tls_error(Doing::PairKey { client: false }, e))?;
    Ok((Arc::new(config), fp))
}

/// The private key of a PEM file.
fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, NetError> {
    let pem = pem_file(path, "a private key")?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| tls_error(Doing::ReadKey(path.to_path_buf()), e))
}

/// A client configuration's last step: with the certificate and key to show a server that
/// asks for one, or with none.
fn client_auth(
    builder: rustls::ConfigBuilder<ClientConfig, rustls::client::WantsClientCert>,
    auth: Option<&(PathBuf, PathBuf)>,
) -> Result<ClientConfig, NetError> {
    match auth {
        None => Ok(builder.with_no_client_auth()),
        Some((cert, key)) => builder
            .with_client_auth_cert(certificates(cert)?, private_key(key)?)
            .map_err(|e| tls_error(Doing::PairKey { client: true }, e)),
    }
}

/// A PEM file's bytes, read with a bound.
fn pem_file(path: &Path, what: &'static str) -> Result<Vec<u8>, NetError> {
    crate::stdio::read_bounded(
        std::fs::File::open(path).map_err(|e| tls_error(Doing::ReadPem { what, path: path.to_path_buf() }, e))?,
        crate::stdio::limits::PEM,
    )
    .map_err(|e| tls_error(Doing::ReadPem { what, path: path.to_path_buf() }, e))
}

/// The certificates of a PEM file; a file without one is an error that says so.
fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, NetError> {
    let pem = pem_file(path, "certificates")?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_error(Doing::ReadCertificates(path.to_path_buf()), e))?;
    if certs.is_empty() {
        return Err(NetError::failed(Doing::CertificateFile(path.to_path_buf()), Why::NoPemCertificate));
    }
    Ok(certs)
}

/// A client configuration: trust `ca` (PEM) or the system roots; or trust anything.
pub fn client_config(ca: Option<&Path>, insecure: bool) -> Result<Arc<ClientConfig>, NetError> {
    client_config_with(ca, insecure, None)
}

fn client_config_with(
    ca: Option<&Path>,
    insecure: bool,
    auth: Option<&(PathBuf, PathBuf)>,
) -> Result<Arc<ClientConfig>, NetError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(Doing::TlsVersions, e))?;
    let config = if insecure {
        let verifier = Arc::new(AnyCertificate { provider: provider(), pin: None });
        client_auth(builder.dangerous().with_custom_certificate_verifier(verifier), auth)?
    } else {
        let mut roots = rustls::RootCertStore::empty();
        match ca {
            Some(path) => {
                roots.add_parsable_certificates(certificates(path)?);
            }
            None => {
                roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
            }
        }
        if roots.is_empty() {
            return Err(NetError::Advice {
                text: "TLS: no trusted certificates found".into(),
                hint: crate::hint::Hint::TrustCa,
            });
        }
        client_auth(builder.with_root_certificates(roots), auth)?
    };
    Ok(Arc::new(config))
}

/// The name to check the server's certificate against: a DNS name or an IP address.
pub fn server_name(host: &str) -> Result<ServerName<'static>, NetError> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(bare.to_string()).map_err(|e| tls_error(Doing::ServerName(host.to_string()), e))
}

/// Any certificate (insecure), or only the one with the pinned SHA-256 digest; either way
/// the handshake's signatures must still verify.
#[derive(Debug)]
struct AnyCertificate {
    provider: Arc<rustls::crypto::CryptoProvider>,
    pin: Option<[u8; 32]>,
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.pin {
            Some(pin) if ring::digest::digest(&ring::digest::SHA256, end_entity.as_ref()).as_ref() != pin => {
                let seen = FingerprintMismatch { seen: fingerprint(end_entity) };
                Err(rustls::Error::InvalidCertificate(rustls::CertificateError::Other(rustls::OtherError(Arc::new(
                    seen,
                )))))
            }
            _ => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// Say what a failed handshake means for the user.
fn handshake_error(peer: &str, e: &rustls::Error) -> NetError {
    use rustls::{AlertDescription as A, CertificateError as C, Error as E};
    let hint = match e {
        // A trusted certificate of the issuer's name with another kind of key (Debian's
        // snakeoil certificate is named for the host, often localhost) did not sign it either.
        E::InvalidCertificate(
            C::UnknownIssuer | C::BadSignature | C::UnsupportedSignatureAlgorithmForPublicKeyContext { .. },
        ) => {
            return NetError::Advice {
                text: format!(
                    "TLS handshake with {peer} failed ({e}): the server's certificate is not signed by a trusted CA"
                ),
                hint: crate::hint::Hint::TrustCa,
            };
        }
        E::InvalidCertificate(C::Other(o)) if o.0.downcast_ref::<FingerprintMismatch>().is_some() => {
            return NetError::Advice {
                text: format!("TLS handshake with {peer} failed: {}", o.0),
                hint: crate::hint::Hint::CheckFingerprint,
            };
        }
        E::AlertReceived(A::BadCertificate | A::UnknownCA | A::CertificateUnknown) => {
            "the other side does not trust this certificate: give it the certificate's CA, or have it skip the check"
        }
        E::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. }) => {
            "the server's certificate is for another name: connect by the name it was issued for"
        }
        E::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => "the server's certificate has expired",
        E::InvalidCertificate(C::Other(o))
            if matches!(o.0.downcast_ref::<webpki::Error>(), Some(webpki::Error::CaUsedAsEndEntity)) =>
        {
            return NetError::Advice {
                text: format!(
                    "TLS handshake with {peer} failed ({e}): the server presents a CA certificate as its own (as \
                     openssl's default self-signed one is; one with basicConstraints CA:FALSE would be taken)"
                ),
                hint: crate::hint::Hint::PinCertificate,
            };
        }
        E::InvalidCertificate(C::NotValidYet | C::NotValidYetContext { .. }) => {
            "the server's certificate is not valid yet: check this machine's clock and the server's"
        }
        // A certificate came: the other side speaks TLS.
        E::InvalidCertificate(_) => {
            return NetError::Advice {
                text: format!("TLS handshake with {peer} failed: the server's certificate is refused ({e})"),
                hint: crate::hint::Hint::PinCertificate,
            };
        }
        _ => "check that the other side speaks TLS",
    };
    NetError::Handshake { peer: peer.to_string(), cause: e.clone(), hint }
}

impl ClientTls {
    /// What to trust and the name to check, for a connection to `host`.
    pub fn connector(&self, host: &sockit_core::endpoint::Host) -> Result<Connector, NetError> {
        let config = match self.fingerprint {
            Some(pin) => pinned_config(pin, self.client_cert.as_ref())?,
            None => client_config_with(self.ca.as_deref(), self.insecure, self.client_cert.as_ref())?,
        };
        // A zone is for routing, not for the certificate: the address is the name checked.
        let name = match (host, &self.server_name) {
            (_, Some(name)) => name.clone(),
            (sockit_core::endpoint::Host::Scoped(ip, _), None) => ip.to_string(),
            (other, None) => other.to_string(),
        };
        Ok(Connector { config, name: server_name(&name)? })
    }
}

/// A client configuration that takes exactly the certificate with this SHA-256 digest, name
/// and issuer aside; the handshake's signatures must still verify.
fn pinned_config(pin: [u8; 32], auth: Option<&(PathBuf, PathBuf)>) -> Result<Arc<ClientConfig>, NetError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(Doing::TlsVersions, e))?;
    let verifier = Arc::new(AnyCertificate { provider: provider(), pin: Some(pin) });
    Ok(Arc::new(client_auth(builder.dangerous().with_custom_certificate_verifier(verifier), auth)?))
}

/// A client's TLS settings, made before it connects.
#[derive(Debug, Clone)]
pub struct Connector {
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
}

impl Connector {
    /// A client TLS session over `stream` (blocking, its timeouts set) with the handshake done,
    /// for a caller that drives rustls itself on one thread (a pipeline of DNS questions).
    pub fn handshake_blocking(&self, stream: &mut TcpStream, peer: &str) -> Result<rustls::ClientConnection, NetError> {
        let mut conn = rustls::ClientConnection::new(Arc::clone(&self.config), self.name.clone())
            .map_err(|e| tls_error(Doing::Tls, e))?;
        while conn.is_handshaking() {
            if let Err(e) = conn.complete_io(stream) {
                return Err(match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                    Some(rustls_error) => handshake_error(peer, rustls_error),
                    None => NetError::io(Doing::Tls, e),
                });
            }
        }
        Ok(conn)
    }

    /// The rustls configuration, for a transport that runs TLS itself (QUIC).
    pub fn rustls_config(&self) -> Arc<ClientConfig> {
        Arc::clone(&self.config)
    }

    /// The name the server's certificate is checked for.
    pub fn name(&self) -> String {
        self.name.to_str().into_owned()
    }

    /// The same, offering these application protocols (ALPN: `h2` for DNS over HTTPS).
    pub fn with_alpn(mut self, protocols: &[&[u8]]) -> Connector {
        let mut config = (*self.config).clone();
        config.alpn_protocols = protocols.iter().map(|p| p.to_vec()).collect();
        self.config = Arc::new(config);
        self
    }

    /// A client handshake on an async stream (tokio), `peer` named in its failure.
    pub async fn connect_async<S>(&self, stream: S, peer: &str) -> Result<tokio_rustls::client::TlsStream<S>, NetError>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        let connect = tokio_rustls::TlsConnector::from(Arc::clone(&self.config)).connect(self.name.clone(), stream);
        match tokio::time::timeout(HANDSHAKE, connect).await {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(e)) => Err(match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                Some(rustls_error) => handshake_error(peer, rustls_error),
                None => NetError::io(Doing::Tls, e),
            }),
            Err(_) => Err(NetError::failed(Doing::Tls, Why::NoHandshake { secs: HANDSHAKE.as_secs() })),
        }
    }
}

/// The TLS client side of `stream`: handshake within `HANDSHAKE`, then a tunnel.
pub fn client(stream: TcpStream, connector: Connector) -> Result<Conn, NetError> {
    let conn = rustls::ClientConnection::new(connector.config, connector.name).map_err(|e| tls_error(Doing::Tls, e))?;
    tunnel::tunnel(conn.into(), stream)
}

/// The TLS server side of `stream`: handshake within `HANDSHAKE`, then a tunnel.
pub fn server(stream: TcpStream, config: Arc<ServerConfig>) -> Result<Conn, NetError> {
    let conn = rustls::ServerConnection::new(config).map_err(|e| tls_error(Doing::Tls, e))?;
    tunnel::tunnel(conn.into(), stream)
}
