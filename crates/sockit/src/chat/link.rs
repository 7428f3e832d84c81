//! A chat server's link to the cluster's NATS broker: the broker's URLs (credentials never
//! shown), the connection and its subscription, and the outbox of numbered messages that waits
//! for the broker so the room never does.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sockit_core::cluster::{self as wire, Body, Claim, Message};
use tokio::sync::{mpsc, watch};

use crate::net::{Doing, NetError};

/// Messages waiting for the broker; more are dropped (and counted), never waited for.
const OUTBOX: usize = 16_384;

/// `chat serve --cluster`.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterConfig {
    /// The broker's URLs, credentials included: printed only through `redact_url`.
    pub urls: Vec<String>,
    /// A file with the broker's user and password, or NATS credentials (JWT and nkey seed).
    pub credentials: Option<PathBuf>,
    /// A file with the cluster's shared key: every message is signed with it, and one not
    /// signed with it is refused.
    pub key: Option<PathBuf>,
    /// `--cluster-name`: servers of one cluster and room serve one room.
    pub name: String,
    /// `--node`; `None`: this host's name and the chat port.
    pub node: Option<String>,
    /// A CA certificate (PEM) for a TLS broker that the system's roots do not vouch for.
    pub ca: Option<PathBuf>,
}

/// Whether `url` is a broker URL sockit can use: `nats://` or `tls://` (no scheme: nats).
pub fn check_url(url: &str) -> Result<(), String> {
    let shown = sockit_core::text::redact_url(url);
    let addr: async_nats::ServerAddr = url.parse().map_err(|_| format!("not a broker URL: {shown}"))?;
    match addr.into_inner().scheme() {
        "nats" | "tls" => Ok(()),
        other => Err(format!("{shown}: the scheme {other}:// is not one sockit speaks (nats:// or tls://)")),
    }
}

