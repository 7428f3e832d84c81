//! A member's way in: its bounded queue of lines (broadcasting never waits on it), its
//! disconnect switch, and the stall window that bounds how long anyone waits for a member that
//! stopped reading.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};
use tokio_util::sync::CancellationToken;

use super::piece::Line;

/// A client's way in: its queue, its disconnect switch, why it was disconnected, and since
/// when its writer has been blocked.
#[derive(Clone)]
pub(super) struct Recipient {
    pub(super) tx: Lines,
    pub(super) kick: CancellationToken,
    pub(super) reason: Arc<Mutex<Option<String>>>,
    pub(super) blocked: Blocked,
}

/// Since when a client's writer has been waiting for its socket to take a write, if it is:
/// milliseconds after the server's start, plus one (0: not waiting). A client that stopped
/// reading stops its writer; anyone who finds its queue full waits only until this time plus
/// the stall window, so ten such clients cost a speaker one window between them, not ten.
#[derive(Clone)]
pub(super) struct Blocked {
    since: Arc<AtomicU64>,
    epoch: Instant,
}

impl Blocked {
    pub(super) fn new(epoch: Instant) -> Blocked {
        Blocked { since: Arc::new(AtomicU64::new(0)), epoch }
    }

    pub(super) fn start(&self) {
        self.since
            .store(u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX - 1) + 1, Ordering::Relaxed);
    }

    pub(super) fn end(&self) {
        self.since.store(0, Ordering::Relaxed);
    }

    /// When a wait for this client's queue gives up: the stall window after its writer
    /// blocked, or after now if it is not blocked.
    fn deadline(&self, stall: Duration) -> tokio::time::Instant {
        match self.since.load(Ordering::Relaxed) {
            0 => tokio::time::Instant::now() + stall,
            ms => tokio::time::Instant::from_std(self.epoch + Duration::from_millis(ms - 1) + stall),
        }
    }
}

/// A member's outgoing queue, bounded in places rather than entries: the lines of one paste
/// travel as one entry, and take a place a line, or a place for every `PLACE` bytes when that
/// is more (so the queue's bytes are bounded too, however long its lines: a member that asks
/// for long replies and never reads holds at most `queue * PLACE` bytes). A place is given
/// back when its line has been written to the socket.
///
/// The entries wait in a deque under a lock of their own, with the writer's waker: an idle
/// member's queue is one small allocation (a channel of tokio's keeps a block of 32 slots and
/// a cache-padded header, 1.3 KB a member, whatever it holds).
pub(super) struct Lines {
    queue: Arc<Shared>,
    places: Arc<Semaphore>,
    max: u32,
}

/// Both ends' view of a queue.
struct Shared {
    state: Mutex<State>,
}

