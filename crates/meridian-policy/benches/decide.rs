//! Decision latency of `PolicyGate::decide` with the shipped policies.
//!
//! Run with:
//!
//! ```sh
//! cargo bench -p meridian-policy --bench decide                       # criterion: mean and median
//! cargo bench -p meridian-policy --bench decide -- --percentiles      # p50/p99/p99.9/max over 100k timed calls each
//! ```
//!
//! Criterion reports a mean and a median per batch of calls; it does not give
//! tail latencies of single calls, which is what the gate's budget (p99 < 50 µs)
//! is about. `--percentiles` therefore times each of N calls on its own with
//! `Instant` (whose own cost, ~20-30 ns, is included), sorts and reads the
//! percentiles. Results are in `docs/benchmarks.md`.
#![expect(clippy::expect_used, reason = "benchmark setup fails loudly")]

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::Criterion;
use meridian_core::DataClass::{Derived, Personal, Public};
use meridian_core::{DataClass, Jurisdiction, RegionId};
use meridian_policy::{
    DIGEST_CLASSES, ModelFacts, OUTBOX_RELAY, PolicyAction, PolicyGate, PolicyRequest,
    PolicyResource, RegionFacts, purpose,
};

/// Calls timed per request in `--percentiles` mode.
const N: usize = 100_000;

fn j(code: &str) -> Jurisdiction {
    Jurisdiction::parse(code).expect("jurisdiction")
}

fn gate(id: &str, jurisdiction: &str, forbidden: &[&str], allow: &[&str]) -> PolicyGate {
    let mut facts = RegionFacts::new(RegionId::parse(id).expect("region id"), j(jurisdiction));
    facts.forbidden_origins = forbidden.iter().map(|c| j(c)).collect();
    facts.egress_allow = allow
        .iter()
        .map(|s| s.parse().expect("allow entry"))
        .collect();
    facts.mail_relay = OUTBOX_RELAY.to_owned();
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies"));
    PolicyGate::load(dir, &facts).expect("shipped policies load")
}

fn model(name: &str, hosted_in: &str, origin: &str, attributes: &[&str]) -> ModelFacts {
    ModelFacts {
        name: name.to_owned(),
        provider: "openai".to_owned(),
        hosted_in: j(hosted_in),
        origin: j(origin),
        weights: "closed".to_owned(),
        digest: Some(
            "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".to_owned(),
        ),
        attributes: attributes.iter().map(|s| (*s).to_owned()).collect(),
    }
}

/// A realistic request: a name for the report, the region's gate and the request.
struct Scenario {
    name: &'static str,
    gate: PolicyGate,
    action: PolicyAction,
    resource: Resource,
    classes: &'static [DataClass],
    purpose: &'static str,
    expect_allowed: bool,
}

