//! The standard streams a command works with. Only `Stdio::process()` touches the process's
//! own descriptors; everything else in the library takes a `Stdio` it is handed, so relays,
//! servers and clients run in-process in tests with pipes in their place.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};

/// Input, output, and whether input is a terminal (a terminal ends a relay at once when the
/// peer closes; a pipe is still sent to its end).
#[derive(Debug)]
pub struct Stdio {
    pub input: OwnedFd,
    pub output: OwnedFd,
    pub input_is_terminal: bool,
}

impl Stdio {
    /// The process's stdin and stdout (duplicated: closing them here leaves fds 0 and 1 be).
    pub fn process() -> io::Result<Stdio> {
        let stdin = io::stdin();
        Ok(Stdio {
            input: stdin.as_fd().try_clone_to_owned()?,
            output: io::stdout().as_fd().try_clone_to_owned()?,
            input_is_terminal: io::IsTerminal::is_terminal(&stdin),
        })
    }

    /// Streams of the caller's choosing (pipes, files, sockets); never a terminal.
    pub fn new(input: impl Into<OwnedFd>, output: impl Into<OwnedFd>) -> Stdio {
        Stdio { input: input.into(), output: output.into(), input_is_terminal: false }
    }

    /// Split into the input as a file to read and the output as a file to write.
    pub fn into_files(self) -> (File, File) {
        (File::from(self.input), File::from(self.output))
    }
}

/// How large a file sockit reads whole may be.
pub mod limits {
    /// resolv.conf and its kin.
    pub const CONFIG: u64 = 1 << 20;
    /// PEM certificates, keys and CA bundles.
    pub const PEM: u64 = 4 << 20;
    /// A chat room's message of the day.
    pub const MOTD: u64 = 8 << 10;
    /// Lists of names or addresses (`-f`).
    pub const LIST: u64 = 64 << 20;
}

/// Read `from` to its end, or fail once it passes `limit` bytes: a file input (or /dev/zero)
/// never takes more memory than that.
pub fn read_bounded(from: impl std::io::Read, limit: u64) -> io::Result<Vec<u8>> {
    read_bounded_into(from, limit, Vec::new())
}

/// `read_bounded` into `buf` (its capacity a guess of the size: no growing reads when right).
fn read_bounded_into(from: impl std::io::Read, limit: u64, mut buf: Vec<u8>) -> io::Result<Vec<u8>> {
    use std::io::Read;
    from.take(limit + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            match limit {
                l if l >= 1 << 20 => format!("it is larger than {} MiB, more than sockit reads", l >> 20),
                l => format!("it is larger than {} KiB, more than sockit reads", l >> 10),
            },
        ));
    }
    Ok(buf)
}

/// `read_bounded` of a file, as UTF-8 text (invalid bytes replaced).
pub fn read_file_text(path: &std::path::Path, limit: u64) -> io::Result<String> {
    let file = File::open(path)?;
    // Room for its size and the byte that says it grew past it.
    let size = file.metadata().map_or(0, |m| m.len()).min(limit);
    let bytes = read_bounded_into(file, limit, Vec::with_capacity(usize::try_from(size).unwrap_or(0) + 1))?;
    Ok(String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file is read whole up to the limit, whatever its size says (a /proc file says 0), and
    /// refused one byte past it.
    #[test]
    fn files_are_read_whole_up_to_the_limit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let at = |name: &str, len: usize| {
            let path = dir.path().join(name);
            std::fs::write(&path, "x".repeat(len)).expect("write");
            path
        };
        assert_eq!(read_file_text(&at("empty", 0), 4096).expect("empty"), "");
        assert_eq!(read_file_text(&at("full", 4096), 4096).expect("full").len(), 4096);
        let over = read_file_text(&at("over", 4097), 4096).expect_err("over the limit");
        assert_eq!(over.to_string(), "it is larger than 4 KiB, more than sockit reads");
        let proc = read_file_text(std::path::Path::new("/proc/self/stat"), 4096).expect("/proc");
        assert!(proc.ends_with('\n') && proc.len() > 20, "{proc:?}");
    }
}