struct State {
    entries: VecDeque<Out>,
    /// The writer waiting for an entry.
    waker: Option<Waker>,
    /// `Lines` alive: none left, the writer's queue has ended once it is empty.
    senders: usize,
    /// The writer has gone: nothing more is queued.
    closed: bool,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Clone for Lines {
    fn clone(&self) -> Lines {
        self.queue.lock().senders += 1;
        Lines { queue: Arc::clone(&self.queue), places: Arc::clone(&self.places), max: self.max }
    }
}

impl Drop for Lines {
    fn drop(&mut self) {
        let waker = {
            let mut st = self.queue.lock();
            st.senders -= 1;
            if st.senders == 0 { st.waker.take() } else { None }
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// The writer's end of a member's queue.
pub(super) struct Taken {
    queue: Arc<Shared>,
}

impl Taken {
    /// The next entry, waiting for one; `None` once every `Lines` is gone and the queue is
    /// empty. (Cancel-safe: an entry is taken only when it is returned.)
    pub(super) async fn recv(&mut self) -> Option<Out> {
        std::future::poll_fn(|cx| {
            let mut st = self.queue.lock();
            if let Some(out) = st.entries.pop_front() {
                return Poll::Ready(Some(out));
            }
            // A burst's room is given back once it has gone.
            if st.entries.capacity() > 64 {
                st.entries = VecDeque::new();
            }
            if st.senders == 0 {
                return Poll::Ready(None);
            }
            if !st.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                st.waker = Some(cx.waker().clone());
            }
            Poll::Pending
        })
        .await
    }

    /// The next entry if there is one now.
    pub(super) fn try_recv(&mut self) -> Option<Out> {
        self.queue.lock().entries.pop_front()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.queue.lock().entries.is_empty()
    }
}

impl Drop for Taken {
    fn drop(&mut self) {
        // What is queued is let go (its places given back) outside the lock.
        let left = {
            let mut st = self.queue.lock();
            st.closed = true;
            std::mem::take(&mut st.entries)
        };
        drop(left);
    }
}

/// What a member's writer takes from its queue.
pub(super) enum Out {
    /// Lines, and the places they hold until written.
    Lines(Line, OwnedSemaphorePermit),
    /// The last lines (the goodbye), after which the writer closes: written whatever the room
    /// holds, so it can never be left out for want of a place.
    Last(Line),
}

/// What became of a try to queue.
pub(super) enum Queue {
    Done,
    Full,
    Closed,
}

/// Bytes a queue place stands for.
const PLACE: usize = 64;

/// How many places `text` takes: a place a line (at least one a piece), or a place for every
/// `PLACE` bytes when that is more.
pub(super) fn places_for(text: &str) -> u32 {
    let lines = text.bytes().filter(|&b| b == b'\n').count();
    u32::try_from(lines.max(text.len().div_ceil(PLACE)).max(1)).unwrap_or(u32::MAX)
}

impl Lines {
    pub(super) fn new(max: usize) -> (Lines, Taken) {
        let max = u32::try_from(max.clamp(1, Semaphore::MAX_PERMITS)).unwrap_or(u32::MAX);
        let state = State { entries: VecDeque::new(), waker: None, senders: 1, closed: false };
        let queue = Arc::new(Shared { state: Mutex::new(state) });
        (Lines { queue: Arc::clone(&queue), places: Arc::new(Semaphore::new(max as usize)), max }, Taken { queue })
    }

    /// Put `out` at the end of the queue and wake the writer; false if the writer has gone.
    fn send(&self, out: Out) -> bool {
        let waker = {
            let mut st = self.queue.lock();
            if st.closed {
                return false;
            }
            st.entries.push_back(out);
            st.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        true
    }

    /// Queue `text` (`n` lines) if there is room for it now. A piece longer than the whole
    /// queue takes the whole queue.
    pub(super) fn try_push(&self, text: &Line, n: u32) -> Queue {
        match Arc::clone(&self.places).try_acquire_many_owned(n.min(self.max)) {
            Ok(p) => {
                if self.send(Out::Lines(Arc::clone(text), p)) {
                    Queue::Done
                } else {
                    Queue::Closed
                }
            }
            Err(TryAcquireError::Closed) => Queue::Closed,
            Err(TryAcquireError::NoPermits) => Queue::Full,
        }
    }

    /// Queue `text` once there is room for it; false if the member is gone.
    pub(super) async fn push(&self, text: &Line, n: u32) -> bool {
        match Arc::clone(&self.places).acquire_many_owned(n.min(self.max)).await {
            Ok(p) => self.send(Out::Lines(Arc::clone(text), p)),
            Err(_) => false,
        }
    }

    /// Queue the last lines: after everything queued so far, with nothing after them.
    pub(super) fn push_last(&self, text: &Line) {
        self.send(Out::Last(Arc::clone(text)));
    }
}

impl Recipient {
    /// Disconnect, saying why (the first reason given stands).
    pub(super) fn kick(&self, why: String) {
        let mut reason = self.reason.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if reason.is_none() {
            *reason = Some(why);
        }
        self.kick.cancel();
    }
}

/// A speaker's stall window: once it has waited for a full queue, every queue it finds full
/// until the window ends shares that wait, so a speaker waits at most once per window however
/// many members stopped reading.
#[derive(Debug, Default)]
pub(super) struct Window {
    start: Option<tokio::time::Instant>,
}

impl Window {
    pub(super) fn end(&mut self, stall: Duration) -> tokio::time::Instant {
        let now = tokio::time::Instant::now();
        match self.start {
            Some(s) if now < s + stall => s + stall,
            _ => {
                self.start = Some(now);
                now + stall
            }
        }
    }
}

/// Queue `text` for `r`, waiting for room until the end of its stall window (and of the
/// speaker's, if one speaks); still full then: disconnected.
/// Whether `text` was queued.
pub(super) async fn deliver(r: &Recipient, text: &Line, stall: Duration, window: Option<&mut Window>) -> bool {
    let n = places_for(text);
    match r.tx.try_push(text, n) {
        Queue::Done => true,
        Queue::Closed => false,
        Queue::Full => {
            if r.kick.is_cancelled() {
                return false;
            }
            let deadline = match window {
                Some(w) => r.blocked.deadline(stall).min(w.end(stall)),
                None => r.blocked.deadline(stall),
            };
            let queued = matches!(tokio::time::timeout_at(deadline, r.tx.push(text, n)).await, Ok(true));
            if !queued {
                super::metrics::COUNTERS.cut_stalled.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                r.kick(format!("not reading: its outgoing queue stayed full for {} s", stall.as_secs_f64()));
            }
            queued
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_takes_a_place_and_a_long_one_a_place_for_every_64_bytes() {
        assert_eq!(places_for(""), 1);
        assert_eq!(places_for("<a> hi\n"), 1);
        assert_eq!(places_for("<a> one\n<a> two\n<a> three\n"), 3);
        assert_eq!(places_for(&format!("{}\n", "x".repeat(200))), 4);
    }

    #[test]
    fn a_full_queue_says_so_at_once_and_a_written_line_gives_its_places_back() {
        let (q, mut rx) = Lines::new(2);
        let text = super::super::piece::text("<a> hi");
        assert!(matches!(q.try_push(&text, 1), Queue::Done));
        assert!(matches!(q.try_push(&text, 1), Queue::Done));
        assert!(matches!(q.try_push(&text, 1), Queue::Full));
        // A piece longer than the whole queue takes the whole queue, once it is empty.
        drop((rx.try_recv(), rx.try_recv()));
        assert!(rx.try_recv().is_none());
        assert!(matches!(q.try_push(&text, 9), Queue::Done));
        assert!(matches!(q.try_push(&text, 1), Queue::Full));
        drop(rx);
        let (q, rx) = Lines::new(2);
        drop(rx);
        assert!(matches!(q.try_push(&text, 1), Queue::Closed), "the writer has gone");
    }

    #[test]
    fn the_writer_waits_is_woken_in_order_and_ends_after_the_last_sender() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async {
            let (q, mut rx) = Lines::new(8);
            let other = q.clone();
            let writer = tokio::spawn(async move {
                let mut got = Vec::new();
                while let Some(Out::Lines(text, _) | Out::Last(text)) = rx.recv().await {
                    got.push(text.to_string());
                }
                got
            });
            tokio::task::yield_now().await;
            for t in ["one\n", "two\n"] {
                assert!(matches!(q.try_push(&super::super::piece::text(t.trim_end()), 1), Queue::Done));
                tokio::task::yield_now().await;
            }
            other.push_last(&super::super::piece::text("bye"));
            drop(q);
            tokio::task::yield_now().await;
            assert!(!writer.is_finished(), "a sender is left: the writer waits on");
            drop(other);
            let got =
                tokio::time::timeout(std::time::Duration::from_secs(5), writer).await.expect("ended").expect("writer");
            assert_eq!(got, ["one\n", "two\n", "bye\n"]);
        });
    }
}
