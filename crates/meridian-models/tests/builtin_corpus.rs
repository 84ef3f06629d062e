//! The builtin engine over real podcast transcripts from `shared/corpus`.
//!
//! Run with `cargo test -p meridian-models --test builtin_corpus`; the corpus
//! is read in place from `MERIDIAN_CORPUS` (default: `shared/corpus` beside
//! the workspace).
//!
//! [`LABELS`] is a hand-made labelled set: ad reads, intros, greetings,
//! self-promotion and sign-offs found by reading the transcripts, each as a
//! verbatim snippet. No insight may contain one of them, even when the engine
//! is asked for far more insights than a digest needs.

#![expect(
    clippy::panic,
    reason = "test helpers fail loudly, naming the file at fault"
)]

use std::fmt;
use std::path::{Path, PathBuf};

use meridian_core::text::normalize_whitespace;
use meridian_core::{Insight, Segment, Transcript, TranscriptFormat, TranscriptSource};
use meridian_models::builtin::{BuiltinOptions, extract};

/// What a labelled snippet is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Label {
    /// A sponsor read or promo code.
    Ad,
    /// The show's intro: title, host, episode number, theme song.
    Intro,
    /// Hello, welcome, how are you, glad to be here.
    Greeting,
    /// The show promoting itself: subscribe, follow, support us, tickets.
    SelfPromo,
    /// Thanks for listening, see you next time, credits.
    SignOff,
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Ad => "ad",
            Self::Intro => "intro",
            Self::Greeting => "greeting",
            Self::SelfPromo => "self-promotion",
            Self::SignOff => "sign-off",
        })
    }
}

use Label::{Ad, Greeting, Intro, SelfPromo, SignOff};

