//! Every file of the shared test corpus through the parsers, read in place.
//!
//! Run with `cargo corpus` (alias of `cargo test -p meridian-ingest --test
//! corpus`). The corpus is `MERIDIAN_CORPUS`, by default `shared/corpus` beside
//! the workspace; its `MANIFEST.md` says what each file exercises. A missing
//! corpus fails the run: these tests are never skipped.
#![expect(
    clippy::panic,
    clippy::expect_used,
    reason = "a test reports failures by panicking"
)]

use std::collections::{BTreeSet, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use meridian_core::{FeedUrl, GuidSource, PodcastFeed, Segment, TranscriptFormat};
use meridian_ingest::{
    IngestError, html_to_text, parse_feed, parse_opml, parse_transcript, pick_transcript,
    show_notes_transcript, sniff_transcript_format,
};

fn corpus() -> PathBuf {
    let dir = meridian_testkit::shared_folder("MERIDIAN_CORPUS", "corpus");
    assert!(
        dir.join("MANIFEST.md").is_file(),
        "the test corpus is not at `{}`: set MERIDIAN_CORPUS to the folder holding MANIFEST.md",
        dir.display()
    );
    dir
}

/// The files of one corpus folder, sorted; the folder must not be empty.
fn files(folder: &str) -> Vec<PathBuf> {
    let dir = corpus().join(folder);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list `{}`: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "`{}` holds no files", dir.display());
    paths
}

fn file(rel: &str) -> PathBuf {
    corpus().join(rel)
}

fn name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("cannot read `{}`: {e}", path.display()))
}

fn url_of(path: &Path) -> FeedUrl {
    let abs = path
        .canonicalize()
        .unwrap_or_else(|e| panic!("`{}`: {e}", path.display()));
    FeedUrl::from_path(&abs).expect("absolute path")
}

/// Runs `f`, turning a panic into a test failure that names the file.
fn no_panic<T>(path: &Path, what: &str, f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(_) => panic!("{what} panicked on `{}`", path.display()),
    }
}

fn feed(rel: &str) -> PodcastFeed {
    let path = file(rel);
    no_panic(&path, "parse_feed", || {
        parse_feed(&read(&path), &url_of(&path))
    })
    .unwrap_or_else(|e| panic!("`{rel}` should parse: {e}"))
}

fn feed_err(rel: &str) -> IngestError {
    let path = file(rel);
    match no_panic(&path, "parse_feed", || {
        parse_feed(&read(&path), &url_of(&path))
    }) {
        Ok(f) => panic!(
            "`{rel}` should be refused, got a feed with {} episodes",
            f.episodes.len()
        ),
        Err(e) => e,
    }
}

fn format_of(path: &Path) -> TranscriptFormat {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    TranscriptFormat::from_extension(ext)
        .unwrap_or_else(|| panic!("`{}`: unknown transcript extension", path.display()))
}

fn transcript(rel: &str) -> Vec<Segment> {
    let path = file(rel);
    no_panic(&path, "parse_transcript", || {
        parse_transcript(&read(&path), format_of(&path), &name(&path))
    })
    .unwrap_or_else(|e| panic!("`{rel}` should parse: {e}"))
}

fn speakers(segments: &[Segment]) -> BTreeSet<String> {
    segments.iter().filter_map(|s| s.speaker.clone()).collect()
}

/// Collects every problem before failing, so that one bad file does not hide
/// the others.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn check(&mut self, ok: bool, problem: impl FnOnce() -> String) {
        if !ok {
            self.0.push(problem());
        }
    }

    fn assert_none(self) {
        assert!(
            self.0.is_empty(),
            "{} problem(s):\n{}",
            self.0.len(),
            self.0.join("\n")
        );
    }
}

// ---------------------------------------------------------------------------
// Walks.

#[test]
fn every_feed_parses_with_titled_uniquely_keyed_episodes() {
    let mut problems = Problems::default();
    for path in files("feeds") {
        let n = name(&path);
        match no_panic(&path, "parse_feed", || {
            parse_feed(&read(&path), &url_of(&path))
        }) {
            Err(e) => problems.check(false, || format!("{n}: {e}")),
            Ok(f) => {
                problems.check(!f.title.trim().is_empty(), || {
                    format!("{n}: empty feed title")
                });
                problems.check(!f.episodes.is_empty(), || format!("{n}: no episodes"));
                for (i, e) in f.episodes.iter().enumerate() {
                    problems.check(!e.title.trim().is_empty(), || {
                        format!("{n}: episode {i} has an empty title")
                    });
                    problems.check(!e.guid.0.is_empty(), || {
                        format!("{n}: episode {i} has an empty key")
                    });
                }
                let keys: HashSet<_> = f.episodes.iter().map(|e| &e.guid).collect();
                problems.check(keys.len() == f.episodes.len(), || {
                    format!("{n}: duplicate episode keys")
                });
            }
        }
    }
    problems.assert_none();
}

