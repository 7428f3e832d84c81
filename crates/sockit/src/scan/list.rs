//! Targets listed in a file (`scan -f`), read twice and never held: opening the list reads it
//! once to check every line and count its addresses (so a scan refuses a bad list, or one
//! larger than allowed, before a probe is sent); the scan reads it again, a line at a time, as
//! it reaches each target. Memory stays that of one line, whatever the list's length; a list
//! on a pipe is kept as its text (at most `limits::LIST`), never as parsed targets.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Cursor, Read, Seek};
use std::path::{Path, PathBuf};

use sockit_core::scan::{SpecError, Target};

/// The longest line a list may have.
const MAX_LINE: usize = 64 << 10;

/// A list that cannot be scanned.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error("cannot read targets from {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("{} line {line}: {source}", path.display())]
    Bad { path: PathBuf, line: u64, source: SpecError },
    #[error("{} line {line} is longer than {} KiB: write one target or a few a line", path.display(), MAX_LINE >> 10)]
    LongLine { path: PathBuf, line: u64 },
    #[error("{} names no target: write one address, range or name a line", path.display())]
    Empty { path: PathBuf },
    #[error("{} changed while it was scanned (line {line}): scan a list nothing writes to", path.display())]
    Changed { path: PathBuf, line: u64 },
    #[error(transparent)]
    TooMany(#[from] sockit_core::scan::TooMany),
}

/// Where the list's bytes are read from: the file itself, or, for a pipe, its text.
#[derive(Debug)]
enum Source {
    File(BufReader<File>),
    Text(Cursor<Vec<u8>>),
}

impl Source {
    fn reader(&mut self) -> &mut dyn BufRead {
        match self {
            Source::File(f) => f,
            Source::Text(t) => t,
        }
    }

    fn rewind(&mut self) -> io::Result<()> {
        match self {
            Source::File(f) => f.rewind(),
            Source::Text(t) => {
                t.set_position(0);
                Ok(())
            }
        }
    }
}

/// An opened, checked list of targets.
#[derive(Debug)]
pub struct TargetList {
    path: PathBuf,
    source: Source,
    /// How many addresses the list names (a name counts as one).
    pub addresses: u128,
    /// How many of its targets are names or zoned addresses (looked up before the scan).
    pub lookups: u64,
}

impl TargetList {
    /// Open `path` (`-` for stdin) and check every line. `others` addresses are scanned beside
    /// it; more than 65,536 in all need `many`.
    pub fn open(path: &Path, others: u128, many: bool) -> Result<TargetList, ListError> {
        let read_err = |source| ListError::Read { path: path.to_path_buf(), source };
        let source = if path.as_os_str() == "-" {
            let stdin = io::stdin().lock();
            // A file redirected to stdin is read in place; a pipe is kept as its text.
            let fd = rustix::fs::fstat(&stdin).map_err(|e| read_err(e.into()))?;
            if rustix::fs::FileType::from_raw_mode(fd.st_mode) == rustix::fs::FileType::RegularFile {
                let file = File::from(std::os::fd::AsFd::as_fd(&stdin).try_clone_to_owned().map_err(read_err)?);
                Source::File(BufReader::new(file))
            } else {
                Source::Text(Cursor::new(
                    crate::stdio::read_bounded(stdin, crate::stdio::limits::LIST).map_err(read_err)?,
                ))
            }
        } else {
            Source::File(BufReader::new(File::open(path).map_err(read_err)?))
        };
        let mut list = TargetList { path: path.to_path_buf(), source, addresses: 0, lookups: 0 };
        let (mut addresses, mut lookups, mut any) = (0u128, 0u64, false);
        list.each(|_, t| {
            any = true;
            addresses = addresses.saturating_add(t.count());
            lookups += u64::from(!matches!(t, Target::Block { .. }));
            true
        })?;
        if !any && others == 0 {
            return Err(ListError::Empty { path: list.path });
        }
        sockit_core::scan::allowed(others.saturating_add(addresses), many)?;
        (list.addresses, list.lookups) = (addresses, lookups);
        Ok(list)
    }