/// (transcript file, verbatim snippet, what it is).
#[rustfmt::skip]
const LABELS: &[(&str, &str, Label)] = &[
    // Podnews Weekly Review, 19 January 2024 (VTT).
    ("podnews-weekly-2024-01-19.vtt", "It's Friday, the 19th of January, 2024", Intro),
    ("podnews-weekly-2024-01-19.vtt", "The last word in podcasting news", Intro),
    ("podnews-weekly-2024-01-19.vtt", "This is the Podnews Weekly Review with James Cridland and Sam Sethi", Intro),
    ("podnews-weekly-2024-01-19.vtt", "I'm James Cridland, the editor of Podnews", Intro),
    ("podnews-weekly-2024-01-19.vtt", "And I'm Sam Sethi, the CEO of True Funds", Intro),
    ("podnews-weekly-2024-01-19.vtt", "This podcast is sponsored by Buzzsprout", Ad),
    ("podnews-weekly-2024-01-19.vtt", "people started a podcast with Buzzsprout", Ad),
    ("podnews-weekly-2024-01-19.vtt", "Podcast hosting made easy with powerful tools", Ad),
    ("podnews-weekly-2024-01-19.vtt", "From your daily newsletter, the Podnews Weekly Review", Intro),
    ("podnews-weekly-2024-01-19.vtt", "Okay, James, let's kick this off", Greeting),
    // Podnews Weekly Review, 17 March 2023 (HTML, one time per paragraph).
    ("podnews-weekly-2023-03-17.html", "The last word in podcasting news", Intro),
    ("podnews-weekly-2023-03-17.html", "This is the Pod News Weekly review with James Cridlin and Sam Sethy", Intro),
    ("podnews-weekly-2023-03-17.html", "I'm James Cridlin, the editor of Pod News", Intro),
    ("podnews-weekly-2023-03-17.html", "this podcast is sponsored and hosted by Bus Sprout", Ad),
    ("podnews-weekly-2023-03-17.html", "started a podcast with buzzsprout podcast hosting made easy", Ad),
    ("podnews-weekly-2023-03-17.html", "turn your listeners into supporters with Buzzsprout subscriptions", Ad),
    ("podnews-weekly-2023-03-17.html", "You can get tickets now@podnews.net", SelfPromo),
    ("podnews-weekly-2023-03-17.html", "You can become a power supporter if you like", SelfPromo),
    ("podnews-weekly-2023-03-17.html", "You can subscribe in Apple Podcasts", SelfPromo),
    ("podnews-weekly-2023-03-17.html", "you can support us with stats by hitting the boost button", SelfPromo),
    ("podnews-weekly-2023-03-17.html", "that's it for this week", SignOff),
    ("podnews-weekly-2023-03-17.html", "You can give us feedback at weekly@podnews.net", SignOff),
    ("podnews-weekly-2023-03-17.html", "our music is from Studio Dragonfly", SignOff),
    ("podnews-weekly-2023-03-17.html", "we are hosted and sponsored by Buzz Prouds podcast", Ad),
    ("podnews-weekly-2023-03-17.html", "Tell your friends and grow the show", SignOff),
    ("podnews-weekly-2023-03-17.html", "The POD News weekly review will return next week", SignOff),
    // Talk Python To Me 448 (plain text, "HH:MM:SS line"; unpunctuated after 44 min).
    ("talkpython-448-open-source-full-time.txt", "This is Talk Python To Me, episode 448, recorded December 7th, 2023", Intro),
    ("talkpython-448-open-source-full-time.txt", "Welcome to Talk Python To Me, a weekly podcast on Python", Intro),
    ("talkpython-448-open-source-full-time.txt", "This is your host, Michael Kennedy", Intro),
    ("talkpython-448-open-source-full-time.txt", "Follow me on Mastodon, where I'm @mkennedy", SelfPromo),
    ("talkpython-448-open-source-full-time.txt", "listen to over seven years of past episodes at talkpython.fm", SelfPromo),
    ("talkpython-448-open-source-full-time.txt", "Subscribe to our YouTube channel over at talkpython.fm/youtube", SelfPromo),
    ("talkpython-448-open-source-full-time.txt", "This episode is sponsored by BaseDash", Ad),
    ("talkpython-448-open-source-full-time.txt", "BaseDash uses AI to build a dashboard for your database", Ad),
    ("talkpython-448-open-source-full-time.txt", "Get a custom admin view in your Postgres", Ad),
    ("talkpython-448-open-source-full-time.txt", "Get started for free at talkpython.fm/BaseDash", Ad),
    ("talkpython-448-open-source-full-time.txt", "And it's brought to you by Sentry", Ad),
    ("talkpython-448-open-source-full-time.txt", "Don't let those errors go unnoticed", Ad),
    ("talkpython-448-open-source-full-time.txt", "Thanks for being here, everyone", Greeting),
    ("talkpython-448-open-source-full-time.txt", "This portion of Talk Python To Me is brought to you by BaseDash", Ad),
    ("talkpython-448-open-source-full-time.txt", "BaseDash is the custom admin panel for your database", Ad),
    ("talkpython-448-open-source-full-time.txt", "We've all dealt with endless ad hoc requests for data access", Ad),
    ("talkpython-448-open-source-full-time.txt", "your non-technical co-founder needs to see charts", Ad),
    ("talkpython-448-open-source-full-time.txt", "BaseDash gives you that time back", Ad),
    ("talkpython-448-open-source-full-time.txt", "you can instantly generate a visual UI for your database", Ad),
    ("talkpython-448-open-source-full-time.txt", "It uses AI under the hood to generate the perfect admin panel", Ad),
    ("talkpython-448-open-source-full-time.txt", "Now anyone in your company has access to the data they need", Ad),
    ("talkpython-448-open-source-full-time.txt", "the ability to create charts using only natural language", Ad),
    ("talkpython-448-open-source-full-time.txt", "I promise you won't want to build an internal tool ever again", Ad),
    ("talkpython-448-open-source-full-time.txt", "Check them out by visiting talkpython.fm/BaseDash", Ad),
    ("talkpython-448-open-source-full-time.txt", "BaseDash is free for small teams, so give it a try", Ad),
    ("talkpython-448-open-source-full-time.txt", "Thank you to BaseDash for supporting the podcast", Ad),
    ("talkpython-448-open-source-full-time.txt", "This portion of Talk Python To Me is brought to you by Sentry", Ad),
    ("talkpython-448-open-source-full-time.txt", "You know Sentry for the air monitoring service", Ad),
    ("talkpython-448-open-source-full-time.txt", "I want to tell you about a new and free workshop", Ad),
    ("talkpython-448-open-source-full-time.txt", "managing a Python monorepo with Sentry", Ad),
    ("talkpython-448-open-source-full-time.txt", "David will share how his department of 500 developers", Ad),
    ("talkpython-448-open-source-full-time.txt", "You'll learn how to find and fix root causes of crashes", Ad),
    ("talkpython-448-open-source-full-time.txt", "Join them for free on Tuesday, February 27th, 2024", Ad),
    ("talkpython-448-open-source-full-time.txt", "Just visit talkpython.fm/sentry-monorepo", Ad),
    ("talkpython-448-open-source-full-time.txt", "That link is in your podcast player show notes", Ad),
    ("talkpython-448-open-source-full-time.txt", "2 a.m. might be a little early here in the U.S.", Ad),
    ("talkpython-448-open-source-full-time.txt", "Thank you to Sentry for supporting this episode", Ad),
    ("talkpython-448-open-source-full-time.txt", "thank you all for being on the show", SignOff),
    ("talkpython-448-open-source-full-time.txt", "this has been another episode of talk python to me", SignOff),
    ("talkpython-448-open-source-full-time.txt", "thank you to our sponsors be sure to check out what they're offering", SignOff),
    ("talkpython-448-open-source-full-time.txt", "be sure to use the promo code talkpython", Ad),
    ("talkpython-448-open-source-full-time.txt", "we have one of the largest catalogs of python video courses", SelfPromo),
    ("talkpython-448-open-source-full-time.txt", "be sure to subscribe to our YouTube channel", SelfPromo),
    ("talkpython-448-open-source-full-time.txt", "thanks so much for listening I really appreciate it", SignOff),
    // The same episode as WebVTT, cut into short cues.
    ("talkpython-448-open-source-full-time.vtt", "Welcome to Talk Python To Me, a weekly podcast on Python", Intro),
    ("talkpython-448-open-source-full-time.vtt", "This episode is sponsored by BaseDash", Ad),
    ("talkpython-448-open-source-full-time.vtt", "BaseDash gives you that time back", Ad),
    ("talkpython-448-open-source-full-time.vtt", "It uses AI under the hood to generate the perfect admin panel", Ad),
    ("talkpython-448-open-source-full-time.vtt", "the ability to create charts using only natural language", Ad),
    ("talkpython-448-open-source-full-time.vtt", "You know Sentry for the air monitoring service", Ad),
    ("talkpython-448-open-source-full-time.vtt", "David will share how his department of 500 developers", Ad),
    ("talkpython-448-open-source-full-time.vtt", "Thank you to Sentry for supporting this episode", Ad),
    ("talkpython-448-open-source-full-time.vtt", "be sure to use the promo code talkpython", Ad),
    ("talkpython-448-open-source-full-time.vtt", "thanks so much for listening I really appreciate it", SignOff),
    // Talk Python To Me 534, site transcript (VTT with speakers).
    ("talkpython-534-diskcache-site-version.vtt", "This is Talk Python To Me, episode 534, recorded December 19th, 2025", Intro),
    ("talkpython-534-diskcache-site-version.vtt", "Talk Python To Me, yeah, we ready to roll", Intro),
    ("talkpython-534-diskcache-site-version.vtt", "the number one Python podcast for developers and data scientists", Intro),
    ("talkpython-534-diskcache-site-version.vtt", "This is your host, Michael Kennedy", Intro),
    ("talkpython-534-diskcache-site-version.vtt", "I'm a PSF fellow who's been coding for over 25 years", Intro),
    ("talkpython-534-diskcache-site-version.vtt", "Let's connect on social media", SelfPromo),
    ("talkpython-534-diskcache-site-version.vtt", "You'll find me and Talk Python on Mastodon, Bluesky, and X", SelfPromo),
    ("talkpython-534-diskcache-site-version.vtt", "The social links are all in your show notes", SelfPromo),
    ("talkpython-534-diskcache-site-version.vtt", "You can find over 10 years of past episodes at talkpython.fm", SelfPromo),
    ("talkpython-534-diskcache-site-version.vtt", "We live stream the raw uncut version of each episode on YouTube", SelfPromo),
    ("talkpython-534-diskcache-site-version.vtt", "Just visit talkpython.fm/youtube to see the schedule", SelfPromo),
    ("talkpython-534-diskcache-site-version.vtt", "Be sure to subscribe there and press the bell", SelfPromo),
    ("talkpython-534-diskcache-site-version.vtt", "thank you for coming back", SignOff),
    ("talkpython-534-diskcache-site-version.vtt", "Thanks for having me", SignOff),
    ("talkpython-534-diskcache-site-version.vtt", "find out there's a cool Python library", SignOff),
    ("talkpython-534-diskcache-site-version.vtt", "This has been another episode of Talk Python To Me", SignOff),
    ("talkpython-534-diskcache-site-version.vtt", "Thank you to our sponsors", SignOff),
    ("talkpython-534-diskcache-site-version.vtt", "Be sure to check out what they're offering", SignOff),
    ("talkpython-534-diskcache-site-version.vtt", "It really helps support the show", SignOff),
    ("talkpython-534-diskcache-site-version.vtt", "we have over 270 hours of beginner and advanced courses", SelfPromo),
    ("talkpython-534-diskcache-site-version.vtt", "there's no subscription in sight", SelfPromo),
    ("talkpython-534-diskcache-site-version.vtt", "browse the catalog at talkpython.fm", SelfPromo),
    ("talkpython-534-diskcache-site-version.vtt", "If you enjoyed that geeky rap song", SelfPromo),
    ("talkpython-534-diskcache-site-version.vtt", "Thank you so much for listening", SignOff),
    // The same episode, YouTube transcript (different edit: no ads, no intro).
    ("talkpython-534-diskcache-speakers.vtt", "Awesome to be back with you", Greeting),
    ("talkpython-534-diskcache-speakers.vtt", "Thanks for having me", SignOff),
    ("talkpython-534-diskcache-speakers.vtt", "Always good to talk to you", SignOff),
    ("talkpython-534-diskcache-speakers.vtt", "when we again find out there's a cool Python library", SignOff),
    // Buzzcast, three formats of one episode.
    ("buzzcast.json", "until next time, listen to us on our RSS backed podcast", SignOff),
    ("buzzcast.json", "This is Tom Rossi, technical co founder of Buzzsprout", Intro),
    ("buzzcast.json", "I am glad to be joined by Dave Jones", Greeting),
    ("buzzcast.json", "Dave, welcome to the show", Greeting),
    ("buzzcast.json", "Thanks for all that you're doing", Greeting),
    ("buzzcast.json", "Dave, thank you for being on the show", SignOff),
    ("buzzcast.json", "Thank you for all the work that you're doing to help make podcasting", SignOff),
    ("buzzcast.json", "please check out podcast index.org", SelfPromo),
    ("buzzcast.srt", "Dave, welcome to the show", Greeting),
    ("buzzcast.srt", "Dave, thank you for being on the show", SignOff),
    ("buzzcast.srt", "please check out podcast index.org", SelfPromo),
    ("buzzcast.html", "Dave, welcome to the show", Greeting),
    ("buzzcast.html", "Dave, thank you for being on the show", SignOff),
    ("buzzcast.html", "please check out podcast index.org", SelfPromo),
    // Buzzsprout interview, word-level JSON.
    ("how-to-start-a-podcast-word-level.json", "Hey, Travis Albritain here", Greeting),
    ("how-to-start-a-podcast-word-level.json", "I will leave a link to the book in the episode description", SelfPromo),
    ("how-to-start-a-podcast-word-level.json", "without further ado, here's my conversation with Eric Nuzum", Intro),
    // Buzzsprout "10 things" compilation (SRT with inline speakers).
    ("pc20-example.srt", "in this special bonus podcast episode, we went back through the archives", Intro),
    // The Changelog 594 (Markdown, no times).
    ("changelog-594-speakers.md", "we're joined by Mark Russinovich, CTO of Azure", Greeting),
    ("changelog-594-speakers.md", "Welcome to the show, Mark", Greeting),
    ("changelog-594-speakers.md", "Eric, thanks for coming on the show", Greeting),
    ("changelog-594-speakers.md", "Thanks for having me", Greeting),
    // Go Time 300 (Markdown panel).
    ("changelog-gotime-300-panel.md", "Welcome to Go Time", Greeting),
    ("changelog-gotime-300-panel.md", "This is episode number 300", Intro),
    ("changelog-gotime-300-panel.md", "How are you doing today, Johnny?", Greeting),
    ("changelog-gotime-300-panel.md", "Good to be back for another year", Greeting),
    ("changelog-gotime-300-panel.md", "And also joining us today is Ian Lopshire", Greeting),
    ("changelog-gotime-300-panel.md", "for joining me on this great episode number 300", SignOff),
    ("changelog-gotime-300-panel.md", "thank you, dear listener, for giving us some of your time", SignOff),
    ("changelog-gotime-300-panel.md", "Tune in next week, it's gonna be a good one", SignOff),
    ("changelog-gotime-300-panel.md", "see y'all later", SignOff),
    // Practical AI 217 (Markdown).
    ("changelog-practicalai-217.md", "Welcome to another episode of Practical AI", Greeting),
    ("changelog-practicalai-217.md", "I'm joined as always by my co-host Chris Benson", Intro),
    ("changelog-practicalai-217.md", "It's great to have you here", Greeting),
    ("changelog-practicalai-217.md", "Very happy to be here", Greeting),
    ("changelog-practicalai-217.md", "I think that's a great way to wrap things up", SignOff),
    ("changelog-practicalai-217.md", "Thank you so much for joining us, Christof", SignOff),
    ("changelog-practicalai-217.md", "thank you for taking time to join us", SignOff),
    ("changelog-practicalai-217.md", "Thank you for having me", SignOff),
];

