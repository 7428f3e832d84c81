//! README's examples, each run: every `sockit` line of README.md's code blocks is in the table
//! below with how it runs — to its end (exit 0), or as a server that says it started and then
//! serves a client — beside the peers it needs (dnsmasq for its names, microsocks, ncat as an
//! HTTP proxy, nats-server, a greeter), each in a network namespace of its own with the
//! addresses the example names (10.0.0.5, 192.0.2.53, 198.18.0.0/24, a multicast route), so
//! nothing leaves the machine. A README example missing from the table, or an entry no longer
//! in README, fails the test: no example can rot. (The install and build commands are CI's
//! own steps: the demo, the test command, the static build, .ci/package.)

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{Dnsmasq, Netns, PipeLines, Proc, have, run, sockit_bin, wait_deadline};

/// How an example runs.
enum How {
    /// To its end, exit 0.
    Ends,
    /// A server: its first line on stderr, still running a moment later, then `client`
    /// (a shell line, `sockit` meaning the binary under test) must succeed.
    Serves(Option<&'static str>),
}

/// An example: the README's command (its `$ ` and comment left out), the shell lines that
/// start its peers first (in the background, in the same namespace), and how it runs.
struct Example {
    line: &'static str,
    peers: &'static [&'static str],
    how: How,
}

const fn ends(line: &'static str) -> Example {
    Example { line, peers: &[], how: How::Ends }
}

const fn serves(line: &'static str) -> Example {
    Example { line, peers: &[], how: How::Serves(None) }
}

const CHAT_ROOM: &str = "sockit chat serve --name lobby";
const TARGET_80: &str = "socat TCP-LISTEN:80,reuseaddr,fork SYSTEM:'echo hello from port 80'";
const NATS: &str = "nats-server -a 127.0.0.1 -p 4222";

const EXAMPLES: &[Example] = &[
    ends("sockit info"),
    ends("sockit addr 192.168.1.10/24"),
    ends("sockit addr 10.1.2.3/255.255.252.0"),
    ends("sockit addr 192.168.1.10/24 192.168.1.77 192.168.2.5"),
    ends("sockit addr 100.64.0.1 2001:db8::1"),
    ends("sockit addr 10.0.0.0/24 --split 26"),
    ends("sockit addr 10.0.0.0/24 --hosts 100 50 20 2"),
    ends("sockit port 22 https 137-139"),
    ends("sockit port --common"),
    ends("sockit hostname [--fqdn] [-I]"),
    ends("sockit lookup localhost example.test"),
    ends("sockit reverse 127.0.0.1 ::1"),
    ends("sockit lookup --server 192.0.2.53 --type MX example.test"),
    ends("sockit lookup --server 192.0.2.53 --dnssec --nsid --flags example.test"),
    ends("sockit lookup --compare example.test"),
    ends("sockit lookup -f names.txt --server 192.0.2.53 --json"),
    Example { line: "sockit udp listen", peers: &[], how: How::Serves(Some("sockit udp send 127.0.0.1 40000 hello")) },
    ends("sockit udp send --broadcast 127.255.255.255 40000 \"Hello there\""),
    ends("printf 'one\\ntwo\\n' | sockit udp send 127.0.0.1 40000"),
    Example { line: "sockit udp listen 0 --echo", peers: &[], how: How::Serves(None) },
    Example {
        line: "sockit tcp listen 40000 > received.bin",
        peers: &[],
        how: How::Serves(Some("sockit tcp connect 127.0.0.1 40000 < file.bin")),
    },
    Example {
        line: "sockit tcp connect 127.0.0.1 40000 < file.bin",
        peers: &["sockit tcp listen 40000 > /dev/null"],
        how: How::Ends,
    },
    Example {
        line: "sockit tcp listen 8080 --keep-open --exec cat",
        peers: &[],
        how: How::Serves(Some("printf 'hi\\n' | sockit tcp connect 127.0.0.1 8080 -q 1 | grep -qx hi")),
    },
    Example {
        line: "sockit udp listen 5000 --join 239.1.2.3",
        peers: &[],
        how: How::Serves(Some("sockit udp send 239.1.2.3 5000 hi --loop")),
    },
    ends("sockit udp send 239.1.2.3 5000 \"Hello, group\" --ttl 2"),
    Example {
        line: "sockit relay tcp-listen:8080 tcp:10.0.0.5:80",
        peers: &[TARGET_80],
        how: How::Serves(Some("sockit tcp connect 127.0.0.1 8080 < /dev/null | grep -qx 'hello from port 80'")),
    },
    Example {
        line: "sockit tcp connect example.test 80 --proxy socks5://127.0.0.1:1080",
        peers: &[TARGET_80, "microsocks -i 127.0.0.1 -p 1080"],
        how: How::Ends,
    },
    Example {
        line: "SOCKIT_PROXY=http://bob:s3cret@proxy.example:3128 sockit chat join class.example",
        peers: &[
            "sockit chat serve --no-discovery",
            "ncat -l 198.18.0.1 3128 --proxy-type http --proxy-auth bob:s3cret -k",
        ],
        how: How::Ends,
    },
    ends("sockit demo"),
    serves(CHAT_ROOM),
    Example { line: "sockit chat discover", peers: &[CHAT_ROOM], how: How::Ends },
    serves("sockit chat serve --bind ::"),
    Example { line: "sockit chat join --nick alice", peers: &[CHAT_ROOM], how: How::Ends },
    Example {
        line: "sockit chat serve --name lobby --port 40001 --cluster nats://127.0.0.1:4222 --node hall-a",
        peers: &[NATS],
        how: How::Serves(None),
    },
    Example {
        line: "sockit chat serve --name lobby --port 40002 --cluster nats://127.0.0.1:4222 --node hall-b",
        peers: &[NATS],
        how: How::Serves(None),
    },
    ends("sockit scan 127.0.0.1"),
    ends("sockit scan localhost -p all --open"),
    ends("sockit scan 198.18.0.0/28 -p common,8080"),
    ends("sockit scan -f hosts.txt --exclude 198.18.0.1,198.18.0.64/26"),
    Example {
        line: "sockit scan 127.0.0.1 -p 21,22,25 --banner",
        peers: &["socat TCP-LISTEN:21,bind=127.0.0.1,reuseaddr,fork SYSTEM:'echo 220 ftp ready'"],
        how: How::Ends,
    },
    ends("sockit chat serve --config room.toml --port 0 --print-config"),
    ends("sockit lab tcp"),
    ends("sockit lab udp --pcap udp.pcapng"),
    ends("sockit lab names"),
    ends("sockit lab select --mermaid"),
    ends("sockit lab --run 'python3 server.py'"),
    serves("sockit lab tcp --web"),
];

