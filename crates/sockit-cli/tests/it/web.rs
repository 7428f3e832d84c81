//! The chat in a browser: the page and WebSocket members on the chat port, beside line
//! clients. Real peers: Python's `websockets`, websocat, headless Chromium driven by Selenium
//! (all from the project's `.venv` and Debian's chromium), and hostile WebSocket peers built by
//! hand.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::chat::Server;
use crate::util::{DEADLINE, PipeLines, Proc, run, venv};

fn script(name: &str) -> String {
    format!("{}/tests/it/py/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The page and its errors, over plain HTTP from Python's http.client.
#[test]
fn the_page_is_served_on_the_chat_port() {
    let server = Server::start(&[]);
    let code = "import http.client, sys\nfor m, p in [('GET', '/'), ('HEAD', '/'), ('GET', '/nope'), ('POST', '/')]:\n    \
                c = http.client.HTTPConnection('127.0.0.1', int(sys.argv[1]), timeout=5)\n    c.request(m, p)\n    \
                r = c.getresponse()\n    b = r.read()\n    \
                print(m, p, r.status, r.getheader('Content-Type'), len(b), b'<title>sockit chat</title>' in b)\n";
    let mut cmd = Command::new("python3");
    cmd.args(["-c", code, &server.port.to_string()]);
    let out = run(cmd, b"", DEADLINE).ok();
    let page = sockit::chat::web::PAGE;
    assert!(page.len() < 50 * 1024, "the page is {} bytes", page.len());
    assert_eq!(
        out,
        format!(
            "GET / 200 text/html; charset=utf-8 {} True\nHEAD / 200 text/html; charset=utf-8 0 False\n\
             GET /nope 404 text/plain; charset=utf-8 17 False\nPOST / 405 text/plain; charset=utf-8 14 False\n",
            page.len()
        )
    );
    // A line client on the same port is still a line client.
    let mut line = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    line.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    let mut welcome = String::new();
    BufReader::new(&line).read_line(&mut welcome).expect("welcome");
    assert!(welcome.starts_with("* welcome to sockit"), "{welcome}");
    line.write_all(b"/quit\n").expect("quit");
    // --no-web: an HTTP request is a chat line like any other.
    let plain = Server::start(&["--no-web"]);
    let mut s = TcpStream::connect(("127.0.0.1", plain.port)).expect("connect");
    s.write_all(b"GET / HTTP/1.1\r\n\r\n/quit\n").expect("send");
    let mut got = String::new();
    s.read_to_string(&mut got).expect("read");
    assert!(got.starts_with("* welcome to sockit") && got.ends_with("* bye\n"), "{got}");
}

/// WebSocket members (Python's websockets) and a line client in one room: lines, /nick, /me,
/// /msg, /who, max-line, one frame one line, fragments and a ping flood; then hostile peers:
/// binary (1003), invalid UTF-8 (1007), oversized (1009), a foreign Origin (403), a request
/// that never ends (dropped after 10 s).
#[test]
fn websocket_members_and_hostile_peers() {
    let Some(python) = venv("python") else { return };
    let server = Server::start(&["--web-origin", "http://class.example:8080"]);
    let mut cmd = Command::new(python);
    cmd.args([script("ws_chat.py"), server.port.to_string()]);
    let out = run(cmd, b"", Duration::from_secs(60));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v = out.json();
    let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
    assert!(s("welcome").starts_with("* welcome to sockit, you are guest-"), "{v}");
    assert_eq!(s("ben_hears_ann"), "<ann> hello from ann");
    assert_eq!(s("ann_hears_carl"), "<carl> hi from carl");
    assert_eq!(s("ann_sees_action"), "** ben waves");
    assert_eq!((s("ann_private"), s("ben_confirm")), ("*ben* psst".into(), "* sent to ann only".into()));
    assert_eq!(s("who"), "* online (3): ann, ben, carl");
    assert_eq!(s("one_frame_one_line"), "<ann> multi line");
    assert_eq!(s("too_long"), "* line too long (over 4096 bytes): not sent");
    assert_eq!(s("fragmented"), "<ann> fragmented");
    assert_eq!(s("after_pings"), "<ann> after the pings");
    assert_eq!(
        v["carl_lines"],
        serde_json::json!(["<ann> hello from ann", "<ann> multi line", "<ann> fragmented", "<ann> after the pings"])
    );
    let switching = "HTTP/1.1 101 Switching Protocols";
    assert_eq!(v["binary"], serde_json::json!([switching, 1003]));
    assert_eq!(v["bad_utf8"], serde_json::json!([switching, 1007]));
    assert_eq!(v["oversized"], serde_json::json!([switching, 1009]));
    assert_eq!(
        (s("evil_origin"), s("own_origin"), s("allowed_origin")),
        ("HTTP/1.1 403 Forbidden".into(), switching.into(), switching.into())
    );
    assert_eq!(v["pong"], true);
    assert_eq!(v["client_close"], serde_json::json!([switching, [1000]]));
    // 200,000 pings never read: answered, by far fewer pongs (the newest ping's only).
    let pongs = v["ping_flood"]["pongs"].as_u64().expect("pongs");
    assert!((1..20_000).contains(&pongs), "{v}");
    assert_eq!(v["slowloris"]["closed"], true);
    let after = v["slowloris"]["after"].as_f64().expect("seconds");
    assert!((9.0..13.0).contains(&after), "dropped after {after} s");
}

/// websocat (the WebSocket netcat) as a member of `server`'s room: what it hears, and its stdin.
pub(crate) fn websocat_member(websocat: &str, server: &Server) -> (Proc, PipeLines, std::process::ChildStdin) {
    let mut ws = Proc(
        Command::new(websocat)
            .args(["-t", &format!("ws://127.0.0.1:{}/ws", server.port)])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("websocat"),
    );
    let heard = PipeLines::new(ws.0.stdout.take().expect("stdout"));
    let stdin = ws.0.stdin.take().expect("stdin");
    (ws, heard, stdin)
}

/// websocat, the WebSocket netcat, is a member too: its stdin lines are said, and it hears
/// a line client.
#[test]
fn websocat_joins_the_room() {
    let Some(websocat) = venv("websocat") else { return };
    let server = Server::start(&[]);
    let (_ws, mut heard, mut stdin) = websocat_member(&websocat, &server);
    let mut first = String::new();
    heard.read_line(&mut first).expect("welcome");
    assert!(first.starts_with("* welcome to sockit, you are guest-"), "{first}");
    let mut line = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    line.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    let mut reader = BufReader::new(line.try_clone().expect("clone"));
    let mut l = String::new();
    reader.read_line(&mut l).expect("welcome");
    stdin.write_all(b"/nick wsc\nhello from websocat\n").expect("say");
    let mut said = Vec::new();
    while !said.iter().any(|l: &String| l.starts_with("<wsc>")) {
        l.clear();
        assert!(reader.read_line(&mut l).expect("line") > 0, "closed: {said:?}");
        said.push(l.strip_suffix('\n').unwrap_or(&l).to_string());
    }
    assert!(said.iter().any(|l| l.ends_with(" is now known as wsc")), "{said:?}");
    assert_eq!(said.last().map(String::as_str), Some("<wsc> hello from websocat"));
    line.write_all(b"hi websocat\n").expect("say");
    let mut got = String::new();
    while !got.starts_with("<guest-") {
        got.clear();
        assert!(heard.read_line(&mut got).expect("line") > 0);
    }
    assert!(got.ends_with("> hi websocat\n"), "{got}");
}

/// Two headless Chromium pages (Selenium, Debian's chromium and chromedriver) and an
/// nc.openbsd line client in one room: lines both ways, own lines marked, `/nick` and `/who` in the member
/// list, an XSS line shown as text, the page reconnecting after the server restarts on its
/// port, the nick remembered; a third page under a rebinding name (evil.test mapped to the
/// room) gets neither the page nor a seat. Screenshots at desktop and phone width land in the target dir.
#[test]
fn browsers_chat_with_line_clients() {
    let Some(python) = venv("python") else { return };
    if !crate::util::have("chromium") || !crate::util::have("chromedriver") || !crate::util::have("nc.openbsd") {
        return;
    }
    let shots = format!("{}/screenshots", env!("CARGO_TARGET_TMPDIR"));
    let mut cmd = Command::new(python);
    // Selenium Manager would otherwise try to fetch a driver and send usage statistics.
    cmd.env("SE_OFFLINE", "true").env("SE_AVOID_STATS", "true");
    cmd.args([script("browser_chat.py"), crate::util::sockit_bin().to_string(), shots.clone()]);
    let out = run(cmd, b"", Duration::from_secs(120));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v = out.json();
    assert_eq!(v["members"], serde_json::json!(["ann", "ben", "carl"]), "{v}");
    assert_eq!(v["title"], "classroom \u{2013} sockit chat");
    assert_eq!(v["ben_sees"], "annhello from ann", "the nick and the text, as the page shows them");
    assert_eq!((v["ann_own_marked"].as_bool(), v["carl_hears"].as_bool()), (Some(true), Some(true)));
    assert_eq!(v["xss_shown"], "carl<img src=x onerror=alert(1)>");
    assert_eq!((v["xss_img_elements"].as_u64(), v["xss_alert"].as_bool()), (Some(0), Some(false)));
    assert_eq!(v["renamed"], true);
    assert_eq!(v["who_shown"], "online (3): ann, benny, carl");
    assert_eq!(v["action"], "\u{2022} bennywaves");
    assert_eq!((v["reconnecting"].as_bool(), v["back"].as_bool()), (Some(true), Some(true)));
    assert_eq!(v["nick_remembered"], "ann");
    assert!(v["rebound_page"].as_str().is_some_and(|t| t.starts_with("this host name is not the room's")), "{v}");
    assert_eq!(v["rebound_joined"], false);
    for shot in ["chat-desktop.png", "chat-phone.png"] {
        let png = std::fs::read(format!("{shots}/{shot}")).expect("screenshot");
        assert!(png.starts_with(b"\x89PNG") && png.len() > 5_000, "{shot}: {} bytes", png.len());
    }
}

/// A TLS room serves the page over https and members over wss, beside a TLS line client
/// (Python's ssl, http.client and websockets; the self-signed certificate is not verified).
#[test]
fn a_tls_room_is_https_and_wss() {
    let Some(python) = venv("python") else { return };
    let server = Server::start(&["--tls"]);
    let code = "import asyncio, http.client, ssl, socket, sys, websockets\nport = int(sys.argv[1])\n\
                ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE\n\
                c = http.client.HTTPSConnection('127.0.0.1', port, context=ctx, timeout=10)\nc.request('GET', '/')\n\
                r = c.getresponse(); print(r.status, b'sockit chat' in r.read())\n\
                line = ctx.wrap_socket(socket.create_connection(('127.0.0.1', port), timeout=10))\n\
                line.sendall(b'/nick tina\\n')\n\
                async def main():\n    async with websockets.connect(f'wss://127.0.0.1:{port}/ws', ssl=ctx) as ws:\n        \
                await ws.recv()\n        line.sendall(b'over tls\\n')\n        while True:\n            m = await ws.recv()\n            \
                if m.startswith('<tina>'):\n                print(m)\n                return\n\
                asyncio.run(asyncio.wait_for(main(), 10))\n";
    let mut cmd = Command::new(python);
    cmd.args(["-c", code, &server.port.to_string()]);
    let out = run(cmd, b"", DEADLINE);
    assert_eq!(out.ok(), "200 True\n<tina> over tls\n");
}

/// One raw HTTP request on a fresh connection: the status line, the headers, and how long the
/// answer took (the body is not read).
fn ask(port: u16, request: &str) -> (String, String, Duration) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(15))).expect("timeout");
    let start = std::time::Instant::now();
    s.write_all(request.as_bytes()).expect("send");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && s.read(&mut byte).is_ok_and(|n| n == 1) {
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let (status, headers) = head.split_once("\r\n").unwrap_or((&head, ""));
    (status.to_string(), headers.to_string(), start.elapsed())
}