/// Spec examples too short to hold three insights; they are still run.
const TOY_EXAMPLES: &[&str] = &["pc20-example.json", "pc20-example.vtt", "pc20-example.html"];

fn corpus() -> PathBuf {
    let dir = meridian_testkit::shared_folder("MERIDIAN_CORPUS", "corpus");
    let transcripts = dir.join("transcripts");
    assert!(
        transcripts.is_dir(),
        "the test corpus is missing: no directory {}; set MERIDIAN_CORPUS to the folder holding `transcripts/`",
        transcripts.display()
    );
    transcripts
}

fn format_of(path: &Path) -> TranscriptFormat {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default();
    TranscriptFormat::from_extension(ext)
        .unwrap_or_else(|| panic!("no transcript format for {}", path.display()))
}

fn load(name: &str) -> Transcript {
    let path = corpus().join(name);
    let bytes =
        std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let format = format_of(&path);
    let segments = meridian_ingest::parse_transcript(&bytes, format, name)
        .unwrap_or_else(|e| panic!("cannot parse {name}: {e}"));
    Transcript {
        source: TranscriptSource::Feed(format),
        language: Some("en".to_owned()),
        segments,
    }
}

/// Lowercase, single-spaced: how a reader compares a snippet with an insight.
fn folded(text: &str) -> String {
    normalize_whitespace(text).to_lowercase()
}

