//! TLS for `sockit tcp` (rustls with the ring provider).
//!
//! A listener uses `--cert`/`--key` (PEM) or makes a self-signed certificate and says its
//! SHA-256 fingerprint, so a client can check it. A client verifies the server against
//! `--ca FILE` or the system's roots, or skips that with `--insecure` (handshake signatures
//! are still checked). The relay is one thread polling stdin and the socket: rustls moves
//! records, and the EOF rules are those of the plain relay, with close_notify before FIN.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::AsFd;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, poll};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, ServerConfig, SignatureScheme};

use crate::net::NetError;
use crate::tcp::{RelayEnd, RelayOptions, RelayStats};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn tls_error(what: impl Into<String>, detail: impl std::fmt::Display) -> NetError {
    NetError::io(what.into(), io::Error::other(detail.to_string()))
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
        (Some(c), Some(k)) => {
            let chain = CertificateDer::pem_file_iter(c)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| tls_error(format!("cannot read certificates from {}", c.display()), e))?;
            if chain.is_empty() {
                return Err(tls_error(format!("{}", c.display()), "no PEM certificate in the file"));
            }
            let key = PrivateKeyDer::from_pem_file(k)
                .map_err(|e| tls_error(format!("cannot read a private key from {}", k.display()), e))?;
            (chain, key)
        }
        (None, None) => {
            let ck = rcgen::generate_simple_self_signed(names.to_vec())
                .map_err(|e| tls_error("cannot make a self-signed certificate", e))?;
            let key =
                PrivateKeyDer::try_from(ck.signing_key.serialize_der()).map_err(|e| tls_error("self-signed key", e))?;
            (vec![ck.cert.der().clone()], key)
        }
        _ => return Err(tls_error("--cert and --key", "give both, or neither for a self-signed certificate")),
    };
    let fp = fingerprint(&chain[0]);
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error("TLS versions", e))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| tls_error("the certificate and key do not go together", e))?;
    Ok((Arc::new(config), fp))
}

/// A client configuration: trust `ca` (PEM) or the system roots; or trust anything.
pub fn client_config(ca: Option<&Path>, insecure: bool) -> Result<Arc<ClientConfig>, NetError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error("TLS versions", e))?;
    let config = if insecure {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(AnyCertificate(provider()))).with_no_client_auth()
    } else {
        let mut roots = rustls::RootCertStore::empty();
        match ca {
            Some(path) => {
                let certs = CertificateDer::pem_file_iter(path)
                    .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| tls_error(format!("cannot read certificates from {}", path.display()), e))?;
                roots.add_parsable_certificates(certs);
            }
            None => {
                roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
            }
        }
        if roots.is_empty() {
            return Err(tls_error("TLS", "no trusted certificates found: pass --ca FILE, or --insecure"));
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    Ok(Arc::new(config))
}

/// The name to check the server's certificate against: a DNS name or an IP address.
pub fn server_name(host: &str) -> Result<ServerName<'static>, NetError> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(bare.to_string()).map_err(|e| tls_error(format!("'{host}' as a TLS server name"), e))
}

/// `--insecure`: any certificate, but the handshake's signatures must still verify.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Say what a failed handshake means for the user.
fn handshake_error(peer: &str, e: &rustls::Error) -> NetError {
    use rustls::{CertificateError as C, Error as E};
    let hint = match e {
        E::InvalidCertificate(C::UnknownIssuer | C::BadSignature) => {
            "the server's certificate is not signed by a trusted CA: pass --ca FILE, or --insecure"
        }
        E::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. }) => {
            "the server's certificate is for another name: connect by the name it was issued for"
        }
        E::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => "the server's certificate has expired",
        E::InvalidCertificate(C::Other(o)) if format!("{o:?}").contains("CaUsedAsEndEntity") => {
            "the server presents a CA certificate as its own: give it one with basicConstraints CA:FALSE"
        }
        _ => "check that the other side speaks TLS",
    };
    tls_error(format!("TLS handshake with {peer} failed ({e})"), hint)
}

