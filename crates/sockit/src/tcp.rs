//! Slide 5, TCP: a server (bind, listen, accept, recv) and a client (connect, send), grown
//! into `tcp connect` and `tcp listen`: a bridge between stdio and a connection (`bridge`),
//! many clients at once (`keep_open`), a command per client (`exec`), TLS (`tls`) on either
//! side, Unix sockets (`unix`).

use std::net::SocketAddr;

use sockit_core::endpoint::Host;

use crate::bridge::{self, BridgeOptions, BridgeStats};
use crate::conn::Conn;
use crate::exec::{Children, exec_for};
use crate::keep_open::{Accepting, Admission, serve_many};
use crate::listener::{AccessRules, Listener};
use crate::net::{self, Doing, NetError};
use crate::stdio::Stdio;
use crate::tls::{self, ServerTls};
use crate::unix::{unix_addr, unix_error, unix_listener};

/// `tcp connect`: where, how long to try, TLS, and the relay's end rules.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectConfig {
    pub host: Host,
    pub port: u16,
    /// How to get there: a proxy, a deadline, keepalive, TLS.
    pub dial: crate::dial::Dialer,
    pub bridge: BridgeOptions,
    /// Connect to this Unix socket instead (a path, or `@name`), HOST and PORT unused.
    pub unix: Option<String>,
}

/// `tcp listen`: where, which clients, one or many, a command per client, TLS.
#[derive(Debug, Clone, PartialEq)]
pub struct ListenConfig {
    pub bind: SocketAddr,
    pub rules: AccessRules,
    /// Serve many clients at once (their data to the output, the input to all of them).
    pub keep_open: bool,
    pub max_conns: Option<usize>,
    /// Give each client its own `sh -c CMD` on its connection.
    pub exec: Option<String>,
    pub tls: Option<ServerTls>,
    pub bridge: BridgeOptions,
    /// Listen on this Unix socket instead (a path, or `@name`), for one client.
    pub unix: Option<String>,
    /// Serving many clients: answer `GET /metrics` and `GET /healthz` here.
    pub metrics: Option<SocketAddr>,
}

/// What a listener says as it starts, for the user to see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    Listening(SocketAddr),
    /// Listening on a Unix socket, by its path (`@name`: abstract).
    ListeningUnix(String),
    /// The SHA-256 fingerprint of the certificate a TLS listener presents.
    Fingerprint(String),
    /// Where `GET /metrics` is answered.
    Metrics(SocketAddr),
    /// SIGHUP put new rules, a new cap and certificate in force for the clients that come
    /// next (with the new certificate's fingerprint); what only a restart changes is kept.
    Reloaded {
        fingerprint: Option<String>,
        kept: Vec<Kept>,
    },
    /// SIGHUP's configuration could not be read or used: the one in force stays.
    ReloadRefused {
        reason: String,
    },
}

/// How a listener serving many clients gets its new configuration on SIGHUP: the command
/// line and its config file read again; an error is one line.
pub type Reread = Box<dyn FnMut() -> Result<ListenConfig, String> + Send>;

/// What only a restart changes: a reload that asks for it keeps what is in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    /// The address and port, and how clients are served (one, many, a command each).
    Listener,
    /// Where metrics are answered.
    Metrics,
}

/// A new configuration for a keep-open listener started as `old` on `local`: its admission,
/// and what to say of it.
fn readmit(old: &ListenConfig, new: &ListenConfig, local: SocketAddr) -> Result<(Admission, Started), NetError> {
    let (tls, fingerprint) = match &new.tls {
        Some(t) => {
            let (config, fp) = tls::server_config_for(t, local)?;
            (Some(config), Some(fp))
        }
        None => (None, None),
    };
    let moved = old.bind != new.bind || old.keep_open != new.keep_open || old.exec != new.exec || old.unix != new.unix;
    let kept = [(moved, Kept::Listener), (old.metrics != new.metrics, Kept::Metrics)]
        .into_iter()
        .filter_map(|(k, what)| k.then_some(what))
        .collect();
    let admission = Admission { max_conns: new.max_conns, rules: new.rules.clone(), tls, ..Admission::default() };
    Ok((admission, Started::Reloaded { fingerprint, kept }))
}

/// How a `tcp` command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TcpReport {
    Relayed(BridgeStats),
    /// `--exec` with one client: whether its command succeeded.
    Command {
        success: bool,
    },
    /// `--keep-open --exec` stopped by a signal, its commands ended; `interrupted`: SIGINT.
    Stopped {
        interrupted: bool,
    },
}

