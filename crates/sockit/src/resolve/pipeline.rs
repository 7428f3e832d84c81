//! Many names from one server over UDP or one TLS connection (`carrier`), as dnsperf and
//! massdns ask them: every question in flight together (up to the window), each reply matched
//! to its question by id and question, each unanswered question sent again once its try's
//! timeout is up, and the answers handed back in input order. One thread; no thread, socket or
//! socket option a question. A truncated answer is asked again over TCP, as a single lookup
//! does.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::time::Instant;

use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;

use super::carrier::{Carrier, Got};
use super::plain;
use super::stream::{Transport, exchange_tcp, io_transport};
use super::wire::{
    DnsAnswer, DnsConfig, answered, family_types, fqdn_name, interpret_for, merge_families, query, question_part,
    transport_error,
};
use super::{Answer, Families, ResolveError};

/// Answers held for the names after one not yet answered, at most: past this many, no new
/// question is asked until it is (memory stays bounded behind a slow name).
const AHEAD: usize = 16 * 1024;

/// What is asked of every name.
#[derive(Debug, Clone, Copy)]
pub(super) enum Asking {
    /// Records of one type (not a zone transfer).
    Type(RecordType),
    /// Addresses of these families (A and AAAA asked together, their answers merged).
    Addresses(Families),
}

/// A question in flight.
struct Flight {
    item: usize,
    /// Which of the types asked.
    which: usize,
    wire: Vec<u8>,
    /// Tries sent so far.
    tries: u32,
}

/// One run: the names, what is in flight, and the answers not yet handed back.
struct Run<'a> {
    cfg: &'a DnsConfig,
    server: SocketAddr,
    items: &'a [String],
    asking: Asking,
    types: Vec<RecordType>,
    flights: HashMap<u16, Flight>,
    /// Questions to send (new ones, and tries whose time was up).
    unsent: VecDeque<u16>,
    /// (end of the try, id, which try): every try has the same timeout, so the earliest first.
    deadlines: VecDeque<(Instant, u16, u32)>,
    /// Each name's answers a type at a time, until it has them all.
    partial: HashMap<usize, Vec<Option<Result<DnsAnswer, ResolveError>>>>,
    /// The results from `emitted` on, in input order (None: not yet).
    results: VecDeque<Option<Result<Answer, ResolveError>>>,
    emitted: usize,
    ids: Ids,
    /// The questions are plain (no options asked): written and read by hand.
    plain: bool,
}

/// Ask the server `carrier` goes to about every name of `items`, `window` questions in
/// flight at most (`early` answers a name that needs no question: an address); each name's
/// result to `done` in input order. An error from `done` stops the run.
pub(super) fn lookup_all(
    cfg: &DnsConfig,
    carrier: &mut dyn Carrier,
    items: &[String],
    asking: Asking,
    window: usize,
    early: &dyn Fn(&str) -> Option<Result<Answer, ResolveError>>,
    done: &mut dyn FnMut(usize, Result<Answer, ResolveError>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let types = match asking {
        Asking::Type(t) => vec![t],
        Asking::Addresses(f) => family_types(f).to_vec(),
    };
    let window = window.max(types.len());
    let server = carrier.server();
    let mut run = Run {
        cfg,
        server,
        items,
        asking,
        types,
        flights: HashMap::with_capacity(window),
        unsent: VecDeque::new(),
        deadlines: VecDeque::new(),
        partial: HashMap::new(),
        results: VecDeque::new(),
        emitted: 0,
        ids: Ids::new(),
        plain: cfg.options.is_default(),
    };
    let mut next = 0;
    let mut buf = vec![0u8; 65535];
    while run.emitted < items.len() {
        while next < items.len() && run.flights.len() + run.types.len() <= window && next - run.emitted < AHEAD {
            run.ask(next, early);
            next += 1;
        }
        if let Err(e) = run.send(carrier) {
            run.fail_in_flight(&e);
        }
        while let Some(Some(_)) = run.results.front() {
            if let Some(Some(r)) = run.results.pop_front() {
                done(run.emitted, r)?;
            }
            run.emitted += 1;
        }
        if run.emitted == items.len() {
            break;
        }
        if run.flights.is_empty() {
            continue;
        }
        // Replies, waiting at most until the earliest try's end.
        let wait = run.deadlines.front().map_or(cfg.timeout, |&(d, _, _)| d.saturating_duration_since(Instant::now()));
        carrier.wait(wait);
        loop {
            match carrier.recv(&mut buf) {
                Ok(Got::Message(n)) => run.reply(&buf[..n]),
                Ok(Got::Failed(id, why)) => run.failed(id, why),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    run.fail_in_flight(&e);
                    break;
                }
            }
        }
        run.time_up(Instant::now());
    }
    Ok(())
}