/// Every `sockit` command line in README's code blocks, as the table writes it: without its
/// `$ ` and its comment; lines of output (`sockit: ...`) left out.
fn readme_lines() -> BTreeSet<String> {
    let text = include_str!("../../../../README.md");
    let mut lines = BTreeSet::new();
    let mut in_block = false;
    for line in text.lines() {
        if line.starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if !in_block {
            continue;
        }
        let line = line.trim().strip_prefix("$ ").unwrap_or(line.trim());
        let line = line.split(" # ").next().unwrap_or(line).trim_end();
        let names_sockit = line.split_whitespace().any(|w| w == "sockit");
        if names_sockit && !line.starts_with("sockit:") && !line.starts_with('#') && !line.starts_with("cargo ") {
            lines.insert(line.to_string());
        }
    }
    lines
}

#[test]
fn every_readme_example_is_in_the_table() {
    let readme = readme_lines();
    let table: BTreeSet<String> = EXAMPLES.iter().map(|e| e.line.to_string()).collect();
    let missing: Vec<&String> = readme.difference(&table).collect();
    let stale: Vec<&String> = table.difference(&readme).collect();
    assert!(missing.is_empty(), "README examples with no way to run them here: {missing:#?}");
    assert!(stale.is_empty(), "examples no longer in README: {stale:#?}");
}

/// A namespace with the addresses and names README's examples use, and a folder with the
/// files they name.
struct Lab {
    ns: Netns,
    _dns: Dnsmasq,
    dir: tempfile::TempDir,
}

impl Lab {
    fn new() -> Option<Lab> {
        for p in ["dnsmasq", "socat", "ncat", "microsocks", "nats-server"] {
            if !have(p) {
                return None;
            }
        }
        let ns = Netns::new("readme")?;
        ns.exec_ok(
            "ip link add lab0 type veth peer name lab1 && ip link set lab1 up && ip link set lab0 multicast on up && \
             ip addr add 10.0.0.1/24 dev lab0 && ip addr add 10.0.0.5/32 dev lab0 && \
             ip addr add 192.0.2.53/32 dev lab0 && ip addr add 198.18.0.1/24 dev lab0 && \
             ip addr add 198.18.0.5/32 dev lab0 && \
             ip route add default dev lab0",
        );
        // The lab's names are in the DNS server's own zones (test. and example.), at the lab's
        // addresses.
        let hosts = "198.18.0.5 example.test\n198.18.0.5 class.example\n198.18.0.1 proxy.example\n";
        let dns = Dnsmasq::start_in(
            Some(&ns),
            hosts,
            &[
                "--listen-address=192.0.2.53",
                "--auth-zone=example,198.18.0.0/24",
                "--mx-host=example.test,mail.example.test,10",
            ],
        );
        ns.set_resolv_conf("nameserver 127.0.0.1\n");
        // /etc/hosts as Debian writes it, this machine's name on 127.0.1.1.
        let me = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        ns.set_etc(
            "hosts",
            &format!("127.0.0.1 localhost\n127.0.1.1 {}\n::1 localhost ip6-localhost ip6-loopback\n", me.trim()),
        );
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, text) in [
            ("names.txt", "example.test\nclass.example\n"),
            ("hosts.txt", "127.0.0.1\n198.18.0.2\n"),
            ("file.bin", "some bytes\n"),
            ("room.toml", "name = \"lab\"\nmax-line = 1024\nrate = 20\n"),
            (
                "server.py",
                "import socket\ns = socket.create_server(('127.0.0.1', 40000))\n\
                 c = socket.create_connection(('127.0.0.1', 40000))\nc.sendall(b'hi')\nc.close()\n",
            ),
        ] {
            std::fs::write(dir.path().join(name), text).expect("fixture");
        }
        Some(Lab { ns, _dns: dns, dir })
    }

    /// `line` as a shell runs it in the lab, `sockit` being the binary under test.
    fn shell(&self, line: &str) -> Command {
        let line = line.replace("sockit ", &format!("{} ", sockit_bin()));
        let mut cmd = self.ns.cmd("sh", &["-c", &line]);
        cmd.current_dir(self.dir.path()).stdin(Stdio::null());
        cmd
    }
}

