//! Figures and their presentation: percentiles, the Markdown table, the JSON file.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::{Value, json};

/// One measured figure.
#[derive(Debug, Clone)]
pub struct Row {
    pub scenario: String,
    pub metric: String,
    pub value: f64,
    pub unit: &'static str,
}

/// Everything measured in one run, plus notes on anything surprising.
#[derive(Debug, Default)]
pub struct Report {
    pub rows: Vec<Row>,
    pub notes: Vec<String>,
    pub failures: Vec<String>,
    pub meta: Vec<(String, Value)>,
}

impl Report {
    /// Records a figure and echoes it to stderr as progress.
    pub fn add(&mut self, scenario: &str, metric: impl Into<String>, value: f64, unit: &'static str) {
        let metric = metric.into();
        eprintln!("[{scenario}]   {metric} = {} {unit}", fmt_value(value, unit));
        self.rows.push(Row { scenario: scenario.to_string(), metric, value, unit });
    }

    /// Records p50, p99 and max of `samples` (milliseconds) as `<prefix> p50` etc.
    pub fn add_ms_stats(&mut self, scenario: &str, prefix: &str, samples: &[f64], with_max: bool) {
        let s = Stats::of(samples);
        self.add(scenario, format!("{prefix} p50"), s.p50, "ms");
        self.add(scenario, format!("{prefix} p99"), s.p99, "ms");
        if with_max {
            self.add(scenario, format!("{prefix} max"), s.max, "ms");
        }
    }

    /// Something a reader of the figures should know about.
    pub fn note(&mut self, scenario: &str, text: impl Into<String>) {
        let text = format!("{scenario}: {}", text.into());
        eprintln!("[{scenario}] NOTE {}", text.split_once(": ").map(|x| x.1).unwrap_or(&text));
        self.notes.push(text);
    }

    pub fn meta(&mut self, key: &str, value: Value) {
        self.meta.push((key.to_string(), value));
    }

    pub fn markdown(&self) -> String {
        let mut rows: Vec<[String; 4]> =
            vec![["scenario".to_string(), "metric".to_string(), "value".to_string(), "unit".to_string()]];
        for r in &self.rows {
            rows.push([r.scenario.clone(), r.metric.clone(), fmt_value(r.value, r.unit), r.unit.to_string()]);
        }
        let mut widths = [0usize; 4];
        for r in &rows {
            for (w, c) in widths.iter_mut().zip(r.iter()) {
                *w = (*w).max(c.chars().count());
            }
        }
        let mut out = String::new();
        for (i, r) in rows.iter().enumerate() {
            out.push('|');
            for (col, (w, c)) in widths.iter().zip(r.iter()).enumerate() {
                let pad = w.saturating_sub(c.chars().count());
                // Numbers right-aligned, text left-aligned.
                if col == 2 && i > 0 {
                    out.push_str(&format!(" {}{c} |", " ".repeat(pad)));
                } else {
                    out.push_str(&format!(" {c}{} |", " ".repeat(pad)));
                }
            }
            out.push('\n');
            if i == 0 {
                out.push('|');
                for (col, w) in widths.iter().enumerate() {
                    let dashes = "-".repeat(*w);
                    if col == 2 {
                        out.push_str(&format!(" {}: |", &dashes[1..]));
                    } else {
                        out.push_str(&format!(" {dashes} |"));
                    }
                }
                out.push('\n');
            }
        }
        out
    }

    pub fn to_json(&self) -> Value {
        let meta: serde_json::Map<String, Value> = self.meta.iter().cloned().collect();
        json!({
            "meta": meta,
            "results": self.rows.iter().map(|r| json!({
                "scenario": r.scenario,
                "metric": r.metric,
                "value": r.value,
                "unit": r.unit,
            })).collect::<Vec<_>>(),
            "notes": self.notes,
            "failures": self.failures,
        })
    }

    pub fn write_json(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(&self.to_json())?;
        std::fs::write(path, text + "\n").with_context(|| format!("cannot write {}", path.display()))
    }
}

/// A short, readable number: integers for counts, fewer decimals for larger values.
pub fn fmt_value(v: f64, unit: &str) -> String {
    if matches!(unit, "count" | "items" | "threads" | "wake-ups" | "calls") || v.abs() >= 1000.0 {
        format!("{v:.0}")
    } else if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Order statistics by the nearest-rank method: p-th percentile is the
/// smallest sample with at least p % of the samples at or below it.
#[derive(Debug, Clone, Copy)]
pub struct Stats {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
    pub min: f64,
}

impl Stats {
    pub fn of(samples: &[f64]) -> Stats {
        let mut s: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
        s.sort_by(f64::total_cmp);
        Stats {
            p50: percentile(&s, 50.0),
            p99: percentile(&s, 99.0),
            max: s.last().copied().unwrap_or(f64::NAN),
            min: s.first().copied().unwrap_or(f64::NAN),
        }
    }
}

/// Nearest-rank percentile of sorted samples; NaN for none.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Milliseconds between two wall-clock instants (`b - a`), with sub-ms precision.
pub fn ms_between(a: chrono::DateTime<chrono::Utc>, b: chrono::DateTime<chrono::Utc>) -> f64 {
    let d = b - a;
    match d.num_microseconds() {
        Some(us) => us as f64 / 1000.0,
        None => d.num_milliseconds() as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        let v: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(percentile(&v, 99.0), 20.0);
        assert_eq!(percentile(&v, 50.0), 10.0);
        assert!(percentile(&[], 50.0).is_nan());
    }
}
