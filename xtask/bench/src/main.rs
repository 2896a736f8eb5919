#![doc = include_str!("../README.md")]

mod bulk;
mod common;
mod journal;
mod memory;
mod overhead;
mod polling;
mod table;
mod workers;

use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["child", "waits", n] => return memory::waits_child(n.parse().expect("a count")),
        ["child", "transfer", mode, arg] => return memory::transfer_child(mode, arg),
        ["child", "transfer", mode] => return memory::transfer_child(mode, ""),
        ["child", "serve"] => return overhead::serve_child(),
        _ => {}
    }
    let quick = args.iter().any(|a| a == "--quick");
    // `--only N`, repeated: those rows; none: every row.
    let only: Vec<&str> = args
        .windows(2)
        .filter(|pair| pair[0] == "--only")
        .map(|pair| pair[1].as_str())
        .collect();
    let wanted = |name: &str| only.is_empty() || only.contains(&name);
    let started = Instant::now();
    let mut rows = Vec::new();
    let runtime = common::paused_runtime();
    if wanted("1") {
        eprintln!("bench 1: polling lag and cost…");
        rows.extend(runtime.block_on(polling::run(quick)));
        rows.push(polling::callbacks(quick));
    }
    if wanted("2") {
        eprintln!("bench 2: bulk…");
        let tasks = if quick { 200 } else { 1000 };
        rows.push(runtime.block_on(bulk::submitted_and_awaited(tasks)));
    }
    if wanted("3") {
        eprintln!("bench 3: many in flight…");
        let tasks = if quick { 300 } else { 1000 };
        rows.extend(runtime.block_on(bulk::in_flight(tasks)));
    }
    if wanted("4") {
        eprintln!("bench 4: memory per waiting task…");
        rows.push(memory::waits(if quick { 2000 } else { 10_000 }));
    }
    if wanted("5") {
        eprintln!("bench 5: client overhead…");
        rows.push(overhead::run(quick));
    }
    if wanted("6") {
        eprintln!("bench 6: upload and download memory…");
        rows.extend(memory::transfers(quick));
    }
    if wanted("9") {
        eprintln!("bench 9: the journal and the runtime…");
        rows.push(journal::stall(quick));
    }
    if wanted("10") {
        eprintln!("bench 10: the price of the task history…");
        rows.push(overhead::history(quick));
    }
    if wanted("11") {
        eprintln!("bench 11: workers sharing one batch…");
        rows.push(workers::shared_batch(quick));
    }
    table::print(&rows);
    eprintln!("benchmarks took {:.0} s", started.elapsed().as_secs_f64());
}
