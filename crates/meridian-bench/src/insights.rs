//! Insight quality: the builtin engine's picks scored against an editor's gold
//! annotations (`bench/quality.sh`; results in `docs/quality.md`).
//!
//! The eval folder (`MERIDIAN_EVAL`, default the `shared/eval` folder beside
//! the checkout) holds one
//! `gold/*.json` per episode: the transcript files that hold it, its language
//! and passages an editor scored 2 (a self-contained insight), 1 (true but
//! weak) or 0 (not an insight: greetings, ads, questions, fragments…). Every
//! file of every episode is parsed the way Meridian parses a feed's
//! transcript and handed to `meridian_models::builtin::extract` for five
//! insights; each pick is matched to a gold passage (see [`best_match`]) and
//! gets its score, or 0 when it matches none.
//!
//! Figures, per file, per episode (mean over its files), per language (mean
//! over its episodes) and overall (mean over languages):
//!
//! - **strict top-k** (k = 1, 3, 5): the mean score of the first k picks,
//!   where an unmatched pick and a pick the engine did not make both count 0;
//! - **matched zeros**: the share of the picks matched to a score-0 passage;
//! - **unmatched**: the share of the picks matched to no passage;
//! - **digest mean** (per language): the insights of all the language's
//!   episodes (each episode's first file) compete for five slots through the
//!   digest ranking (`meridian_digest::rank::rank`), and the five picks are
//!   scored like the rest (strict: a missing slot counts 0);
//! - **peers** (with `--peer-python`): sumy's LexRank and TextRank, run by
//!   `bench/sumy_peer.py` on the engine's own sentences
//!   (`meridian_models::builtin::sentences`), each of their top five scored
//!   exactly like a builtin pick.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context as _, anyhow, bail};
use chrono::{DateTime, Utc};
use meridian_core::{Insight, Transcript, TranscriptFormat, TranscriptSource};
use meridian_digest::rank::{Candidate, RankOptions};
use meridian_models::builtin::{self, BuiltinOptions, EngineSentence};
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization as _;

/// Picks asked of the engine and of each peer.
const PICKS: usize = 5;
/// A passage is a candidate for a pick that starts within this many seconds.
pub const WINDOW_SECS: f64 = 60.0;
/// The window for a passage whose time is an editor's estimate (`start_est`).
pub const WINDOW_EST_SECS: f64 = 90.0;
/// The least overlap (shared tokens over the shorter side's tokens) of a match.
pub const MIN_OVERLAP: f64 = 0.5;
/// The least tokens on the shorter side of a match (words).
pub const MIN_TOKENS: usize = 5;
/// The same for Chinese, counted in tokens of which most are character bigrams.
pub const MIN_TOKENS_ZH: usize = 8;

/// `MERIDIAN_EVAL`, else the `shared/eval` folder beside the checkout.
pub fn default_eval() -> PathBuf {
    meridian_testkit::shared_folder("MERIDIAN_EVAL", "eval")
}

/// The LexRank/TextRank peer script of this repository.
fn default_peer_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/sumy_peer.py")
}

/// `insights` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The gold annotations (`gold/*.json`).
    #[arg(long, env = "MERIDIAN_EVAL", default_value_os_t = default_eval())]
    eval: PathBuf,
    /// The shared corpus: gold files name their transcripts relative to it.
    #[arg(long, env = "MERIDIAN_CORPUS", default_value_os_t = crate::shape::default_corpus())]
    corpus: PathBuf,
    /// A Python with sumy installed: runs LexRank and TextRank on the engine's
    /// own sentences for comparison (bench/quality.sh sets one up).
    #[arg(long)]
    peer_python: Option<PathBuf>,
    /// The peer script.
    #[arg(long, default_value_os_t = default_peer_script())]
    peer_script: PathBuf,
    /// Print the report as JSON instead of tables.
    #[arg(long)]
    json: bool,
    /// A file with a line `Overall strict top-5: X` (docs/quality.md): exit
    /// non-zero when the measured figure is more than --tolerance below X.
    #[arg(long)]
    floor: Option<PathBuf>,
    /// How far below the floor the overall strict top-5 may fall.
    #[arg(long, default_value_t = 0.05)]
    tolerance: f64,
    /// Also write every sentence the engine read, one JSON object a line:
    /// its score and the parts of the score, and the gold passage it
    /// matches by the same rule as a pick (for studying what separates the
    /// editor's passages from the rest).
    #[arg(long)]
    sentences: Option<PathBuf>,
}

// ---------------------------------------------------------------------------
// Gold files
// ---------------------------------------------------------------------------

/// One episode's gold annotations (`gold/*.json`; format in the eval README).
#[derive(Debug, Clone, Deserialize)]
pub struct Gold {
    /// The episode's id.
    pub episode: String,
    /// Transcript files holding the episode, relative to the corpus.
    pub files: Vec<String>,
    /// `en`, `de`, `zh`.
    pub language: String,
    /// Length, minutes (some are estimates).
    #[serde(default)]
    pub minutes: Option<f64>,
    /// The scored passages.
    pub passages: Vec<Passage>,
    /// Indexes of the editor's top picks, best first.
    #[serde(default)]
    pub best: Vec<usize>,
}

/// A scored passage of a gold file.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Passage {
    /// Seconds from the start of the episode; `None` where there are no times.
    #[serde(default)]
    pub start: Option<f64>,
    /// The transcript's words.
    pub quote: String,
    /// 2, 1 or 0.
    pub score: u8,
    /// The editor's estimate of the time of the words themselves.
    #[serde(default)]
    pub start_est: Option<f64>,
    /// Per-file times where versions of the episode drift (`None`: the file
    /// has no time for it).
    #[serde(default)]
    pub start_by_file: BTreeMap<String, Option<f64>>,
}

/// A passage with its quote's tokens.
#[derive(Debug, Clone)]
pub struct GoldPassage {
    /// The passage.
    pub passage: Passage,
    /// [`match_tokens`] of its quote.
    pub tokens: Vec<String>,
}

impl GoldPassage {
    /// Tokenises `passage`.
    pub fn new(passage: Passage) -> Self {
        let tokens = match_tokens(&passage.quote);
        Self { passage, tokens }
    }
}

// ---------------------------------------------------------------------------
// The matching rule
// ---------------------------------------------------------------------------

/// Characters compared by overlapping pairs: Han ideographs and kana (Chinese
/// and Japanese are written without spaces between words).
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF        // hiragana, katakana
        | 0x3400..=0x4DBF      // CJK extension A
        | 0x4E00..=0x9FFF      // CJK unified ideographs
        | 0xF900..=0xFAFF      // compatibility ideographs
        | 0x20000..=0x2FA1F    // extensions B–F, compatibility supplement
    )
}

/// The tokens the matching rule compares.
///
/// The text is normalised to NFKC and lower-cased (full-width letters and
/// digits become ASCII, `ﬁ` becomes `fi`). Every character that is neither a
/// letter nor a digit (punctuation, symbols, whitespace) is a separator, so
/// `don't`/`don’t`, `open-source`/`open source` and `3,105`/`3, 105` compare
/// equal. Latin (and any other spaced) script gives one token per word.
/// Han and kana give overlapping character bigrams: a run of such characters
/// continues across punctuation and whitespace (Chinese has no spaces, and
/// transcripts differ in where they put commas or join lines), and is ended
/// only by a letter or digit of another script; a Latin word or number inside
/// Chinese text (`AI`, `2023`) is one whole-word token, and a lone CJK
/// character between two of them is a token of its own.
pub fn match_tokens(text: &str) -> Vec<String> {
    let folded: String = text.nfkc().flat_map(char::to_lowercase).nfkc().collect();
    let mut out = Vec::new();
    let mut word = String::new();
    let mut run: Vec<char> = Vec::new();
    for c in folded.chars() {
        if is_cjk(c) {
            flush_word(&mut word, &mut out);
            run.push(c);
        } else if c.is_alphanumeric() {
            flush_run(&mut run, &mut out);
            word.push(c);
        } else {
            flush_word(&mut word, &mut out);
        }
    }
    flush_word(&mut word, &mut out);
    flush_run(&mut run, &mut out);
    out
}

