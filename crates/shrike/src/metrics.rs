//! Prometheus metrics for the API, rendered in the text exposition format (0.0.4).
//!
//! Label values are bounded: endpoints are a fixed list, status codes are numbers, verdicts and
//! error codes are fixed enums, so no request can grow the label set.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// The API's endpoints, as metric labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Endpoint {
    /// `POST /v1/email/score`.
    Score,
    /// `POST /v1/email/score/batch`.
    Batch,
    /// `GET /openapi.json`.
    OpenApi,
    /// `GET /healthz`.
    Healthz,
    /// `GET /readyz`.
    Readyz,
    /// `GET /metrics`.
    Metrics,
    /// `POST /v1/alerts`.
    Alerts,
    /// The analyst API (`/v1/queues`, `/v1/tickets…`, `/v1/actions…`, `/v1/feedback`).
    Analyst,
    /// Anything else (404s).
    Other,
}

impl Endpoint {
    const ALL: [Endpoint; 9] = [
        Endpoint::Score,
        Endpoint::Batch,
        Endpoint::OpenApi,
        Endpoint::Healthz,
        Endpoint::Readyz,
        Endpoint::Metrics,
        Endpoint::Alerts,
        Endpoint::Analyst,
        Endpoint::Other,
    ];

    fn label(self) -> &'static str {
        match self {
            Endpoint::Score => "score",
            Endpoint::Batch => "batch",
            Endpoint::OpenApi => "openapi",
            Endpoint::Healthz => "healthz",
            Endpoint::Readyz => "readyz",
            Endpoint::Metrics => "metrics",
            Endpoint::Alerts => "alerts",
            Endpoint::Analyst => "analyst",
            Endpoint::Other => "other",
        }
    }

    /// The endpoint a path belongs to.
    pub fn of_path(path: &str) -> Endpoint {
        match path {
            "/v1/email/score" => Endpoint::Score,
            "/v1/email/score/batch" => Endpoint::Batch,
            "/openapi.json" => Endpoint::OpenApi,
            "/healthz" => Endpoint::Healthz,
            "/readyz" => Endpoint::Readyz,
            "/metrics" => Endpoint::Metrics,
            "/v1/alerts" | "/v1/events" => Endpoint::Alerts,
            "/v1/queues" | "/v1/tickets" | "/v1/actions" | "/v1/feedback" => Endpoint::Analyst,
            p if p.starts_with("/v1/tickets/") || p.starts_with("/v1/actions/") => {
                Endpoint::Analyst
            }
            _ => Endpoint::Other,
        }
    }
}

/// Upper bounds of the latency histogram buckets, seconds.
const BUCKETS: [f64; 11] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0,
];

#[derive(Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

/// All counters.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(Endpoint, u16), u64>>,
    latency: [Histogram; Endpoint::ALL.len()],
    verdicts: [AtomicU64; 3],
    errors: Mutex<BTreeMap<&'static str, u64>>,
}