/// `tcp connect`: connect, then relay `stdio` until the end rules say stop.
pub fn connect_run(cfg: &ConnectConfig, stdio: Stdio) -> Result<TcpReport, NetError> {
    if let Some(path) = &cfg.unix {
        let stream =
            std::os::unix::net::UnixStream::connect_addr(&unix_addr(path)?).map_err(|e| unix_error(path, e))?;
        return Ok(TcpReport::Relayed(bridge::bridge(Conn::unix(stream, path), stdio, &cfg.bridge)?));
    }
    let conn = crate::dial::dial(&cfg.host, cfg.port, &cfg.dial)?;
    Ok(TcpReport::Relayed(bridge::bridge(conn, stdio, &cfg.bridge)?))
}

/// `tcp listen`: bind, say so through `started`, then serve one client or, with `keep_open`,
/// many until the process is stopped. Serving many over TCP, SIGHUP makes `reread` give a
/// new configuration: its rules, cap and certificate are for the clients that come next.
pub fn listen_run(
    cfg: &ListenConfig,
    stdio: Stdio,
    started: &mut dyn FnMut(Started),
    mut reread: Option<Reread>,
) -> Result<TcpReport, NetError> {
    if let Some(path) = &cfg.unix {
        let (listener, file) = unix_listener(path)?;
        started(Started::ListeningUnix(path.clone()));
        crate::systemd::notify("READY=1");
        if cfg.keep_open {
            let opts = Admission { max_conns: cfg.max_conns, ..Admission::default() };
            match serve_many(Accepting::Unix(listener, path.clone(), file), &opts, stdio, None)? {}
        }
        let accepted = listener.accept().map_err(|e| NetError::io(Doing::AcceptOn(path.clone()), e));
        // The socket file is this listener's: it goes when the listener does.
        drop((listener, file));
        let (stream, _) = accepted?;
        return Ok(TcpReport::Relayed(bridge::bridge(Conn::unix(stream, path), stdio, &cfg.bridge)?));
    }
    let listener = Listener::bind(cfg.bind)?;
    let local = listener.local_addr()?;
    // The certificate is ready before the listener is announced: a bad one is the only line.
    let tls = cfg.tls.as_ref().map(|t| tls::server_config_for(t, local)).transpose()?;
    started(Started::Listening(local));
    let tls = tls.map(|(config, fp)| {
        started(Started::Fingerprint(fp));
        config
    });
    crate::systemd::notify("READY=1");
    if cfg.keep_open {
        if let Some(cmd) = &cfg.exec {
            let sig = crate::exec::serve_commands(listener, &cfg.rules, cfg.max_conns, tls, cmd)?;
            return Ok(TcpReport::Stopped { interrupted: sig == signal_hook::consts::SIGINT });
        }
        let opts = Admission { max_conns: cfg.max_conns, rules: cfg.rules.clone(), tls, ..Admission::default() };
        if let Some(at) = cfg.metrics {
            let counters = std::sync::Arc::clone(&opts.counters);
            started(Started::Metrics(crate::scrape::serve(at, move || counters.render())?));
        }
        let hup = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        if reread.is_some() {
            signal_hook::flag::register(signal_hook::consts::SIGHUP, std::sync::Arc::clone(&hup))
                .map_err(|e| NetError::io(Doing::SignalHandlers, e))?;
        }
        let mut refresh = || -> Option<Admission> {
            let read = reread.as_mut()?;
            match crate::systemd::reload(|| read().and_then(|new| readmit(cfg, &new, local).map_err(|e| e.to_string())))
            {
                Ok((admission, said)) => {
                    started(said);
                    Some(admission)
                }
                Err(reason) => {
                    started(Started::ReloadRefused { reason });
                    None
                }
            }
        };
        let reload = crate::keep_open::Reload { hup, refresh: &mut refresh };
        match serve_many(Accepting::Tcp(listener), &opts, stdio, Some(reload))? {}
    }
    let (stream, peer) = listener.accept(&cfg.rules)?;
    drop(listener);
    if let Some(every) = cfg.bridge.keepalive {
        net::keepalive(&stream, every)?;
    }
    let conn = match tls {
        Some(config) => tls::server(stream, config)?,
        None => Conn::accepted(stream, peer),
    };
    match &cfg.exec {
        Some(cmd) => Ok(TcpReport::Command { success: exec_for(conn, cmd, &Children::default())?.success() }),
        None => Ok(TcpReport::Relayed(bridge::bridge(conn, stdio, &cfg.bridge)?)),
    }
}