    /// Read the list from its start, handing each target (as written, and parsed) to `each`
    /// until it returns false.
    pub(super) fn each(&mut self, mut each: impl FnMut(&str, Target) -> bool) -> Result<(), ListError> {
        let path = &self.path;
        let read_err = |source| ListError::Read { path: path.clone(), source };
        self.source.rewind().map_err(read_err)?;
        let reader = self.source.reader();
        let mut buf = Vec::new();
        for line in 1u64.. {
            buf.clear();
            let n = reader.take(MAX_LINE as u64 + 1).read_until(b'\n', &mut buf).map_err(read_err)?;
            if n == 0 {
                return Ok(());
            }
            if buf.len() > MAX_LINE && buf.last() != Some(&b'\n') {
                return Err(ListError::LongLine { path: path.clone(), line });
            }
            for word in sockit_core::scan::list_words(&String::from_utf8_lossy(&buf)) {
                let target =
                    Target::parse(word).map_err(|source| ListError::Bad { path: path.clone(), line, source })?;
                if !each(word, target) {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// A line that no longer reads as it did when the list was opened.
    pub(super) fn changed(&self, e: ListError) -> ListError {
        match e {
            ListError::Bad { line, .. } | ListError::LongLine { line, .. } => {
                ListError::Changed { path: self.path.clone(), line }
            }
            e => e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(text: &str) -> (tempfile::NamedTempFile, Result<TargetList, ListError>) {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(file.path(), text).expect("write");
        let list = TargetList::open(file.path(), 0, false);
        (file, list)
    }

    fn walked(list: &mut TargetList) -> Vec<String> {
        let mut seen = Vec::new();
        list.each(|spec, _| {
            seen.push(spec.to_string());
            true
        })
        .expect("walk");
        seen
    }

    #[test]
    fn a_list_is_counted_then_walked_as_often_as_asked() {
        let (_f, l) = list("# lab\n10.0.0.1 10.0.0.2,localhost # three\n\n10.0.1.0/24\nfe80::1%lo");
        let mut l = l.expect("a good list");
        assert_eq!((l.addresses, l.lookups), (3 + 256 + 1, 2));
        let want = ["10.0.0.1", "10.0.0.2", "localhost", "10.0.1.0/24", "fe80::1%lo"];
        assert_eq!(walked(&mut l), want);
        assert_eq!(walked(&mut l), want, "a second walk reads the same");
        let mut seen = Vec::new();
        l.each(|spec, _| {
            seen.push(spec.to_string());
            seen.len() < 2
        })
        .expect("walk");
        assert_eq!(seen, want[..2], "a walk stops when asked");
    }

    #[test]
    fn bad_lists_are_refused_before_anything_is_scanned() {
        let (f, l) = list("10.0.0.1\n\n10.0.0.300\n");
        let e = l.expect_err("a bad line");
        assert_eq!(
            e.to_string(),
            format!(
                "{} line 3: octet 300 in '10.0.0.300' is over 255: each of the four octets is 0-255",
                f.path().display()
            )
        );
        let (f, l) = list("# nothing\n\n");
        assert_eq!(
            l.expect_err("empty").to_string(),
            format!("{} names no target: write one address, range or name a line", f.path().display())
        );
        // Beside other targets, a list with none is no error.
        assert_eq!(TargetList::open(f.path(), 1, false).expect("others").addresses, 0);
        let (_f, l) = list("10.0.0.0/15\n");
        assert_eq!(l.expect_err("too many").to_string(), "that is 131072 addresses");
        let (_f, l) = list(&format!("10.0.0.1\n{}\n", " ".repeat(MAX_LINE + 1)));
        assert!(matches!(l, Err(ListError::LongLine { line: 2, .. })), "{l:?}");
        let e = TargetList::open(Path::new("/nonexistent/list"), 0, false).expect_err("no file");
        assert!(matches!(e, ListError::Read { .. }), "{e:?}");
    }

    #[test]
    fn a_list_that_changes_under_the_scan_is_said_to() {
        let (f, l) = list("10.0.0.1\n10.0.0.2\n");
        let mut l = l.expect("good");
        std::fs::write(f.path(), "10.0.0.1\nnot an address!\n").expect("rewrite");
        let e = l.each(|_, _| true).map_err(|e| l.changed(e)).expect_err("changed");
        assert!(matches!(e, ListError::Changed { line: 2, .. }), "{e:?}");
    }
}
