//! `seedance`: generate videos with Apikley's Seedance 1.5 Pro from a terminal. A friendly face
//! on the parts every model's command shares (`apikley_cli`): the flags are Seedance's names for
//! the inputs of its spec, which types, checks and documents them.

mod cli;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use apikley::{Model, ModelSpec, PollSchedule, TaskId, Violations};
use apikley_cli::failure::{self, Failure};
use apikley_cli::output::Output;
use apikley_cli::session::{Phase, Session};
use apikley_cli::{flow, inputs};
use clap::{CommandFactory, FromArgMatches};
use seedance::Seedance15Pro;
use serde_json::json;

use cli::{ApiCommand, Cli, Command, Generate};

/// The name resume hints use.
const PROGRAM: &str = "seedance";

/// Each flag of `generate` and the spec input it sets.
const FLAGS: [(&str, &str); 7] = [
    ("prompt", "prompt"),
    ("images", "input_urls"),
    ("aspect_ratio", "aspect_ratio"),
    ("resolution", "resolution"),
    ("duration", "duration"),
    ("fixed_lens", "fixed_lens"),
    ("audio", "generate_audio"),
];

fn main() -> ExitCode {
    let spec = match Seedance15Pro::spec() {
        Ok(spec) => spec,
        Err(reason) => {
            eprintln!("error: the Seedance spec cannot be read: {reason}");
            return ExitCode::FAILURE;
        }
    };
    let cli = match parse(&spec) {
        Ok(cli) => cli,
        Err(error) => return failure::usage(error),
    };
    if cli.verbose {
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_max_level(tracing_subscriber::filter::LevelFilter::DEBUG)
            .init();
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(cli, spec))
}

/// The command line, with `generate`'s help completed from the spec (allowed values,
/// defaults, bounds): the spec says them once.
fn parse(spec: &ModelSpec) -> Result<Cli, clap::Error> {
    let command = Cli::command().mut_subcommand("generate", |generate| {
        FLAGS.iter().fold(generate, |generate, (flag, input)| {
            let Some(facts) = inputs::facts(spec, input) else {
                return generate;
            };
            generate.mut_arg(*flag, |arg| {
                let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
                arg.help(format!("{help} ({facts})"))
            })
        })
    });
    Cli::from_arg_matches(&command.try_get_matches()?)
}

async fn run(cli: Cli, spec: Arc<ModelSpec>) -> ExitCode {
    let command = match &cli.command {
        Command::Api(command) => command,
        #[cfg(feature = "sandbox")]
        Command::Sandbox { listen, speed, key } => {
            let example = "seedance generate \"A serene beach at sunset\"";
            return flow::serve_sandbox(*listen, *speed, key, None, cli.json, example).await;
        }
    };
    let mut out = Output::new(cli.json);
    let session = Session::new(PROGRAM);
    let outcome = tokio::select! {
        outcome = execute(&cli, command, spec, &mut out, &session) => outcome,
        _ = tokio::signal::ctrl_c() => Err(Failure::Interrupted),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure::report(failure, &mut out, &session),
    }
}

async fn execute(
    cli: &Cli,
    command: &ApiCommand,
    spec: Arc<ModelSpec>,
    out: &mut Output,
    session: &Session,
) -> Result<(), Failure> {
    let schedule = match (cli.poll_interval, cli.sandbox()) {
        (Some(seconds), _) => Some(PollSchedule::Every(Duration::from_secs(seconds))),
        (None, true) => Some(PollSchedule::Every(Duration::from_secs(1))),
        (None, false) => None,
    };
    match command {
        ApiCommand::Generate(args) => {
            // Everything that can be checked is, before anything is paid for: the request, and
            // where its video will go.
            let request = video_request(spec, args)?;
            if !args.no_wait {
                flow::check_target(args.save.output.as_deref(), args.save.overwrite)?;
            }
            let (client, _sandbox) = flow::connect(cli.sandbox()).await?;
            let task = client
                .submit(request)
                .on_sending(|| session.phase(Phase::Creating))
                .await?;
            let id = task.id();
            session.task(id, Phase::Waiting);
            out.line(format!("submitted task {id}"));
            if args.no_wait {
                out.line(format!("resume with: {PROGRAM} wait {id} -o FILE"));
                out.result(json!({"task_id": id, "state": "submitted"}), id.as_str());
                return Ok(());
            }
            let path = args
                .save
                .output
                .clone()
                .unwrap_or_else(|| flow::default_file(PROGRAM, id));
            session.output(&path, args.save.overwrite);
            let done = flow::wait(&task, schedule, out, session).await?;
            flow::save(&done, &path, args.save.overwrite, out, session).await
        }
        ApiCommand::Wait { task_id, save } => {
            if let Some(path) = &save.output {
                flow::check_target(Some(path), save.overwrite)?;
                session.output(path, save.overwrite);
            }
            let (client, _sandbox) = flow::connect(cli.sandbox()).await?;
            let task = client.task(task_id.as_str());
            let done = flow::wait(&task, schedule, out, session).await?;
            match &save.output {
                Some(path) => flow::save(&done, path, save.overwrite, out, session).await,
                None => flow::show_urls(&done, out),
            }
        }
        ApiCommand::Status { task_id } => {
            let (client, _sandbox) = flow::connect(cli.sandbox()).await?;
            let record = client.task(task_id.as_str()).status().await?;
            out.result(flow::record_json(&record), flow::status_line(&record));
            Ok(())
        }
        ApiCommand::Download {
            task_id,
            output,
            overwrite,
        } => {
            flow::check_target(Some(output), *overwrite)?;
            let (client, _sandbox) = flow::connect(cli.sandbox()).await?;
            session.output(output, *overwrite);
            session.task(&TaskId::from(task_id.as_str()), Phase::Downloading);
            let file = client
                .download_task(task_id.as_str(), output)
                .overwrite(*overwrite)
                .on_progress(|p| out.download(p))
                .await?;
            out.result(
                json!({"task_id": task_id, "file": file.path, "bytes": file.bytes}),
                format!("saved {} ({} bytes)", file.path.display(), file.bytes),
            );
            Ok(())
        }
        ApiCommand::Credits => {
            let (client, _sandbox) = flow::connect(cli.sandbox()).await?;
            let credits = client.credits().await?;
            out.result(json!({"credits": credits}), format!("credits: {credits}"));
            Ok(())
        }
    }
}

/// The request, typed and checked by the spec, every problem found at once.
fn video_request(spec: Arc<ModelSpec>, args: &Generate) -> Result<apikley::Request, Violations> {
    let mut pairs = vec![format!("prompt={}", args.prompt)];
    let mut set = |input: &str, value: &Option<String>| {
        if let Some(value) = value {
            pairs.push(format!("{input}={value}"));
        }
    };
    set("aspect_ratio", &args.aspect_ratio);
    set("resolution", &args.resolution);
    // `8s` reads as 8, as people write it.
    let seconds = args
        .duration
        .as_deref()
        .map(|d| d.trim().trim_end_matches('s').to_owned());
    set("duration", &seconds);
    if args.fixed_lens {
        pairs.push("fixed_lens=true".into());
    }
    if args.audio {
        pairs.push("generate_audio=true".into());
    }
    pairs.extend(
        args.images
            .iter()
            .map(|image| format!("input_urls={image}")),
    );
    inputs::request(spec, &pairs, args.callback_url.as_deref())
}