#[test]
fn every_transcript_parses_in_its_format_with_text_and_ordered_times() {
    let mut problems = Problems::default();
    for path in files("transcripts") {
        let n = name(&path);
        let format = format_of(&path);
        let bytes = read(&path);
        let sniffed = no_panic(&path, "sniff_transcript_format", || {
            sniff_transcript_format(&bytes)
        });
        problems.check(sniffed == Some(format), || {
            format!("{n}: sniffed as {sniffed:?}, extension says {format}")
        });
        let segments = match no_panic(&path, "parse_transcript", || {
            parse_transcript(&bytes, format, &n)
        }) {
            Ok(s) => s,
            Err(e) => {
                problems.check(false, || format!("{n}: {e}"));
                continue;
            }
        };
        problems.check(!segments.is_empty(), || format!("{n}: no segments"));
        problems.check(segments.iter().all(|s| !s.text.trim().is_empty()), || {
            format!("{n}: a segment without text")
        });
        let timed = matches!(
            format,
            TranscriptFormat::Vtt | TranscriptFormat::Srt | TranscriptFormat::Json
        );
        if timed {
            problems.check(segments.iter().all(|s| s.start.is_some()), || {
                format!("{n}: a segment without a start")
            });
        }
        // Monotone-ish: a start may repeat, but never go back more than a second.
        let starts: Vec<f64> = segments.iter().filter_map(|s| s.start).collect();
        for w in starts.windows(2) {
            problems.check(w[1] >= w[0] - 1.0, || {
                format!("{n}: start {} after {}", w[1], w[0])
            });
        }
        for s in &segments {
            if let (Some(a), Some(b)) = (s.start, s.end) {
                problems.check(b >= a, || {
                    format!("{n}: segment ends ({b}) before it starts ({a})")
                });
            }
        }
    }
    problems.assert_none();
}

/// What each transcript file carries, so that the parse can be held to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Has {
    /// Every sentence has it.
    All,
    /// At least this share (percent) of the sentences have it.
    AtLeast(usize),
    /// The file has none.
    No,
}

/// (file, times, speakers, distinct speakers at least). Read off the files:
/// cue and segment files are timed throughout; Markdown from the Changelog
/// has inline `[MM:SS]` markers every few minutes (the sentence after each
/// is timed, the others are not: the file does not say when they start); the
/// cloud-ASR texts tag speakers inline (`【说话人N】`); FG055 names only the
/// host, on some segments; the Talk Python site version leaves the voice tag
/// off a few cues.
#[rustfmt::skip]
const WHAT_FILES_HAVE: &[(&str, Has, Has, usize)] = &[
    ("buzzcast.html", Has::All, Has::All, 3),
    ("buzzcast.json", Has::All, Has::All, 3),
    ("buzzcast.srt", Has::All, Has::All, 3),
    ("changelog-594-speakers.md", Has::AtLeast(5), Has::All, 3),
    ("changelog-gotime-300-panel.md", Has::AtLeast(5), Has::All, 5),
    ("changelog-practicalai-217.md", Has::AtLeast(5), Has::All, 2),
    ("de-forschergeist-fg045.json", Has::All, Has::All, 2),
    ("de-forschergeist-fg055.json", Has::All, Has::AtLeast(5), 1),
    ("de-freakshow-fs207.json", Has::All, Has::All, 5),
    ("de-podlovers-ep03-webplayer.json", Has::All, Has::All, 4),
    ("en-buzzsprout-10things-pc20.html", Has::All, Has::All, 3),
    ("en-commonsense-cs309-podlove.json", Has::All, Has::No, 0),
    ("en-practicalai-300-changelog.md", Has::AtLeast(5), Has::All, 3),
    ("how-to-start-a-podcast-word-level.json", Has::All, Has::All, 1),
    ("pc20-example.html", Has::All, Has::All, 3),
    ("pc20-example.json", Has::All, Has::All, 2),
    ("pc20-example.srt", Has::All, Has::All, 3),
    ("pc20-example.vtt", Has::All, Has::All, 2),
    ("podnews-weekly-2023-03-17.html", Has::All, Has::AtLeast(5), 1),
    ("podnews-weekly-2024-01-19.vtt", Has::All, Has::All, 2),
    ("talkpython-448-open-source-full-time.txt", Has::All, Has::No, 0),
    ("talkpython-448-open-source-full-time.vtt", Has::All, Has::No, 0),
    ("talkpython-534-diskcache-site-version.vtt", Has::All, Has::AtLeast(95), 2),
    ("talkpython-534-diskcache-speakers.vtt", Has::All, Has::All, 2),
    ("zh-dushu-ep001-proofread.md", Has::No, Has::No, 0),
    ("zh-dushu-ep001-whisper-raw.json", Has::All, Has::No, 0),
    ("zh-dushu-ep163-proofread.md", Has::No, Has::No, 0),
    ("zh-huiketang-vol90-paraformer.txt", Has::No, Has::AtLeast(90), 2),
    ("zh-huiketang-vol95-paraformer.srt", Has::All, Has::All, 2),
    ("zh-mianji-e146-paraformer.txt", Has::No, Has::All, 2),
    ("zh-woshinideyan-0710-paraformer.txt", Has::No, Has::No, 0),
];

