//! A federated room against a program that holds the broker's credentials (a rogue of a few
//! dozen lines of Python on a socket), beside three servers on a real nats-server: without the
//! cluster key it is not heard at all; with it, it still cannot speak for a nick it does not
//! hold, take a nick from its holder, silence a server, lock new servers out or fill memory.
//! And the NATS way: per-server users whose publish rights end at the cluster's subjects.

use std::io::{BufRead, Write};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::chat::{Client, Server};
use crate::cluster::{Broker, member_server, who_until};
use crate::util::{DEADLINE, run};

const SUBJECT: &str = "sockit.chat.sockit.sockit";

/// Publish `messages` on the cluster's subject as the rogue: with the broker's `login`, and
/// signed with `key` if given. What the rogue script says (`ok N`, or the broker's refusal).
fn rogue(
    port: u16,
    login: Option<(&str, &str)>,
    key: Option<&std::path::Path>,
    messages: &[serde_json::Value],
) -> String {
    let script = format!("{}/tests/it/py/rogue_nats.py", env!("CARGO_MANIFEST_DIR"));
    let mut cmd = std::process::Command::new("python3");
    cmd.args([script, port.to_string(), SUBJECT.to_string()]);
    if let Some((u, p)) = login {
        cmd.args(["--login", u, p]);
    }
    if let Some(k) = key {
        cmd.arg("--key").arg(k);
    }
    let input: String = messages.iter().map(|m| format!("{m}\n")).collect();
    run(cmd, input.as_bytes(), Duration::from_secs(120)).ok().trim_end().to_string()
}

fn said(node: &str, run: u64, seq: u64, nick: &str, text: &str) -> serde_json::Value {
    json!({"node": node, "run": run, "seq": seq, "body": {"said": {"nick": nick, "text": text}}})
}

fn presence(node: &str, generation: u64, part: u32, parts: u32, members: Vec<serde_json::Value>) -> serde_json::Value {
    json!({"node": node, "run": 1, "seq": 0, "body": {"presence": {"generation": generation, "part": part, "parts": parts, "members": members}}})
}

/// Everything a rogue may try, as messages: silence b (a number from far away in b's name),
/// take alice's nick (a claim from 1970), speak and whisper as bob, invent 300 servers and a
/// server with 200,000 members.
fn the_attack() -> Vec<serde_json::Value> {
    let mut m = vec![
        said("b", 42, 1 << 63, "bob", "b is silenced from here on"),
        json!({"node": "z", "run": 1, "seq": 1, "body": {"joined": {"members": [{"nick": "alice", "since": 1}]}}}),
        said("z", 1, 2, "bob", "I am bob"),
        said("z", 1, 3, "alice", "I am alice"),
        json!({"node": "z", "run": 1, "seq": 4, "body": {"private": {"from": "bob", "to": "alice", "text": "psst from bob"}}}),
    ];
    for i in 0..300 {
        m.push(presence(&format!("n{i}"), 1, 0, 1, vec![json!({"nick": format!("m{i}"), "since": 1})]));
    }
    for part in 0..50u32 {
        let members = (0..4000).map(|i| json!({"nick": format!("x{part}-{i}"), "since": 1})).collect();
        m.push(presence("huge", 1, part, 50, members));
    }
    m
}

/// Lines `c` hears within `within`.
fn heard(c: &mut Client, within: Duration) -> Vec<String> {
    let _ = c.r.get_ref().set_read_timeout(Some(within));
    let mut out = Vec::new();
    let mut l = String::new();
    while c.r.read_line(&mut l).is_ok_and(|n| n > 0) {
        out.push(l.trim_end().to_string());
        l.clear();
    }
    let _ = c.r.get_ref().set_read_timeout(Some(Duration::from_secs(10)));
    out
}

/// Servers a (at -v), b and c of one room on `broker`, with `opts`; alice, bob and carol on them,
/// a seeing all three. The servers' consoles are kept open with them.
struct Room {
    a: Server,
    b: Server,
    c: Server,
    alice: Client,
    bob: Client,
    carol: Client,
    _consoles: Vec<std::sync::mpsc::Receiver<String>>,
}