impl Run<'_> {
    /// Put the questions for name `i` in flight, or its result if it needs none.
    fn ask(&mut self, i: usize, early: &dyn Fn(&str) -> Option<Result<Answer, ResolveError>>) {
        let name = &self.items[i];
        self.results.push_back(None);
        if let Some(r) = early(name) {
            return self.finish(i, r);
        }
        let mut wires = Vec::with_capacity(self.types.len());
        // Plain questions are written by hand (most are); any with options by hickory.
        let plain_name = if self.plain { plain::qname(name) } else { None };
        if let Some(qname) = plain_name {
            wires.extend(self.types.iter().map(|&t| plain::query(&qname, t)));
        } else {
            let fqdn = match fqdn_name(name) {
                Ok(n) => n,
                Err(e) => return self.finish(i, Err(e)),
            };
            for &rtype in &self.types {
                match query(name, &fqdn, rtype, &self.cfg.options) {
                    Ok((wire, _)) => wires.push(wire),
                    Err(e) => return self.finish(i, Err(e)),
                }
            }
        }
        self.partial.insert(i, wires.iter().map(|_| None).collect());
        for (which, mut wire) in wires.into_iter().enumerate() {
            let id = self.ids.fresh(&self.flights);
            wire[..2].copy_from_slice(&id.to_be_bytes());
            self.flights.insert(id, Flight { item: i, which, wire, tries: 0 });
            self.unsent.push_back(id);
        }
    }

    /// Send what waits to be sent, until the carrier takes no more.
    fn send(&mut self, carrier: &mut dyn Carrier) -> std::io::Result<()> {
        let now = Instant::now();
        while let Some(&id) = self.unsent.front() {
            let Some(f) = self.flights.get_mut(&id) else {
                self.unsent.pop_front();
                continue;
            };
            match carrier.send(&f.wire) {
                Ok(()) => {
                    self.unsent.pop_front();
                    f.tries += 1;
                    self.deadlines.push_back((now + self.cfg.timeout, id, f.tries));
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// A datagram from the server: the answer to the question it matches, if any (a stray or
    /// late one matches none and is passed over).
    fn reply(&mut self, reply: &[u8]) {
        if reply.len() < 12 {
            return;
        }
        let id = u16::from_be_bytes([reply[0], reply[1]]);
        let matches = self
            .flights
            .get(&id)
            .is_some_and(|f| reply[12..].starts_with(question_part(f.wire.get(12..).unwrap_or(&[]))));
        let Some(f) = matches.then(|| self.flights.remove(&id)).flatten() else { return };
        let (name, rtype, server) = (&self.items[f.item], self.types[f.which], self.server);
        // A plain reply to a plain question is read by hand (most are); any other by hickory.
        let by_hand = if self.plain { plain::answer(reply, rtype) } else { None };
        let answer = match by_hand {
            Some(records) => Ok(answered(name, rtype, server, false, records)),
            None => self.read(reply, f.item, f.which, &f.wire),
        };
        self.settle(f.item, f.which, answer);
    }

    /// A reply that is not plain, read by hickory (and asked again over TCP if truncated).
    fn read(&self, reply: &[u8], item: usize, which: usize, wire: &[u8]) -> Result<DnsAnswer, ResolveError> {
        let (name, rtype, server, cfg) = (&self.items[item], self.types[which], self.server, self.cfg);
        match Message::from_vec(reply) {
            Ok(m) if m.metadata.truncation => match exchange_tcp(server, wire, cfg.timeout) {
                Ok(m) => interpret_for(cfg, name, rtype, server, m, true),
                Err(e) => Err(transport_error(name, server, cfg, e)),
            },
            Ok(m) => interpret_for(cfg, name, rtype, server, m, false),
            Err(_) => Err(transport_error(name, server, cfg, Transport::Malformed)),
        }
    }

    /// The question `id` failed on its own, for the reason said.
    fn failed(&mut self, id: u16, why: String) {
        if let Some(f) = self.flights.remove(&id) {
            let e = transport_error(&self.items[f.item], self.server, self.cfg, Transport::Failed(why));
            self.settle(f.item, f.which, Err(e));
        }
    }

    /// Tries whose time is up by `now`: sent again, or failed once they have had every try.
    fn time_up(&mut self, now: Instant) {
        while let Some(&(end, id, tries)) = self.deadlines.front() {
            if end > now {
                break;
            }
            self.deadlines.pop_front();
            match self.flights.get(&id) {
                Some(f) if f.tries == tries && tries > self.cfg.retries => {
                    let f = self.flights.remove(&id).unwrap_or_else(|| unreachable!("just found"));
                    let e = transport_error(&self.items[f.item], self.server, self.cfg, Transport::TimedOut);
                    self.settle(f.item, f.which, Err(e));
                }
                Some(f) if f.tries == tries => self.unsent.push_back(id),
                _ => {}
            }
        }
    }

    /// The socket failed (a port that refuses, a network that is down): every question in
    /// flight fails with it, as each would have on a socket of its own.
    fn fail_in_flight(&mut self, e: &std::io::Error) {
        let transport = io_transport(std::io::Error::new(e.kind(), e.to_string()));
        let flights: Vec<Flight> = self.flights.drain().map(|(_, f)| f).collect();
        self.unsent.clear();
        self.deadlines.clear();
        for f in flights {
            let e = transport_error(&self.items[f.item], self.server, self.cfg, transport.again());
            self.settle(f.item, f.which, Err(e));
        }
    }

    /// Name `item`'s answer for its `which`th type; once it has them all, its result.
    fn settle(&mut self, item: usize, which: usize, answer: Result<DnsAnswer, ResolveError>) {
        let Some(answers) = self.partial.get_mut(&item) else { return };
        answers[which] = Some(answer);
        if answers.iter().any(Option::is_none) {
            return;
        }
        let answers: Vec<_> = self.partial.remove(&item).into_iter().flatten().flatten().collect();
        let result = match self.asking {
            Asking::Type(_) => answers.into_iter().next().unwrap_or_else(|| unreachable!("one type, one answer")),
            Asking::Addresses(f) => merge_families(&self.items[item], f, answers),
        };
        self.finish(item, result.map(Answer::Records));
    }

    fn finish(&mut self, item: usize, result: Result<Answer, ResolveError>) {
        if let Some(slot) = self.results.get_mut(item - self.emitted) {
            *slot = Some(result);
        }
    }
}

/// Query ids: a random permutation of the 65,536 (a random odd step from a random start, so
/// none repeats within 65,536 questions), passing over any still in flight.
struct Ids {
    at: u16,
    step: u16,
}

impl Ids {
    fn new() -> Ids {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u8(0);
        let r = h.finish();
        let [a, b, c, d, ..] = r.to_le_bytes();
        Ids { at: u16::from_le_bytes([a, b]), step: u16::from_le_bytes([c, d]) | 1 }
    }

    fn fresh(&mut self, in_flight: &HashMap<u16, Flight>) -> u16 {
        loop {
            self.at = self.at.wrapping_add(self.step);
            if !in_flight.contains_key(&self.at) {
                return self.at;
            }
        }
    }
}
