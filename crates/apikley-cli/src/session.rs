//! Where a command is (what has been sent, which task, where its video goes), shared with the
//! Ctrl-C handler so that an interruption or a failure says exactly what can be resumed.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use apikley::TaskId;

/// How far a command got.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Phase {
    /// Nothing that costs anything has been sent.
    #[default]
    Preparing,
    /// `createTask` has gone out: a task may exist, its id unknown.
    Creating,
    /// Waiting for a task.
    Waiting,
    /// Saving a task's video.
    Downloading,
}

/// The command's state; cheap to clone, shared with the Ctrl-C handler.
#[derive(Clone)]
pub struct Session {
    program: &'static str,
    /// The command runs against a built-in sandbox, which ends with it.
    sandbox: bool,
    state: Arc<Mutex<State>>,
}

/// What is known at one moment.
#[derive(Debug, Clone, Default)]
pub struct State {
    /// How far the command got.
    pub phase: Phase,
    /// The task, once its id is known.
    pub task: Option<TaskId>,
    /// Where its video goes.
    pub output: Option<PathBuf>,
    /// Whether that file may be replaced.
    pub overwrite: bool,
}

impl Session {
    /// A session of `program` (the name the resume hints use).
    pub fn new(program: &'static str) -> Self {
        Session {
            program,
            sandbox: false,
            state: Arc::default(),
        }
    }

    /// The same session, running against a built-in sandbox (`--sandbox`): its tasks end with
    /// the process, so no hint offers to resume them.
    #[must_use]
    pub fn on_sandbox(mut self, sandbox: bool) -> Self {
        self.sandbox = sandbox;
        self
    }

    fn update(&self, change: impl FnOnce(&mut State)) {
        if let Ok(mut state) = self.state.lock() {
            change(&mut state);
        }
    }

    /// The command got this far.
    pub fn phase(&self, phase: Phase) {
        self.update(|s| s.phase = phase);
    }

    /// The task is known, and the command is at `phase` with it.
    pub fn task(&self, id: &TaskId, phase: Phase) {
        self.update(|s| {
            s.task = Some(id.clone());
            s.phase = phase;
        });
    }

    /// The video goes to `path`.
    pub fn output(&self, path: &Path, overwrite: bool) {
        self.update(|s| {
            s.output = Some(path.to_owned());
            s.overwrite = overwrite;
        });
    }

    /// What is known now.
    pub fn state(&self) -> State {
        self.state.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// What to say instead of a resume command when the task lived in a built-in sandbox.
    pub fn sandbox_note(&self) -> Option<String> {
        let id = self.state().task?;
        self.sandbox.then(|| sandbox_ended(self.program, &id))
    }

    /// The command that picks up where this one stopped, if the task is known (and outlives
    /// this process), with every option that decides which file it acts on, quoted for a POSIX
    /// shell.
    pub fn resume_command(&self) -> Option<String> {
        if self.sandbox {
            return None;
        }
        let state = self.state();
        let id = state.task?;
        let output = state
            .output
            .as_deref()
            .map(|p| format!(" -o {}", quoted(p)));
        let overwrite = if state.overwrite { " --overwrite" } else { "" };
        let program = self.program;
        match state.phase {
            Phase::Waiting => Some(format!(
                "{program} wait {id}{}{overwrite}",
                output.unwrap_or_default()
            )),
            Phase::Downloading => Some(format!(
                "{program} download {id}{}{overwrite}",
                output.unwrap_or_else(|| " -o FILE".to_owned())
            )),
            Phase::Preparing | Phase::Creating => None,
        }
    }
}

/// Why a task of a built-in sandbox cannot be resumed, and how to keep one across commands.
pub fn sandbox_ended(program: &str, id: &TaskId) -> String {
    format!(
        "task {id} lived in the built-in sandbox, which ended with this command. To follow tasks \
         across commands, keep a sandbox running (`{program} sandbox` in another terminal) and \
         set APIKLEY_BASE_URL=http://127.0.0.1:8080 and APIKLEY_API_KEY={DEFAULT_SANDBOX_KEY} \
         instead of passing --sandbox"
    )
}

/// The key `apikley sandbox` accepts unless told otherwise.
const DEFAULT_SANDBOX_KEY: &str = "sandbox-key";

/// A path as a POSIX shell reads it back: as is when it is plain, else in single quotes.
pub fn quoted(path: &Path) -> String {
    let text = path.display().to_string();
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./+,:@%".contains(c));
    if plain {
        text
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_name_the_task_the_file_and_the_overwrite() {
        let session = Session::new("seedance");
        assert_eq!(session.resume_command(), None);
        session.task(&TaskId::from("t1"), Phase::Waiting);
        assert_eq!(
            session.resume_command().as_deref(),
            Some("seedance wait t1")
        );
        session.output(Path::new("my clip's.mp4"), true);
        assert_eq!(
            session.resume_command().as_deref(),
            Some(r"seedance wait t1 -o 'my clip'\''s.mp4' --overwrite")
        );
        session.phase(Phase::Downloading);
        assert_eq!(
            session.resume_command().as_deref(),
            Some(r"seedance download t1 -o 'my clip'\''s.mp4' --overwrite")
        );
        assert_eq!(quoted(Path::new("videos/beach.mp4")), "videos/beach.mp4");
    }
}