fn flush_word(word: &mut String, out: &mut Vec<String>) {
    if !word.is_empty() {
        out.push(std::mem::take(word));
    }
}

fn flush_run(run: &mut Vec<char>, out: &mut Vec<String>) {
    match run.len() {
        0 => {}
        1 => out.push(run.iter().collect()),
        _ => out.extend(run.windows(2).map(|pair| pair.iter().collect::<String>())),
    }
    run.clear();
}

/// Shared tokens of two token lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overlap {
    /// Tokens in common, as a multiset (`a a b` and `a b b` share 2).
    pub shared: usize,
    /// Tokens of the shorter list.
    pub shorter: usize,
}

impl Overlap {
    /// Shared over shorter, 0 when either side is empty.
    pub fn ratio(self) -> f64 {
        if self.shorter == 0 {
            0.0
        } else {
            self.shared as f64 / self.shorter as f64
        }
    }

    /// Whether `self` has the higher ratio, or the same ratio and more shared
    /// tokens (compared exactly, in integers).
    fn beats(self, other: Self) -> bool {
        let mine = self.shared * other.shorter;
        let theirs = other.shared * self.shorter;
        mine > theirs || (mine == theirs && self.shared > other.shared)
    }
}

/// The multiset overlap of `a` and `b`.
pub fn overlap(a: &[String], b: &[String]) -> Overlap {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for t in a {
        *counts.entry(t.as_str()).or_insert(0) += 1;
    }
    let mut shared = 0;
    for t in b {
        if let Some(n) = counts.get_mut(t.as_str())
            && *n > 0
        {
            *n -= 1;
            shared += 1;
        }
    }
    Overlap {
        shared,
        shorter: a.len().min(b.len()),
    }
}

/// The least tokens of a match in `language`.
pub fn min_tokens(language: &str) -> usize {
    if language.to_ascii_lowercase().starts_with("zh") {
        MIN_TOKENS_ZH
    } else {
        MIN_TOKENS
    }
}

/// The passage's time in `file`: `start_by_file[file]` when the file is
/// listed there (`None` when the editor says it has no time), else `start`.
pub fn passage_time(passage: &Passage, file: &str) -> Option<f64> {
    match passage.start_by_file.get(file) {
        Some(t) => *t,
        None => passage.start,
    }
}

/// Whether `passage` is a candidate for a pick of `file` starting at
/// `pick_start`: always when either side has no time; otherwise when the
/// pick starts within 60 s of the passage's time in that file. A passage
/// with `start_est` (an editor's estimate of where the words are, beside the
/// `start` the program reads, e.g. a long HTML block's start) gets 90 s, and
/// either of its two times may be the near one.
pub fn is_candidate(passage: &Passage, file: &str, pick_start: Option<f64>) -> bool {
    let Some(at) = pick_start else {
        return true;
    };
    let window = if passage.start_est.is_some() {
        WINDOW_EST_SECS
    } else {
        WINDOW_SECS
    };
    let times: Vec<f64> = passage_time(passage, file)
        .into_iter()
        .chain(passage.start_est)
        .collect();
    times.is_empty() || times.iter().any(|t| (at - t).abs() <= window)
}

/// The passage a pick matches: among the candidates ([`is_candidate`]) the
/// one with the highest overlap (ties: more shared tokens, then the earlier
/// passage), if that overlap is at least 0.5 and the shorter side has at
/// least `min_tokens` tokens; otherwise none (the pick is unmatched).
pub fn best_match(
    pick_text: &str,
    pick_start: Option<f64>,
    file: &str,
    passages: &[GoldPassage],
    min_tokens: usize,
) -> Option<usize> {
    let pick = match_tokens(pick_text);
    let mut best: Option<(usize, Overlap)> = None;
    for (i, p) in passages.iter().enumerate() {
        if !is_candidate(&p.passage, file, pick_start) {
            continue;
        }
        let o = overlap(&pick, &p.tokens);
        if best.is_none_or(|(_, b)| o.beats(b)) {
            best = Some((i, o));
        }
    }
    let (i, o) = best?;
    (o.ratio() >= MIN_OVERLAP && o.shorter >= min_tokens).then_some(i)
}

// ---------------------------------------------------------------------------
// Scores
// ---------------------------------------------------------------------------

/// One scored pick.
#[derive(Debug, Clone, Serialize)]
pub struct Pick {
    /// What was picked.
    pub text: String,
    /// Where it starts, seconds.
    pub start: Option<f64>,
    /// The gold passage it matched.
    pub passage: Option<usize>,
    /// That passage's score, 0 when unmatched.
    pub score: u8,
}

/// Scores picks of `file` (in order) against an episode's passages.
fn score_picks<'a>(
    picks: impl IntoIterator<Item = (&'a str, Option<f64>)>,
    file: &str,
    passages: &[GoldPassage],
    min_tokens: usize,
) -> Vec<Pick> {
    picks
        .into_iter()
        .map(|(text, start)| {
            let passage = best_match(text, start, file, passages, min_tokens);
            let score = passage
                .and_then(|i| passages.get(i))
                .map_or(0, |p| p.passage.score);
            Pick {
                text: text.to_owned(),
                start,
                passage,
                score,
            }
        })
        .collect()
}

/// The figures of one list of picks, or a mean of several.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Metrics {
    /// Strict mean score of the first pick.
    pub top1: f64,
    /// Strict mean score of the first three.
    pub top3: f64,
    /// Strict mean score of the first five.
    pub top5: f64,
    /// Share of the picks matched to a score-0 passage (`None`: no picks).
    pub matched_zero: Option<f64>,
    /// Share of the picks matched to no passage (`None`: no picks).
    pub unmatched: Option<f64>,
}

/// Strict mean score of the first `k` picks: unmatched picks score 0 and so do
/// the picks missing when there are fewer than `k`.
pub fn strict_top(picks: &[Pick], k: usize) -> f64 {
    if k == 0 {
        return 0.0;
    }
    let sum: u32 = picks.iter().take(k).map(|p| u32::from(p.score)).sum();
    f64::from(sum) / k as f64
}

impl Metrics {
    /// The figures of `picks`.
    pub fn of(picks: &[Pick]) -> Self {
        let share = |count: usize| (!picks.is_empty()).then(|| count as f64 / picks.len() as f64);
        Self {
            top1: strict_top(picks, 1),
            top3: strict_top(picks, 3),
            top5: strict_top(picks, 5),
            matched_zero: share(
                picks
                    .iter()
                    .filter(|p| p.passage.is_some() && p.score == 0)
                    .count(),
            ),
            unmatched: share(picks.iter().filter(|p| p.passage.is_none()).count()),
        }
    }