fn labelled_files() -> Vec<&'static str> {
    let mut files: Vec<&str> = LABELS.iter().map(|(file, _, _)| *file).collect();
    files.sort_unstable();
    files.dedup();
    files
}

/// Whether every sentence of the transcript has a time (Markdown transcripts
/// time only the sentence after each inline marker).
fn is_timed(transcript: &Transcript) -> bool {
    transcript.segments.iter().all(|s| s.start.is_some())
}

/// The segment texts joined by single spaces, with each segment's start
/// offset, so that a quote can be found and mapped back to its segment.
fn joined(segments: &[Segment]) -> (String, Vec<usize>) {
    let mut text = String::new();
    let mut offsets = Vec::new();
    for segment in segments {
        let body = normalize_whitespace(&segment.text);
        if body.is_empty() {
            offsets.push(text.len());
            continue;
        }
        if !text.is_empty() {
            text.push(' ');
        }
        offsets.push(text.len());
        text.push_str(&body);
    }
    (text, offsets)
}

#[test]
fn every_label_is_a_verbatim_snippet_of_its_transcript() {
    for file in labelled_files() {
        let (text, _) = joined(&load(file).segments);
        let text = folded(&text);
        for (_, snippet, label) in LABELS.iter().filter(|(f, _, _)| *f == file) {
            assert!(
                text.contains(&folded(snippet)),
                "{file}: {label} `{snippet}` is not in the transcript"
            );
        }
    }
}