/// Relay stdin and stdout over a TLS connection on `sock`, with the plain relay's EOF rules.
pub fn relay(mut conn: rustls::Connection, mut sock: TcpStream, opts: &RelayOptions) -> Result<RelayStats, NetError> {
    let peer = sock.peer_addr().map_or("the peer".to_string(), |a| a.to_string());
    sock.set_nonblocking(true).map_err(|e| NetError::io("non-blocking socket", e))?;
    let stdin = io::stdin();
    let stdout = io::stdout();
    let stdin_tty = io::IsTerminal::is_terminal(&stdin);
    let mut buf = vec![0u8; 64 * 1024];
    let (mut stdin_open, mut peer_open, mut fin_sent) = (true, true, false);
    let (mut sent, mut received) = (0u64, 0u64);
    let mut quit_at: Option<Instant> = None;
    let mut last_activity = Instant::now();
    let io_err = |e: io::Error| NetError::io(format!("connection with {peer}"), e);
    loop {
        // Hand rustls' pending records to the socket.
        while conn.wants_write() {
            match conn.write_tls(&mut sock) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(io_err(e)),
            }
        }
        if !stdin_open && !opts.no_shutdown && !conn.wants_write() && !fin_sent {
            let _ = sock.shutdown(std::net::Shutdown::Write);
            fin_sent = true;
        }
        if !peer_open && (stdin_tty || !stdin_open) {
            return Ok(RelayStats { sent, received, end: RelayEnd::PeerClosed });
        }
        let now = Instant::now();
        if quit_at.is_some_and(|q| now >= q) {
            return Ok(RelayStats { sent, received, end: RelayEnd::Quit });
        }
        let mut timeout: Option<Duration> = quit_at.map(|q| q - now);
        if let Some(idle) = opts.idle_timeout {
            let left = idle.saturating_sub(now - last_activity);
            if left.is_zero() {
                return Ok(RelayStats { sent, received, end: RelayEnd::Idle });
            }
            timeout = Some(timeout.map_or(left, |t| t.min(left)));
        }
        // Read stdin only when rustls has sent what it holds (back-pressure) and the
        // handshake is done.
        let want_stdin = stdin_open && !conn.wants_write() && !conn.is_handshaking();
        let mut sock_flags = PollFlags::empty();
        if peer_open || conn.is_handshaking() {
            sock_flags |= PollFlags::IN;
        }
        if conn.wants_write() {
            sock_flags |= PollFlags::OUT;
        }
        let stdin_fd = stdin.as_fd();
        // A closed peer stays out of the set unless rustls has records for it: its HUP would
        // wake every poll.
        let mut fds = Vec::with_capacity(2);
        let watch_sock = !sock_flags.is_empty();
        if watch_sock {
            fds.push(PollFd::new(&sock, sock_flags));
        }
        if want_stdin {
            fds.push(PollFd::new(&stdin_fd, PollFlags::IN));
        }
        let ts = timeout.map(|t| rustix::event::Timespec { tv_sec: t.as_secs() as _, tv_nsec: t.subsec_nanos() as _ });
        match poll(&mut fds, ts.as_ref()) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(io_err(e.into())),
        }
        let sock_ready = watch_sock && !fds[0].revents().is_empty();
        let stdin_ready = want_stdin && !fds[usize::from(watch_sock)].revents().is_empty();
        drop(fds);
        if sock_ready && (peer_open || conn.is_handshaking()) {
            match conn.read_tls(&mut sock) {
                Ok(0) => peer_open = false,
                Ok(_) => {
                    last_activity = Instant::now();
                    conn.process_new_packets().map_err(|e| {
                        // Tell the peer why, if we can, before giving up.
                        let _ = conn.write_tls(&mut sock);
                        handshake_error(&peer, &e)
                    })?;
                    loop {
                        match conn.reader().read(&mut buf) {
                            Ok(0) => {
                                peer_open = false; // close_notify
                                break;
                            }
                            Ok(n) => {
                                received += n as u64;
                                let mut out = stdout.lock();
                                out.write_all(&buf[..n])
                                    .and_then(|_| out.flush())
                                    .map_err(|e| NetError::io("stdout", e))?;
                            }
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                            Err(e) => return Err(io_err(e)),
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(io_err(e)),
            }
            if !peer_open && conn.is_handshaking() {
                return Err(tls_error(format!("TLS handshake with {peer} failed"), "the peer closed the connection"));
            }
        }
        if stdin_ready {
            let n = match rustix::io::read(stdin.as_fd(), &mut buf) {
                Ok(n) => n,
                Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => continue,
                Err(e) => return Err(NetError::io("stdin", e.into())),
            };
            if n == 0 {
                stdin_open = false;
                if !opts.no_shutdown {
                    conn.send_close_notify();
                }
                quit_at = opts.quit_after_eof.map(|q| Instant::now() + q);
            } else {
                last_activity = Instant::now();
                sent += n as u64;
                conn.writer().write_all(&buf[..n]).map_err(io_err)?;
            }
        }
    }
}