/// A URL's user or password as it was meant (`%40` is `@`).
fn percent_decoded(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (b[i], b.get(i + 1).copied().and_then(hex), b.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(h), Some(l)) => {
                out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A server's link to the broker.
#[derive(Debug, Clone)]
pub struct Link {
    pub(super) client: async_nats::Client,
    pub(super) subject: String,
    /// The cluster's name.
    pub cluster: String,
    /// This server's name in the cluster.
    pub node: String,
    /// Whether the broker is connected.
    pub(super) up: watch::Receiver<bool>,
    /// The subscription to the cluster's subject, made before the server says it started (so
    /// it hears everything from then on); taken by the server's receiving task.
    pub(super) subscription: Arc<std::sync::Mutex<Option<async_nats::Subscriber>>>,
    /// The cluster's key (HMAC-SHA256), if it has one.
    key: Option<Arc<ring::hmac::Key>>,
}

/// The header a message's signature travels in.
const MAC_HEADER: &str = "Sockit-Mac";

/// The shortest cluster key taken.
const MIN_KEY: usize = 16;

impl Link {
    /// What a message is signed over: the subject it is published on, then its bytes.
    fn signed_bytes(subject: &str, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::with_capacity(subject.len() + 1 + payload.len());
        v.extend_from_slice(subject.as_bytes());
        v.push(b'\n');
        v.extend_from_slice(payload);
        v
    }

    /// Publish `payload` on the cluster's subject, signed when the cluster has a key.
    pub(super) async fn publish(&self, payload: Vec<u8>) -> Result<(), async_nats::PublishError> {
        match &self.key {
            Some(key) => {
                let tag = ring::hmac::sign(key, &Self::signed_bytes(&self.subject, &payload));
                let mut headers = async_nats::HeaderMap::new();
                headers.insert(MAC_HEADER, sockit_core::text::base64(tag.as_ref()).as_str());
                self.client.publish_with_headers(self.subject.clone(), headers, payload.into()).await
            }
            None => self.client.publish(self.subject.clone(), payload.into()).await,
        }
    }

    /// A round trip to the broker (a request nobody answers, on a subject of the room's own):
    /// once it is back, the broker has taken everything sent before it, the subscription
    /// included. A second at most (a broker that does not allow it is not waited for longer).
    pub(super) async fn round_trip(&self) {
        let ping = self.client.request(format!("{}.ping", self.subject), Vec::new().into());
        let _ = tokio::time::timeout(std::time::Duration::from_secs(1), ping).await;
    }

    /// Whether a message from the broker is signed with the cluster's key (every message is,
    /// when the cluster has none).
    pub(super) fn signed_by_the_key(&self, m: &async_nats::Message) -> bool {
        let Some(key) = &self.key else { return true };
        let Some(mac) = m.headers.as_ref().and_then(|h| h.get(MAC_HEADER)).map(|v| v.as_str().trim().to_string())
        else {
            return false;
        };
        let Some(tag) = sockit_core::text::base64_decode(&mac) else { return false };
        ring::hmac::verify(key, &Self::signed_bytes(m.subject.as_str(), &m.payload), &tag).is_ok()
    }
}

/// The cluster's key from its file: its bytes, a trailing newline left out.
fn read_key(path: &std::path::Path) -> Result<ring::hmac::Key, NetError> {
    let text = crate::stdio::read_bounded(
        std::fs::File::open(path).map_err(|e| NetError::io(Doing::ReadClusterKey(path.to_path_buf()), e))?,
        crate::stdio::limits::CONFIG,
    )
    .map_err(|e| NetError::io(Doing::ReadClusterKey(path.to_path_buf()), e))?;
    let key = text.strip_suffix(b"\n").map_or(&text[..], |k| k.strip_suffix(b"\r").unwrap_or(k));
    if key.len() < MIN_KEY {
        return Err(NetError::Cluster(format!(
            "the cluster key in {} is shorter than {MIN_KEY} bytes: make one with `head -c 32 /dev/urandom | base64 > FILE`",
            path.display()
        )));
    }
    Ok(ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key))
}

/// Connect to the broker: one clear error, soon, when it cannot be had.
pub async fn connect(cfg: &ClusterConfig, room: &str, node: String) -> Result<Link, NetError> {
    let shown = cfg.urls.iter().map(|u| sockit_core::text::redact_url(u)).collect::<Vec<_>>().join(",");
    let key = cfg.key.as_deref().map(read_key).transpose()?.map(Arc::new);
    let mut addrs = Vec::new();
    for u in &cfg.urls {
        check_url(u).map_err(NetError::Cluster)?;
        addrs.push(
            u.parse::<async_nats::ServerAddr>()
                .map_err(|_| NetError::Cluster(format!("not a broker URL: {}", sockit_core::text::redact_url(u))))?,
        );
    }
    let subject = wire::subject(&cfg.name, room);
    let (tx, up) = watch::channel(true);
    let mut options = async_nats::ConnectOptions::new()
        .no_echo()
        // Replies (the round trip's) come back under the room's own subjects: a broker user
        // whose rights end at the cluster's subjects needs no more.
        .custom_inbox_prefix(format!("{subject}.inbox"))
        .name(format!("sockit chat {node}"))
        .connection_timeout(Duration::from_secs(3))
        .max_reconnects(None)
        .reconnect_delay_callback(|n| Duration::from_millis((250 * n as u64).clamp(100, 2_000)))
        .event_callback(move |e| {
            let tx = tx.clone();
            async move {
                let now = match e {
                    async_nats::Event::Connected => true,
                    async_nats::Event::Disconnected => false,
                    _ => return,
                };
                tx.send_if_modified(|v| std::mem::replace(v, now) != now);
            }
        });
    // The URL's user and password (the first URL that has them) authenticate.
    if let Some(a) = addrs.iter().find(|a| a.has_user_pass()) {
        let user = percent_decoded(a.username().unwrap_or_default());
        options = options.user_and_password(user, percent_decoded(a.password().unwrap_or_default()));
    }
    match cfg.credentials.as_deref().map(crate::secrets::read).transpose()? {
        Some(crate::secrets::Credentials::UserPassword(user, password)) => {
            options = options.user_and_password(user, password);
        }
        Some(crate::secrets::Credentials::Nats(text)) => {
            options = options
                .credentials(&text)
                .map_err(|_| NetError::Cluster("the NATS credentials file holds no usable JWT and nkey seed".into()))?;
        }
        None => {}
    }
    if let Some(ca) = &cfg.ca {
        options = options.add_root_certificates(ca.clone());
    }
    let connected = tokio::time::timeout(Duration::from_secs(10), options.connect(addrs)).await;
    let client = match connected {
        Err(_) => return Err(NetError::Cluster(format!("no answer from the broker at {shown} within 10 s"))),
        Ok(Err(e)) => {
            use async_nats::ConnectErrorKind as K;
            // A certificate refused shows as an I/O error with rustls' reason inside.
            let mut tls = None;
            let mut cause: Option<&dyn std::error::Error> = Some(&e);
            while let Some(c) = cause {
                let inner =
                    c.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()).map(|i| i as &dyn std::error::Error);
                if let Some(r) = inner.unwrap_or(c).downcast_ref::<async_nats::rustls::Error>() {
                    tls = Some(r.to_string());
                }
                cause = c.source();
            }
            let text = match e.kind() {
                K::AuthorizationViolation | K::Authentication => {
                    format!("the broker at {shown} refused the user and password: check them")
                }
                K::Tls | K::Io if tls.is_some() || e.kind() == K::Tls => {
                    return Err(NetError::Advice {
                        text: format!(
                            "no TLS with the broker at {shown} ({}): a tls:// broker needs a certificate sockit trusts",
                            tls.as_deref().unwrap_or("handshake failed")
                        ),
                        hint: crate::hint::Hint::TrustBroker,
                    });
                }
                K::TimedOut => format!("no answer from the broker at {shown} within 3 s"),
                K::ServerParse => format!("not a broker URL: {shown}"),
                _ => format!("cannot reach the broker at {shown}: is nats-server running there?"),
            };
            return Err(NetError::Cluster(text));
        }
        Ok(Ok(c)) => c,
    };
    let subscription = client
        .subscribe(subject.clone())
        .await
        .map_err(|e| NetError::Cluster(format!("cannot subscribe to the cluster's subject on {shown}: {e}")))?;
    // The subscription is on the broker before the server says it started.
    let _ = client.flush().await;
    let subscription = Arc::new(std::sync::Mutex::new(Some(subscription)));
    Ok(Link { client, subject, cluster: cfg.name.clone(), node, up, subscription, key })
}

