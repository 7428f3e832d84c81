//! The naming rules of the chat: what a nick may be, and what a server or cluster may be
//! called. Both the chat protocol and the messages between servers of a cluster read them.

/// Why a nick is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NickError {
    #[error("a nick is 1 to {MAX_NICK} characters: letters, digits, '-' and '_', starting with a letter")]
    Invalid,
    #[error("nicks starting with 'guest-' are given by the server: choose another")]
    Reserved,
}

/// The longest nick.
pub const MAX_NICK: usize = 24;

/// Check a nick's form (uniqueness is the server's business).
pub fn validate_nick(nick: &str) -> Result<(), NickError> {
    if !nick_form_ok(nick) {
        return Err(NickError::Invalid);
    }
    if nick.to_ascii_lowercase().starts_with("guest-") {
        return Err(NickError::Reserved);
    }
    Ok(())
}

/// The longest node name.
pub const MAX_NODE: usize = 128;
/// The longest cluster name.
pub const MAX_CLUSTER: usize = 64;

/// A nick's form, guest nicks included (what another server may say its members are called).
pub fn nick_form_ok(nick: &str) -> bool {
    !nick.is_empty()
        && nick.len() <= MAX_NICK
        && nick.starts_with(|c: char| c.is_ascii_alphabetic())
        && nick.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A node or cluster name: printable ASCII without spaces, so it can be shown, and stands
/// whole in a discovery reply.
pub fn name_ok(name: &str, max: usize) -> bool {
    !name.is_empty() && name.len() <= max && name.bytes().all(|b| b.is_ascii_graphic())
}

/// A cluster name: letters, digits, '.', '-' and '_', so that it stands whole in a discovery
/// reply and reads the same everywhere.
pub fn cluster_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_CLUSTER
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nicks_and_names() {
        assert!(validate_nick("alice_1").is_ok());
        assert_eq!(validate_nick("1abc"), Err(NickError::Invalid));
        assert_eq!(validate_nick(""), Err(NickError::Invalid));
        assert_eq!(validate_nick("a b"), Err(NickError::Invalid));
        assert_eq!(validate_nick(&"a".repeat(25)), Err(NickError::Invalid));
        assert_eq!(validate_nick("Guest-7"), Err(NickError::Reserved));
        assert!(nick_form_ok("guest-7-k3f") && !nick_form_ok("-a"));
        assert!(cluster_name_ok("lab-2.b_c") && !cluster_name_ok("xroom=y") && !cluster_name_ok(""));
        assert!(name_ok("host:4000", MAX_NODE) && !name_ok("a b", MAX_NODE) && !name_ok("", MAX_NODE));
    }
}
