#![doc = include_str!("../README.md")]

mod cli;

use std::process::ExitCode;

use apikley::{ModelSpec, Request, Violations};
use apikley_cli::Plan;
use clap::{CommandFactory, FromArgMatches};
use seedance::{AspectRatio, Resolution, Seedance15Pro, VideoLength, VideoRequest};
use serde_json::Value;

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
    let spec = match ModelSpec::of::<Seedance15Pro>() {
        Ok(spec) => spec,
        Err(reason) => {
            eprintln!("error: the Seedance spec cannot be read: {reason}");
            return ExitCode::FAILURE;
        }
    };
    let cli = match parse(&spec) {
        Ok(cli) => cli,
        Err(error) => return apikley_cli::usage(error),
    };
    let plan = match &cli.command {
        Command::Api(ApiCommand::Generate(args)) => {
            video_request(args).map(|request| Plan::Submit {
                request,
                args: &args.submit,
                prefix: PROGRAM.to_owned(),
            })
        }
        Command::Api(ApiCommand::Task(command)) => Ok(Plan::Task(command)),
        #[cfg(feature = "sandbox")]
        Command::Sandbox(args) => Ok(Plan::Sandbox {
            args,
            example: "seedance generate \"A serene beach at sunset\"",
        }),
    };
    apikley_cli::run(PROGRAM, &cli.global, plan)
}

/// The command line, with `generate`'s help completed from the spec (allowed values,
/// defaults, bounds): the spec says them once.
fn parse(spec: &ModelSpec) -> Result<Cli, clap::Error> {
    let command = Cli::command().mut_subcommand("generate", |generate| {
        FLAGS.iter().fold(generate, |generate, (flag, input)| {
            let Some(facts) = apikley_cli::facts(spec, input) else {
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

/// `generate`'s flags as a typed [`VideoRequest`], checked by the spec with every problem
/// found at once. A flag that names no value of its setting goes into the request as written,
/// so that the spec's check words its refusal beside the others, in the spec's order.
fn video_request(args: &Generate) -> Result<Request, Violations> {
    let mut video = VideoRequest::new(&args.prompt);
    let mut unread: Vec<(&str, Value)> = Vec::new();
    if let Some(text) = &args.aspect_ratio {
        match text.parse::<AspectRatio>() {
            Ok(ratio) => video = video.aspect_ratio(ratio),
            Err(_) => unread.push(("aspect_ratio", text.as_str().into())),
        }
    }
    if let Some(text) = &args.resolution {
        match text.parse::<Resolution>() {
            Ok(resolution) => video = video.resolution(resolution),
            Err(_) => unread.push(("resolution", text.as_str().into())),
        }
    }
    if let Some(text) = &args.duration {
        match text.parse::<VideoLength>() {
            Ok(length) => video = video.duration(length),
            // `5s` is refused as 5: the number the spec's rule is about.
            Err(_) => {
                let number = text.trim().trim_end_matches('s');
                let value = number
                    .parse::<u64>()
                    .map_or_else(|_| text.as_str().into(), Value::from);
                unread.push(("duration", value));
            }
        }
    }
    if args.fixed_lens {
        video = video.fixed_lens(true);
    }
    if args.audio {
        video = video.generate_audio(true);
    }
    for image in &args.images {
        video = video.image(image.as_str());
    }
    if let Some(url) = args.submit.callback_url() {
        video = video.callback_url(url);
    }
    unread
        .into_iter()
        .fold(Request::from(video), |request, (input, value)| {
            request.with_input(input, value)
        })
        .check()
}
