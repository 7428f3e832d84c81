//! Messages from the other servers of a chat cluster, as the broker hands them over: a
//! message parses or is refused; what parses is safe to show (no control character in a text
//! or a nick) and comes back the same when written out and read again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockit_core::cluster::{Body, Message};

fuzz_target!(|data: &[u8]| {
    let Ok(m) = Message::parse(data) else { return };
    let texts: Vec<&str> = match &m.body {
        Body::Said { nick, text } | Body::Action { nick, text } => vec![nick, text],
        Body::Private { from, to, text } => vec![from, to, text],
        Body::Left { nicks, reason } => nicks.iter().map(String::as_str).chain(reason.as_deref()).collect(),
        Body::Joined { members } | Body::Presence { members, .. } => members.iter().map(|c| c.nick.as_str()).collect(),
        Body::Renamed { old, new } => vec![old, &new.nick],
    };
    for t in texts.into_iter().chain([m.node.as_str()]) {
        assert!(!t.chars().any(|c| c.is_control()), "{t:?}");
    }
    assert_eq!(Message::parse(&m.to_bytes()).as_ref(), Ok(&m));
});
