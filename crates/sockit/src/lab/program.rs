//! `sockit lab --run CMD`: the user's own program run in the lab's network, its frames
//! captured from its start to its end.

use std::os::fd::AsFd;
use std::process::Command;

use super::{Lab, LabError};

/// Run `line` with `sh -c` in the lab's network; one step: the program and every frame. What
/// the program prints goes to stderr: stdout is the lab's (its ladder, JSON or page).
pub(super) fn run(lab: &mut Lab, line: &str) -> Result<(), LabError> {
    let to_stderr = std::io::stderr().as_fd().try_clone_to_owned().map_err(LabError::Program)?;
    let status = Command::new("sh").arg("-c").arg(line).stdout(to_stderr).status().map_err(LabError::Program)?;
    let code = status.code().unwrap_or_else(|| {
        use std::os::unix::process::ExitStatusExt;
        128 + status.signal().unwrap_or(0)
    });
    lab.report.exit_code = Some(code);
    lab.record("program", line, format!("exit status {code}"), &[], None);
    let dropped = lab.dropped();
    if dropped > 0
        && let Some(step) = lab.report.steps.last_mut()
    {
        step.note = Some(format!("{dropped} frames past the first {} were not kept", super::capture::MOST_FRAMES));
    }
    Ok(())
}
