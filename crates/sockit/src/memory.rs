//! Giving freed memory back to the system. glibc keeps what a program frees in its arenas, one
//! a thread, for the next allocation: a server that held many members and lost them keeps their
//! memory for good. `malloc_trim` returns the free pages of every arena.

/// Return the free pages of every allocator arena to the system (glibc); nothing elsewhere.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn give_back() {
    // SAFETY: malloc_trim takes a plain integer, touches only the allocator's own state under
    // its own locks, and may be called from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Return freed memory to the system: nothing to do with this allocator.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn give_back() {}
