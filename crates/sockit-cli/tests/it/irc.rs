//! IRC members on the chat port: a bot written with Python's socket module (tags, server-time,
//! echo-message) beside a line client and websocat, hostile IRC input held to the bounds line
//! clients have, and irssi and WeeChat driven in tmux as a person would.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::chat::{Client, Server};
use crate::util::{PipeLines, Proc, have, venv};

/// A raw IRC connection of the test's own.
struct Irc {
    w: TcpStream,
    r: BufReader<TcpStream>,
}

impl Irc {
    fn connect(server: &Server) -> Irc {
        let s = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        Irc { r: BufReader::new(s.try_clone().expect("clone")), w: s }
    }

    fn send(&mut self, raw: &str) {
        self.w.write_all(raw.as_bytes()).expect("send");
    }

    fn line(&mut self) -> String {
        let mut l = String::new();
        self.r.read_line(&mut l).expect("read line");
        l.trim_end_matches('\n').trim_end_matches('\r').to_string()
    }

    /// Read until a line holds `what`; that line.
    fn until(&mut self, what: &str) -> String {
        loop {
            let l = self.line();
            assert!(!l.is_empty(), "closed while waiting for {what:?}");
            if l.contains(what) {
                return l;
            }
        }
    }
}

fn script(name: &str) -> String {
    format!("{}/tests/it/py/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn an_irc_bot_a_line_client_and_a_browser_share_one_room() {
    let Some(websocat) = venv("websocat") else { return };
    let server = Server::start(&[]);
    let mut nancy = Client::join(&server, "nancy");
    let (_ws, mut wendy_hears, mut wendy) = crate::web::websocat_member(&websocat, &server);
    wendy.write_all(b"/nick wendy\n").expect("nick");
    nancy.until(|l| l.ends_with("is now known as wendy"));

    let mut bot = Proc(
        Command::new("python3")
            .args([script("irc_bot.py"), server.port.to_string(), "bot".into()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3"),
    );
    let mut saw = PipeLines::new(bot.0.stdout.take().expect("stdout"));
    let mut tell = bot.0.stdin.take().expect("stdin");
    let mut next = || {
        let mut l = String::new();
        saw.read_line(&mut l).expect("the bot's line");
        l.trim_end().to_string()
    };
    assert_eq!(
        next(),
        "offered away-notify batch draft/chathistory echo-message message-tags multi-prefix server-time"
    );
    assert_eq!(next(), "ack message-tags server-time echo-message");
    assert_eq!(next(), "001 to bot");
    assert_eq!(next(), "told this server's room is #sockit: /join #sockit");
    assert_eq!(next(), "joined #sockit as bot");
    assert_eq!(next(), "names bot nancy wendy");
    assert_eq!(nancy.line(), "* bot joined");

    // A line client and a browser speak; the bot hears both, with their time.
    nancy.send("hello irc");
    writeln!(tell, "WAIT hello irc").expect("tell");
    assert_eq!(next(), "timed :nancy!~line@sockit PRIVMSG #sockit :hello irc");
    wendy.write_all(b"from the web\n").expect("say");
    writeln!(tell, "WAIT from the web").expect("tell");
    assert_eq!(next(), "timed :wendy!~web@sockit PRIVMSG #sockit :from the web");
    assert_eq!(nancy.line(), "<wendy> from the web");

    // The bot speaks: its words come back to it (echo-message), formatting left out for the
    // others; an action, and a private message.
    writeln!(tell, "PRIVMSG #sockit :hi \x02all\x02\nWAIT hi all").expect("tell");
    assert_eq!(next(), "timed :bot!~botu@sockit PRIVMSG #sockit :hi all");
    writeln!(tell, "PRIVMSG #sockit :\x01ACTION waves\x01\nPRIVMSG nancy :psst\nWAIT PRIVMSG nancy").expect("tell");
    assert_eq!(next(), "timed :bot!~botu@sockit PRIVMSG nancy psst");
    nancy.send("/msg bot back at you");
    writeln!(tell, "WAIT back at you").expect("tell");
    assert_eq!(next(), "timed :nancy!~line@sockit PRIVMSG bot :back at you");
    writeln!(tell, "QUIT :done").expect("tell");
    drop(tell);
    assert_eq!(next(), "done");
    let heard: Vec<String> = (0..5).map(|_| nancy.line()).collect();
    assert_eq!(heard, ["<bot> hi all", "** bot waves", "*bot* psst", "* sent to bot only", "* bot left (quit: done)"]);
    let mut l = String::new();
    let mut web = Vec::new();
    while !web.iter().any(|l: &String| l.contains("bot left")) {
        l.clear();
        wendy_hears.read_line(&mut l).expect("wendy hears");
        web.push(l.trim_end().to_string());
    }
    let from_bot: Vec<&String> = web.iter().filter(|l| l.contains("bot")).collect();
    assert_eq!(from_bot, ["* bot joined", "<bot> hi all", "** bot waves", "* bot left (quit: done)"]);
}

#[test]
fn irc_input_gets_the_bounds_line_clients_get() {
    let server = Server::start(&["--rate", "5"]);
    let mut nancy = Client::join(&server, "nancy");

    // Registration: a CR alone ends a line; a taken nick, a bad nick, commands before it.
    let mut cr = Irc::connect(&server);
    cr.send("NICK nancy\rWHO\rNICK 9lives\rNICK carol\rUSER c 0 * :C\r");
    assert_eq!(cr.line(), ":sockit 433 * nancy :Nickname is already in use");
    assert_eq!(cr.line(), ":sockit 451 * :You have not registered");
    assert_eq!(cr.line(), ":sockit 432 * 9lives :Erroneous nickname");
    assert_eq!(cr.line(), ":sockit 001 carol :Welcome to the sockit IRC network, carol");
    // Registered, carol waits in the lobby: the room is not told, and she may not speak there.
    cr.until("/join #sockit");
    cr.send("PRIVMSG #sockit :too soon\rJOIN #sockit\r");
    assert_eq!(cr.line(), ":sockit 404 carol #sockit :Cannot send to channel (JOIN #sockit first)");
    assert_eq!(cr.line(), ":carol!~c@sockit JOIN #sockit");
    assert_eq!(cr.line(), ":sockit 353 carol = #sockit :carol nancy");
    cr.until(" 366 ");
    assert_eq!(nancy.line(), "* carol joined");

    // Over 512 bytes, over 8 KiB of tags: refused with 417, nothing said.
    cr.send(&format!("PRIVMSG #sockit :{}\r\n", "x".repeat(600)));
    assert_eq!(cr.line(), ":sockit 417 carol :Input line was too long");
    cr.send(&format!("@{} PRIVMSG #sockit :tagged\r\n", "a".repeat(9000)));
    assert_eq!(cr.line(), ":sockit 417 carol :Input line was too long");
    // A NUL, a CTCP that is no action, escapes: nothing said, or said escaped.
    cr.send("PRIVMSG #sockit :a\0b\r\nPRIVMSG #sockit :\x01VERSION\x01\r\nPRIVMSG #sockit :\x1b[2Jclear\r\n");
    assert_eq!(nancy.line(), "<carol> \\u{1b}[2Jclear");
    // No channel of that name may be (a NOTICE to one there is not is not answered: a NOTICE
    // never is); an unknown command is named.
    cr.send("JOIN #bad:name\r\nNOTICE #nowhere :psst\r\nFROB x\r\n");
    assert_eq!(cr.line(), ":sockit 403 carol #bad:name :No such channel (not a channel name)");
    assert_eq!(cr.line(), ":sockit 421 carol FROB :Unknown command");

    // A flood: the room's rate (5 lines a second) holds, and the speaker is told once (after
    // a second that fills its allowance again).
    std::thread::sleep(Duration::from_millis(1200));
    let flood: String = (0..50).map(|i| format!("PRIVMSG #sockit :flood {i}\r\n")).collect();
    cr.send(&flood);
    assert_eq!(cr.line(), ":sockit NOTICE carol :slow down: at most 5 lines a second");
    cr.send("PING :x\r\n");
    assert_eq!(cr.line(), ":sockit PONG sockit x");
    nancy.send("/who");
    let mut got = Vec::new();
    loop {
        let l = nancy.line();
        if l.starts_with("* online") {
            break;
        }
        got.push(l);
    }
    assert!((5..=6).contains(&got.len()) && got[0] == "<carol> flood 0", "{got:?}");
}

#[test]
fn the_history_comes_to_irc_members_with_its_times_and_answers_chathistory() {
    let server = Server::start(&["--history", "3"]);
    let mut nancy = Client::join(&server, "nancy");
    // (Two reads, some milliseconds apart: lines of one read share their time.)
    nancy.send("one\ntwo");
    std::thread::sleep(Duration::from_millis(30));
    nancy.send("three\nfour");
    nancy.send("/who");
    nancy.until(|l| l.starts_with("* online"));
    let mut h = Irc::connect(&server);
    h.send(
        "CAP LS 302\r\nNICK hal\r\nUSER hal 0 * :Hal\r\nCAP REQ :server-time batch draft/chathistory\r\nCAP END\r\n\
         JOIN #sockit\r\n",
    );
    h.until(" 366 ");
    assert_eq!(h.line().split_once(' ').map(|(_, rest)| rest), Some(":sockit NOTICE hal :the last 3 lines said here:"));
    let replayed: Vec<String> = (0..3).map(|_| h.line()).collect();
    let time =
        |l: &str| l.strip_prefix("@time=").and_then(|t| t.split_once(' ')).map(|(t, rest)| (t.len(), rest.to_string()));
    for (l, text) in replayed.iter().zip(["two", "three", "four"]) {
        assert_eq!(time(l), Some((24, format!(":nancy!~line@sockit PRIVMSG #sockit {text}"))), "{l}");
    }
    // The last two by CHATHISTORY, in a batch; before the second's time, the first.
    h.send("CHATHISTORY LATEST #sockit * 2\r\n");
    let open = h.line();
    let id = open.split(' ').nth(2).and_then(|b| b.strip_prefix('+')).expect("a batch").to_string();
    assert_eq!(open, format!(":sockit BATCH +{id} chathistory #sockit"));
    let two: Vec<String> = (0..2).map(|_| h.line()).collect();
    assert_eq!(h.line(), format!(":sockit BATCH -{id}"));
    let texts: Vec<&str> = two.iter().filter_map(|l| l.rsplit(' ').next()).collect();
    assert_eq!(texts, ["three", "four"]);
    assert!(two.iter().all(|l| l.starts_with(&format!("@batch={id};time="))), "{two:?}");
    let stamp = two[0].split(['=', ' ']).nth(2).expect("a time").to_string();
    h.send(&format!("CHATHISTORY BEFORE #sockit timestamp={stamp} 10\r\nCHATHISTORY LATEST #elsewhere * 1\r\n"));
    h.until(" BATCH +");
    assert!(h.line().ends_with(" PRIVMSG #sockit two"));
    h.until(" BATCH -");
    assert_eq!(h.line(), ":sockit FAIL CHATHISTORY INVALID_TARGET LATEST :only the room's channel has a history");
}

#[test]
fn an_irc_member_talks_with_members_on_other_servers_of_a_cluster() {
    let Some(broker) = crate::cluster::Broker::start(&[]) else { return };
    let url = broker.url();
    let (a, _console_a) = crate::cluster::member_server(&url, "a", &[]);
    let (b, _console_b) = crate::cluster::member_server(&url, "b", &[]);
    let mut bob = Client::join(&b, "bob");
    // (Once a has heard of bob.)
    let mut al = Client::join(&a, "al");
    let want = "* online (2): al (a), bob (b)";
    assert_eq!(crate::cluster::who_until(&mut al, want), want);
    al.send("/quit");
    bob.until(|l| l.starts_with("* al left"));
    let mut ivan = Irc::connect(&a);
    ivan.send("NICK bob\r\nNICK ivan\r\nUSER ivan 0 * :Ivan\r\nJOIN #sockit\r\n");
    assert_eq!(ivan.line(), ":a 433 * bob :Nickname is already in use", "bob is held on b");
    let names = ivan.until(" 353 ");
    assert_eq!(names, ":a 353 ivan = #sockit :ivan bob");
    bob.until(|l| l == "* ivan joined");
    ivan.send("PRIVMSG #sockit :hello b\r\n");
    assert_eq!(bob.line(), "<ivan> hello b");
    bob.send("hello a");
    assert_eq!(ivan.until("PRIVMSG"), ":bob!~u@a PRIVMSG #sockit :hello a");
    bob.send("/msg ivan psst");
    assert_eq!(ivan.until("PRIVMSG"), ":bob!~u@a PRIVMSG ivan psst");
    ivan.send("WHOIS bob\r\nWHO #sockit\r\n");
    assert_eq!(ivan.line(), ":a 311 ivan bob ~u a * :a member on b");
    ivan.until(" 318 ");
    let mut who = vec![ivan.line(), ivan.line()];
    who.sort();
    assert_eq!(
        who,
        [":a 352 ivan #sockit ~ivan a a ivan H :0 Ivan", ":a 352 ivan #sockit ~u a b bob H :0 a member on b"]
    );
    assert_eq!(ivan.line(), ":a 315 ivan #sockit :End of /WHO list.");
    bob.send("/nick robert");
    assert_eq!(ivan.until("NICK"), ":bob!~u@a NICK robert");
    bob.send("/quit lunch");
    assert_eq!(ivan.until("PART"), ":robert!~u@a PART #sockit :quit: lunch");
}

#[test]
fn an_irc_member_that_never_reads_is_cut_and_nobody_waits_long() {
    let s = Server::start(&[]);
    let mut stalled = crate::chat::small_window(&s);
    stalled.write_all(b"NICK sloth\r\nUSER s 0 * :S\r\nJOIN #sockit\r\n").expect("register");
    let mut watcher = Client::join(&s, "watcher");
    let mut sender = Client::join(&s, "sender");
    let line = format!("{}\n", "y".repeat(199));
    let ten_mb: String = line.repeat(50_000);
    let start = Instant::now();
    let mut w = sender.w.try_clone().expect("clone");
    let writer = std::thread::spawn(move || w.write_all(ten_mb.as_bytes()).expect("send"));
    // The watcher, reading all along, loses nothing: every line comes, and the notice.
    let (mut said, mut left) = (0, None);
    while said < 50_000 || left.is_none() {
        let l = watcher.line();
        assert!(!l.is_empty(), "the watcher was cut after {said} lines");
        if l.starts_with("<sender> ") {
            said += 1;
        } else if l.starts_with("* sloth left") {
            left = Some(l);
        }
    }
    writer.join().expect("writer");
    assert_eq!(
        left.as_deref(),
        Some("* sloth left (disconnected: not reading: its outgoing queue stayed full for 2 s)")
    );
    assert!(start.elapsed() < Duration::from_secs(30));
    sender.send("/who");
    let who = sender.until(|l| l.starts_with("* online"));
    assert_eq!(who, "* online (2): sender, watcher");
}

#[test]
fn without_the_web_irc_is_still_told_apart_a_silent_line_client_welcomed_and_the_server_named() {
    let server = Server::start(&["--no-web", "--max-line", "100", "--irc-name", "irc.lab.test"]);
    let mut quiet = server.connect();
    let welcome = quiet.line();
    assert!(welcome.starts_with("* welcome to sockit, you are guest-1;"), "{welcome}");
    let mut ida = Irc::connect(&server);
    ida.send("NICK ida\r\nUSER ida 0 * :Ida\r\nJOIN #sockit\r\n");
    assert_eq!(ida.line(), ":irc.lab.test 001 ida :Welcome to the sockit IRC network, ida");
    ida.until(" 366 ");
    assert_eq!(quiet.line(), "* ida joined");
    // The room's --max-line holds for IRC's text: over it, 417 and nothing said.
    ida.send(&format!("PRIVMSG #sockit :{}\r\nPRIVMSG #sockit :short\r\n", "x".repeat(101)));
    assert_eq!(ida.line(), ":irc.lab.test 417 ida :Input line was too long");
    assert_eq!(quiet.line(), "<ida> short");
}

#[test]
fn part_steps_out_to_the_lobby_keeping_the_nick_and_join_comes_back() {
    let server = Server::start(&[]);
    let mut nancy = Client::join(&server, "nancy");
    let mut pat = Irc::connect(&server);
    pat.send("NICK pat\r\nUSER pat 0 * :Pat\r\nJOIN #sockit\r\n");
    pat.until(" 366 ");
    assert_eq!(nancy.line(), "* pat joined");
    pat.send("PART #sockit :brb\r\n");
    assert_eq!(pat.line(), ":pat!~pat@sockit PART #sockit brb");
    assert_eq!(nancy.line(), "* pat left (brb)");
    // Out of the room: its lines do not reach pat, a private message does, the nick is held.
    nancy.send("while you were out");
    nancy.send("/msg pat still there?");
    assert_eq!(pat.line(), ":nancy!~line@sockit PRIVMSG pat :still there?");
    nancy.send("/nick pat");
    assert_eq!(nancy.until(|l| l.starts_with("* the nick")), "* the nick pat is taken: choose another");
    pat.send("PART #sockit\r\nWHOIS pat\r\n");
    assert_eq!(pat.line(), ":sockit 442 pat #sockit :You're not on that channel");
    assert_eq!(pat.line(), ":sockit 311 pat pat ~pat sockit * Pat");
    assert_eq!(pat.line(), ":sockit 312 pat pat sockit sockit", "no channel: in the lobby");
    pat.until(" 318 ");
    pat.send("JOIN #sockit\r\n");
    assert_eq!(pat.line(), ":pat!~pat@sockit JOIN #sockit");
    assert_eq!(pat.line(), ":sockit 353 pat = #sockit :pat nancy");
    assert_eq!(nancy.line(), "* pat joined");
    nancy.send("welcome back");
    assert_eq!(pat.until("PRIVMSG"), ":nancy!~line@sockit PRIVMSG #sockit :welcome back");
}

#[test]
fn away_who_and_renames_answer_for_members_in_the_lobby_too() {
    let server = Server::start(&[]);
    let mut empty = Irc::connect(&server);
    empty.send("NICK em\r\nUSER em 0 * :\r\n");
    assert_eq!(empty.line(), ":sockit 461 em USER :Not enough parameters", "an empty real name");
    let mut a = Irc::connect(&server);
    a.send("NICK aa\r\nUSER aa 0 * :Ann A\r\n");
    a.until("/join");
    let mut b = Irc::connect(&server);
    b.send("NICK bb\r\nUSER bb 0 * :Bob B\r\nJOIN #sockit\r\n");
    b.until(" 366 ");
    a.send("NICK Aa\r\nAWAY :out to lunch\r\n");
    assert_eq!(a.line(), ":aa!~u@sockit NICK Aa", "a rename in the lobby is told to its member");
    assert_eq!(a.line(), ":sockit 306 Aa :You have been marked as being away");
    b.send("PRIVMSG Aa :lunch?\r\nUSERHOST Aa\r\nWHO *\r\n");
    assert_eq!(b.line(), ":sockit 301 bb Aa :out to lunch");
    assert_eq!(b.line(), ":sockit 302 bb Aa=-~aa@sockit");
    let mut who = vec![b.line(), b.line()];
    who.sort();
    assert_eq!(
        who,
        [":sockit 352 bb #sockit ~bb sockit sockit bb H :0 Bob B", ":sockit 352 bb * ~aa sockit sockit Aa G :0 Ann A"]
    );
    assert_eq!(b.line(), ":sockit 315 bb * :End of /WHO list.");
    assert_eq!(a.line(), ":bb!~bb@sockit PRIVMSG Aa lunch?");
}

#[test]
fn of_two_clients_registering_one_nick_at_once_one_is_welcomed_and_the_other_told_433() {
    let server = Server::start(&[]);
    // The first line of a registration's outcome: 001 (welcomed) or 433 (the nick is taken).
    let outcome = |c: &mut Irc| loop {
        let l = c.line();
        assert!(!l.is_empty(), "closed while registering");
        if let Some(code) = [" 001 ", " 433 "].iter().find(|code| l.contains(*code)) {
            return (code.trim().to_string(), l);
        }
    };
    for round in 0..10 {
        let nick = format!("twin{round}");
        let mut pair = [Irc::connect(&server), Irc::connect(&server)];
        // Both ask for the nick while neither holds it; then both finish registering.
        for c in &mut pair {
            c.send(&format!("NICK {nick}\r\n"));
        }
        std::thread::sleep(Duration::from_millis(50));
        for c in &mut pair {
            c.send("USER twin 0 * :Twin\r\n");
        }
        let got = pair.each_mut().map(&outcome);
        let mut codes = [got[0].0.as_str(), got[1].0.as_str()];
        codes.sort_unstable();
        assert_eq!(codes, ["001", "433"], "round {round}: {got:?}");
        // The one told 433 registers on under another nick and is welcomed as that.
        let (refused, _) = if got[0].0 == "433" { (0, 1) } else { (1, 0) };
        assert_eq!(got[refused].1, format!(":sockit 433 * {nick} :Nickname is already in use"));
        pair[refused].send(&format!("NICK {nick}-2\r\n"));
        assert_eq!(
            outcome(&mut pair[refused]).1,
            format!(":sockit 001 {nick}-2 :Welcome to the sockit IRC network, {nick}-2")
        );
    }
}

/// An IRC member registered as `nick` (USER `nick`), its welcome read.
fn registered(server: &Server, nick: &str) -> Irc {
    let mut c = Irc::connect(server);
    c.send(&format!("NICK {nick}\r\nUSER {nick} 0 * :{nick}\r\n"));
    c.until("/join");
    c
}

#[test]
fn irc_channels_of_their_own_have_operators_modes_kicks_invites_and_topics() {
    let server = Server::start(&[]);
    let (mut a, mut b, mut c) = (registered(&server, "a"), registered(&server, "b"), registered(&server, "c"));
    // The first in is its operator; the others are told of each JOIN.
    a.send("JOIN #ops\r\n");
    assert_eq!(a.line(), ":a!~a@sockit JOIN #ops");
    assert_eq!(a.line(), ":sockit 353 a = #ops @a");
    assert_eq!(a.line(), ":sockit 366 a #ops :End of /NAMES list.");
    b.send("JOIN #ops\r\n");
    assert_eq!(b.line(), ":b!~b@sockit JOIN #ops");
    assert_eq!(b.line(), ":sockit 353 b = #ops :@a b");
    b.until(" 366 ");
    assert_eq!(a.line(), ":b!~b@sockit JOIN #ops");
    // A key keeps out who does not give it.
    a.send("MODE #ops +k beer\r\n");
    assert_eq!(a.line(), ":a!~a@sockit MODE #ops +k beer");
    assert_eq!(b.line(), ":a!~a@sockit MODE #ops +k beer");
    c.send("JOIN #ops\r\nJOIN #ops bees\r\nJOIN #ops beer\r\n");
    assert_eq!(c.line(), ":sockit 475 c #ops :Cannot join channel (+k)");
    assert_eq!(c.line(), ":sockit 475 c #ops :Cannot join channel (+k)");
    assert_eq!(c.line(), ":c!~c@sockit JOIN #ops");
    c.until(" 366 ");
    a.until("JOIN");
    b.until("JOIN");
    // Words reach the others (not the speaker, who has no echo-message); +m silences who is
    // not voiced, +v gives a voice back.
    b.send("PRIVMSG #ops :hello all\r\n");
    assert_eq!(a.line(), ":b!~b@sockit PRIVMSG #ops :hello all");
    assert_eq!(c.line(), ":b!~b@sockit PRIVMSG #ops :hello all");
    b.send("MODE #ops +m\r\n");
    assert_eq!(b.line(), ":sockit 482 b #ops :You're not channel operator");
    a.send("MODE #ops +m\r\n");
    assert_eq!(b.line(), ":a!~a@sockit MODE #ops +m");
    b.send("PRIVMSG #ops :hush?\r\n");
    assert_eq!(b.line(), ":sockit 404 b #ops :Cannot send to channel");
    a.send("MODE #ops +v b\r\nMODE #ops\r\n");
    assert_eq!(a.line(), ":a!~a@sockit MODE #ops +m");
    assert_eq!(a.line(), ":a!~a@sockit MODE #ops +v b");
    assert_eq!(a.line(), ":sockit 324 a #ops +kmnt beer");
    assert!(a.line().starts_with(":sockit 329 a #ops "));
    assert_eq!(b.line(), ":a!~a@sockit MODE #ops +v b");
    b.send("PRIVMSG #ops :voiced\r\n");
    assert_eq!(c.until("PRIVMSG"), ":b!~b@sockit PRIVMSG #ops voiced");
    // A kick: everyone told, the kicked out (+n: it may not speak in from outside).
    a.send("KICK #ops c :out you go\r\n");
    assert_eq!(a.until("KICK"), ":a!~a@sockit KICK #ops c :out you go");
    assert_eq!(c.until("KICK"), ":a!~a@sockit KICK #ops c :out you go");
    assert_eq!(b.until("KICK"), ":a!~a@sockit KICK #ops c :out you go");
    c.send("PRIVMSG #ops :let me in\r\n");
    assert_eq!(c.line(), ":sockit 404 c #ops :Cannot send to channel");
    // Invite only: an invitation lets c back in (the key is still asked for).
    a.send("MODE #ops +i\r\n");
    a.line();
    b.line();
    c.send("JOIN #ops beer\r\n");
    assert_eq!(c.line(), ":sockit 473 c #ops :Cannot join channel (+i)");
    a.send("INVITE c #ops\r\n");
    assert_eq!(a.line(), ":sockit 341 a c #ops");
    assert_eq!(c.line(), ":a!~a@sockit INVITE c #ops");
    c.send("JOIN #ops beer\r\n");
    assert_eq!(c.line(), ":c!~c@sockit JOIN #ops");
    assert_eq!(c.line(), ":sockit 353 c = #ops :@a +b c");
    c.until(" 366 ");
    assert_eq!(b.line(), ":c!~c@sockit JOIN #ops");
    a.line();
    // A topic, set by its operator under +t, told to everyone and to who joins.
    b.send("TOPIC #ops :mine now\r\n");
    assert_eq!(b.line(), ":sockit 482 b #ops :You're not channel operator");
    a.send("TOPIC #ops :the plans\r\n");
    assert_eq!(c.line(), ":a!~a@sockit TOPIC #ops :the plans");
    c.send("TOPIC #ops\r\n");
    assert_eq!(c.line(), ":sockit 332 c #ops :the plans");
    assert!(c.line().starts_with(":sockit 333 c #ops a!~a@sockit "));
    // A new nick and a QUIT reach those who share a channel, none of them in the room.
    b.send("NICK bee\r\n");
    assert_eq!(b.until("NICK"), ":b!~u@sockit NICK bee");
    assert_eq!(c.line(), ":b!~b@sockit NICK bee");
    c.send("QUIT :gone fishing\r\n");
    assert_eq!(a.until("QUIT"), ":c!~c@sockit QUIT :quit: gone fishing");
    assert_eq!(b.until("QUIT"), ":c!~c@sockit QUIT :quit: gone fishing");
    // WHOIS names the channel with its prefix; LIST has it (the room, empty, is not listed).
    b.send("WHOIS a\r\nLIST\r\n");
    assert_eq!(b.until(" 319 "), ":sockit 319 bee a @#ops");
    assert_eq!(b.until(" 322 "), ":sockit 322 bee #ops 2 :the plans");
    assert_eq!(b.line(), ":sockit 323 bee :End of /LIST");
    // The last out takes the channel away: joining it again makes a new one.
    b.send("PART #ops\r\n");
    assert_eq!(b.until("PART"), ":bee!~b@sockit PART #ops");
    a.send("PART #ops :bye\r\nJOIN #ops\r\n");
    assert_eq!(a.until("PART"), ":bee!~b@sockit PART #ops");
    assert_eq!(a.line(), ":a!~a@sockit PART #ops bye");
    assert_eq!(a.line(), ":a!~a@sockit JOIN #ops");
    assert_eq!(a.line(), ":sockit 353 a = #ops @a");
}

#[test]
fn channels_hold_to_their_bounds() {
    let server = Server::start(&[]);
    let mut a = registered(&server, "a");
    // Twenty channels a member; a ban list of a hundred; a key of 23 characters; no NUL.
    let joins: String = (0..21).map(|i| format!("JOIN #c{i}\r\n")).collect();
    a.send(&joins);
    assert_eq!(a.until(" 405 "), ":sockit 405 a #c20 :You have joined too many channels");
    let bans: String = (0..101).map(|i| format!("MODE #c0 +b n{i}\r\n")).collect();
    a.send(&bans);
    assert_eq!(a.until(" 478 "), ":sockit 478 a #c0 n100!*@* :Channel list is full");
    a.send(&format!("MODE #c0 +k {}\r\nMODE #c0 +l x\r\nMODE #c0 +Z\r\n", "k".repeat(24)));
    assert_eq!(a.line(), ":sockit 696 a #c0 k * :Invalid key (1 to 23 characters, no spaces)");
    assert_eq!(a.line(), ":sockit 696 a #c0 l * :Invalid limit");
    assert_eq!(a.line(), ":sockit 472 a Z :is unknown mode char to me");
    a.send(&format!("TOPIC #c0 :{}\r\nTOPIC #c0\r\n", "t".repeat(450)));
    a.until("TOPIC");
    assert_eq!(a.line(), format!(":sockit 332 a #c0 {}", "t".repeat(390)));
    // A message long enough that its source makes it over 512 bytes: split, nothing lost.
    let mut b = registered(&server, "b");
    b.send("JOIN #c0\r\n");
    b.until(" 366 ");
    let long = "w".repeat(495);
    a.send(&format!("PRIVMSG #c0 :{long}\r\n"));
    let (first, second) = (b.until("PRIVMSG"), b.line());
    let got: String = [first, second]
        .iter()
        .map(|l| l.rsplit(' ').next().expect("text").trim_start_matches(':').to_string())
        .collect();
    assert_eq!(got, long);
}

#[test]
fn channel_lines_carry_their_time_and_what_others_are_told_of_counts_against_the_rate() {
    let server = Server::start(&["--rate", "5"]);
    let mut a = registered(&server, "a");
    let mut t = Irc::connect(&server);
    t.send("CAP LS 302\r\nNICK t\r\nUSER t 0 * :t\r\nCAP REQ :server-time\r\nCAP END\r\nJOIN #c\r\n");
    t.until(" 366 ");
    a.send("JOIN #c\r\n");
    let joined = t.until("JOIN");
    assert!(joined.starts_with("@time=20") && joined.ends_with("Z :a!~a@sockit JOIN #c"), "{joined}");
    a.until(" 366 ");
    std::thread::sleep(Duration::from_millis(1200));
    a.send("PRIVMSG #c :tick tock\r\n");
    let said = t.line();
    assert!(said.starts_with("@time=") && said.ends_with(" :a!~a@sockit PRIVMSG #c :tick tock"), "{said}");
    // JOIN and PART, over and over: the room's rate (5 a second) holds them as it holds lines.
    std::thread::sleep(Duration::from_millis(1200));
    let churn: String = (0..20).map(|_| "PART #c\r\nJOIN #c\r\n").collect();
    a.send(&churn);
    assert_eq!(a.until("slow down"), ":sockit NOTICE a :slow down: at most 5 lines a second");
    a.send("PING :done\r\n");
    a.until("PONG");
    t.send("PING :done\r\n");
    let mut told = 0;
    loop {
        let l = t.line();
        if l.contains("PONG") {
            break;
        }
        told += usize::from(l.contains(" PART #c") || l.contains(" JOIN #c"));
    }
    assert!((4..=6).contains(&told), "{told} joins and parts passed the rate");
}

/// `openssl s_client` on the room's port: what it prints, and its stdin.
fn tls_client(server: &Server) -> (Proc, PipeLines, std::process::ChildStdin) {
    let mut p = Proc(
        Command::new("openssl")
            .args(["s_client", "-quiet", "-connect", &format!("127.0.0.1:{}", server.port)])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl"),
    );
    let out = PipeLines::new(p.0.stdout.take().expect("stdout"));
    let stdin = p.0.stdin.take().expect("stdin");
    (p, out, stdin)
}

#[test]
fn a_tls_room_takes_irc_over_tls() {
    if !have("openssl") {
        return;
    }
    let server = Server::start(&["--tls"]);
    let (_irc, mut heard, mut say) = tls_client(&server);
    say.write_all(b"NICK tess\r\nUSER tess 0 * :Tess\r\n").expect("register");
    let mut line = || {
        let mut l = String::new();
        heard.read_line(&mut l).expect("a line");
        l.trim_end().to_string()
    };
    assert_eq!(line(), ":sockit 001 tess :Welcome to the sockit IRC network, tess");
    say.write_all(b"JOIN #sockit\r\n").expect("join");
    while line() != ":tess!~tess@sockit JOIN #sockit" {}
    let (_nc, mut nancy, mut nancy_says) = tls_client(&server);
    let mut welcome = String::new();
    nancy.read_line(&mut welcome).expect("welcome");
    assert!(welcome.starts_with("* welcome to sockit, you are guest-"), "{welcome}");
    while line() != ":guest-1!~line@sockit JOIN #sockit" {}
    say.write_all(b"PRIVMSG #sockit :hello over TLS\r\n").expect("say");
    let mut said = String::new();
    nancy.read_line(&mut said).expect("said");
    assert_eq!(said.trim_end(), "<tess> hello over TLS");
    nancy_says.write_all(b"and back\n").expect("say");
    assert_eq!(line(), ":guest-1!~line@sockit PRIVMSG #sockit :and back");
}

/// A terminal program in a tmux session of its own, killed at the end. When it fails to show
/// what it should, the failure says what there is: its screen, its IRC logs (in `logs`), and
/// what the chat server said on stderr (`server`).
struct Tmux {
    name: String,
    logs: Option<std::path::PathBuf>,
    server: std::cell::RefCell<crate::util::PipeLines>,
}

impl Tmux {
    fn start(name: &str, command: &str, server: crate::util::PipeLines, logs: Option<std::path::PathBuf>) -> Tmux {
        let ok = Command::new("tmux")
            .args(["new-session", "-d", "-s", name, "-x", "200", "-y", "50", command])
            .status()
            .expect("tmux");
        assert!(ok.success(), "tmux new-session");
        Tmux { name: name.to_string(), logs, server: std::cell::RefCell::new(server) }
    }

    fn keys(&self, text: &str) {
        let ok = Command::new("tmux").args(["send-keys", "-t", &self.name, "-l", text]).status().expect("tmux");
        assert!(ok.success());
        let ok = Command::new("tmux").args(["send-keys", "-t", &self.name, "Enter"]).status().expect("tmux");
        assert!(ok.success());
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux").args(["capture-pane", "-p", "-t", &self.name]).output().expect("tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Wait (20 s at most) for the screen to show `what`.
    fn shows(&self, what: &str) {
        self.shows_any(&[what]);
    }

    /// Wait (20 s at most) for the screen to show one of `any`.
    fn shows_any(&self, any: &[&str]) {
        let end = Instant::now() + Duration::from_secs(20);
        while Instant::now() < end {
            let screen = self.screen();
            if any.iter().any(|w| screen.contains(w)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let mut why = format!("none of {any:?} showed; the screen:\n{}", self.screen());
        let mut logs: Vec<_> = self
            .logs
            .iter()
            .filter_map(|d| std::fs::read_dir(d).ok())
            .flatten()
            .filter_map(|e| Some(e.ok()?.path()))
            .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("irc.")))
            .collect();
        logs.sort();
        for log in logs {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            why += &format!("\n{}:\n{text}", log.display());
        }
        why += &format!("\nthe server's stderr:\n{}", self.server.borrow_mut().so_far());
        panic!("{why}");
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["kill-session", "-t", &self.name]).stderr(Stdio::null()).status();
    }
}

/// A person at an IRC client: joins, talks with a line client, sends a private message,
/// asks WHOIS (`whois_at`: the keys that show where the client puts its answer, and back),
/// quits; the line client sees each step.
fn a_person_at(client: &Tmux, nancy: &mut Client, nick: &str, whois_at: (&str, &str)) {
    // Told the channel to join, or joined already (WeeChat's -autojoin).
    client.shows_any(&["/join #sockit", "has joined #sockit"]);
    client.keys("/join #sockit");
    client.shows("has joined #sockit");
    assert_eq!(nancy.line(), format!("* {nick} joined"));
    client.keys(&format!("hello from {nick}"));
    assert_eq!(nancy.line(), format!("<{nick}> hello from {nick}"));
    nancy.send(&format!("hi {nick}, nancy here"));
    client.shows(&format!("hi {nick}, nancy here"));
    client.keys("/whois nancy");
    client.keys(whois_at.0);
    client.shows("a line member");
    client.keys(whois_at.1);
    client.keys("/msg nancy just between us");
    assert_eq!(nancy.line(), format!("*{nick}* just between us"));
    client.keys("/quit see you");
    assert_eq!(nancy.line(), format!("* {nick} left (quit: see you)"));
}

#[test]
fn irssi_joins_talks_and_quits() {
    if !have("irssi") || !have("tmux") {
        return;
    }
    let server = Server::start(&[]);
    let mut nancy = Client::join(&server, "nancy");
    let home = tempfile::tempdir().expect("home");
    let cmd = format!("irssi --home={} --connect=127.0.0.1 --port={} --nick=ivy", home.path().display(), server.port);
    let irssi = Tmux::start(&format!("sockit-irssi-{}", server.port), &cmd, server.stderr, None);
    a_person_at(&irssi, &mut nancy, "ivy", ("/window 1", "/window 2"));
}

#[test]
fn weechat_joins_talks_and_quits() {
    if !have("weechat") || !have("tmux") {
        return;
    }
    let server = Server::start(&[]);
    let mut nancy = Client::join(&server, "nancy");
    let home = tempfile::tempdir().expect("home");
    // (Its logs written as they come, for a failure to show.)
    let run = format!(
        "/set logger.file.flush_delay 0;/server add room 127.0.0.1/{} -notls -nicks=wee -autojoin=#sockit;/connect room",
        server.port
    );
    let cmd = format!("weechat --dir {} --run-command '{run}'", home.path().display());
    let weechat =
        Tmux::start(&format!("sockit-weechat-{}", server.port), &cmd, server.stderr, Some(home.path().join("logs")));
    a_person_at(&weechat, &mut nancy, "wee", ("/buffer 1", "/buffer #sockit"));
}
