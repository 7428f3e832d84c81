//! `sockit scan --service` against six real services in a namespace of the test's own
//! (OpenSSH, dnsmasq's DNS over TCP, lighttpd, Python's http.server, socat's echo,
//! nats-server) and two inside TLS (socat's TLS in front of the Python server, OpenSSL's
//! s_server -www), beside nmap -sV on the same ports: the same service (`ssl/http` for one
//! inside TLS), product, version and extra information for every port nmap names.

use std::collections::BTreeMap;
use std::process::Stdio;

use crate::util::{DEADLINE, Netns, Proc, have, run, sockit_bin};

/// nmap -sV's XML, port by port: (service, product, version, extra info); a service inside
/// TLS is `ssl/` and its name, as nmap prints it.
fn nmap_services(xml: &str) -> BTreeMap<u16, (String, String, String, String)> {
    let attr = |tag: &str, name: &str| -> String {
        tag.split(&format!(" {name}=\"")).nth(1).and_then(|r| r.split('"').next()).unwrap_or("").to_string()
    };
    let mut out = BTreeMap::new();
    for port in xml.split("<port protocol=\"tcp\" portid=\"").skip(1) {
        let id: u16 = port.split('"').next().and_then(|p| p.parse().ok()).expect("port id");
        let Some(service) = port.split("<service").nth(1).and_then(|s| s.split('>').next()) else { continue };
        // A name with no match behind it (nmap's port table, method "table") says nothing.
        if attr(service, "method") != "probed" {
            continue;
        }
        let tunnel = attr(service, "tunnel");
        let name =
            if tunnel.is_empty() { attr(service, "name") } else { format!("{tunnel}/{}", attr(service, "name")) };
        out.insert(id, (name, attr(service, "product"), attr(service, "version"), attr(service, "extrainfo")));
    }
    out
}

#[test]
fn services_named_as_nmap_names_them() {
    let peers = ["nmap", "socat", "dnsmasq", "lighttpd", "nats-server", "python3", "ssh-keygen", "openssl"];
    if !peers.iter().all(|p| have(p)) || !std::path::Path::new("/usr/sbin/sshd").exists() {
        return;
    }
    let Some(ns) = Netns::new("svc") else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().display().to_string();
    let quiet = |mut c: std::process::Command, what: &str| {
        Proc(c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect(what))
    };
    let key = format!("{d}/host_key");
    run(ns.cmd("ssh-keygen", &["-q", "-t", "ed25519", "-N", "", "-f", &key]), b"", DEADLINE).ok();
    std::fs::create_dir_all("/run/sshd").expect("privilege separation directory");
    let sshd_args =
        ["-D", "-e", "-f", "/dev/null", "-h", &key, "-p", "22", "-o", "ListenAddress=127.0.0.1", "-o", "PidFile=none"];
    std::fs::write(
        format!("{d}/lighttpd.conf"),
        format!("server.document-root = \"{d}\"\nserver.bind = \"127.0.0.1\"\nserver.port = 80\n"),
    )
    .expect("lighttpd.conf");
    std::fs::write(format!("{d}/index.html"), "<html><body>sockit</body></html>\n").expect("index");
    let (cert, tls_key) = (format!("{d}/cert.pem"), format!("{d}/key.pem"));
    let subject = ["-subj", "/CN=sockit.test", "-days", "2", "-keyout", &tls_key, "-out", &cert];
    let req = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    run(ns.cmd("openssl", &[&req[..], &subject[..]].concat()), b"", DEADLINE).ok();
    let tls_in_front = format!("OPENSSL-LISTEN:8443,bind=127.0.0.1,reuseaddr,fork,cert={cert},key={tls_key},verify=0");
    let s_server = ["s_server", "-accept", "127.0.0.1:9443", "-cert", &cert, "-key", &tls_key, "-www", "-quiet"];
    let dns = [
        "-k",
        "--port=53",
        "--listen-address=127.0.0.1",
        "--bind-interfaces",
        "--no-resolv",
        "--no-hosts",
        "--pid-file=",
        "--user=root",
    ];
    let _servers = [
        quiet(ns.cmd("/usr/sbin/sshd", &sshd_args), "sshd"),
        quiet(ns.cmd("dnsmasq", &dns), "dnsmasq"),
        quiet(ns.cmd("lighttpd", &["-D", "-f", &format!("{d}/lighttpd.conf")]), "lighttpd"),
        quiet(ns.cmd("python3", &["-m", "http.server", "8000", "--bind", "127.0.0.1", "--directory", &d]), "python3"),
        quiet(ns.cmd("socat", &["TCP-LISTEN:7,bind=127.0.0.1,reuseaddr,fork", "PIPE"]), "socat"),
        quiet(ns.cmd("nats-server", &["-a", "127.0.0.1", "-p", "4222"]), "nats-server"),
        quiet(ns.cmd("socat", &[&tls_in_front, "TCP:127.0.0.1:8000"]), "socat's TLS"),
        quiet(ns.cmd("openssl", &s_server), "openssl s_server"),
    ];
    crate::util::wait_listening_in(&ns, &["22", "53", "80", "8000", "7", "4222", "8443", "9443"]);
    let ports = "7,22,53,80,4222,8000,8443,9443";
    // nmap -sV waits out its probes inside TLS too: most of a minute here.
    let patience = std::time::Duration::from_secs(150);
    let (ours, theirs) = std::thread::scope(|s| {
        let nmap = s.spawn(|| {
            run(ns.cmd("nmap", &["-sV", "-n", "-Pn", "-oX", "-", "-p", ports, "127.0.0.1"]), b"", patience).ok()
        });
        let ours = run(ns.cmd(sockit_bin(), &["--json", "scan", "127.0.0.1", "-p", ports, "--service"]), b"", patience);
        (ours.json(), nmap.join().expect("nmap"))
    });
    let theirs = nmap_services(&theirs);
    let found: BTreeMap<u16, (String, String, String, String)> = ours["hosts"][0]["ports"]
        .as_array()
        .expect("ports")
        .iter()
        .map(|p| {
            let s = |k: &str| p[k].as_str().unwrap_or("").to_string();
            let name = if s("tunnel").is_empty() { s("service") } else { format!("{}/{}", s("tunnel"), s("service")) };
            (
                u16::try_from(p["port"].as_u64().expect("port")).expect("port"),
                (name, s("product"), s("version"), s("info")),
            )
        })
        .collect();
    // nmap names seven of the eight by their answers (nats-server it leaves unknown).
    assert!(theirs.len() >= 7, "nmap named too few: {theirs:?}");
    for (port, named) in &theirs {
        assert_eq!(found.get(port), Some(named), "port {port}: ours {found:?}");
    }
    assert_eq!(found[&22].1, "OpenSSH");
    assert_eq!(found[&53].1, "dnsmasq");
    assert_eq!(found[&80].1, "lighttpd");
    assert_eq!((found[&8443].0.as_str(), found[&8443].1.as_str()), ("ssl/http", "SimpleHTTPServer"));
    assert_eq!((found[&9443].0.as_str(), found[&9443].1.as_str()), ("ssl/http", "OpenSSL s_server -www httpd"));
}