/// The concrete commands of an example (`[--fqdn]` is one run without and one with it).
fn commands(line: &str) -> Vec<String> {
    match line.split_once(" [") {
        None => vec![line.to_string()],
        Some((head, _)) => {
            let options: Vec<&str> =
                line.split('[').skip(1).filter_map(|o| o.split_once(']').map(|(o, _)| o)).collect();
            std::iter::once(head.to_string()).chain(options.iter().map(|o| format!("{head} {o}"))).collect()
        }
    }
}

fn run_example(e: &Example) -> Result<(), String> {
    let lab = Lab::new().ok_or("no lab")?;
    let mut peers = Vec::new();
    for p in e.peers {
        let mut cmd = lab.shell(&format!("exec {p}"));
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        peers.push(Proc(cmd.spawn().map_err(|err| format!("{p}: {err}"))?));
    }
    // The peers listen before the example starts.
    std::thread::sleep(Duration::from_millis(if e.peers.is_empty() { 0 } else { 500 }));
    for line in commands(e.line) {
        match e.how {
            How::Ends => {
                let out = run(lab.shell(&line), b"", Duration::from_secs(60));
                if out.code != 0 {
                    return Err(format!("`{line}` exited {}: {}{}", out.code, out.stdout(), out.stderr));
                }
            }
            How::Serves(client) => {
                let mut cmd = lab.shell(&format!("exec {line}"));
                cmd.stdout(Stdio::null()).stderr(Stdio::piped());
                let mut server = Proc(cmd.spawn().map_err(|err| format!("{line}: {err}"))?);
                let mut err = PipeLines::new(server.0.stderr.take().expect("stderr"));
                let mut first = String::new();
                err.read_line_within(&mut first, Duration::from_secs(20)).map_err(|x| format!("`{line}`: {x}"))?;
                if !first.starts_with("sockit: ") || first.contains("cannot") {
                    return Err(format!("`{line}` said: {first}"));
                }
                std::thread::sleep(Duration::from_millis(300));
                if let Some(status) = server.0.try_wait().ok().flatten() {
                    return Err(format!("`{line}` ended ({status}) after: {first}"));
                }
                if let Some(c) = client {
                    let out = run(lab.shell(c), b"", Duration::from_secs(30));
                    if out.code != 0 {
                        return Err(format!("`{c}` beside `{line}` exited {}: {}", out.code, out.stderr));
                    }
                }
                let _ = server.0.kill();
                wait_deadline(&mut server.0, Duration::from_secs(10), &line);
            }
        }
    }
    Ok(())
}

/// Run the examples whose index is `i % of == part`: the table split over a few tests that
/// run at once.
fn run_part(part: usize, of: usize) {
    if Lab::new().is_none() {
        return;
    }
    let start = Instant::now();
    let failed: Vec<String> =
        EXAMPLES.iter().enumerate().filter(|(i, _)| i % of == part).filter_map(|(_, e)| run_example(e).err()).collect();
    assert!(failed.is_empty(), "README examples that failed ({:?}):\n{}", start.elapsed(), failed.join("\n"));
}

#[test]
fn readme_examples_run_part_1() {
    run_part(0, 3);
}

#[test]
fn readme_examples_run_part_2() {
    run_part(1, 3);
}

#[test]
fn readme_examples_run_part_3() {
    run_part(2, 3);
}

#[test]
fn optional_flags_are_runs_of_their_own() {
    assert_eq!(
        commands("sockit hostname [--fqdn] [-I]"),
        ["sockit hostname", "sockit hostname --fqdn", "sockit hostname -I"]
    );
    assert_eq!(commands("sockit port 22"), ["sockit port 22"]);
}
