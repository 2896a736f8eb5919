//! What every model's command line has beside its own way to submit: the commands that follow
//! a task already paid for (`status`, `wait`, `download`, `tasks`) or show the account
//! (`credits`), the sandbox, and what follows a submission. The `apikley` and `seedance`
//! binaries flatten these into their own command lines, so both behave the same.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use apikley::{Request, TaskId, Violations};
use clap::{Args, Subcommand};
use serde_json::json;

use crate::failure::Failure;
use crate::flow;
use crate::global::Global;
use crate::output::Output;
use crate::session::{Phase, Session};

/// Where a finished result goes.
#[derive(Args, Debug)]
pub struct Save {
    /// Where to save the result (default: a file named after the model and the task id, in the
    /// current folder).
    #[arg(short, long, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    /// Replace the file if it exists.
    #[arg(long)]
    pub(crate) overwrite: bool,
}

/// The commands for a task that exists already, and for the account.
#[derive(Subcommand, Debug)]
pub enum TaskCommand {
    /// Show a task's status.
    Status {
        /// The task id.
        task_id: String,
    },
    /// Wait for a task to finish, and download its result with -o.
    Wait {
        /// The task id (`last`: the newest in the task history).
        task_id: String,
        /// Where the result goes, if it is to be downloaded.
        #[command(flatten)]
        save: Save,
    },
    /// Download a finished task's result.
    Download {
        /// The task id (`last`: the newest in the task history).
        task_id: String,
        /// Where to save it (default: TASK_ID with the extension of what the file turns out to
        /// be, in the current folder).
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Replace the file if it exists.
        #[arg(long)]
        overwrite: bool,
    },
    /// Show the account's remaining credits.
    Credits,
    /// List the tasks created from this machine (the task history), newest first: id, model,
    /// state, age, file.
    Tasks {
        /// Only the tasks whose result is not saved yet, and the submissions whose outcome is
        /// unknown.
        #[arg(long)]
        pending: bool,
        /// Wait for every pending task and save each result where its run meant to save it
        /// (or under its default name in the current folder).
        #[arg(long, requires = "pending")]
        resume: bool,
        /// How many to list.
        #[arg(long, default_value_t = 20, conflicts_with = "pending")]
        limit: usize,
    },
}

/// How a submission goes on: where the result is saved, or not waited for.
#[derive(Args, Debug)]
pub struct SubmitArgs {
    /// Where Apikley POSTs the result when the task ends (an absolute http(s) URL; checked with
    /// the inputs, every problem listed at once).
    #[arg(long, value_name = "URL")]
    pub(crate) callback_url: Option<String>,
    /// Submit and print the task id, without waiting.
    #[arg(long, conflicts_with_all = ["output", "overwrite"])]
    pub(crate) no_wait: bool,
    /// Where the result goes.
    #[command(flatten)]
    pub(crate) save: Save,
}

impl SubmitArgs {
    /// `--callback-url`, which the request carries (and its check covers).
    pub fn callback_url(&self) -> Option<&str> {
        self.callback_url.as_deref()
    }
}

/// The `sandbox` command's options.
#[cfg(feature = "sandbox")]
#[derive(Args, Debug)]
pub struct SandboxArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub(crate) listen: std::net::SocketAddr,
    /// How much faster than real time tasks progress (above 0, at most 100000).
    #[arg(long, default_value_t = 1.0, value_parser = crate::checks::speed)]
    pub(crate) speed: f64,
    /// The API key to accept.
    #[arg(long, default_value = apikley_sandbox::DEFAULT_API_KEY)]
    pub(crate) key: String,
    /// Answer every API call this many milliseconds late (0 to 600000), like a slow network.
    #[arg(long, value_name = "MS", value_parser = crate::checks::latency)]
    pub(crate) latency: Option<Duration>,
}

/// Runs a command's `main` on a multi-threaded tokio runtime, or says why none could start.
pub(crate) fn block_on(main: impl Future<Output = ExitCode>) -> ExitCode {
    match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime.block_on(main),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What a command does, resolved from its arguments before anything runs: plain data.
#[allow(
    clippy::large_enum_variant,
    reason = "one plan is made per run of a command"
)]
pub enum Plan<'a> {
    /// Submit a checked request, then follow the task as `args` say; a result without `-o`
    /// is named `<prefix>-<task id>.<extension>`.
    Submit {
        /// The request, checked.
        request: Request,
        /// Whether and where the result is saved.
        args: &'a SubmitArgs,
        /// The default file name's start (the model id, or the program).
        prefix: String,
    },
    /// Follow a task that exists, or show the account.
    Task(&'a TaskCommand),
    /// Serve a sandbox until Ctrl-C; `example` is the command its banner suggests.
    #[cfg(feature = "sandbox")]
    Sandbox {
        /// Where and how it serves.
        args: &'a SandboxArgs,
        /// A command to try against it, as the banner prints it.
        example: &'a str,
    },
}

