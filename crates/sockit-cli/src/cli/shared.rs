//! Flags several commands share: a proxy on the way out, TLS for a server, TLS for a client.

use std::path::PathBuf;

use clap::Args;

// A proxy on the way out (declared once, for `tcp connect`, `chat join`, `scan`, `relay`).
// Plain comments on these flattened structs: clap would take a doc comment for the about line
// of every command that flattens them.
#[derive(Debug, Args)]
pub struct ProxyArgs {
    /// Go through a proxy: socks5://[USER:PASS@]HOST:PORT or http://[USER:PASS@]HOST:PORT
    /// (HTTP CONNECT). A password is better kept out of the command line (every local user sees
    /// it with ps): give the URL in SOCKIT_PROXY, or the password in --proxy-credentials FILE.
    #[arg(long, value_name = "URL", env = "SOCKIT_PROXY", hide_env_values = true)]
    pub proxy: Option<String>,
    /// The proxy's USER:PASSWORD, the first line of FILE.
    #[arg(long, value_name = "FILE", requires = "proxy")]
    pub proxy_credentials: Option<std::path::PathBuf>,
    /// Where names are resolved with a SOCKS5 proxy: remote (at the proxy, as socks5h) or local.
    #[arg(long, value_name = "WHERE", value_parser = ["remote", "local"], default_value = "remote", requires = "proxy")]
    pub proxy_dns: String,
}

// TLS for a server (declared once, for `tcp listen` and `chat serve`).
#[derive(Debug, Args)]
pub struct TlsServerArgs {
    /// Speak TLS, with --cert/--key or a self-signed certificate (its SHA-256 fingerprint is
    /// printed on stderr).
    #[arg(long)]
    pub tls: bool,
    /// Certificate chain (PEM) for --tls.
    #[arg(long, value_name = "FILE", requires_all = ["tls", "key"])]
    pub cert: Option<PathBuf>,
    /// Private key (PEM) for --tls.
    #[arg(long, value_name = "FILE", requires_all = ["tls", "cert"])]
    pub key: Option<PathBuf>,
}

// TLS for a client (declared once, for `tcp connect`, `chat join` and `relay`). --ca and
// --insecure imply --tls.
#[derive(Debug, Args)]
pub struct TlsClientArgs {
    /// Speak TLS; the server's certificate is checked against the system's roots or --ca.
    #[arg(long)]
    pub tls: bool,
    /// Trust the CA certificates in FILE (PEM) instead of the system's (implies --tls).
    #[arg(long, value_name = "FILE", conflicts_with = "insecure")]
    pub ca: Option<PathBuf>,
    /// Do not check the server's certificate; handshake signatures are still checked
    /// (implies --tls).
    #[arg(long)]
    pub insecure: bool,
    /// Take only the certificate with this SHA-256 fingerprint (64 hex digits, colons
    /// allowed), as a self-signed server prints it (implies --tls).
    #[arg(long, value_name = "SHA256", conflicts_with_all = ["ca", "insecure"])]
    pub fingerprint: Option<String>,
    /// Show a server that asks for a client certificate this chain (PEM), with --client-key
    /// (implies --tls).
    #[arg(long, value_name = "FILE", requires = "client_key")]
    pub client_cert: Option<PathBuf>,
    /// The private key (PEM) of --client-cert.
    #[arg(long, value_name = "FILE", requires = "client_cert")]
    pub client_key: Option<PathBuf>,
    /// Ask for NAME (SNI) and check the server's certificate against it, instead of the host
    /// connected to: reach an address, speak to a name (implies --tls).
    #[arg(long, value_name = "NAME")]
    pub server_name: Option<String>,
}

// A server's config file: `--config FILE` and `--print-config` (read by `file.rs` before
// clap parses; here so that help and clap know them). Plain comments: a doc comment on a
// flattened struct would become the command's about line.
#[derive(Debug, Args)]
pub struct ConfigFileArgs {
    /// Read flags from this TOML file (its keys: the long flags without --); the command line
    /// and the environment win over it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
    /// Print the configuration in effect (flags, environment, --config file, defaults) as a
    /// config file, and exit.
    #[arg(long)]
    pub print_config: bool,
}

// A server's own metrics endpoint (`relay`, `tcp listen --keep-open`).
#[derive(Debug, Args)]
pub struct MetricsArgs {
    /// Answer GET /metrics (Prometheus) and GET /healthz on this address: PORT (on
    /// 127.0.0.1), or ADDR:PORT.
    #[arg(long, value_name = "[ADDR:]PORT")]
    pub metrics: Option<String>,
}