fn upgrade(port: u16, host: &str, origin: Option<&str>) -> String {
    let origin = origin.map_or(String::new(), |o| format!("Origin: {o}\r\n"));
    let req = format!(
        "GET /ws HTTP/1.1\r\nHost: {host}\r\n{origin}Upgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    ask(port, &req).0
}

/// DNS rebinding: a page served under a name that is not the room's (evil.test resolving to
/// it) can neither load the page nor join (its Host matched its own Origin, and it joined);
/// an https page may not join a plain room; `--web-host` names another name the room answers
/// to. The page's CSP runs only its own script (by hash) and forbids framing. Requests the
/// room does not serve are answered as HTTP, never taken for members: HTTP/0.9, HTTP/2's
/// preface, a proxy's absolute form (they used to join and be said in the room); a head
/// whose lines end in bare LF is answered at once (it waited 10 s for nothing).
#[test]
fn hosts_origins_and_odd_requests() {
    let server = Server::start(&[]);
    let p = server.port;
    let ok = "HTTP/1.1 101 Switching Protocols";
    let refused = "HTTP/1.1 403 Forbidden";
    assert_eq!(upgrade(p, &format!("evil.test:{p}"), Some(&format!("http://evil.test:{p}"))), refused);
    assert_eq!(ask(p, &format!("GET / HTTP/1.1\r\nHost: evil.test:{p}\r\n\r\n")).0, refused);
    assert_eq!(upgrade(p, &format!("127.0.0.1:{p}"), Some(&format!("https://127.0.0.1:{p}"))), refused);
    assert_eq!(upgrade(p, &format!("127.0.0.1:{p}"), Some(&format!("http://127.0.0.1:{p}"))), ok);
    assert_eq!(upgrade(p, &format!("localhost:{p}"), Some(&format!("http://localhost:{p}"))), ok);
    assert_eq!(upgrade(p, &format!("chat.example:{p}"), Some(&format!("http://chat.example:{p}"))), refused);
    let named = Server::start(&["--web-host", "chat.example"]);
    let n = named.port;
    assert_eq!(upgrade(n, &format!("chat.example:{n}"), Some(&format!("http://chat.example:{n}"))), ok);
    let (status, headers, _) = ask(p, &format!("GET / HTTP/1.1\r\nHost: 127.0.0.1:{p}\r\n\r\n"));
    assert_eq!(status, "HTTP/1.1 200 OK");
    let csp = headers.lines().find_map(|l| l.strip_prefix("Content-Security-Policy: ")).expect("a CSP");
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'sha256-"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let (status, _, took) = ask(p, &format!("GET / HTTP/1.1\nHost: 127.0.0.1:{p}\n\n"));
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(took < Duration::from_secs(2), "a bare-LF head answered after {took:?}");
    for (request, want) in [
        ("GET /\r\n", "HTTP/1.1 505 HTTP Version Not Supported"),
        ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "HTTP/1.1 505 HTTP Version Not Supported"),
        ("GET http://127.0.0.1/ HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 400 Bad Request"),
        ("CONNECT example.test:443 HTTP/1.1\r\n\r\n", "HTTP/1.1 400 Bad Request"),
    ] {
        assert_eq!(ask(p, request).0, want, "{request:?}");
    }
    // None of them joined: the room has one member, the one asking.
    let mut c = server.connect();
    c.line();
    c.send("/who");
    let who = c.until(|l| l.starts_with("* online"));
    assert!(who.starts_with("* online (1): guest-"), "{who}");
}

