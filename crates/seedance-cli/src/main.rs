#![doc = include_str!("../README.md")]

mod cli;

use std::process::ExitCode;
use std::sync::Arc;

use apikley::{ModelSpec, Violations};
use apikley_cli::commands::{self, Plan};
use apikley_cli::failure::{self, Failure};
#[cfg(feature = "sandbox")]
use apikley_cli::flow;
use apikley_cli::inputs;
use clap::{CommandFactory, FromArgMatches};
use seedance::Seedance15Pro;

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
    let spec = match apikley::ModelSpec::of::<Seedance15Pro>() {
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
    cli.global.init_logging();
    commands::block_on(run(cli, spec))
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
    let global = &cli.global;
    let command = match &cli.command {
        Command::Api(command) => command,
        #[cfg(feature = "sandbox")]
        Command::Sandbox { listen, speed, key } => {
            let example = "seedance generate \"A serene beach at sunset\"";
            return flow::serve_sandbox(*listen, *speed, key, None, global.json, example).await;
        }
    };
    let plan = match command {
        ApiCommand::Generate(args) => video_request(spec, args)
            .map(|request| Plan::Submit {
                request,
                args: &args.submit,
                prefix: PROGRAM.to_owned(),
            })
            .map_err(Failure::from),
        ApiCommand::Task(command) => Ok(Plan::Task(command)),
    };
    commands::run(PROGRAM, global, plan).await
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
    inputs::request(spec, &pairs, args.submit.callback_url.as_deref())
}