/// Runs `plan` for `program` (the name resume hints use) with the flags every command takes,
/// until it ends or Ctrl-C, and reports the request's problems, a failure or an interruption,
/// with what can be resumed and how; the exit code says which.
pub fn run(program: &'static str, global: &Global, plan: Result<Plan<'_>, Violations>) -> ExitCode {
    global.init_logging();
    block_on(execute(program, global, plan.map_err(Failure::Invalid)))
}

/// [`run`], on a runtime already started, with a failure met while resolving the plan.
pub(crate) async fn execute(
    program: &'static str,
    global: &Global,
    plan: Result<Plan<'_>, Failure>,
) -> ExitCode {
    let mut runner = Runner {
        global,
        out: global.output(),
        session: Session::new(program).on_sandbox(global.sandbox()),
    };
    let outcome = match plan {
        Err(failure) => Err(failure),
        Ok(Plan::Submit {
            request,
            args,
            prefix,
        }) => interruptible(runner.submit(request, args, &prefix)).await,
        Ok(Plan::Task(command)) => interruptible(runner.task(command)).await,
        // It ends on Ctrl-C itself: that is no interruption.
        #[cfg(feature = "sandbox")]
        Ok(Plan::Sandbox { args, example }) => {
            return serve_sandbox(args, global.json, example).await;
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => crate::failure::report(failure, &mut runner.out, &runner.session),
    }
}

/// `work`, or [`Failure::Interrupted`] at the first Ctrl-C.
async fn interruptible(work: impl Future<Output = Result<(), Failure>>) -> Result<(), Failure> {
    tokio::select! {
        outcome = work => outcome,
        _ = tokio::signal::ctrl_c() => Err(Failure::Interrupted),
    }
}

/// A plan being carried out: the flags, the output, and the session that knows what has been
/// paid for and how to resume.
struct Runner<'a> {
    global: &'a Global,
    out: Output,
    session: Session,
}