/// A client's close with a code it may not send (1005, 999) is answered with 1002 (protocol
/// error), not 1000; a proper close gets 1000.
#[test]
fn close_codes_a_client_may_not_send_are_protocol_errors() {
    let server = Server::start(&[]);
    let p = server.port;
    for (sent, want) in [(1000u16, 1000u16), (1005, 1002), (999, 1002), (4000, 1000)] {
        let mut s = TcpStream::connect(("127.0.0.1", p)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        let req = format!(
            "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{p}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        s.write_all(req.as_bytes()).expect("send");
        let mask = [1u8, 2, 3, 4];
        let code = sent.to_be_bytes();
        let close = [0x88, 0x82, mask[0], mask[1], mask[2], mask[3], code[0] ^ mask[0], code[1] ^ mask[1]];
        s.write_all(&close).expect("close");
        let mut all = Vec::new();
        let _ = s.read_to_end(&mut all);
        let body = &all[..];
        let at = body.windows(4).position(|w| w == b"\r\n\r\n").expect("a head") + 4;
        // The frames after the head: the welcome, maybe more, then the close.
        let mut frames = &body[at..];
        let mut got = None;
        while let [first, len, rest @ ..] = frames {
            let (n, rest) = match len & 0x7f {
                126 => (usize::from(u16::from_be_bytes([rest[0], rest[1]])), &rest[2..]),
                n => (usize::from(n), rest),
            };
            if first & 0x0f == 0x8 {
                got = Some(u16::from_be_bytes([rest[0], rest[1]]));
            }
            frames = &rest[n.min(rest.len())..];
        }
        assert_eq!(got, Some(want), "close {sent}");
    }
}

/// A WebSocket member whose first fragment of a message never gets its end holds no more than
/// a line client with an unfinished line (a fragment up to --max-line and a KiB is held, one
/// past it closes the member with 1009): it held ~136 KiB for a 60 KB fragment, a line client
/// ~15 KiB.
#[test]
fn an_unfinished_websocket_message_holds_what_a_line_does() {
    fn rss(pid: u32) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }
    fn member(port: u16, fragment: usize) -> TcpStream {
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        let req = format!(
            "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        s.write_all(req.as_bytes()).expect("send");
        let mut head = Vec::new();
        let mut b = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && s.read(&mut b).is_ok_and(|n| n == 1) {
            head.push(b[0]);
        }
        // A text frame without FIN, 16-bit length, masked with zeros.
        let mut frame = vec![0x01, 0x80 | 0x7e];
        frame.extend_from_slice(&u16::try_from(fragment).expect("len").to_be_bytes());
        frame.extend_from_slice(&[0; 4]);
        frame.extend(std::iter::repeat_n(b'x', fragment));
        let _ = s.write_all(&frame);
        s
    }
    let server = Server::start(&[]);
    let pid = server.proc.0.id();
    let n = 100u64;
    std::thread::sleep(Duration::from_millis(300));
    let before = rss(pid);
    let lines: Vec<TcpStream> = (0..n)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
            s.write_all(&[b'y'; 4000]).expect("an unfinished line");
            s
        })
        .collect();
    std::thread::sleep(Duration::from_secs(1));
    let line_cost = (rss(pid).saturating_sub(before) / n).max(8);
    drop(lines);
    std::thread::sleep(Duration::from_secs(3));
    for (fragment, what) in [(4000, "an unfinished 4 KB message"), (60_000, "a 60 KB fragment")] {
        let before = rss(pid);
        let members: Vec<TcpStream> = (0..n).map(|_| member(server.port, fragment)).collect();
        std::thread::sleep(Duration::from_secs(1));
        let cost = rss(pid).saturating_sub(before) / n;
        assert!(cost <= 2 * line_cost, "{what}: {cost} KiB a member, a line client {line_cost} KiB");
        drop(members);
        std::thread::sleep(Duration::from_secs(3));
    }
}