/// A sentence longer than this (words; two CJK characters count one) is a
/// run-on that normalisation failed to cut.
const LONGEST_SENTENCE_WORDS: usize = 80;

#[test]
fn every_transcript_comes_out_as_sentences_with_the_times_and_speakers_its_file_has() {
    let mut problems = Problems::default();
    let listed: BTreeSet<&str> = WHAT_FILES_HAVE.iter().map(|(f, ..)| *f).collect();
    for path in files("transcripts") {
        let n = name(&path);
        problems.check(listed.contains(n.as_str()), || {
            format!("{n}: not in WHAT_FILES_HAVE; say what it carries")
        });
    }
    for &(file, times, who, distinct) in WHAT_FILES_HAVE {
        let segments = transcript(&format!("transcripts/{file}"));
        let total = segments.len();
        let timed = segments.iter().filter(|s| s.start.is_some()).count();
        let spoken = segments.iter().filter(|s| s.speaker.is_some()).count();
        for (what, has, count) in [("times", times, timed), ("speakers", who, spoken)] {
            let ok = match has {
                Has::All => count == total,
                Has::AtLeast(percent) => count * 100 >= total * percent,
                Has::No => count == 0,
            };
            problems.check(ok, || {
                format!("{file}: {what}: {count} of {total} sentences, expected {has:?}")
            });
        }
        let names = speakers(&segments);
        problems.check(names.len() >= distinct, || {
            format!(
                "{file}: {} speakers {names:?}, expected at least {distinct}",
                names.len()
            )
        });
        for name in &names {
            let lower = name.to_lowercase();
            problems.check(
                !["music", "jingle", "break", "intro", "outro", "aux"].contains(&lower.as_str()),
                || format!("{file}: `{name}` is not a speaker"),
            );
        }
        for s in &segments {
            let words = meridian_core::text::word_count(&s.text);
            problems.check(words <= LONGEST_SENTENCE_WORDS, || {
                format!("{file}: a sentence of {words} words: {:.120}…", s.text)
            });
            problems.check(
                !s.text.contains('【') && !s.text.contains("\\[") && !s.text.contains(":**"),
                || format!("{file}: markup left in `{:.120}`", s.text),
            );
            let lower = s.text.to_lowercase();
            for marker in ["[laughter]", "[unintelligible", "[music]", "(laughs)"] {
                problems.check(!lower.contains(marker), || {
                    format!("{file}: `{marker}` left in `{:.120}`", s.text)
                });
            }
        }
    }
    problems.assert_none();
}

#[test]
fn raw_whisper_output_loses_its_hallucinated_outro_and_loops() {
    let raw = transcript("transcripts/zh-dushu-ep001-whisper-raw.json");
    let all: String = raw.iter().map(|s| s.text.as_str()).collect();
    assert!(
        !all.contains("点赞") && !all.contains("明镜与点点"),
        "the video outro nobody said is gone: {:.200}",
        raw[0].text
    );
    assert!(
        raw[0].start.is_some_and(|t| t >= 29.0),
        "the first sentence is the first words said (at 30 s): {:?}",
        raw[0]
    );
    let mut repeated = 0;
    for w in raw.windows(2) {
        if w[0].text == w[1].text {
            repeated += 1;
        }
    }
    assert_eq!(repeated, 0, "no sentence is said twice in a row");
}