fn room_of_three(broker: &str, opts: &[&str]) -> Room {
    let (a, ca) = member_server(broker, "a", &[opts, &["-v"]].concat());
    let (b, cb) = member_server(broker, "b", opts);
    let (c, cc) = member_server(broker, "c", opts);
    let mut alice = Client::join(&a, "alice");
    let (bob, carol) = (Client::join(&b, "bob"), Client::join(&c, "carol"));
    let three = "* online (3): alice (a), bob (b), carol (c)";
    assert_eq!(who_until(&mut alice, three), three);
    Room { a, b, c, alice, bob, carol, _consoles: vec![ca, cb, cc] }
}

/// The room of three servers with the cluster key, the rogue on the broker with its login but
/// without the key: nothing of it is heard, the room goes on, a fourth server comes in, and the
/// refusals cost a line now and then at -v, not a line a message.
#[test]
fn without_the_key_a_rogue_is_not_heard() {
    let Some(broker) = Broker::start(&["--user", "sk", "--pass", "broker-pw"]) else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let (creds, key) = (dir.path().join("creds"), dir.path().join("key"));
    std::fs::write(&creds, "sk:broker-pw\n").expect("creds");
    std::fs::write(&key, "a key of the cluster's own, 32 b\n").expect("key");
    let opts = ["--cluster-credentials", creds.to_str().expect("utf-8"), "--cluster-key", key.to_str().expect("utf-8")];
    let Room { mut a, b: _b, c: _c, mut alice, mut bob, mut carol, _consoles } = room_of_three(&broker.url(), &opts);
    let three = "* online (3): alice (a), bob (b), carol (c)";
    let before = a.rss_kib();
    assert_eq!(
        rogue(broker.port, Some(("sk", "broker-pw")), None, &the_attack()),
        format!("ok {}", the_attack().len())
    );
    bob.send("b is heard");
    assert_eq!(alice.until(|l| l.starts_with('<') || l.starts_with('*')), "<bob> b is heard");
    assert_eq!(carol.until(|l| l.starts_with("<bob>")), "<bob> b is heard");
    assert_eq!(who_until(&mut alice, three), three);
    let (d, _cd) = member_server(&broker.url(), "d", &opts);
    let _dave = Client::join(&d, "dave");
    let four = "* online (4): alice (a), bob (b), carol (c), dave (d)";
    assert_eq!(who_until(&mut alice, four), four);
    assert!(a.rss_kib() < before + 20 * 1024, "{} KiB, {before} KiB before", a.rss_kib());
    // a's log: the refusals, counted in a line or two, never a line each.
    std::thread::sleep(Duration::from_secs(4));
    let _ = a.proc.0.kill();
    let mut log = String::new();
    let _ = std::io::Read::read_to_string(&mut a.stderr, &mut log);
    let refusals: Vec<&str> = log.lines().filter(|l| l.contains("refused")).collect();
    assert!((1..=3).contains(&refusals.len()), "{log}");
    assert!(refusals.iter().any(|l| l.contains("unsigned")), "{refusals:?}");
    assert!(!log.contains("WARN"), "{log}");
}