#[test]
fn labelled_ads_intros_greetings_and_sign_offs_are_never_insights() {
    for file in labelled_files() {
        let transcript = load(file);
        // A digest takes 5; asking for 60 makes the engine dig far below the
        // best sentences, where a missed ad would surface.
        for max_insights in [5, 60] {
            let options = BuiltinOptions {
                max_insights,
                ..BuiltinOptions::default()
            };
            let insights = extract(&transcript, &options);
            for insight in &insights {
                let text = folded(&insight.text);
                for (_, snippet, label) in LABELS.iter().filter(|(f, _, _)| *f == file) {
                    assert!(
                        !text.contains(&folded(snippet)),
                        "{file} (max {max_insights}): insight contains {label} `{snippet}`: {}",
                        insight.text
                    );
                }
            }
        }
    }
}

#[test]
fn every_labelled_episode_yields_at_least_three_insights_with_start_times_when_timed() {
    for file in labelled_files()
        .into_iter()
        .filter(|f| !TOY_EXAMPLES.contains(f))
    {
        let transcript = load(file);
        let insights = extract(&transcript, &BuiltinOptions::default());
        assert!(
            insights.len() >= 3,
            "{file}: only {} insights: {insights:#?}",
            insights.len()
        );
        assert!(insights.len() <= 5, "{file}: {} insights", insights.len());
        if is_timed(&transcript) {
            for insight in &insights {
                assert!(
                    insight.start.is_some(),
                    "{file}: insight without start time: {insight:?}"
                );
            }
        }
    }
}