/// A service that looks like TLS and then drips its first record a byte every 50 ms (for two
/// minutes) holds `--service` no longer than each probe's wait: in plain bytes and inside TLS
/// (its handshake never ends). Probes of the test's own: the NULL probe, a one-second wait, and
/// a match calling a TLS record `ssl`.
#[test]
fn a_tls_service_that_drips_holds_the_scan_no_longer_than_its_probes_wait() {
    if !have("python3") {
        return;
    }
    let code = "import socket, threading, time\ns = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(16)\n\
                print(s.getsockname()[1], flush=True)\n\
                def drip(c):\n    try:\n        c.sendall(b'\\x16\\x03\\x03\\x40\\x00')\n        \
                for _ in range(2400):\n            time.sleep(0.05); c.sendall(b'\\x00')\n    except OSError:\n        pass\n\
                while True:\n    c, _ = s.accept(); threading.Thread(target=drip, args=(c,), daemon=True).start()\n";
    let mut dripper =
        Proc(std::process::Command::new("python3").args(["-c", code]).stdout(Stdio::piped()).spawn().expect("python3"));
    let port = crate::util::line_within(dripper.0.stdout.take().expect("stdout"), DEADLINE).expect("port");
    let dir = tempfile::tempdir().expect("tempdir");
    let probes = dir.path().join("probes");
    std::fs::write(&probes, "Probe TCP NULL q||\ntotalwaitms 1000\nmatch ssl m|^\\x16\\x03|\n").expect("probes");
    let probes = probes.to_str().expect("path");
    let args = ["--json", "scan", "127.0.0.1", "-p", port.trim(), "--service", "--service-probes", probes];
    let v = run(crate::util::sockit_cmd(&args), b"", DEADLINE).json();
    let p = &v["hosts"][0]["ports"][0];
    assert_eq!((p["state"].as_str(), p["service"].as_str(), p.get("tunnel")), (Some("open"), Some("ssl"), None), "{v}");
}
