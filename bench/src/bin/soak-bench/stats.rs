//! The soak's counts: every answer's kind, whether it was an error, and its latency, per minute and
//! over the whole run.

use std::sync::Mutex;
use std::time::Duration;

/// What a request was, for the counts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Request,
    Cancel,
    Track,
    View,
    Worklist,
    Schedule,
    Pickup,
    Scan,
    ScanBatch,
    Handover,
    Confirm,
    Verdict,
    Result,
    Collected,
    Exceptions,
    Identity,
}

impl Kind {
    pub const ALL: [Kind; 16] = [
        Kind::Request,
        Kind::Cancel,
        Kind::Track,
        Kind::View,
        Kind::Worklist,
        Kind::Schedule,
        Kind::Pickup,
        Kind::Scan,
        Kind::ScanBatch,
        Kind::Handover,
        Kind::Confirm,
        Kind::Verdict,
        Kind::Result,
        Kind::Collected,
        Kind::Exceptions,
        Kind::Identity,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Kind::Request => "request",
            Kind::Cancel => "cancel",
            Kind::Track => "track",
            Kind::View => "view",
            Kind::Worklist => "worklist",
            Kind::Schedule => "schedule",
            Kind::Pickup => "pickup",
            Kind::Scan => "scan",
            Kind::ScanBatch => "scan-batch",
            Kind::Handover => "handover",
            Kind::Confirm => "confirm",
            Kind::Verdict => "verdict",
            Kind::Result => "result",
            Kind::Collected => "collected",
            Kind::Exceptions => "exceptions",
            Kind::Identity => "identity",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }

    /// Requests of the public (citizens and readers), as opposed to staff work.
    pub const fn is_public(self) -> bool {
        matches!(
            self,
            Kind::Request | Kind::Cancel | Kind::Track | Kind::View
        )
    }
}

/// Counts and latencies of one kind over a period.
#[derive(Default, Clone)]
pub struct KindStats {
    pub count: u64,
    pub errors: u64,
    pub latencies_us: Vec<u32>,
}

/// The 99th percentile of `latencies` (sorted here), in milliseconds.
pub fn p99_ms(latencies: &mut [u32]) -> f64 {
    if latencies.is_empty() {
        return 0.0;
    }
    latencies.sort_unstable();
    let idx = ((latencies.len() as f64 - 1.0) * 0.99).round() as usize;
    f64::from(latencies[idx]) / 1000.0
}

type PerKind = [KindStats; Kind::ALL.len()];

struct StatsInner {
    minute: PerKind,
    total: PerKind,
    /// The distinct errors of the run, in the order they first happened, with how many times each.
    errors: Vec<(String, u64)>,
}

impl StatsInner {
    fn note(&mut self, error: String) {
        if let Some((_, n)) = self.errors.iter_mut().find(|(e, _)| *e == error) {
            *n += 1;
        } else if self.errors.len() < Stats::ERROR_KINDS {
            self.errors.push((error, 1));
        }
    }
}

/// Every answer of the run: this minute's and the whole run's.
pub struct Stats {
    inner: Mutex<StatsInner>,
}

impl Default for Stats {
    fn default() -> Self {
        Self {
            inner: Mutex::new(StatsInner {
                minute: std::array::from_fn(|_| KindStats::default()),
                total: std::array::from_fn(|_| KindStats::default()),
                errors: Vec::new(),
            }),
        }
    }
}

impl Stats {
    /// Distinct errors kept for the report.
    const ERROR_KINDS: usize = 20;

    pub fn record(&self, kind: Kind, latency: Duration, error: Option<String>) {
        let us = u32::try_from(latency.as_micros()).unwrap_or(u32::MAX);
        let Ok(mut guard) = self.inner.lock() else {
            return;
        };
        let inner = &mut *guard;
        for stats in [&mut inner.minute, &mut inner.total] {
            let k = &mut stats[kind.index()];
            k.count += 1;
            k.latencies_us.push(us);
            if error.is_some() {
                k.errors += 1;
            }
        }
        if let Some(error) = error {
            inner.note(error);
        }
    }

    /// An answer that came with the expected status but said something else than expected (a batch
    /// with refused scans): one more error of its kind, no request.
    pub fn wrong_answer(&self, kind: Kind, what: String) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        inner.minute[kind.index()].errors += 1;
        inner.total[kind.index()].errors += 1;
        inner.note(what);
    }

    /// This minute's figures, starting the next minute from zero.
    pub fn take_minute(&self) -> Vec<KindStats> {
        match self.inner.lock() {
            Ok(mut inner) => std::mem::replace(
                &mut inner.minute,
                std::array::from_fn(|_| KindStats::default()),
            )
            .to_vec(),
            Err(_) => Vec::new(),
        }
    }

    /// The whole run's figures.
    pub fn totals(&self) -> Vec<KindStats> {
        self.inner
            .lock()
            .map(|inner| inner.total.to_vec())
            .unwrap_or_default()
    }

    /// The distinct errors of the run (the first twenty kinds), each with how many times it happened.
    pub fn errors(&self) -> Vec<(String, u64)> {
        self.inner
            .lock()
            .map(|inner| inner.errors.clone())
            .unwrap_or_default()
    }
}