/// Where a server's messages to the cluster wait for the broker.
pub(super) struct Outbox {
    node: String,
    run: u64,
    seq: AtomicU64,
    tx: mpsc::Sender<Vec<u8>>,
    /// Messages that did not fit.
    pub(super) dropped: AtomicU64,
    generation: AtomicU64,
}

impl Outbox {
    pub(super) fn new(link: &Link) -> (Outbox, mpsc::Receiver<Vec<u8>>) {
        let (tx, rx) = mpsc::channel(OUTBOX);
        let run = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            ^ u64::from(std::process::id());
        let outbox = Outbox {
            node: link.node.clone(),
            run,
            seq: AtomicU64::new(0),
            tx,
            dropped: AtomicU64::new(0),
            generation: AtomicU64::new(0),
        };
        (outbox, rx)
    }

    /// Number `body` and queue it for the broker; a full outbox drops it (receivers see a gap).
    pub(super) fn publish(&self, body: Body) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let m = Message { node: self.node.clone(), run: self.run, seq, body };
        if self.tx.try_send(m.to_bytes()).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Queue the whole member list, in parts (not numbered: a lost one is made up for by the
    /// next).
    pub(super) fn presence(&self, members: Vec<Claim>) {
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        let parts: Vec<&[Claim]> =
            if members.is_empty() { vec![&[]] } else { members.chunks(wire::PRESENCE_PART).collect() };
        let n = u32::try_from(parts.len()).unwrap_or(u32::MAX);
        for (i, part) in parts.into_iter().enumerate() {
            let body = Body::Presence {
                generation,
                part: u32::try_from(i).unwrap_or(u32::MAX),
                parts: n,
                members: part.to_vec(),
            };
            let m = Message { node: self.node.clone(), run: self.run, seq: 0, body };
            let _ = self.tx.try_send(m.to_bytes());
        }
    }
}
