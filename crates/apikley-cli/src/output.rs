//! What the user sees: a spinner on a terminal, plain lines otherwise, or one JSON document.
//! Results go to stdout; progress, commentary and errors to stderr.

use std::io::IsTerminal;
use std::time::Duration;

use apikley::{Clock, DownloadProgress, Progress, TaskState};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Terminal,
    Plain,
    /// Results and errors only.
    Quiet,
    Json,
}

/// Where a command's output goes, and in which form.
pub struct Output {
    mode: Mode,
    bar: Option<ProgressBar>,
    last_state: Option<TaskState>,
}

impl Output {
    /// JSON with `json`; else with `quiet` results and errors only; else a spinner on a
    /// terminal, plain lines otherwise.
    pub fn new(json: bool, quiet: bool) -> Self {
        let mode = if json {
            Mode::Json
        } else if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            Mode::Terminal
        } else {
            Mode::Plain
        };
        Output {
            mode,
            bar: None,
            last_state: None,
        }
    }

    /// A line of human commentary, on stderr (stdout carries only results).
    pub fn line(&self, text: impl AsRef<str>) {
        match (&self.mode, &self.bar) {
            (Mode::Json | Mode::Quiet, _) => {}
            (Mode::Terminal, Some(bar)) => bar.println(text.as_ref()),
            (_, _) => eprintln!("{}", text.as_ref()),
        }
    }

    /// After each status query: a spinner on a terminal, a line per state change otherwise.
    pub fn progress(&mut self, progress: &Progress) {
        let expected = progress
            .expected
            .map(|e| format!(" (about {} expected)", Clock(e)))
            .unwrap_or_default();
        match self.mode {
            Mode::Terminal => {
                let bar = self.bar.get_or_insert_with(|| {
                    let bar = ProgressBar::new_spinner();
                    bar.set_style(
                        ProgressStyle::with_template("{spinner} {msg}")
                            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    );
                    bar.enable_steady_tick(Duration::from_millis(120));
                    bar
                });
                bar.set_message(format!(
                    "{} · {}{expected}",
                    progress.state,
                    Clock(progress.elapsed)
                ));
            }
            Mode::Plain if self.last_state.as_ref() != Some(&progress.state) => {
                eprintln!("{} after {}", progress.state, Clock(progress.elapsed));
            }
            _ => {}
        }
        self.last_state = Some(progress.state.clone());
    }

    /// As a download goes: a bar on a terminal.
    pub fn download(&mut self, progress: &DownloadProgress) {
        if self.mode != Mode::Terminal {
            return;
        }
        let bar = self.bar.get_or_insert_with(ProgressBar::no_length);
        if bar.length().is_none()
            && let Some(total) = progress.total
        {
            bar.disable_steady_tick();
            bar.set_length(total);
            bar.set_style(
                ProgressStyle::with_template("{bar:30} {bytes}/{total_bytes} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_message("downloading");
        }
        bar.set_position(progress.received);
    }

    /// Clears the spinner or bar.
    pub fn done(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }

    /// The command's result: the JSON document, or its human summary.
    pub fn result(&mut self, json: Value, human: impl AsRef<str>) {
        self.done();
        match self.mode {
            Mode::Json => println!("{json}"),
            _ => println!("{}", human.as_ref()),
        }
    }

    /// A failure: a JSON document on stdout, or one clear message on stderr.
    pub fn failure(&mut self, json: Value, human: impl AsRef<str>) {
        self.done();
        match self.mode {
            Mode::Json => println!("{json}"),
            _ => eprintln!("error: {}", human.as_ref()),
        }
    }
}
