//! `apikley`: run any Apikley Market model from a terminal.

fn main() -> std::process::ExitCode {
    apikley_cli::main()
}