#[test]
fn every_opml_lists_feeds() {
    let mut problems = Problems::default();
    for path in files("opml") {
        let n = name(&path);
        match no_panic(&path, "parse_opml", || parse_opml(&read(&path), &n)) {
            Err(e) => problems.check(false, || format!("{n}: {e}")),
            Ok(outlines) => {
                // The directory sample has only `type="link"` outlines (other OPML
                // files, not feeds): importing it must give nothing.
                if n == "feedsmith-ref-directory-links.opml" {
                    problems.check(outlines.is_empty(), || {
                        format!("{n}: link outlines taken as feeds")
                    });
                } else {
                    problems.check(!outlines.is_empty(), || format!("{n}: no outlines"));
                }
                problems.check(outlines.iter().all(|o| !o.xml_url.is_empty()), || {
                    format!("{n}: an empty xmlUrl")
                });
                let urls: HashSet<_> = outlines.iter().map(|o| &o.xml_url).collect();
                problems.check(urls.len() == outlines.len(), || {
                    format!("{n}: duplicate feeds kept")
                });
            }
        }
    }
    problems.assert_none();
}

/// Every malformed file either parses or is refused with an error that names
/// it; none makes a parser panic.
#[test]
fn malformed_files_parse_or_fail_naming_the_file() {
    let mut problems = Problems::default();
    for path in files("malformed") {
        let n = name(&path);
        let bytes = read(&path);
        let is_opml = n.ends_with(".opml");
        let is_json = n.ends_with(".json");
        let result = if is_opml {
            no_panic(&path, "parse_opml", || parse_opml(&bytes, &n)).map(|o| o.len())
        } else if is_json {
            no_panic(&path, "parse_transcript", || {
                parse_transcript(&bytes, TranscriptFormat::Json, &n)
            })
            .map(|s| s.len())
        } else {
            no_panic(&path, "parse_feed", || parse_feed(&bytes, &url_of(&path)))
                .map(|f| f.episodes.len())
        };
        if let Err(e) = result {
            let msg = e.to_string();
            problems.check(msg.contains(&n), || {
                format!("{n}: error does not name the file: {msg}")
            });
            problems.check(!msg.contains('\n'), || {
                format!("{n}: error is not one line: {msg:?}")
            });
            problems.check(!e.kind().is_empty(), || format!("{n}: no failure kind"));
        }
    }
    problems.assert_none();
}

