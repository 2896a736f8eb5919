//! What every measurement shares: the bench model, a sandbox and client on tokio's paused
//! clock, order statistics, and peak memory.

use std::sync::Arc;
use std::time::Duration;

use apikley::{Client, ModelSpec, RateLimits, Request};
use apikley_sandbox::{Faults, Sandbox, SandboxModel};

/// The example video model, whose task takes exactly `15 + 6 × duration` seconds on the
/// sandbox clock (the expected duration it declares, at 480p): any real time from 15 s up.
pub fn spec() -> Arc<ModelSpec> {
    ModelSpec::of::<apikley_test_support::ExampleVideo>().expect("the example spec reads")
}

/// A request whose task takes `real` on the sandbox clock.
pub fn request(spec: &Arc<ModelSpec>, real: Duration, prompt: &str) -> Request {
    let duration = ((real.as_secs_f64() - 15.0) / 6.0).max(0.0);
    Request::new(spec.clone())
        .with_input("prompt", prompt)
        .with_input("duration", duration)
}

/// How long the task took on the sandbox clock, in seconds, from its record (`fallback` when
/// the record lacks its times).
pub fn generation_seconds(record: &apikley::TaskRecord, fallback: f64) -> f64 {
    match (record.created_at, record.completed_at) {
        (Some(a), Some(b)) => (b - a).num_milliseconds() as f64 / 1000.0,
        _ => fallback,
    }
}

/// A sandbox serving the bench model, on the caller's (paused) clock.
pub async fn sandbox(faults: Faults) -> Sandbox {
    Sandbox::builder()
        .credits(1e12)
        .model(SandboxModel::from_spec(spec()))
        .faults(faults)
        .start()
        .await
        .expect("the sandbox starts")
}

pub fn client(sandbox: &Sandbox, limits: RateLimits) -> Client {
    sandbox
        .client()
        .for_paused_clock()
        .rate_limits(limits)
        .build()
        .expect("a client")
}

/// A runtime on tokio's paused clock: simulated hours take seconds.
pub fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("a runtime")
}

/// The q-quantile (0..=1) of `values`, sorted in place.
pub fn quantile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let at = ((values.len() - 1) as f64 * q).round() as usize;
    values[at]
}

pub fn median(values: &mut [f64]) -> f64 {
    quantile(values, 0.5)
}

/// This process's resident memory now and at its peak, in KiB (Linux: `/proc/self/status`).
pub fn memory_kib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(f64::NAN)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// CPU time this process has used (user + system).
pub fn cpu_time() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a whole `rusage` into the pointer it is given.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}