/// A browser's page load and `nc` from the same address, the common demo: a silent connection
/// that comes with the page load (a browser's spare socket) is not welcomed while it may still
/// send its request, and its request, sent late, gets the page; `nc` started seconds after the
/// browser's last request is welcomed at once; a silent connection that came with the load and stays is a person
/// after 12 s (a browser closes its spares after 10): welcomed, not dropped.
#[test]
fn nc_beside_a_browser_is_welcomed() {
    let server = Server::start(&[]);
    let at = ("127.0.0.1", server.port);
    let load = || {
        let mut s = TcpStream::connect(at).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: Mozilla/5.0\r\nConnection: close\r\n\r\n")
            .expect("request");
        let mut page = String::new();
        s.read_to_string(&mut page).expect("page");
        assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
    };
    let silent = || {
        let s = TcpStream::connect(at).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
        s
    };
    // Time from `since` to the first line the connection is sent.
    let first_line = |s: &TcpStream, since: std::time::Instant| -> (String, Duration) {
        let mut line = String::new();
        BufReader::new(s).read_line(&mut line).expect("first line");
        (line, since.elapsed())
    };
    let spare = silent();
    let waiting = silent();
    let waited_from = std::time::Instant::now();
    load();
    // The spare sends its request two seconds later: the page, nothing before it.
    std::thread::sleep(Duration::from_secs(2));
    let mut spare = spare;
    spare.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    spare
        .write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: Mozilla/5.0\r\nConnection: close\r\n\r\n")
        .expect("late request");
    let mut page = String::new();
    spare.read_to_string(&mut page).expect("page on the spare");
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page:?}");
    // nc, six seconds after the browser's last request: welcomed at once.
    std::thread::sleep(Duration::from_secs(6));
    let nc = silent();
    let (line, took) = first_line(&nc, std::time::Instant::now());
    assert!(line.starts_with("* welcome to sockit, you are guest-"), "{line:?}");
    assert!(took < Duration::from_secs(2), "nc waited {took:?} for its welcome");
    // The silent one that came with the load: welcomed after 12 s, as a person.
    let (line, took) = first_line(&waiting, waited_from);
    assert!(line.starts_with("* welcome to sockit, you are guest-"), "{line:?}");
    assert!(took >= Duration::from_secs(11) && took < Duration::from_secs(16), "welcomed after {took:?}");
}