    /// The mean of `all` (shares: over those that have picks).
    pub fn mean<'a>(all: impl IntoIterator<Item = &'a Self> + Clone) -> Self {
        Self {
            top1: mean(all.clone().into_iter().map(|m| m.top1)),
            top3: mean(all.clone().into_iter().map(|m| m.top3)),
            top5: mean(all.clone().into_iter().map(|m| m.top5)),
            matched_zero: mean_some(all.clone().into_iter().map(|m| m.matched_zero)),
            unmatched: mean_some(all.into_iter().map(|m| m.unmatched)),
        }
    }
}

fn mean(values: impl IntoIterator<Item = f64>) -> f64 {
    let (sum, n) = values
        .into_iter()
        .fold((0.0, 0_usize), |(s, n), v| (s + v, n + 1));
    if n == 0 { 0.0 } else { sum / n as f64 }
}

fn mean_some(values: impl IntoIterator<Item = Option<f64>>) -> Option<f64> {
    let present: Vec<f64> = values.into_iter().flatten().collect();
    (!present.is_empty()).then(|| mean(present))
}

/// The mean of the peers' figures where every item has them.
fn mean_peer<'a>(all: impl IntoIterator<Item = &'a Option<Metrics>>) -> Option<Metrics> {
    let present: Option<Vec<&Metrics>> = all.into_iter().map(Option::as_ref).collect();
    present
        .filter(|p| !p.is_empty())
        .map(|p| Metrics::mean(p.iter().copied()))
}

// ---------------------------------------------------------------------------
// The report
// ---------------------------------------------------------------------------

/// One transcript file of an episode.
#[derive(Debug, Clone, Serialize)]
pub struct FileRow {
    /// Path relative to the corpus.
    pub file: String,
    /// The format it was parsed as.
    pub format: Option<String>,
    /// Segments the parser returned.
    pub segments: usize,
    /// Sentences the engine read.
    pub sentences: usize,
    /// Engine sentences without a start time.
    pub untimed_sentences: usize,
    /// Picks without a start time.
    pub untimed_picks: usize,
    /// Why the file gave no transcript.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The builtin engine's figures.
    pub builtin: Metrics,
    /// LexRank's (with a peer).
    pub lexrank: Option<Metrics>,
    /// TextRank's (with a peer).
    pub textrank: Option<Metrics>,
    /// The builtin picks, best first.
    pub picks: Vec<Pick>,
    /// LexRank's picks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lexrank_picks: Vec<Pick>,
    /// TextRank's picks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub textrank_picks: Vec<Pick>,
}

/// One episode: means over its files.
#[derive(Debug, Clone, Serialize)]
pub struct EpisodeRow {
    /// The gold file's language.
    pub language: String,
    /// The episode id.
    pub episode: String,
    /// Length, minutes.
    pub minutes: Option<f64>,
    /// Passages in the gold file.
    pub passages: usize,
    /// The strict top-5 of the editor's own `best` picks: the ceiling.
    pub editor_top5: f64,
    /// Builtin figures, mean over the files.
    pub builtin: Metrics,
    /// LexRank's.
    pub lexrank: Option<Metrics>,
    /// TextRank's.
    pub textrank: Option<Metrics>,
    /// Per file.
    pub files: Vec<FileRow>,
}

/// A digest pick.
#[derive(Debug, Clone, Serialize)]
pub struct DigestPick {
    /// The episode it came from.
    pub episode: String,
    /// The pick, scored against that episode's gold.
    #[serde(flatten)]
    pub pick: Pick,
}

/// The better of the two peers.
#[derive(Debug, Clone, Serialize)]
pub struct BestPeer {
    /// `lexrank` or `textrank`.
    pub name: &'static str,
    /// Its strict top-5.
    pub top5: f64,
    /// The builtin strict top-5 minus that.
    pub margin: f64,
}

/// One target's status.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    /// What is measured.
    pub name: &'static str,
    /// The goal, as text.
    pub goal: &'static str,
    /// The measured value (`None`: not measured, e.g. no peer).
    pub value: Option<f64>,
    /// Met, missed, or unknown.
    pub met: Option<bool>,
}

/// One language: means over its episodes.
#[derive(Debug, Clone, Serialize)]
pub struct LanguageRow {
    /// `en`, `de`, `zh`.
    pub language: String,
    /// Episodes counted.
    pub episodes: usize,
    /// Builtin figures.
    pub builtin: Metrics,
    /// LexRank's.
    pub lexrank: Option<Metrics>,
    /// TextRank's.
    pub textrank: Option<Metrics>,
    /// Strict mean score of the five digest picks.
    pub digest_mean: f64,
    /// Mean of the episodes' `editor_top5`: the most a top-5 could reach.
    pub editor_top5: f64,
    /// The digest's picks, best first.
    pub digest: Vec<DigestPick>,
    /// The better peer by strict top-5.
    pub best_peer: Option<BestPeer>,
    /// The targets.
    pub targets: Vec<Target>,
}

/// Means over the languages.
#[derive(Debug, Clone, Serialize)]
pub struct Overall {
    /// Builtin figures.
    pub builtin: Metrics,
    /// LexRank's.
    pub lexrank: Option<Metrics>,
    /// TextRank's.
    pub textrank: Option<Metrics>,
    /// Mean of the languages' digest means.
    pub digest_mean: f64,
    /// Mean of the languages' `editor_top5`.
    pub editor_top5: f64,
    /// The better peer by strict top-5.
    pub best_peer: Option<BestPeer>,
}

/// The `--floor` check.
#[derive(Debug, Clone, Serialize)]
pub struct FloorCheck {
    /// The file read.
    pub file: String,
    /// The committed overall strict top-5.
    pub floor: f64,
    /// Allowed drop.
    pub tolerance: f64,
    /// The measured overall strict top-5.
    pub measured: f64,
    /// Whether `measured >= floor - tolerance`.
    pub passed: bool,
}

/// What `insights` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The eval folder read.
    pub eval: String,
    /// The corpus folder read.
    pub corpus: String,
    /// Whether LexRank and TextRank ran.
    pub peer: bool,
    /// Per episode, sorted by language then id.
    pub episodes: Vec<EpisodeRow>,
    /// Per language.
    pub languages: Vec<LanguageRow>,
    /// Over the languages.
    pub overall: Overall,
    /// Things in the data worth a look: files that fail to parse, picks
    /// without times, passages too short to ever match.
    pub notes: Vec<String>,
    /// The floor check, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub floor: Option<FloorCheck>,
}

// ---------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------

/// An episode's gold, ready for matching.
struct Episode {
    gold: Gold,
    passages: Vec<GoldPassage>,
    min_tokens: usize,
}

/// One file, parsed and run through the engine.
struct FileRun {
    file: String,
    format: Option<TranscriptFormat>,
    segments: usize,
    sentences: Vec<EngineSentence>,
    insights: Vec<Insight>,
    error: Option<String>,
}

/// Runs the benchmark, prints the report (tables, or JSON with `--json`) and
/// applies `--floor`.
///
/// # Errors
/// When the eval folder or a gold file cannot be read, the peer fails, or the
/// floor check fails.
pub fn run(args: &Args) -> anyhow::Result<()> {
    if let Some(path) = &args.sentences {
        write_sentences(args, path)?;
    }
    let mut report = measure(args)?;
    if let Some(path) = &args.floor {
        let floor = read_floor(path)?;
        let measured = report.overall.builtin.top5;
        report.floor = Some(FloorCheck {
            file: path.display().to_string(),
            floor,
            tolerance: args.tolerance,
            measured,
            passed: measured >= floor - args.tolerance - 1e-9,
        });
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report));
    }
    if let Some(check) = &report.floor
        && !check.passed
    {
        bail!(
            "overall strict top-5 {:.3} is more than {:.2} below the floor {:.2} in {}",
            check.measured,
            check.tolerance,
            check.floor,
            check.file
        );
    }
    Ok(())
}