impl Metrics {
    /// Records one finished request.
    pub fn request(&self, ep: Endpoint, status: u16, secs: f64) {
        if let Ok(mut m) = self.requests.lock() {
            *m.entry((ep, status)).or_default() += 1;
        }
        let idx = Endpoint::ALL
            .iter()
            .position(|e| *e == ep)
            .unwrap_or(Endpoint::ALL.len() - 1);
        if let Some(h) = self.latency.get(idx) {
            h.count.fetch_add(1, Ordering::Relaxed);
            h.sum_micros
                .fetch_add((secs * 1e6) as u64, Ordering::Relaxed);
            for (b, bound) in h.buckets.iter().zip(BUCKETS) {
                if secs <= bound {
                    b.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// Records one scored email.
    pub fn verdict(&self, v: shrike_score::Verdict) {
        let i = match v {
            shrike_score::Verdict::Phishing => 0,
            shrike_score::Verdict::Suspicious => 1,
            shrike_score::Verdict::Benign => 2,
        };
        self.verdicts[i].fetch_add(1, Ordering::Relaxed);
    }

    /// Records one rejected email or request, by stable error code.
    pub fn error(&self, code: &'static str) {
        if let Ok(mut m) = self.errors.lock() {
            *m.entry(code).or_default() += 1;
        }
    }

    /// The exposition text.
    pub fn render(&self, model: &crate::output::ModelRef) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "# HELP shrike_http_requests_total HTTP requests by endpoint and status code."
        );
        let _ = writeln!(s, "# TYPE shrike_http_requests_total counter");
        if let Ok(m) = self.requests.lock() {
            for ((ep, code), n) in m.iter() {
                let _ = writeln!(
                    s,
                    "shrike_http_requests_total{{endpoint=\"{}\",code=\"{code}\"}} {n}",
                    ep.label()
                );
            }
        }
        let _ = writeln!(
            s,
            "# HELP shrike_http_request_duration_seconds Request latency by endpoint."
        );
        let _ = writeln!(s, "# TYPE shrike_http_request_duration_seconds histogram");
        for (ep, h) in Endpoint::ALL.iter().zip(&self.latency) {
            let count = h.count.load(Ordering::Relaxed);
            if count == 0 {
                continue;
            }
            let l = ep.label();
            for (b, bound) in h.buckets.iter().zip(BUCKETS) {
                let _ = writeln!(
                    s,
                    "shrike_http_request_duration_seconds_bucket{{endpoint=\"{l}\",le=\"{bound}\"}} {}",
                    b.load(Ordering::Relaxed)
                );
            }
            let _ = writeln!(s, "shrike_http_request_duration_seconds_bucket{{endpoint=\"{l}\",le=\"+Inf\"}} {count}");
            let sum = h.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
            let _ = writeln!(
                s,
                "shrike_http_request_duration_seconds_sum{{endpoint=\"{l}\"}} {sum}"
            );
            let _ = writeln!(
                s,
                "shrike_http_request_duration_seconds_count{{endpoint=\"{l}\"}} {count}"
            );
        }
        let _ = writeln!(
            s,
            "# HELP shrike_emails_scored_total Emails scored, by verdict."
        );
        let _ = writeln!(s, "# TYPE shrike_emails_scored_total counter");
        for (name, c) in ["phishing", "suspicious", "benign"]
            .iter()
            .zip(&self.verdicts)
        {
            let _ = writeln!(
                s,
                "shrike_emails_scored_total{{verdict=\"{name}\"}} {}",
                c.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            s,
            "# HELP shrike_errors_total Rejected requests and emails, by error code."
        );
        let _ = writeln!(s, "# TYPE shrike_errors_total counter");
        if let Ok(m) = self.errors.lock() {
            for (code, n) in m.iter() {
                let _ = writeln!(s, "shrike_errors_total{{code=\"{code}\"}} {n}");
            }
        }
        let _ = writeln!(s, "# HELP shrike_model_info The loaded model.");
        let _ = writeln!(s, "# TYPE shrike_model_info gauge");
        let _ = writeln!(
            s,
            "shrike_model_info{{id=\"{}\",version=\"{}\",sha256=\"{}\",engine=\"{}\"}} 1",
            escape(&model.id),
            escape(&model.version),
            model.sha256,
            model.engine
        );
        s
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms() {
        let m = Metrics::default();
        m.request(Endpoint::Score, 200, 0.0008);
        m.request(Endpoint::Score, 413, 0.002);
        m.verdict(shrike_score::Verdict::Phishing);
        m.error("payload_too_large");
        let model = crate::output::ModelRef {
            id: "m".into(),
            version: "1".into(),
            sha256: "ab".into(),
            engine: "model",
        };
        let text = m.render(&model);
        assert!(text.contains("shrike_http_requests_total{endpoint=\"score\",code=\"200\"} 1"));
        assert!(text.contains("shrike_http_requests_total{endpoint=\"score\",code=\"413\"} 1"));
        assert!(text.contains(
            "shrike_http_request_duration_seconds_bucket{endpoint=\"score\",le=\"0.001\"} 1"
        ));
        assert!(text.contains(
            "shrike_http_request_duration_seconds_bucket{endpoint=\"score\",le=\"0.0025\"} 2"
        ));
        assert!(text.contains("shrike_http_request_duration_seconds_count{endpoint=\"score\"} 2"));
        assert!(text.contains("shrike_emails_scored_total{verdict=\"phishing\"} 1"));
        assert!(text.contains("shrike_errors_total{code=\"payload_too_large\"} 1"));
        assert!(text.contains("shrike_model_info{id=\"m\""));
    }
}