impl Runner<'_> {
    /// Submits `request` once everything that can be checked is (the request was, by its
    /// builder; here, where the result will go), then follows the task: its id, and with
    /// `--no-wait` the command that resumes, or a wait with progress and the result saved where
    /// `args` says, or as `<prefix>-<task id>.<extension>` with the extension its content shows.
    async fn submit(
        &mut self,
        request: Request,
        args: &SubmitArgs,
        prefix: &str,
    ) -> Result<(), Failure> {
        let (global, out, session) = (self.global, &mut self.out, &self.session);
        let save = &args.save;
        if !args.no_wait {
            flow::check_target(save.output.as_deref(), save.overwrite, global.sidecars())?;
        }
        let origin = Some(crate::sidecar::Origin::of_request(&request))
            .filter(|_| global.sidecars())
            .flatten();
        let extension = flow::guessed_extension(&request);
        let (client, _sandbox) = global.connect().await?;
        let mut submission = client
            .submit(request)
            .on_sending(|| session.phase(Phase::Creating));
        if let Some(path) = save.output.as_ref().filter(|_| !args.no_wait) {
            submission = submission.destination(path);
        }
        let task = match submission.await {
            Ok(task) => task,
            Err(error) if error.api_code() == Some(apikley::ApiCode::InsufficientCredits) => {
                let balance = client.credits().await.ok();
                return Err(Failure::OutOfCredits { error, balance });
            }
            Err(error) => return Err(error.into()),
        };
        flow::hold_for_tests("recorded").await;
        let id = task.id();
        session.task(id, Phase::Waiting);
        out.line(format!("submitted task {id}"));
        let target = match &save.output {
            Some(path) => flow::Target {
                path: path.clone(),
                by_content: false,
                overwrite: save.overwrite,
            },
            None => flow::Target {
                path: flow::default_file(prefix, id, extension),
                by_content: true,
                overwrite: save.overwrite,
            },
        };
        if args.no_wait {
            // Where the result would have gone, so that the hint can be run as printed.
            session.output(&target.path, false);
            let hint = match (session.resume_command(), session.sandbox_note()) {
                (Some(command), _) => format!("resume with: {command}"),
                (None, Some(note)) => note,
                (None, None) => String::new(),
            };
            out.line(&hint);
            out.result(
                json!({"task_id": id, "state": "submitted", "resume": session.resume_command()}),
                id.as_str(),
            );
            return Ok(());
        }
        session.output(&target.path, save.overwrite);
        let done = flow::wait(&task, out, session).await?;
        flow::save(&done, &target, origin.as_ref(), out, session).await
    }

    /// A command for a task that exists, or for the account.
    async fn task(&mut self, command: &TaskCommand) -> Result<(), Failure> {
        let (global, out, session) = (self.global, &mut self.out, &self.session);
        match command {
            TaskCommand::Wait { task_id, save } => {
                if let Some(path) = &save.output {
                    flow::check_target(Some(path), save.overwrite, global.sidecars())?;
                    session.output(path, save.overwrite);
                }
                let task_id = crate::tasks::task_id(global, task_id).await?;
                let (client, _sandbox) = global.connect().await?;
                let task = client.task(task_id);
                let done = flow::wait(&task, out, session).await?;
                match &save.output {
                    Some(path) => {
                        let target = flow::Target {
                            path: path.clone(),
                            by_content: false,
                            overwrite: save.overwrite,
                        };
                        let origin = match global.sidecars() {
                            true => Some(crate::tasks::origin(&client, done.record()).await),
                            false => None,
                        };
                        flow::save(&done, &target, origin.as_ref(), out, session).await
                    }
                    None => flow::show_urls(&done, out),
                }
            }
            TaskCommand::Status { task_id } => {
                let (client, _sandbox) = global.connect().await?;
                let record = client.task(task_id.as_str()).status().await?;
                out.result(flow::record_json(&record), flow::status_line(&record));
                Ok(())
            }
            TaskCommand::Download {
                task_id,
                output,
                overwrite,
            } => {
                let task_id = crate::tasks::task_id(global, task_id).await?;
                let task_id = task_id.as_str();
                let target = match output {
                    Some(path) => flow::Target {
                        path: path.clone(),
                        by_content: false,
                        overwrite: *overwrite,
                    },
                    None => flow::Target {
                        path: PathBuf::from(format!("{}.bin", flow::safe_name(task_id))),
                        by_content: true,
                        overwrite: *overwrite,
                    },
                };
                let named = !target.by_content && global.sidecars();
                flow::check_target(Some(&target.path), *overwrite, named)?;
                let (client, _sandbox) = global.connect().await?;
                session.output(&target.path, *overwrite);
                session.task(&TaskId::from(task_id), Phase::Downloading);
                let file = client
                    .download_task(task_id, &target.path)
                    .overwrite(*overwrite)
                    .name_by_content(target.by_content)
                    .on_progress(|p| out.download(p))
                    .await?;
                let sidecar = match named {
                    true => {
                        crate::tasks::provenance(&client, task_id, &file, out, *overwrite).await
                    }
                    false => None,
                };
                flow::saved(&file, task_id, None, sidecar.as_deref(), out);
                Ok(())
            }
            TaskCommand::Tasks {
                pending,
                resume: true,
                ..
            } if *pending => crate::tasks::resume(global, out).await,
            TaskCommand::Tasks { pending, limit, .. } => {
                crate::tasks::list(global, out, *pending, *limit).await
            }
            TaskCommand::Credits => {
                let (client, _sandbox) = global.connect().await?;
                let credits = client.credits().await?;
                out.result(json!({"credits": credits}), format!("credits: {credits}"));
                Ok(())
            }
        }
    }
}

/// Serves a sandbox as `args` say until Ctrl-C; its banner suggests `example`.
#[cfg(feature = "sandbox")]
async fn serve_sandbox(args: &SandboxArgs, json: bool, example: &str) -> ExitCode {
    let SandboxArgs {
        listen,
        speed,
        key,
        latency,
    } = args;
    let (listen, speed) = (*listen, *speed);
    let mut faults = apikley_sandbox::Faults::none();
    if let Some(latency) = *latency {
        faults = faults.with_slow(latency);
    }
    let started = apikley_sandbox::Sandbox::builder()
        .address(listen)
        .speed(speed)
        .api_key(key)
        .faults(faults)
        // Enough for any demo or batch: running out is what a test sandbox is for.
        .credits(1e6)
        .start()
        .await;
    let sandbox = match started {
        Ok(sandbox) => sandbox,
        Err(e) => {
            eprintln!("error: cannot start the sandbox on {listen}: {e}");
            return ExitCode::from(crate::failure::exit::INVALID_INPUT);
        }
    };
    if json {
        println!(
            "{}",
            json!({"url": sandbox.url(), "api_key": sandbox.api_key()})
        );
    } else {
        println!("Apikley sandbox listening on {}", sandbox.url());
        println!("API key: {}", sandbox.api_key());
        println!(
            "Use it: APIKLEY_BASE_URL={} APIKLEY_API_KEY={} {example}",
            sandbox.url(),
            sandbox.api_key()
        );
    }
    let _ = tokio::signal::ctrl_c().await;
    if !json {
        println!("sandbox stopped");
    }
    ExitCode::SUCCESS
}