/// Every file, whatever it is, through every parser: errors are fine, panics
/// are not.
#[test]
fn no_parser_panics_on_any_corpus_file() {
    for folder in ["feeds", "malformed", "transcripts", "opml", "chapters"] {
        for path in files(folder) {
            let bytes = read(&path);
            let n = name(&path);
            let small = bytes.len() < 512 * 1024;
            if small || folder != "feeds" {
                let _ = no_panic(&path, "parse_feed", || parse_feed(&bytes, &url_of(&path)));
            }
            let _ = no_panic(&path, "parse_opml", || parse_opml(&bytes, &n));
            let _ = no_panic(&path, "sniff_transcript_format", || {
                sniff_transcript_format(&bytes)
            });
            if small {
                for format in TranscriptFormat::PREFERENCE {
                    let _ = no_panic(&path, "parse_transcript", || {
                        parse_transcript(&bytes, format, &n)
                    });
                }
                let text = String::from_utf8_lossy(&bytes);
                let _ = no_panic(&path, "html_to_text", || html_to_text(&text));
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Facts a user would check.

#[test]
fn critical_role_week_adds_exactly_one_new_episode() {
    let old = feed("feeds/critical-role-2021-04-08.xml");
    let new = feed("feeds/critical-role-2021-04-15.xml");
    assert_eq!((old.episodes.len(), new.episodes.len()), (222, 223));
    let old_keys: HashSet<_> = old.episodes.iter().map(|e| e.guid.clone()).collect();
    let added: Vec<_> = new
        .episodes
        .iter()
        .filter(|e| !old_keys.contains(&e.guid))
        .collect();
    assert_eq!(added.len(), 1, "exactly one new guid");
    assert_eq!(added[0].title, "C2E133 Hunter and Hunted");
    assert_eq!(added[0].guid_source, GuidSource::Guid);
    let new_keys: HashSet<_> = new.episodes.iter().map(|e| e.guid.clone()).collect();
    assert!(old_keys.is_subset(&new_keys), "no episode disappeared");
}

#[test]
fn buzzcast_json_srt_and_html_agree_on_speakers() {
    let expected: BTreeSet<String> = ["Alban", "Dave", "Kevin", "Tom", "Travis"]
        .map(String::from)
        .into();
    for rel in [
        "transcripts/buzzcast.json",
        "transcripts/buzzcast.srt",
        "transcripts/buzzcast.html",
    ] {
        let s = transcript(rel);
        assert_eq!(speakers(&s), expected, "{rel}");
        assert_eq!(s[0].speaker.as_deref(), Some("Alban"), "{rel}");
        assert_eq!(s[0].start, Some(0.0), "{rel}");
        assert!(
            s[0].text.starts_with("It is so stinking nice to"),
            "{rel}: {}",
            s[0].text
        );
    }
    let json = transcript("transcripts/buzzcast.json");
    assert!(
        json.len() < 959,
        "caption lines sharing start and end were joined ({} segments)",
        json.len()
    );
}

#[test]
fn word_level_json_becomes_readable_sentences() {
    let s = transcript("transcripts/how-to-start-a-podcast-word-level.json");
    assert!(
        s.len() * 5 < 2442,
        "2442 words merged into sentences, got {} segments",
        s.len()
    );
    assert_eq!(s[0].text, "Hey, Travis Albritain here.");
    assert_eq!(speakers(&s), ["Eric", "Travis"].map(String::from).into());
    let spec = transcript("transcripts/pc20-example.json");
    let texts: Vec<_> = spec
        .iter()
        .map(|x| (x.speaker.as_deref().unwrap_or(""), x.text.as_str()))
        .collect();
    assert_eq!(
        texts,
        vec![("Darth Vader", "I am your father."), ("Luke", "Nooooo")]
    );
}

#[test]
fn vtt_voice_tags_and_the_two_talkpython_pipelines() {
    let pc20 = transcript("transcripts/pc20-example.vtt");
    assert_eq!(
        speakers(&pc20),
        ["Gillian", "Sarah"].map(String::from).into()
    );
    assert!(
        pc20.iter().any(|s| s.text.contains("Podcasting Q&A")),
        "entities decoded"
    );
    let podnews = transcript("transcripts/podnews-weekly-2024-01-19.vtt");
    assert_eq!(podnews[0].start, Some(0.0));
    assert!(
        podnews.iter().any(|s| s.start.is_some_and(|t| t > 800.0)),
        "short MM:SS.mmm timings read"
    );
    let a = transcript("transcripts/talkpython-534-diskcache-speakers.vtt");
    let b = transcript("transcripts/talkpython-534-diskcache-site-version.vtt");
    let both: BTreeSet<String> = ["Michael Kennedy", "Vincent Warmerdam"]
        .map(String::from)
        .into();
    assert_eq!((speakers(&a), speakers(&b)), (both.clone(), both));
    let last = |s: &[Segment]| s.last().and_then(|x| x.start).unwrap_or(0.0);
    assert!(
        (4600.0..4640.0).contains(&last(&a)),
        "speakers version ends near 1:17:11, last cue at {}",
        last(&a)
    );
    assert!(
        (4400.0..4430.0).contains(&last(&b)),
        "site version ends near 1:13:44, last cue at {}",
        last(&b)
    );
}

#[test]
fn text_and_markdown_transcripts() {
    let vtt = transcript("transcripts/talkpython-448-open-source-full-time.vtt");
    let txt = transcript("transcripts/talkpython-448-open-source-full-time.txt");
    assert_eq!(
        txt[0].text, vtt[0].text,
        "same episode, same first sentence"
    );
    assert_eq!(
        (txt[1].start, txt[1].text.as_str()),
        (Some(4.0), vtt[1].text.as_str())
    );
    assert!(speakers(&vtt).is_empty());
    let md = transcript("transcripts/changelog-594-speakers.md");
    let second = md
        .iter()
        .find(|s| s.speaker != md[0].speaker)
        .and_then(|s| s.speaker.as_deref());
    assert_eq!(
        (md[0].speaker.as_deref(), second),
        (Some("Jerod Santo"), Some("Mark Russinovich"))
    );
    assert!(speakers(&md).contains("Adam Stacoviak"));
    assert!(
        md.iter().all(|s| !s.text.contains("**")),
        "Markdown emphasis removed"
    );
    assert!(
        md.iter()
            .all(|s| !s.text.contains("unintelligible") && !s.text.contains('\\')),
        "escapes and `[unintelligible …]` markers removed"
    );
    let panel = transcript("transcripts/changelog-gotime-300-panel.md");
    assert!(
        speakers(&panel).len() >= 5,
        "a panel has many speakers: {:?}",
        speakers(&panel)
    );
}

#[test]
fn html_transcripts_keep_speakers_and_times() {
    let s = transcript("transcripts/pc20-example.html");
    assert_eq!(
        speakers(&s),
        ["Gilon", "Sarah", "Travis"].map(String::from).into()
    );
    assert!(s.iter().all(|x| x.start.is_some()));
    assert_eq!(
        s.last().and_then(|x| x.start),
        Some(691.0),
        "the last <time> is 11:31"
    );
    assert!(
        s[0].text.contains("it's almost guaranteed"),
        "&#39; decoded: {}",
        s[0].text
    );
    let podnews = transcript("transcripts/podnews-weekly-2023-03-17.html");
    assert_eq!(
        podnews[0].speaker, None,
        "the first paragraph has no <cite>"
    );
    assert!(speakers(&podnews).contains("Norma-Jean Belenky"));
}

#[test]
fn podcasting_2_0_transcripts_and_chapters_are_found_in_feeds() {
    let example = feed("feeds/pc20-namespace-example.xml");
    let links: Vec<_> = example
        .episodes
        .iter()
        .flat_map(|e| &e.transcripts)
        .collect();
    assert_eq!(links.len(), 4);
    assert!(links.iter().all(|l| l.format.is_some()));
    assert!(links.iter().any(|l| l.format == Some(TranscriptFormat::Vtt)
        && l.language.as_deref() == Some("es")
        && l.rel.as_deref() == Some("captions")));
    assert_eq!(
        links.iter().filter(|l| l.mime_type == "text/plain").count(),
        3
    );
    assert_eq!(example.podcast_guid.as_deref(), Some("y0ur-gu1d-g035-h3r3"));
    assert!(
        example.blocked,
        "<podcast:block>yes</podcast:block> without id"
    );

    let rich = feed("feeds/buzzsprout-2144220-pc20-rich.xml");
    assert_eq!(rich.episodes.len(), 158);
    assert_eq!(
        rich.episodes
            .iter()
            .map(|e| e.transcripts.len())
            .sum::<usize>(),
        142
    );
    assert_eq!(
        rich.episodes
            .iter()
            .filter(|e| e.chapters_url.is_some())
            .count(),
        138
    );

    let legacy = feed("feeds/pi-aggregator-pc20rss.xml");
    assert_eq!(legacy.episodes.len(), 38);
    assert_eq!(
        legacy
            .episodes
            .iter()
            .map(|e| e.transcripts.len())
            .sum::<usize>(),
        29,
        "legacy namespace URI"
    );
    assert_eq!(
        legacy
            .episodes
            .iter()
            .filter(|e| e.chapters_url.is_some())
            .count(),
        30
    );
    let laminas = feed("feeds/laminas-pc20-legacy-ns.xml");
    assert_eq!(
        laminas
            .episodes
            .iter()
            .map(|e| e.transcripts.len())
            .sum::<usize>(),
        2
    );

    let spreaker = feed("feeds/spreaker-6508845-1000-items-multi-transcript.xml");
    assert_eq!(spreaker.episodes.len(), 1000);
    assert_eq!(
        spreaker
            .episodes
            .iter()
            .map(|e| e.transcripts.len())
            .sum::<usize>(),
        2841
    );
    let several = spreaker
        .episodes
        .iter()
        .find(|e| e.transcripts.len() > 1)
        .expect("an episode with several transcripts");
    let picked = pick_transcript(&several.transcripts, spreaker.language.as_deref())
        .expect("a readable format");
    let best = several
        .transcripts
        .iter()
        .filter_map(|l| l.format)
        .map(TranscriptFormat::preference)
        .min();
    assert_eq!(
        picked.format.map(TranscriptFormat::preference),
        best,
        "the preferred format is picked"
    );
}

#[test]
fn non_english_feeds_keep_their_letters() {
    let de = feed("feeds/letscast-sonnefreihaus-de.xml");
    assert_eq!(
        de.title,
        "SonneFreiHaus - Photovoltaik, Speicher, eMobilität und Energiemanagement"
    );
    assert!(
        de.episodes
            .iter()
            .any(|e| e.title == "Strom und Wärme in einem Solarmodul (PVT)")
    );
    let de2 = feed("feeds/podigee-heiter-bis-holprig-de.xml");
    assert!(
        de2.episodes
            .iter()
            .any(|e| e.title == "Wenn es läuft, dann läufts!")
    );
    let da = feed("feeds/dr-dk-kampen-om-historien-da.xml");
    assert!(
        da.episodes
            .iter()
            .any(|e| e.title == "Dreyfusaffæren og det splittede Frankrig")
    );
    assert!(
        da.episodes
            .iter()
            .any(|e| e.title == "Hiroshima og Nagasaki - Japans åbne sår")
    );
    let ja = feed("feeds/soundcloud-932044519.xml");
    assert_eq!(ja.title, "清順★麻実子のいもほり倶楽部");
    let ru = feed("malformed/windows-1251-ru.xml");
    assert_eq!(
        ru.episodes[0].title, "Цитата #17703",
        "declared windows-1251"
    );
}

#[test]
fn latin1_feeds_decode_accents() {
    let declared = feed("malformed/encoding-iso-8859-1-no-guid.rss");
    assert_eq!(
        declared.episodes[0].title,
        "Mãe de utente é a nova presidente da Raríssimas"
    );
    let undeclared = feed("malformed/no-decl-latin1-fr.xml");
    assert!(
        undeclared
            .episodes
            .iter()
            .any(|e| e.title == "La criminalité liée surtout à... l'ennui ?")
    );
    let utf16 = feed("malformed/utf-16le-bom.xml");
    assert!(
        utf16.episodes.is_empty(),
        "a UTF-16 `<rss></rss>` is an empty feed"
    );
}

#[test]
fn feeds_without_guids_get_stable_distinct_fallback_keys() {
    let f = feed("malformed/encoding-iso-8859-1-no-guid.rss");
    assert_eq!(f.episodes.len(), 40);
    let keys: HashSet<_> = f.episodes.iter().map(|e| &e.guid).collect();
    assert_eq!(keys.len(), 40, "40 distinct keys");
    assert!(f.episodes.iter().all(|e| e.guid_source != GuidSource::Guid));
    let again = feed("malformed/encoding-iso-8859-1-no-guid.rss");
    assert!(
        f.episodes
            .iter()
            .zip(&again.episodes)
            .all(|(a, b)| a.guid == b.guid),
        "keys are stable"
    );
    let minimal = feed("malformed/no-guid-minimal.rss");
    assert_eq!(minimal.episodes[0].guid.0, "http://example.com/test.ogg");
    assert_eq!(minimal.episodes[0].guid_source, GuidSource::Enclosure);
}

#[test]
fn sloppy_real_feeds_keep_every_episode() {
    let f = feed("malformed/itunes-missing-image-leading-newline.rss");
    assert_eq!(
        f.episodes.len(),
        130,
        "131 items, one an exact repeat of another (same guid and enclosure)"
    );
    assert!(
        f.episodes.iter().all(|e| e.published.is_some()),
        "\"Sun, 12 August 2012 10:00:00 EST\" parses"
    );
    let aug = f.episodes.iter().find(|e| {
        e.published
            .is_some_and(|d| d.to_rfc3339() == "2012-08-12T15:00:00+00:00")
    });
    assert!(aug.is_some(), "full month names and US zones are read");
    let nodate = feed("malformed/episode-with-no-pubdate.rss");
    assert_eq!(nodate.episodes.len(), 6);
    assert_eq!(
        nodate
            .episodes
            .iter()
            .filter(|e| e.published.is_none())
            .count(),
        1
    );
    let person = feed("malformed/podcast-person-no-xmlns.rss");
    assert_eq!(
        person.episodes[0].persons,
        vec!["John Doe", "Stephanie Smith"]
    );
    assert_eq!(
        feed("malformed/itunes-prefix-undeclared.rss").episodes[0].duration_secs,
        Some(1200)
    );
    let space = feed("malformed/enclosure-url-leading-space.rss");
    assert_eq!(
        space.episodes[0].enclosure.as_ref().map(|e| e.url.as_str()),
        Some("http://example.com/example.mp3")
    );
    let html = feed("malformed/html-content-vs-description.rss");
    assert_eq!(
        html.episodes[0].description, "This is also a test",
        "content:encoded wins, as text"
    );
    let image = feed("malformed/image-url-on-newline.rss");
    assert_eq!(
        image.image.as_deref(),
        Some("https://www.nps.gov/common/uploads/podcasts/0C4BEEC8-DDCF-0DBA-20016EC90B82DAEA.jpg")
    );
    let amp = feed("malformed/corrupted-ampersands.xml");
    assert_eq!(
        amp.episodes[0].link.as_deref(),
        Some("http://link/get?a=1&b=2")
    );
    let moved = feed("feeds/laminas-pc20-legacy-ns.xml");
    assert_eq!(
        moved.new_feed_url.as_deref(),
        Some("http://newlocation.com/example.rss")
    );
    let big = feed("feeds/desiringgod-john-piper-2065-items.xml");
    assert_eq!(big.episodes.len(), 2065);
    assert!(
        big.episodes
            .iter()
            .all(|e| e.enclosure.is_some() && e.duration_secs.is_some())
    );
    let notes = show_notes_transcript(&big.episodes[0]);
    assert!(!notes.segments.is_empty() && notes.segments.iter().all(|s| s.start.is_none()));
}

#[test]
fn hostile_and_broken_feeds_are_refused_clearly() {
    let page = feed_err("malformed/soundcloud-html-page-not-a-feed.html");
    assert_eq!(page.kind(), "not_a_feed");
    assert!(page.to_string().contains("HTML page"), "{page}");
    assert_eq!(feed_err("malformed/not-xml.rss").kind(), "not_a_feed");
    assert_eq!(
        feed_err("malformed/opml-with-doctype.opml").kind(),
        "not_a_feed"
    );

    let mismatched = feed_err("malformed/mismatched-tag.xml");
    assert_eq!(mismatched.kind(), "unparseable");
    assert!(
        matches!(
            mismatched,
            IngestError::Unparseable {
                line: Some(109),
                ..
            }
        ),
        "{mismatched}"
    );
    assert!(
        mismatched
            .to_string()
            .contains("mismatched-tag.xml`: not well-formed XML at line 109: "),
        "{mismatched}"
    );
    for rel in [
        "malformed/truncated-feed.xml",
        "malformed/incomplete-cdata.xml",
        "malformed/itunes-single-quoted-attrs.xml",
    ] {
        let e = feed_err(rel);
        assert_eq!(e.kind(), "unparseable", "{rel}: {e}");
        assert!(
            matches!(e, IngestError::Unparseable { line: Some(_), .. }),
            "{rel}: {e}"
        );
    }

    // Entity declarations are refused outright: never expanded, never read,
    // and never stored as a title.
    for rel in [
        "malformed/entity-bomb.xml",
        "malformed/xxe-external-entity.xml",
    ] {
        let e = feed_err(rel);
        assert_eq!(e.kind(), "unparseable", "{rel}: {e}");
        assert!(e.to_string().contains("declares entities"), "{rel}: {e}");
        assert!(!e.to_string().contains("root:"), "{rel}: {e}");
    }
}

#[test]
fn opml_imports_flatten_dedupe_and_diff() {
    let nested =
        parse_opml(&read(&file("opml/nested-folder-subs.opml")), "nested").expect("parses");
    let urls: Vec<_> = nested.iter().map(|o| o.xml_url.as_str()).collect();
    assert_eq!(
        urls,
        vec![
            "https://example.com/feed.xml",
            "https://example.com/second.xml"
        ]
    );
    let german =
        parse_opml(&read(&file("opml/german-tech-podcasts.opml")), "german").expect("parses");
    assert_eq!(german.len(), 111, "112 outlines, one feed listed twice");
    assert!(german.iter().any(|o| {
        o.title
            .as_deref()
            .is_some_and(|t| t.contains('ä') || t.contains('ü'))
    }));
    let a: HashSet<_> = parse_opml(&read(&file("opml/pocketcasts-ianbarton.opml")), "a")
        .expect("parses")
        .into_iter()
        .map(|o| o.xml_url)
        .collect();
    let b: HashSet<_> = parse_opml(
        &read(&file("opml/pocketcasts-ianbarton-other-version.opml")),
        "b",
    )
    .expect("parses")
    .into_iter()
    .map(|o| o.xml_url)
    .collect();
    assert!(
        !a.is_subset(&b) && !b.is_subset(&a),
        "feeds were both added and removed between the two exports"
    );
    let doctype =
        parse_opml(&read(&file("malformed/opml-with-doctype.opml")), "doctype").expect("parses");
    assert_eq!(doctype.len(), 1);
}
