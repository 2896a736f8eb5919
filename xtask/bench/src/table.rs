//! The one table every run prints: a Markdown table, so that BENCHMARKS.md can hold it as is.

/// One line of the table.
pub struct Row {
    /// Which benchmark.
    pub bench: &'static str,
    /// The case within it.
    pub case: String,
    /// What the SDK achieved.
    pub ours: String,
    /// What it is compared with, measured in the same run.
    pub other: String,
    /// The target, in words.
    pub target: String,
    /// Whether the target is met (`None`: no target).
    pub met: Option<bool>,
}

pub fn print(rows: &[Row]) {
    println!("| bench | case | SDK | compared with (same run) | target | met |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for row in rows {
        let met = match row.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "",
        };
        println!(
            "| {} | {} | {} | {} | {} | {met} |",
            row.bench, row.case, row.ours, row.other, row.target
        );
    }
}

/// Seconds, to one decimal.
pub fn secs(seconds: f64) -> String {
    format!("{seconds:.1} s")
}
