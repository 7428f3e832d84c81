//! Exit codes, in one place (documented in `sockit --help` and README).

/// Success.
pub const OK: u8 = 0;
/// A runtime failure, or a lookup that found nothing.
pub const FAILURE: u8 = 1;
/// A usage error: bad arguments or input the user must fix.
pub const USAGE: u8 = 2;
/// Interrupted by Ctrl-C (128 + SIGINT).
pub const INTERRUPTED: u8 = 130;
