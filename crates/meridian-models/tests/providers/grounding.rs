//! The grounding gate on a real transcript from the corpus.

use meridian_models::ExtractRequest;
use meridian_models::prompt::{build_messages, parse_and_ground};

use crate::support::corpus_json_transcript;

fn buzzcast_request(t: &meridian_core::Transcript) -> ExtractRequest<'_> {
    ExtractRequest {
        transcript: t,
        podcast: "Buzzcast",
        episode: "Video podcasts",
        max_insights: 5,
    }
}

fn reply(quotes: &[(&str, f64)]) -> String {
    let items: Vec<serde_json::Value> = quotes
        .iter()
        .map(|(quote, importance)| {
            serde_json::json!({
                "text": "An insight.", "quote": quote, "start_seconds": 0, "importance": importance, "why": "Because."
            })
        })
        .collect();
    serde_json::json!({ "insights": items }).to_string()
}

#[test]
fn quotes_ground_in_a_real_transcript_despite_case_punctuation_and_dropped_fillers() {
    let t = corpus_json_transcript("buzzcast.json");
    let raw = reply(&[
        // Cleaned up the way models quote speech: "they were they" and "like" left out.
        (
            "All of the Buzzcast ones were in the worst category; they represented the very bottom five episodes.",
            0.8,
        ),
        // Shouted, and spanning two cues.
        ("AND TRAVIS HAS ALREADY PUT TOGETHER AN OUTLINE", 0.6),
        // Never said.
        ("Buzzcast has ten million downloads every single week", 0.9),
    ]);

    let (insights, dropped) =
        parse_and_ground(&raw, &buzzcast_request(&t), "qwen-local").expect("valid reply");

    assert_eq!(dropped, 1);
    let got: Vec<(Option<f64>, &str)> = insights
        .iter()
        .map(|i| (i.start, i.quote.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (
                Some(365.52),
                "all of the Buzzcast ones were in the worst category, they were they represented, like the very bottom five episodes"
            ),
            (Some(4.8), "And Travis has already put together an outline"),
        ]
    );
    assert!(insights.iter().all(|i| i.model == "qwen-local"));
}

#[test]
fn only_ungrounded_quotes_means_no_insights_and_all_counted() {
    let t = corpus_json_transcript("buzzcast.json");
    let raw = reply(&[
        ("We switched the whole show to TikTok last spring", 0.5),
        ("Our sponsor this week is a bank", 0.4),
    ]);

    let (insights, dropped) =
        parse_and_ground(&raw, &buzzcast_request(&t), "gpt-mini").expect("valid reply");

    assert!(insights.is_empty());
    assert_eq!(dropped, 2);
}

#[test]
fn real_transcript_prompt_keeps_times_and_speakers_and_fits_the_budget() {
    let t = corpus_json_transcript("buzzcast.json");

    let (system, user) = build_messages(&buzzcast_request(&t));

    assert!(system.contains("at most 5 insights"), "{system}");
    assert!(
        user.contains(
            "\n[0:00] Alban: It is so stinking nice to like, show up and record this show."
        ),
        "{user}"
    );
    assert!(
        user.contains("\n[6:59] Kevin: To clarify, we weren't crushing it"),
        "{user}"
    );
    assert!(
        !user.contains("the rest is not included"),
        "a 28-minute episode fits"
    );
}
