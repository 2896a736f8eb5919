//! `seedance`: generate videos with Apikley's Seedance 1.5 Pro from a terminal.

mod cli;
mod failure;
mod flow;
mod output;
mod session;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use seedance::{
    AspectRatio, PollSchedule, Resolution, TaskId, VideoLength, VideoRequest, Violations,
};
use serde_json::json;

use cli::{ApiCommand, Cli, Command, Generate};
use failure::Failure;
use output::Output;
use session::{Phase, Session};

/// The name resume hints use.
const PROGRAM: &str = "seedance";

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
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
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> ExitCode {
    let command = match &cli.command {
        Command::Api(command) => command,
        #[cfg(feature = "sandbox")]
        Command::Sandbox { listen, speed, key } => {
            let example = "seedance generate \"A serene beach at sunset\"";
            return flow::serve_sandbox(*listen, *speed, key, cli.json, example).await;
        }
    };
    let mut out = Output::new(cli.json);
    let session = Session::new(PROGRAM);
    let outcome = tokio::select! {
        outcome = execute(&cli, command, &mut out, &session) => outcome,
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
            let request = video_request(args)?;
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

/// The request, with every problem found at once: values that do not parse, and the
/// request's own rules.
fn video_request(args: &Generate) -> Result<VideoRequest, Violations> {
    let mut problems = Violations::new();
    let mut request = VideoRequest::new(args.prompt.as_str());
    if let Some(value) = &args.aspect_ratio {
        match value.parse::<AspectRatio>() {
            Ok(ratio) => request = request.aspect_ratio(ratio),
            Err(e) => problems.push(e.violation("input.aspect_ratio")),
        }
    }
    if let Some(value) = &args.resolution {
        match value.parse::<Resolution>() {
            Ok(resolution) => request = request.resolution(resolution),
            Err(e) => problems.push(e.violation("input.resolution")),
        }
    }
    if let Some(value) = &args.duration {
        match value.parse::<VideoLength>() {
            Ok(length) => request = request.duration(length),
            Err(e) => problems.push(e.violation("input.duration")),
        }
    }
    if args.fixed_lens {
        request = request.fixed_lens(true);
    }
    if args.audio {
        request = request.generate_audio(true);
    }
    for image in &args.images {
        request = request.image(image.as_str());
    }
    if let Some(url) = &args.callback_url {
        request = request.callback_url(url.as_str());
    }
    if let Err(more) = request.validate() {
        problems.extend(more.iter().cloned());
    }
    problems.into_result().map(|()| request)
}
