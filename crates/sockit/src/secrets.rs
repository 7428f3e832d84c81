//! Secrets given in files, so they never stand in the command line (every local user can read
//! another's with `ps`): a user and password (`USER:PASSWORD`, the file's first line), or a
//! NATS credentials file (a user JWT and its nkey seed). Read with a bound; what they hold is
//! never shown, only where it came from.

use std::path::Path;

use crate::net::{Doing, NetError, Why};

/// What a credentials file holds.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    UserPassword(String, String),
    /// A NATS `.creds` file, whole.
    Nats(String),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::UserPassword(user, _) => write!(f, "UserPassword({user:?}, ***)"),
            Credentials::Nats(_) => f.write_str("Nats(***)"),
        }
    }
}

/// Read a credentials file.
pub fn read(path: &Path) -> Result<Credentials, NetError> {
    let what = || Doing::ReadCredentials(path.to_path_buf());
    let text = crate::stdio::read_file_text(path, crate::stdio::limits::CONFIG).map_err(|e| NetError::io(what(), e))?;
    if text.contains("-----BEGIN NATS USER JWT-----") {
        return Ok(Credentials::Nats(text));
    }
    let line = text.lines().next().unwrap_or_default().trim_end_matches('\r');
    match line.split_once(':') {
        Some((user, password)) if !user.is_empty() => {
            Ok(Credentials::UserPassword(user.to_string(), password.to_string()))
        }
        _ => Err(NetError::failed(what(), Why::NotUserPassword)),
    }
}

/// A user and password: from the URL, or else from a credentials file.
pub fn user_password(
    given: Option<&(String, String)>,
    file: Option<&Path>,
) -> Result<Option<(String, String)>, NetError> {
    match (given, file) {
        (Some(up), _) => Ok(Some(up.clone())),
        (None, Some(f)) => match read(f)? {
            Credentials::UserPassword(u, p) => Ok(Some((u, p))),
            Credentials::Nats(_) => Err(NetError::failed(Doing::UseCredentials(f.to_path_buf()), Why::NatsForProxy)),
        },
        (None, None) => Ok(None),
    }
}