/// One line of `--sentences`.
#[derive(Debug, Serialize)]
struct SentenceLine<'a> {
    episode: &'a str,
    language: &'a str,
    file: &'a str,
    index: usize,
    text: &'a str,
    start: Option<f64>,
    speaker: Option<&'a str>,
    kept: bool,
    score: f64,
    parts: std::collections::BTreeMap<&'static str, f64>,
    /// The gold passage the sentence matches (as a pick would), and its score.
    passage: Option<usize>,
    passage_score: Option<u8>,
}

/// Writes `--sentences`: every sentence of every gold file as the engine
/// reads it, with the passage it matches.
fn write_sentences(args: &Args, path: &Path) -> anyhow::Result<()> {
    use std::io::Write as _;
    let episodes = read_gold(&args.eval)?;
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    for ep in &episodes {
        for name in &ep.gold.files {
            let Some(transcript) = parse_file(&args.corpus, name, &ep.gold.language).ok() else {
                continue;
            };
            let readings = builtin::read(&transcript, &BuiltinOptions::default());
            for (index, r) in readings.iter().enumerate() {
                let passage = best_match(
                    &r.sentence.text,
                    r.sentence.start,
                    name,
                    &ep.passages,
                    ep.min_tokens,
                );
                let line = SentenceLine {
                    episode: &ep.gold.episode,
                    language: &ep.gold.language,
                    file: name,
                    index,
                    text: &r.sentence.text,
                    start: r.sentence.start,
                    speaker: r.sentence.speaker.as_deref(),
                    kept: r.kept,
                    score: r.score,
                    parts: r.parts.iter().copied().collect(),
                    passage,
                    passage_score: passage
                        .and_then(|i| ep.passages.get(i))
                        .map(|p| p.passage.score),
                };
                serde_json::to_writer(&mut out, &line)?;
                out.write_all(b"\n")?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

/// Reads the figure of the line `Overall strict top-5: X` in `path`
/// (Markdown emphasis or code marks around it are allowed).
pub fn read_floor(path: &Path) -> anyhow::Result<f64> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse_floor(&text).with_context(|| {
        format!(
            "{} has no line `{FLOOR_LABEL} X` with a number X",
            path.display()
        )
    })
}

const FLOOR_LABEL: &str = "Overall strict top-5:";

fn parse_floor(text: &str) -> Option<f64> {
    let marks: &[char] = &['*', '`', '_', '>', '-', ' ', '\t'];
    text.lines().find_map(|line| {
        let rest = line.trim_start_matches(marks).strip_prefix(FLOOR_LABEL)?;
        let number: String = rest
            .trim_start_matches(marks)
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        number.parse().ok()
    })
}

/// Reads every gold file with passages, sorted by language then episode.
fn read_gold(eval: &Path) -> anyhow::Result<Vec<Episode>> {
    let dir = eval.join("gold");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {} (set MERIDIAN_EVAL or --eval)", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    let mut episodes = Vec::new();
    for path in paths {
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let gold: Gold = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not a gold file", path.display()))?;
        if gold.passages.is_empty() {
            continue;
        }
        let passages = gold
            .passages
            .iter()
            .cloned()
            .map(GoldPassage::new)
            .collect();
        let min_tokens = min_tokens(&gold.language);
        episodes.push(Episode {
            gold,
            passages,
            min_tokens,
        });
    }
    if episodes.is_empty() {
        bail!("no gold file with passages in {}", dir.display());
    }
    episodes.sort_by(|a, b| {
        (&a.gold.language, &a.gold.episode).cmp(&(&b.gold.language, &b.gold.episode))
    });
    Ok(episodes)
}

/// Parses `file` the way Meridian parses a feed's transcript and extracts
/// five insights from it.
fn run_file(corpus: &Path, file: &str, language: &str) -> FileRun {
    let mut run = FileRun {
        file: file.to_owned(),
        format: None,
        segments: 0,
        sentences: Vec::new(),
        insights: Vec::new(),
        error: None,
    };
    let transcript = match parse_file(corpus, file, language) {
        Ok(t) => t,
        Err(e) => {
            run.error = Some(e);
            return run;
        }
    };
    if let TranscriptSource::Feed(format) = transcript.source {
        run.format = Some(format);
    }
    run.segments = transcript.segments.len();
    run.sentences = builtin::sentences(&transcript);
    run.insights = builtin::extract(
        &transcript,
        &BuiltinOptions {
            max_insights: PICKS,
            ..Default::default()
        },
    );
    run
}

/// Reads and parses `file` the way Meridian parses a feed's transcript: the
/// format sniffed from the bytes, the file extension as a fallback.
fn parse_file(corpus: &Path, file: &str, language: &str) -> Result<Transcript, String> {
    let path = corpus.join(file);
    let bytes = std::fs::read(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let format = meridian_ingest::sniff_transcript_format(&bytes)
        .or_else(|| {
            path.extension()
                .and_then(|x| x.to_str())
                .and_then(TranscriptFormat::from_extension)
        })
        .ok_or_else(|| "unknown transcript format".to_owned())?;
    let segments = meridian_ingest::parse_transcript(&bytes, format, file)
        .map_err(|e| format!("parse as {format}: {e}"))?;
    Ok(Transcript {
        source: TranscriptSource::Feed(format),
        language: Some(language.to_owned()),
        segments,
    })
}

/// Measures everything (without the floor check).
///
/// # Errors
/// When the gold cannot be read or the peer fails.
pub fn measure(args: &Args) -> anyhow::Result<Report> {
    let episodes = read_gold(&args.eval)?;
    let mut notes = Vec::new();
    for ep in &episodes {
        notes.extend(gold_notes(ep));
    }

    let runs: Vec<Vec<FileRun>> = episodes
        .iter()
        .map(|ep| {
            ep.gold
                .files
                .iter()
                .map(|f| run_file(&args.corpus, f, &ep.gold.language))
                .collect()
        })
        .collect();

    // The peers, all files at once.
    let peer_answers = match &args.peer_python {
        Some(python) => {
            let requests: Vec<PeerRequest<'_>> = episodes
                .iter()
                .zip(&runs)
                .flat_map(|(ep, files)| {
                    files.iter().map(|r| PeerRequest {
                        language: &ep.gold.language,
                        sentences: r.sentences.iter().map(|s| s.text.as_str()).collect(),
                        k: PICKS,
                    })
                })
                .collect();
            Some(run_peer(python, &args.peer_script, &requests)?)
        }
        None => None,
    };
    let mut answers = peer_answers.map(Vec::into_iter);

    let mut rows = Vec::new();
    for (ep, files) in episodes.iter().zip(&runs) {
        let mut file_rows = Vec::new();
        for run in files {
            let answer = answers.as_mut().and_then(Iterator::next);
            let row = file_row(ep, run, answer)?;
            notes.extend(file_notes(ep, &row));
            file_rows.push(row);
        }
        let editor: Vec<Pick> = ep
            .gold
            .best
            .iter()
            .filter_map(|&i| ep.gold.passages.get(i))
            .map(|p| Pick {
                text: p.quote.clone(),
                start: p.start,
                passage: None,
                score: p.score,
            })
            .collect();
        rows.push(EpisodeRow {
            language: ep.gold.language.clone(),
            episode: ep.gold.episode.clone(),
            minutes: ep.gold.minutes,
            passages: ep.gold.passages.len(),
            editor_top5: strict_top(&editor, PICKS),
            builtin: Metrics::mean(file_rows.iter().map(|f| &f.builtin)),
            lexrank: mean_peer(file_rows.iter().map(|f| &f.lexrank)),
            textrank: mean_peer(file_rows.iter().map(|f| &f.textrank)),
            files: file_rows,
        });
    }

    let languages: BTreeSet<&str> = rows.iter().map(|r| r.language.as_str()).collect();
    let mut language_rows = Vec::new();
    for language in languages {
        let mine: Vec<&EpisodeRow> = rows.iter().filter(|r| r.language == language).collect();
        let digest = digest(language, &episodes, &runs);
        let digest_mean = strict_top(
            &digest.iter().map(|d| d.pick.clone()).collect::<Vec<_>>(),
            PICKS,
        );
        if digest.len() < PICKS {
            notes.push(format!(
                "{language} digest: {} pick(s) of {PICKS} (the ranking's quality floor or \
                 near-duplicates left out the rest); the missing ones count 0",
                digest.len()
            ));
        }
        let builtin = Metrics::mean(mine.iter().map(|r| &r.builtin));
        let lexrank = mean_peer(mine.iter().map(|r| &r.lexrank));
        let textrank = mean_peer(mine.iter().map(|r| &r.textrank));
        let best_peer = best_peer(&builtin, lexrank.as_ref(), textrank.as_ref());
        let targets = targets(&builtin, digest_mean, best_peer.as_ref());
        language_rows.push(LanguageRow {
            language: language.to_owned(),
            episodes: mine.len(),
            builtin,
            lexrank,
            textrank,
            digest_mean,
            editor_top5: mean(mine.iter().map(|r| r.editor_top5)),
            digest,
            best_peer,
            targets,
        });
    }

    let builtin = Metrics::mean(language_rows.iter().map(|l| &l.builtin));
    let lexrank = mean_peer(language_rows.iter().map(|l| &l.lexrank));
    let textrank = mean_peer(language_rows.iter().map(|l| &l.textrank));
    let overall = Overall {
        best_peer: best_peer(&builtin, lexrank.as_ref(), textrank.as_ref()),
        digest_mean: mean(language_rows.iter().map(|l| l.digest_mean)),
        editor_top5: mean(language_rows.iter().map(|l| l.editor_top5)),
        builtin,
        lexrank,
        textrank,
    };

    Ok(Report {
        eval: args.eval.display().to_string(),
        corpus: args.corpus.display().to_string(),
        peer: args.peer_python.is_some(),
        episodes: rows,
        languages: language_rows,
        overall,
        notes,
        floor: None,
    })
}

/// Scores one file's builtin and peer picks.
fn file_row(ep: &Episode, run: &FileRun, peer: Option<PeerAnswer>) -> anyhow::Result<FileRow> {
    let picks = score_picks(
        run.insights.iter().map(|i| (i.text.as_str(), i.start)),
        &run.file,
        &ep.passages,
        ep.min_tokens,
    );
    let peer_picks = |indexes: &[usize]| -> anyhow::Result<Vec<Pick>> {
        let chosen = indexes
            .iter()
            .map(|&i| {
                run.sentences
                    .get(i)
                    .map(|s| (s.text.as_str(), s.start))
                    .ok_or_else(|| {
                        anyhow!(
                            "the peer returned sentence {i} of {} for {}",
                            run.sentences.len(),
                            run.file
                        )
                    })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(score_picks(chosen, &run.file, &ep.passages, ep.min_tokens))
    };
    let (lexrank_picks, textrank_picks) = match &peer {
        Some(a) => (peer_picks(&a.lexrank)?, peer_picks(&a.textrank)?),
        None => (Vec::new(), Vec::new()),
    };
    Ok(FileRow {
        file: run.file.clone(),
        format: run.format.map(|f| f.as_str().to_owned()),
        segments: run.segments,
        sentences: run.sentences.len(),
        untimed_sentences: run.sentences.iter().filter(|s| s.start.is_none()).count(),
        untimed_picks: picks.iter().filter(|p| p.start.is_none()).count(),
        error: run.error.clone(),
        builtin: Metrics::of(&picks),
        lexrank: peer.as_ref().map(|_| Metrics::of(&lexrank_picks)),
        textrank: peer.as_ref().map(|_| Metrics::of(&textrank_picks)),
        picks,
        lexrank_picks,
        textrank_picks,
    })
}

/// The language's digest: every insight of its episodes (first file each)
/// ranked by the digest ranking, the five picks scored against their own
/// episode's gold.
fn digest(language: &str, episodes: &[Episode], runs: &[Vec<FileRun>]) -> Vec<DigestPick> {
    // Each episode stands as its own show (podcast = episode id): the gold
    // files do not say which episodes share a show.
    let mut candidates = Vec::new();
    for (ep, files) in episodes.iter().zip(runs) {
        if ep.gold.language != language {
            continue;
        }
        let Some(first) = files.first() else {
            continue;
        };
        for insight in &first.insights {
            candidates.push(Candidate {
                episode_key: ep.gold.episode.clone(),
                podcast: ep.gold.episode.clone(),
                episode: ep.gold.episode.clone(),
                episode_url: None,
                audio_url: None,
                language: Some(language.to_owned()),
                published: None,
                insight: insight.clone(),
            });
        }
    }
    // No publication dates, so recency is neutral and `now` does not matter;
    // a fixed one keeps the run reproducible.
    let now: DateTime<Utc> = DateTime::UNIX_EPOCH;
    let items = meridian_digest::rank::rank(&candidates, &[], &RankOptions::new(now));
    items
        .into_iter()
        .take(PICKS)
        .filter_map(|item| {
            let (ep, files) = episodes
                .iter()
                .zip(runs)
                .find(|(ep, _)| ep.gold.episode == item.episode)?;
            let file = files.first()?.file.as_str();
            let mut picks = score_picks(
                [(item.insight.text.as_str(), item.insight.start)],
                file,
                &ep.passages,
                ep.min_tokens,
            );
            Some(DigestPick {
                episode: item.episode,
                pick: picks.pop()?,
            })
        })
        .collect()
}

fn best_peer(
    builtin: &Metrics,
    lexrank: Option<&Metrics>,
    textrank: Option<&Metrics>,
) -> Option<BestPeer> {
    let (lex, text) = (lexrank?, textrank?);
    let (name, top5) = if text.top5 > lex.top5 {
        ("textrank", text.top5)
    } else {
        ("lexrank", lex.top5)
    };
    Some(BestPeer {
        name,
        top5,
        margin: builtin.top5 - top5,
    })
}

fn targets(builtin: &Metrics, digest_mean: f64, peer: Option<&BestPeer>) -> Vec<Target> {
    let at_least = |value: Option<f64>, goal: f64| value.map(|v| v >= goal - 1e-9);
    let at_most = |value: Option<f64>, goal: f64| value.map(|v| v <= goal + 1e-9);
    let margin = peer.map(|p| p.margin);
    vec![
        Target {
            name: "top-1",
            goal: ">= 1.5",
            value: Some(builtin.top1),
            met: at_least(Some(builtin.top1), 1.5),
        },
        Target {
            name: "top-5",
            goal: ">= 1.2",
            value: Some(builtin.top5),
            met: at_least(Some(builtin.top5), 1.2),
        },
        Target {
            name: "matched zeros",
            goal: "<= 5% of picks",
            value: builtin.matched_zero,
            met: at_most(builtin.matched_zero, 0.05),
        },
        Target {
            name: "digest mean",
            goal: ">= 1.5",
            value: Some(digest_mean),
            met: at_least(Some(digest_mean), 1.5),
        },
        Target {
            name: "top-5 over better peer",
            goal: ">= +0.4",
            value: margin,
            met: at_least(margin, 0.4),
        },
    ]
}

/// Notes on a gold file: passages that can never match, times for files the
/// episode does not list.
fn gold_notes(ep: &Episode) -> Vec<String> {
    let mut notes = Vec::new();
    let id = &ep.gold.episode;
    let short: Vec<String> = ep
        .passages
        .iter()
        .enumerate()
        .filter(|(_, p)| p.tokens.len() < ep.min_tokens)
        .map(|(i, p)| format!("#{i} ({} tokens)", p.tokens.len()))
        .collect();
    if !short.is_empty() {
        notes.push(format!(
            "{id}: passages under {} tokens can never be matched: {}",
            ep.min_tokens,
            short.join(", ")
        ));
    }
    let listed: BTreeSet<&str> = ep.gold.files.iter().map(String::as_str).collect();
    let strays: BTreeSet<&str> = ep
        .gold
        .passages
        .iter()
        .flat_map(|p| p.start_by_file.keys())
        .map(String::as_str)
        .filter(|f| !listed.contains(f))
        .collect();
    if !strays.is_empty() {
        notes.push(format!(
            "{id}: start_by_file names files not in `files`: {}",
            strays.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    notes
}

/// Notes on one file's run.
fn file_notes(ep: &Episode, row: &FileRow) -> Vec<String> {
    let mut notes = Vec::new();
    let id = &ep.gold.episode;
    let file = &row.file;
    if let Some(e) = &row.error {
        notes.push(format!(
            "{id} {file}: no transcript ({e}); every pick counts 0"
        ));
        return notes;
    }
    if row.picks.len() < PICKS {
        notes.push(format!(
            "{id} {file}: the engine made {} pick(s) of {PICKS} ({} sentences from {} segments)",
            row.picks.len(),
            row.sentences,
            row.segments
        ));
    }
    let contained: Vec<String> = row
        .picks
        .iter()
        .filter_map(|p| {
            let passage = ep.passages.get(p.passage?)?;
            let tokens = match_tokens(&p.text).len();
            (tokens > 3 * passage.tokens.len()).then(|| {
                format!(
                    "{} tokens ({} chars) on passage #{} of {}",
                    tokens,
                    p.text.chars().count(),
                    p.passage.unwrap_or_default(),
                    passage.tokens.len()
                )
            })
        })
        .collect();
    if !contained.is_empty() {
        notes.push(format!(
            "{id} {file}: pick(s) over 3x as long as the passage they match, matched because \
             overlap counts over the shorter side: {}",
            contained.join("; ")
        ));
    }
    let gold_timed = ep
        .gold
        .passages
        .iter()
        .any(|p| passage_time(p, file).is_some());
    if gold_timed && row.untimed_picks > 0 {
        notes.push(format!(
            "{id} {file}: {} pick(s) without a start time although the gold has times \
             (matched on text alone; {} of {} engine sentences untimed)",
            row.untimed_picks, row.untimed_sentences, row.sentences
        ));
    }
    notes
}

// ---------------------------------------------------------------------------
// The peer
// ---------------------------------------------------------------------------

/// What the peer script reads, one per file.
#[derive(Debug, Serialize)]
struct PeerRequest<'a> {
    language: &'a str,
    sentences: Vec<&'a str>,
    k: usize,
}

/// What it answers: indexes into the request's sentences, best first.
#[derive(Debug, Deserialize)]
struct PeerAnswer {
    lexrank: Vec<usize>,
    textrank: Vec<usize>,
}

/// Runs `python script` once with every request on stdin (a JSON list) and
/// reads one answer per request from stdout.
fn run_peer(
    python: &Path,
    script: &Path,
    requests: &[PeerRequest<'_>],
) -> anyhow::Result<Vec<PeerAnswer>> {
    let input = serde_json::to_vec(requests)?;
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting {} {}", python.display(), script.display()))?;
    let mut stdin = child.stdin.take().context("the peer's stdin")?;
    // Written from a thread so that a peer answering early cannot block us.
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child
        .wait_with_output()
        .context("waiting for the peer script")?;
    writer
        .join()
        .map_err(|_| anyhow!("the thread writing to the peer failed"))?
        .context("writing to the peer script")?;
    if !output.status.success() {
        bail!(
            "{} {} failed ({}); is sumy installed in that Python?",
            python.display(),
            script.display(),
            output.status
        );
    }
    let answers: Vec<PeerAnswer> =
        serde_json::from_slice(&output.stdout).context("reading the peer's JSON answer")?;
    if answers.len() != requests.len() {
        bail!(
            "the peer answered {} of {} requests",
            answers.len(),
            requests.len()
        );
    }
    Ok(answers)
}

// ---------------------------------------------------------------------------
// Text output
// ---------------------------------------------------------------------------

fn num(v: f64) -> String {
    format!("{v:.2}")
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{:.0}%", v * 100.0))
}

fn peer5(m: Option<&Metrics>) -> String {
    m.map_or_else(|| "-".to_owned(), |m| num(m.top5))
}

fn minutes(m: Option<f64>) -> String {
    match m {
        Some(m) if m < 1.0 => format!("{m:.2}"),
        Some(m) => format!("{m:.0}"),
        None => "-".to_owned(),
    }
}

/// The tables.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    // `write!` to a String cannot fail.
    let _ = writeln!(
        out,
        "Insight quality: the builtin engine's 5 picks against the gold in {}",
        report.eval
    );
    let _ = writeln!(
        out,
        "Scores 0-2, strict (an unmatched or missing pick scores 0). m0 = picks matched to a \
         score-0 passage, unm = picks matched to none, lex5/text5 = strict top-5 of sumy's \
         LexRank/TextRank on the engine's sentences, gold5 = the editor's own top-5."
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<4} {:<42} {:>5} {:>5} {:>5} {:>5} {:>5} {:>5} {:>5} {:>5} {:>5}",
        "lang", "episode", "min", "top1", "top3", "top5", "m0", "unm", "lex5", "text5", "gold5"
    );
    for ep in &report.episodes {
        let _ = writeln!(
            out,
            "{:<4} {:<42} {:>5} {:>5} {:>5} {:>5} {:>5} {:>5} {:>5} {:>5} {:>5}",
            ep.language,
            ep.episode,
            minutes(ep.minutes),
            num(ep.builtin.top1),
            num(ep.builtin.top3),
            num(ep.builtin.top5),
            pct(ep.builtin.matched_zero),
            pct(ep.builtin.unmatched),
            peer5(ep.lexrank.as_ref()),
            peer5(ep.textrank.as_ref()),
            num(ep.editor_top5),
        );
        if ep.files.len() > 1 {
            for f in &ep.files {
                let name = f.file.rsplit('/').next().unwrap_or(&f.file);
                let _ = writeln!(
                    out,
                    "{:<4}   {:<40} {:>5} {:>5} {:>5} {:>5} {:>5} {:>5} {:>5} {:>5}",
                    "",
                    name,
                    "",
                    num(f.builtin.top1),
                    num(f.builtin.top3),
                    num(f.builtin.top5),
                    pct(f.builtin.matched_zero),
                    pct(f.builtin.unmatched),
                    peer5(f.lexrank.as_ref()),
                    peer5(f.textrank.as_ref()),
                );
            }
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<4} {:>8} {:>5} {:>5} {:>5} {:>5} {:>5} {:>6} {:>5} {:>5} {:>15} {:>6} {:>5}",
        "lang",
        "episodes",
        "top1",
        "top3",
        "top5",
        "m0",
        "unm",
        "digest",
        "lex5",
        "text5",
        "better peer",
        "margin",
        "gold5"
    );
    for l in &report.languages {
        let (peer, margin) = match &l.best_peer {
            Some(p) => (
                format!("{} {}", p.name, num(p.top5)),
                format!("{:+.2}", p.margin),
            ),
            None => ("-".to_owned(), "-".to_owned()),
        };
        let _ = writeln!(
            out,
            "{:<4} {:>8} {:>5} {:>5} {:>5} {:>5} {:>5} {:>6} {:>5} {:>5} {:>15} {:>6} {:>5}",
            l.language,
            l.episodes,
            num(l.builtin.top1),
            num(l.builtin.top3),
            num(l.builtin.top5),
            pct(l.builtin.matched_zero),
            pct(l.builtin.unmatched),
            num(l.digest_mean),
            peer5(l.lexrank.as_ref()),
            peer5(l.textrank.as_ref()),
            peer,
            margin,
            num(l.editor_top5),
        );
    }
    let o = &report.overall;
    let (peer, margin) = match &o.best_peer {
        Some(p) => (
            format!("{} {}", p.name, num(p.top5)),
            format!("{:+.2}", p.margin),
        ),
        None => ("-".to_owned(), "-".to_owned()),
    };
    let _ = writeln!(
        out,
        "{:<13} {:>5} {:>5} {:>5} {:>5} {:>5} {:>6} {:>5} {:>5} {:>15} {:>6} {:>5}",
        "all (mean)",
        num(o.builtin.top1),
        num(o.builtin.top3),
        num(o.builtin.top5),
        pct(o.builtin.matched_zero),
        pct(o.builtin.unmatched),
        num(o.digest_mean),
        peer5(o.lexrank.as_ref()),
        peer5(o.textrank.as_ref()),
        peer,
        margin,
        num(o.editor_top5),
    );

    let _ = writeln!(out);
    let _ = writeln!(out, "Targets per language:");
    for l in &report.languages {
        let items: Vec<String> = l
            .targets
            .iter()
            .map(|t| {
                let value = match (t.name, t.value) {
                    (_, None) => "not measured".to_owned(),
                    ("matched zeros", Some(v)) => pct(Some(v)),
                    ("top-5 over better peer", Some(v)) => format!("{v:+.2}"),
                    (_, Some(v)) => num(v),
                };
                let status = match t.met {
                    Some(true) => "met",
                    Some(false) => "MISSED",
                    None => "n/a",
                };
                format!("{} {}: {value} {status}", t.name, t.goal)
            })
            .collect();
        let _ = writeln!(out, "  {:<3} {}", l.language, items.join(" | "));
    }

    if !report.notes.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "Notes on the data:");
        for n in &report.notes {
            let _ = writeln!(out, "  - {n}");
        }
    }
    if let Some(f) = &report.floor {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "Floor ({}): {:.2} - {:.2} tolerance; measured {:.3}: {}",
            f.file,
            f.floor,
            f.tolerance,
            f.measured,
            if f.passed { "ok" } else { "BELOW" }
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "{FLOOR_LABEL} {:.2}", o.builtin.top5);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    fn passage(quote: &str, start: Option<f64>, score: u8) -> GoldPassage {
        GoldPassage::new(Passage {
            start,
            quote: quote.to_owned(),
            score,
            ..Passage::default()
        })
    }

    #[test]
    fn normalisation_folds_case_width_punctuation_and_whitespace() {
        assert_eq!(
            match_tokens("Don’t  PANIC,\n it's fine!"),
            toks(&["don", "t", "panic", "it", "s", "fine"])
        );
        // NFKC: full-width letters and digits, ligatures.
        assert_eq!(
            match_tokens("ＡＢＣ １２３ ﬁne"),
            toks(&["abc", "123", "fine"])
        );
        // Numbers split the same way however the ASR spaced them.
        assert_eq!(match_tokens("3,105"), match_tokens("3, 105"));
        assert_eq!(match_tokens("open-source"), match_tokens("open source"));
        // German keeps its letters.
        assert_eq!(
            match_tokens("Größe ÄNDERT sich"),
            toks(&["größe", "ändert", "sich"])
        );
        assert!(match_tokens(" … — !? ").is_empty());
    }

    #[test]
    fn chinese_is_compared_by_overlapping_bigrams() {
        assert_eq!(match_tokens("我们的"), toks(&["我们", "们的"]));
        // Punctuation and spaces do not break a run.
        assert_eq!(match_tokens("你好，世界"), toks(&["你好", "好世", "世界"]));
        assert_eq!(match_tokens("你好 世界"), match_tokens("你好。世界"));
        // Full-width punctuation folds like ASCII.
        assert_eq!(match_tokens("读书！"), toks(&["读书"]));
        // Latin words and numbers are whole tokens and end a run; a lone
        // character is a token of its own.
        assert_eq!(
            match_tokens("用AI做2023年"),
            toks(&["用", "ai", "做", "2023", "年"])
        );
        assert_eq!(
            match_tokens("人工智能 GPT 模型"),
            toks(&["人工", "工智", "智能", "gpt", "模型"])
        );
    }

    #[test]
    fn overlap_is_a_multiset_intersection_over_the_shorter_side() {
        let o = overlap(&toks(&["a", "a", "b"]), &toks(&["a", "b", "b", "c"]));
        assert_eq!(
            o,
            Overlap {
                shared: 2,
                shorter: 3
            }
        );
        assert!((o.ratio() - 2.0 / 3.0).abs() < 1e-12);
        // Symmetric.
        assert_eq!(
            overlap(&toks(&["a", "b", "b", "c"]), &toks(&["a", "a", "b"])),
            o
        );
        // A short quote inside a long pick overlaps fully.
        let long =
            match_tokens("so the thing is caching pays off only when you read more than you write");
        let short = match_tokens("caching pays off only when you read more");
        assert!((overlap(&long, &short).ratio() - 1.0).abs() < 1e-12);
        assert!((overlap(&[], &short).ratio()).abs() < 1e-12);
    }

    #[test]
    fn a_pick_matches_its_passage_by_text_when_untimed() {
        let gold = [
            passage("Hey everybody, welcome back to the show.", None, 0),
            passage(
                "Streamlit used to start a separate process for every browser tab.",
                None,
                2,
            ),
        ];
        let pick = "Streamlit used to start a SEPARATE process for every browser tab, \
                    so ten users meant ten processes.";
        assert_eq!(best_match(pick, None, "f.vtt", &gold, 5), Some(1));
        assert_eq!(
            best_match(
                "Something else entirely, about cooking pasta well.",
                None,
                "f.vtt",
                &gold,
                5
            ),
            None
        );
    }

    #[test]
    fn overlap_below_half_does_not_match() {
        let gold = [passage(
            "one two three four five six seven eight nine ten",
            None,
            2,
        )];
        // 5 of 10 shared: exactly 0.5 matches.
        assert_eq!(
            best_match(
                "one two three four five x1 x2 x3 x4 x5",
                None,
                "f",
                &gold,
                5
            ),
            Some(0)
        );
        // 5 of 11 (0.45): just short.
        let eleven = [passage(
            "one two three four five six seven eight nine ten eleven",
            None,
            2,
        )];
        assert_eq!(
            best_match(
                "one two three four five x1 x2 x3 x4 x5 x6",
                None,
                "f",
                &eleven,
                5
            ),
            None
        );
        // 4 of 10: no.
        assert_eq!(
            best_match("one two three four x0 x1 x2 x3 x4 x5", None, "f", &gold, 5),
            None
        );
    }

    #[test]
    fn the_time_window_is_60_seconds_or_90_with_an_estimate() {
        let quote = "caching pays off only when you read more than you write";
        let gold = [passage(quote, Some(1000.0), 2)];
        assert_eq!(best_match(quote, Some(1059.0), "f", &gold, 5), Some(0));
        assert_eq!(best_match(quote, Some(941.0), "f", &gold, 5), Some(0));
        assert_eq!(best_match(quote, Some(1061.0), "f", &gold, 5), None);
        // Either side without a time: text alone decides.
        assert_eq!(best_match(quote, None, "f", &gold, 5), Some(0));
        let untimed = [passage(quote, None, 2)];
        assert_eq!(best_match(quote, Some(5.0), "f", &untimed, 5), Some(0));

        // start_est widens the window to 90 s, around either time.
        let mut est = passage(quote, Some(74.0), 1);
        est.passage.start_est = Some(400.0);
        let est = [est];
        assert_eq!(best_match(quote, Some(160.0), "f", &est, 5), Some(0));
        assert_eq!(best_match(quote, Some(480.0), "f", &est, 5), Some(0));
        assert_eq!(best_match(quote, Some(250.0), "f", &est, 5), None);
    }

    #[test]
    fn start_by_file_overrides_start_for_its_file() {
        let quote = "caching pays off only when you read more than you write";
        let mut p = passage(quote, Some(1000.0), 2);
        p.passage
            .start_by_file
            .insert("a.html".to_owned(), Some(800.0));
        p.passage.start_by_file.insert("a.md".to_owned(), None);
        let gold = [p];
        assert_eq!(best_match(quote, Some(810.0), "a.html", &gold, 5), Some(0));
        assert_eq!(best_match(quote, Some(1000.0), "a.html", &gold, 5), None);
        // Another file falls back to `start`.
        assert_eq!(best_match(quote, Some(1000.0), "a.srt", &gold, 5), Some(0));
        // A file listed without a time is matched on text alone.
        assert_eq!(best_match(quote, Some(5.0), "a.md", &gold, 5), Some(0));
    }

    #[test]
    fn a_passage_outside_the_window_is_no_candidate_even_if_it_overlaps_more() {
        let gold = [
            passage("alpha beta gamma delta epsilon zeta", Some(0.0), 2),
            passage(
                "alpha beta gamma delta epsilon other words here",
                Some(500.0),
                1,
            ),
        ];
        let pick = "alpha beta gamma delta epsilon zeta";
        assert_eq!(best_match(pick, Some(510.0), "f", &gold, 5), Some(1));
        assert_eq!(best_match(pick, Some(10.0), "f", &gold, 5), Some(0));
    }

    #[test]
    fn the_shorter_side_needs_five_tokens_or_eight_for_chinese() {
        let gold = [passage("caching pays off rarely", None, 2)];
        // Four tokens on the shorter side: never a match, even word for word.
        assert_eq!(
            best_match("caching pays off rarely", None, "f", &gold, 5),
            None
        );
        let gold = [passage("caching pays off very rarely", None, 2)];
        assert_eq!(
            best_match("Caching pays off very rarely.", None, "f", &gold, 5),
            Some(0)
        );
        // A short pick fails against a long passage too.
        let gold = [passage(
            "caching pays off only when you read more than you write",
            None,
            2,
        )];
        assert_eq!(best_match("caching pays off", None, "f", &gold, 5), None);

        assert_eq!(min_tokens("zh"), 8);
        assert_eq!(min_tokens("zh-cn"), 8);
        assert_eq!(min_tokens("de"), 5);
        assert_eq!(min_tokens("en"), 5);
        let zh = min_tokens("zh");
        // 9 characters: 8 bigrams, just enough.
        assert_eq!(match_tokens("读书是最好的投资方").len(), 8);
        let gold = [passage("读书是最好的投资方", None, 2)];
        assert_eq!(
            best_match("读书是最好的投资方。", None, "f", &gold, zh),
            Some(0)
        );
        // 8 characters: 7 bigrams, too few for Chinese (enough for 5).
        let gold = [passage("读书是最好的投资", None, 2)];
        assert_eq!(best_match("读书是最好的投资", None, "f", &gold, zh), None);
        assert_eq!(best_match("读书是最好的投资", None, "f", &gold, 5), Some(0));
        // The English minimum, through `min_tokens`.
        let gold = [passage("caching pays off rarely", None, 2)];
        assert_eq!(
            best_match(
                "caching pays off rarely",
                None,
                "f",
                &gold,
                min_tokens("en")
            ),
            None
        );
    }

    #[test]
    fn the_highest_overlap_wins() {
        let gold = [
            passage(
                "we moved the cache to disk and it got slower at first",
                None,
                1,
            ),
            passage(
                "we moved the cache to disk and reads got ten times faster",
                None,
                2,
            ),
            passage(
                "welcome back to the show everybody it is good to see you",
                None,
                0,
            ),
        ];
        let pick = "We moved the cache to disk, and reads got ten times faster.";
        assert_eq!(best_match(pick, None, "f", &gold, 5), Some(1));
        // Ties in ratio go to the passage sharing more tokens.
        let gold = [
            passage("one two three four five", None, 1),
            passage("one two three four five six seven", None, 2),
        ];
        assert_eq!(
            best_match(
                "one two three four five six seven eight",
                None,
                "f",
                &gold,
                5
            ),
            Some(1)
        );
        // The rule checks the best candidate only: when it is too short to
        // count, the pick is unmatched even if a weaker candidate would pass.
        let gold = [
            passage("one two three", None, 0),
            passage("one two three x1 x2 x3 x4 x5 x6 x7", None, 2),
        ];
        assert_eq!(
            best_match("one two three four five six", None, "f", &gold, 5),
            None
        );
    }

    #[test]
    fn strict_scores_count_missing_and_unmatched_picks_as_zero() {
        let pick = |passage: Option<usize>, score: u8| Pick {
            text: String::new(),
            start: None,
            passage,
            score,
        };
        let picks = [pick(Some(0), 2), pick(None, 0), pick(Some(3), 0)];
        let m = Metrics::of(&picks);
        assert!((m.top1 - 2.0).abs() < 1e-12);
        assert!((m.top3 - 2.0 / 3.0).abs() < 1e-12);
        // Two picks are missing from the five.
        assert!((m.top5 - 0.4).abs() < 1e-12);
        assert_eq!(m.matched_zero, Some(1.0 / 3.0));
        assert_eq!(m.unmatched, Some(1.0 / 3.0));
        let none = Metrics::of(&[]);
        assert!(none.top5.abs() < 1e-12);
        assert_eq!(none.matched_zero, None);
        // Means skip shares that do not exist.
        let mean = Metrics::mean([&m, &none]);
        assert!((mean.top5 - 0.2).abs() < 1e-12);
        assert_eq!(mean.unmatched, Some(1.0 / 3.0));
    }

    #[test]
    fn the_floor_line_is_found_in_markdown() {
        assert_eq!(parse_floor("x\nOverall strict top-5: 0.83\n"), Some(0.83));
        assert_eq!(parse_floor("**Overall strict top-5: 1.20**"), Some(1.2));
        assert_eq!(parse_floor("- `Overall strict top-5: 0.5`"), Some(0.5));
        assert_eq!(parse_floor("Overall strict top-5: n/a"), None);
        assert_eq!(parse_floor("nothing here"), None);
    }
}