/// The rogue holds the key too: it is a server of the cluster as far as signatures go, and the
/// room's rules hold all the same. Nobody hears words from a nick its sender does not hold;
/// alice keeps her nick; b is not silenced; a new server comes in past 300 invented ones; the
/// invented 200,000 members are kept within the budget.
#[test]
fn with_the_key_a_rogue_still_cannot_break_the_room() {
    let Some(broker) = Broker::start(&[]) else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let key = dir.path().join("key");
    std::fs::write(&key, "a key of the cluster's own, 32 b\n").expect("key");
    let opts = ["--cluster-key", key.to_str().expect("utf-8")];
    let Room { mut a, b: _b, c: _c, mut alice, mut bob, mut carol, _consoles } = room_of_three(&broker.url(), &opts);
    let three = "* online (3): alice (a), bob (b), carol (c)";
    assert_eq!(who_until(&mut carol, three), three);
    // (A claim counts from no further back than two seconds before it is first heard: two
    // servers that grant one nick at once resolve it within them. alice's is older.)
    std::thread::sleep(Duration::from_secs(3));
    let before = a.rss_kib();
    let attack = the_attack();
    assert_eq!(rogue(broker.port, None, Some(&key), &attack), format!("ok {}", attack.len()));
    // b's next words are heard (a number from far away took b's numbering to a new run).
    let start = Instant::now();
    let mut got = Vec::new();
    while !got.iter().any(|l: &String| l == "<bob> b is heard") && start.elapsed() < Duration::from_secs(15) {
        bob.send("b is heard");
        got.extend(heard(&mut alice, Duration::from_millis(500)));
    }
    assert!(got.iter().any(|l| l == "<bob> b is heard"), "{got:?}");
    let everything = [got, heard(&mut alice, Duration::from_secs(1))].concat();
    for forged in ["<bob> I am bob", "<alice> I am alice", "*bob* psst from bob", "<bob> b is silenced from here on"] {
        assert!(!everything.iter().any(|l| l == forged), "{forged} in {everything:?}");
    }
    assert!(!everything.iter().any(|l| l.contains("granted the nick")), "{everything:?}");
    alice.send("/nick");
    alice.send("/who");
    let who = alice.until(|l| l.starts_with("* online"));
    assert!(who.contains("alice (a)") && who.contains("bob (b)") && who.contains("carol (c)"), "{who}");
    let (d, _cd) = member_server(&broker.url(), "d", &opts);
    let _dave = Client::join(&d, "dave");
    let start = Instant::now();
    let mut who = String::new();
    while !who.contains("dave (d)") && start.elapsed() < Duration::from_secs(15) {
        alice.send("/who");
        who = alice.until(|l| l.starts_with("* online"));
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(who.contains("dave (d)"), "{who}");
    assert!(a.rss_kib() < before + 64 * 1024, "{} KiB, {before} KiB before", a.rss_kib());
    // Each rule was what refused: a's log counts them.
    std::thread::sleep(Duration::from_secs(4));
    let _ = a.proc.0.kill();
    let mut log = String::new();
    let _ = std::io::Read::read_to_string(&mut a.stderr, &mut log);
    for why in ["not the sender's nick", "stale claim", "over the memory budget"] {
        assert!(log.contains(why), "{why} not counted: {log}");
    }
}

/// The NATS way: a user a server, whose publish rights end at the cluster's subjects, and a
/// user for anyone else that may not publish there. The rogue with that login is refused by
/// the broker itself, and the room goes on.
#[test]
fn per_server_users_keep_the_others_off_the_subject() {
    let dir = tempfile::tempdir().expect("tmp");
    let conf = dir.path().join("nats.conf");
    let mut f = std::fs::File::create(&conf).expect("conf");
    write!(
        f,
        "authorization {{\n  users = [\n    \
         {{user: srv-a, password: pa, permissions: {{publish: \"sockit.chat.sockit.>\", subscribe: \"sockit.chat.sockit.>\"}}}}\n    \
         {{user: srv-b, password: pb, permissions: {{publish: \"sockit.chat.sockit.>\", subscribe: \"sockit.chat.sockit.>\"}}}}\n    \
         {{user: watcher, password: pw, permissions: {{publish: \"nothing.here\", subscribe: \">\"}}}}\n  ]\n}}\n"
    )
    .expect("write");
    let Some(broker) = Broker::start(&["-c", conf.to_str().expect("utf-8")]) else { return };
    let login = |u: &str, p: &str| {
        let path = dir.path().join(u);
        std::fs::write(&path, format!("{u}:{p}\n")).expect("creds");
        path
    };
    let (ca, cb) = (login("srv-a", "pa"), login("srv-b", "pb"));
    let (a, _ca) = member_server(&broker.url(), "a", &["--cluster-credentials", ca.to_str().expect("utf-8")]);
    let (b, _cb) = member_server(&broker.url(), "b", &["--cluster-credentials", cb.to_str().expect("utf-8")]);
    let mut alice = Client::join(&a, "alice");
    let mut bob = Client::join(&b, "bob");
    let two = "* online (2): alice (a), bob (b)";
    assert_eq!(who_until(&mut alice, two), two);
    let said_by_watcher = rogue(broker.port, Some(("watcher", "pw")), None, &[said("z", 1, 1, "mallory", "hello")]);
    assert!(said_by_watcher.contains("Permissions Violation"), "{said_by_watcher}");
    bob.send("the room goes on");
    assert_eq!(alice.until(|l| l.starts_with('<')), "<bob> the room goes on");
    let _ = DEADLINE;
}