#[test]
fn quotes_are_verbatim_and_start_at_the_segment_where_they_begin() {
    for file in labelled_files() {
        let transcript = load(file);
        if !transcript.segments.iter().any(|s| s.start.is_some()) {
            continue;
        }
        let (text, offsets) = joined(&transcript.segments);
        for insight in extract(&transcript, &BuiltinOptions::default()) {
            let quote = normalize_whitespace(&insight.quote);
            let at = text
                .find(&quote)
                .unwrap_or_else(|| panic!("{file}: quote not verbatim: {quote}"));
            let segment = offsets.partition_point(|&o| o <= at) - 1;
            // The time of the segment where the quote begins, never an
            // earlier one: that would send the listener to the wrong moment.
            let expected = transcript.segments[segment].start;
            assert_eq!(
                insight.start, expected,
                "{file}: `{quote}` starts in segment {segment}"
            );
            check_insight_shape(file, &insight);
        }
    }
}

fn check_insight_shape(file: &str, insight: &Insight) {
    assert_eq!(
        insight.text,
        normalize_whitespace(&insight.quote),
        "{file}: text is the quote, whitespace-normalised"
    );
    assert_eq!(insight.model, "builtin", "{file}");
    assert!(insight.why.is_empty(), "{file}");
    assert!(
        (0.0..=1.0).contains(&insight.importance),
        "{file}: importance {}",
        insight.importance
    );
}

#[test]
fn every_corpus_transcript_gives_the_same_insights_twice_and_respects_the_limit() {
    let mut names: Vec<String> = std::fs::read_dir(corpus())
        .unwrap_or_else(|e| panic!("cannot list the corpus: {e}"))
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .collect();
    names.sort_unstable();
    assert!(
        names.len() >= 10,
        "expected the corpus transcripts, found {names:?}"
    );
    for name in &names {
        let transcript = load(name);
        let options = BuiltinOptions {
            max_insights: 3,
            ..BuiltinOptions::default()
        };
        let first = extract(&transcript, &options);
        assert!(first.len() <= 3, "{name}: {} insights", first.len());
        assert_eq!(
            extract(&transcript, &options),
            first,
            "{name}: not deterministic"
        );
        assert!(
            first.windows(2).all(|w| w[0].importance >= w[1].importance),
            "{name}: not sorted"
        );
        for insight in &first {
            check_insight_shape(name, insight);
        }
    }
}
