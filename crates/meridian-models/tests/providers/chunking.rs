//! A transcript longer than one prompt: sent in overlapping chunks, each
//! chunk's insights grounded in the whole transcript, the results merged.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, Request, Respond, ResponseTemplate};

use crate::support::{Fake, Kind, chain_of, for_each_provider, transcript};

for_each_provider!(long_transcript_is_sent_in_chunks_and_their_insights_merged);

/// Line `i` of the long transcript: forty words no other line uses, so that
/// a quote grounds in one place only and insights of different lines are
/// never alike.
fn line(i: usize) -> String {
    let words: Vec<String> = (0..40).map(|j| format!("l{i}w{j}")).collect();
    format!("Point {i} {}.", words.join(" "))
}

/// A model that quotes every fifth line it is shown, with importance rising
/// along the episode, and remembers how many insights it gave.
struct QuotingModel {
    kind: Kind,
    given: Arc<Mutex<usize>>,
}

impl Respond for QuotingModel {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
        let user = body["messages"][1]["content"].as_str().unwrap_or_default();
        let mut insights = Vec::new();
        for text in user.lines().filter(|l| l.starts_with('[')) {
            // `[m:ss] Speaker: Point 17 l17w0 l17w1 …`
            let said = text.split_once(": ").map_or("", |(_, s)| s);
            let mut words = said.split_whitespace();
            let (Some("Point"), Some(n)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(n) = n.parse::<usize>() else { continue };
            if n % 5 != 0 {
                continue;
            }
            let quote: Vec<&str> = said.split_whitespace().take(12).collect();
            insights.push(json!({
                "text": format!("Point {n} matters: {}", quote[2..6].join(" ")),
                "quote": quote.join(" "),
                "start_seconds": n,
                "importance": (n as f64 / 1000.0).min(1.0),
                "why": "It was said."
            }));
        }
        *self.given.lock().expect("count") += insights.len();
        let content = json!({ "insights": insights }).to_string();
        let reply = match self.kind {
            Kind::OpenAi => crate::support::openai_completion(&content, 9000, 300),
            Kind::Ollama => crate::support::ollama_chat(&content, 9000, 300),
        };
        ResponseTemplate::new(200).set_body_json(reply)
    }
}

async fn long_transcript_is_sent_in_chunks_and_their_insights_merged(kind: Kind) {
    let fake = Fake::start(kind).await;
    let given = Arc::new(Mutex::new(0));
    Mock::given(method("POST"))
        .and(path(fake.chat_path()))
        .respond_with(QuotingModel {
            kind,
            given: Arc::clone(&given),
        })
        .mount(&fake.server)
        .await;
    let lines: Vec<String> = (0..400).map(line).collect();
    let rows: Vec<(f64, &str, &str)> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| (i as f64, if i % 2 == 0 { "Ada" } else { "Bo" }, l.as_str()))
        .collect();
    let t = transcript(&rows);
    let chain = chain_of(&[fake.config()]);

    let x = chain
        .extract(&t, "Long Talk", "Four hundred points", 200)
        .await
        .expect("extraction succeeds");

    let requests = fake.chat_requests().await;
    let parts = requests.len();
    assert!(
        parts >= 2,
        "a transcript of ~30 000 tokens needs several prompts, got {parts}"
    );
    for (i, r) in requests.iter().enumerate() {
        let user = r["messages"][1]["content"].as_str().expect("user message");
        assert!(
            user.contains(&format!("part {} of {parts}", i + 1)),
            "request {i}"
        );
    }
    assert_eq!(x.model, fake.config().name);
    assert_eq!(
        (x.attempts[0].input_tokens, x.attempts[0].output_tokens),
        (9000 * parts as u64, 300 * parts as u64),
        "every chunk's tokens are counted"
    );
    // Every fifth line once, though lines in the overlaps were quoted twice.
    let given = *given.lock().expect("count");
    assert!(
        given > 80,
        "the overlaps were quoted by both chunks ({given})"
    );
    assert_eq!(x.insights.len(), 80);
    let mut points: Vec<usize> = x
        .insights
        .iter()
        .map(|i| i.start.expect("timed") as usize)
        .collect();
    assert!(
        x.insights
            .windows(2)
            .all(|w| w[0].importance >= w[1].importance),
        "most important first"
    );
    points.sort_unstable();
    assert_eq!(points, (0..400).step_by(5).collect::<Vec<_>>());
    for insight in &x.insights {
        let n = insight.start.expect("timed") as usize;
        assert!(
            insight.quote.starts_with(&format!("Point {n} l{n}w0")),
            "grounded in line {n}: {}",
            insight.quote
        );
    }
}