enum Resource {
    Model(ModelFacts),
    Host(&'static str, u16, bool),
    Relay(&'static str),
}

impl Scenario {
    fn decide(&self) -> bool {
        let resource = match &self.resource {
            Resource::Model(m) => PolicyResource::Model(m),
            Resource::Host(name, port, private) => PolicyResource::Host {
                name,
                port: *port,
                private: *private,
                admitted: true,
            },
            Resource::Relay(host) => PolicyResource::Relay { host },
        };
        self.gate
            .decide(black_box(&PolicyRequest {
                action: self.action,
                resource,
                data_classes: self.classes,
                purpose: self.purpose,
            }))
            .allowed
    }
}

fn scenarios() -> Vec<Scenario> {
    let us = gate(
        "us",
        "US",
        &["CN", "RU", "IR", "KP"],
        &["api.openai.com", "*"],
    );
    let cn = gate("cn", "CN", &[], &["127.0.0.1:11434", "*"]);
    let eu = gate("eu", "EU", &[], &["api.mistral.ai", "*"]);
    vec![
        Scenario {
            name: "us invoke_model gpt (US) public -> allow",
            gate: us.clone(),
            action: PolicyAction::InvokeModel,
            resource: Resource::Model(model("gpt-4o-mini", "US", "US", &[])),
            classes: &[Public],
            purpose: purpose::INSIGHT,
            expect_allowed: true,
        },
        Scenario {
            name: "cn invoke_model gpt (US) public -> deny",
            gate: cn.clone(),
            action: PolicyAction::InvokeModel,
            resource: Resource::Model(model("gpt-4o-mini", "US", "US", &[])),
            classes: &[Public],
            purpose: purpose::INSIGHT,
            expect_allowed: false,
        },
        Scenario {
            name: "eu invoke_model gpt+dpf (US) public+derived -> allow",
            gate: eu.clone(),
            action: PolicyAction::InvokeModel,
            resource: Resource::Model(model("gpt-4o-mini", "US", "US", &["dpf"])),
            classes: &[Public, Derived],
            purpose: purpose::INSIGHT,
            expect_allowed: true,
        },
        Scenario {
            name: "eu invoke_model mistral (FR) personal -> deny",
            gate: eu.clone(),
            action: PolicyAction::InvokeModel,
            resource: Resource::Model(model("mistral-small", "FR", "FR", &[])),
            classes: &[Public, Personal],
            purpose: purpose::INSIGHT,
            expect_allowed: false,
        },
        Scenario {
            name: "cn fetch 127.0.0.1:11434 (private, listed) -> allow",
            gate: cn,
            action: PolicyAction::Fetch,
            resource: Resource::Host("127.0.0.1", 11434, true),
            classes: &[Public],
            purpose: purpose::MODEL,
            expect_allowed: true,
        },
        Scenario {
            name: "us fetch feed host (public) -> allow",
            gate: us,
            action: PolicyAction::Fetch,
            resource: Resource::Host("feeds.example.com", 443, false),
            classes: &[Public],
            purpose: purpose::FEED,
            expect_allowed: true,
        },
        Scenario {
            name: "eu send_email outbox digest -> allow",
            gate: eu,
            action: PolicyAction::SendEmail,
            resource: Resource::Relay(OUTBOX_RELAY),
            classes: &DIGEST_CLASSES,
            purpose: purpose::DIGEST,
            expect_allowed: true,
        },
    ]
}

fn criterion_benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("decide");
    for s in scenarios() {
        assert_eq!(s.decide(), s.expect_allowed, "{}", s.name);
        group.bench_function(s.name, |b| b.iter(|| s.decide()));
    }
    group.finish();
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Times each of `N` calls per scenario (after a warm-up), then all scenarios
/// interleaved, and prints a Markdown table of percentiles.
fn percentiles() {
    let scenarios = scenarios();
    let mut all = Vec::with_capacity(N * scenarios.len());
    println!("| request | p50 (µs) | p99 (µs) | p99.9 (µs) | max (µs) |");
    println!("|---|---:|---:|---:|---:|");
    let row = |name: &str, samples: &mut Vec<Duration>| {
        samples.sort_unstable();
        let at = |q: f64| {
            #[expect(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                clippy::cast_precision_loss,
                reason = "an index into the sorted samples"
            )]
            let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
            micros(samples[i])
        };
        println!(
            "| {name} | {:.2} | {:.2} | {:.2} | {:.2} |",
            at(0.50),
            at(0.99),
            at(0.999),
            at(1.0)
        );
    };
    for s in &scenarios {
        assert_eq!(s.decide(), s.expect_allowed, "{}", s.name);
        for _ in 0..N / 10 {
            black_box(s.decide());
        }
        let mut samples = Vec::with_capacity(N);
        for _ in 0..N {
            let start = Instant::now();
            black_box(s.decide());
            samples.push(start.elapsed());
        }
        all.extend_from_slice(&samples);
        row(s.name, &mut samples);
    }
    row("all of the above", &mut all);
    // Interleaved: the gate as a run uses it, a different request each call.
    let mut mixed = Vec::with_capacity(N);
    for i in 0..N {
        let s = &scenarios[i % scenarios.len()];
        let start = Instant::now();
        black_box(s.decide());
        mixed.push(start.elapsed());
    }
    row("interleaved, a different request each call", &mut mixed);
}

fn main() {
    if std::env::args().any(|a| a == "--percentiles") {
        percentiles();
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    criterion_benches(&mut c);
    c.final_summary();
}
