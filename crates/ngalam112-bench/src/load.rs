//! The load harness: N workers run an operation in a loop; after a warm-up
//! every latency is recorded; the figures are ops/s, p50, p99, max.

use std::future::Future;
use std::time::{Duration, Instant};

/// One row of the results.
#[derive(Debug, Clone)]
pub struct Row {
    pub workload: String,
    pub ops_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub errors: u64,
    pub note: String,
}

impl Row {
    pub fn from_latencies(
        workload: &str,
        mut latencies_us: Vec<u64>,
        seconds: f64,
        errors: u64,
    ) -> Row {
        latencies_us.sort_unstable();
        let at = |share: f64| {
            if latencies_us.is_empty() {
                return f64::NAN;
            }
            let index = ((share * latencies_us.len() as f64).ceil() as usize)
                .clamp(1, latencies_us.len())
                - 1;
            latencies_us[index] as f64 / 1000.0
        };
        Row {
            workload: workload.to_owned(),
            ops_per_s: latencies_us.len() as f64 / seconds.max(1e-9),
            p50_ms: at(0.50),
            p99_ms: at(0.99),
            max_ms: latencies_us
                .last()
                .map_or(f64::NAN, |max| *max as f64 / 1000.0),
            errors,
            note: String::new(),
        }
    }
}

/// Runs `operation(worker, iteration)` from `workers` tasks for `warmup` +
/// `duration`; only the `duration` part is measured.
pub async fn measure<F, Fut>(
    workload: &str,
    workers: usize,
    warmup: Duration,
    duration: Duration,
    operation: F,
) -> Row
where
    F: Fn(usize, u64) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let start = Instant::now();
    let measured_from = start + warmup;
    let end = measured_from + duration;
    let mut tasks = Vec::new();
    for worker in 0..workers {
        let operation = operation.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            let mut iteration = 0u64;
            loop {
                let began = Instant::now();
                if began >= end {
                    break;
                }
                let ok = operation(worker, iteration).await;
                iteration += 1;
                if began >= measured_from {
                    if ok {
                        latencies.push(began.elapsed().as_micros() as u64);
                    } else {
                        errors += 1;
                    }
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        if let Ok((mut worker_latencies, worker_errors)) = task.await {
            latencies.append(&mut worker_latencies);
            errors += worker_errors;
        }
    }
    Row::from_latencies(workload, latencies, duration.as_secs_f64(), errors)
}
