//! Ranking: the day's candidate insights of a region → its top picks.
//!
//! Each candidate gets three components, each 0–1:
//!
//! - **importance**: the model's own estimate ([`Insight::importance`], clamped;
//!   not a number counts as 0);
//! - **novelty**: 1 − the highest [`similarity`] to any insight sent in the
//!   last 30 days (1 when nothing was sent; cosine over content words and
//!   CJK bigrams, see [`meridian_core::text`]);
//! - **recency**: `0.5^(age / 24 h)` from the episode's `published` time to
//!   `now` (1 for an episode published now or "in the future", 0.5 a day
//!   later, 0.25 after two days); [`NEUTRAL_RECENCY`] (0.5) when the date is
//!   unknown, so that a missing date neither helps nor sinks an episode.
//!
//! and `total = 0.6 × importance + 0.25 × novelty + 0.15 × recency`
//! ([`WEIGHT_IMPORTANCE`], [`WEIGHT_NOVELTY`], [`WEIGHT_RECENCY`]; the weights
//! sum to 1, so the total is 0–1 too).
//!
//! **Scores are comparable across episodes.** A candidate's score depends on
//! its own insight, its episode's date and what was sent recently, never on
//! the other candidates of its episode: importance is used as the model gives
//! it, not rescaled within the episode. Rescaling per episode (min–max, or
//! rank within the episode) would make every episode's best passage look
//! equally strong whatever it says, and hand the digest to short episodes,
//! whose few passages all sit near their own maximum. Neither an episode's
//! length nor how many insights it has enters the score; the one-per-episode
//! rule below keeps a long episode with many good passages from filling the
//! digest alone.
//!
//! Before selection, candidates are left out, and counted in
//! [`Ranking::left_out`] under the first reason that applies:
//!
//! 1. **other language**: the episode's language (its primary subtag, `de`
//!    for `de-AT`) is not one of [`RankOptions::languages`], the languages the
//!    region's readers read. An episode whose language is unknown is kept;
//!    an empty list keeps every language;
//! 2. **already sent**: its similarity to a recently sent insight is at least
//!    [`RankOptions::novelty_threshold`] (the reader has seen it);
//! 3. **below the quality floor**: its importance is under
//!    [`RankOptions::min_importance`] ([`MIN_IMPORTANCE`]). A digest is
//!    shorter rather than padded with weak picks;
//!    [`Ranking::short_of_strong_insights`] says when the floor made it so.
//!
//! Selection then takes one pick at a time: among the candidates not yet
//! decided, the one whose episode has the fewest picks so far, then whose
//! podcast has the fewest picks, then the best by total (ties: episode key,
//! then insight text). So while the day has enough episodes every pick comes
//! from a different one, and among those, from a show not picked yet; only
//! when every episode has a pick do second-best insights come in (again
//! spread over shows first). A candidate that is a near-duplicate of an
//! earlier pick (similarity ≥ the same threshold) is skipped.
//!
//! The picks come back best first, each with its [`ScoreComponents`].
//!
//! [`similarity`]: meridian_core::text::similarity

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use meridian_core::text::TermVector;
use meridian_core::{DigestItem, Insight, ScoreComponents};
use serde::{Deserialize, Serialize};

/// Weight of the model's importance in the total.
pub const WEIGHT_IMPORTANCE: f64 = 0.6;
/// Weight of novelty against recently sent insights in the total.
pub const WEIGHT_NOVELTY: f64 = 0.25;
/// Weight of publication recency in the total.
pub const WEIGHT_RECENCY: f64 = 0.15;
/// Recency of an episode whose publication date is unknown.
pub const NEUTRAL_RECENCY: f64 = 0.5;
/// Hours after which an episode's recency halves.
pub const RECENCY_HALF_LIFE_HOURS: f64 = 24.0;
/// Default number of picks in a digest.
pub const DEFAULT_LIMIT: usize = 5;
/// Default near-duplicate cutoff for [`meridian_core::text::similarity`].
pub const DEFAULT_NOVELTY_THRESHOLD: f64 = 0.6;
/// Default quality floor: a candidate whose importance is below it is never
/// picked. Importance is the model's own 0–1 estimate; below 0.4 the builtin
/// engine's passages are mostly questions, small talk, fragments and
/// passages without a claim, and models asked for importance from 0 to 1 put
/// minor points there. A day whose candidates are all below it gets no digest
/// rather than a weak one.
pub const MIN_IMPORTANCE: f64 = 0.4;

/// One insight of one of the day's new episodes, with what the digest shows
/// about its episode.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// Identifies the episode, unique per episode (e.g. feed URL + guid).
    pub episode_key: String,
    /// The podcast's title; candidates with the same title count as one show
    /// when picks are spread over shows.
    pub podcast: String,
    /// The episode's title.
    pub episode: String,
    /// The episode's web page.
    pub episode_url: Option<String>,
    /// The episode's audio (enclosure URL), for the link to the quote's moment.
    pub audio_url: Option<String>,
    /// The episode's language (BCP 47, e.g. `en-us`): the episode's own, else
    /// its feed's or its transcript's. `None` when unknown.
    pub language: Option<String>,
    /// When the episode was published, when the feed says.
    pub published: Option<DateTime<Utc>>,
    /// The insight.
    pub insight: Insight,
}

/// How [`rank`] selects.
#[derive(Debug, Clone, PartialEq)]
pub struct RankOptions {
    /// Most picks ([`DEFAULT_LIMIT`]).
    pub limit: usize,
    /// Similarity at or above which two insights count as near-duplicates
    /// ([`DEFAULT_NOVELTY_THRESHOLD`]).
    pub novelty_threshold: f64,
    /// The quality floor: candidates whose importance is below it are not
    /// picked ([`MIN_IMPORTANCE`]).
    pub min_importance: f64,
    /// The languages the region's readers read, as primary subtags (`en`,
    /// `zh`); candidates of an episode in another language are left out.
    /// Empty: every language.
    pub languages: Vec<String>,
    /// The time recency is measured against (the run's start).
    pub now: DateTime<Utc>,
}

impl RankOptions {
    /// The default limit, threshold and floor, every language, measured at
    /// `now`.
    #[must_use]
    pub fn new(now: DateTime<Utc>) -> Self {
        Self {
            limit: DEFAULT_LIMIT,
            novelty_threshold: DEFAULT_NOVELTY_THRESHOLD,
            min_importance: MIN_IMPORTANCE,
            languages: Vec::new(),
            now,
        }
    }
}

/// Candidates [`select`] left out before picking, by reason (see the module
/// docs); each candidate is counted once, under the first reason that
/// applies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LeftOut {
    /// Insights of episodes in a language the region's readers do not read.
    pub insights_other_language: u64,
    /// Those insights' episodes. A daily run also counts here the episodes
    /// it did not summarise because of their language.
    pub episodes_other_language: u64,
    /// Insights too similar to one sent recently.
    pub insights_already_sent: u64,
    /// Insights below the quality floor.
    pub insights_below_floor: u64,
}

impl LeftOut {
    /// Adds `other`'s counts to these.
    pub fn absorb(&mut self, other: Self) {
        self.insights_other_language += other.insights_other_language;
        self.episodes_other_language += other.episodes_other_language;
        self.insights_already_sent += other.insights_already_sent;
        self.insights_below_floor += other.insights_below_floor;
    }
}

/// What [`select`] decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranking {
    /// The picks, best first.
    pub items: Vec<DigestItem>,
    /// What was left out before picking, by reason.
    pub left_out: LeftOut,
    /// Whether the quality floor made the digest shorter than
    /// [`RankOptions::limit`]: without it, more would have been picked.
    pub short_of_strong_insights: bool,
}

/// Picks the day's top insights from `candidates` (see the module docs):
/// at most `options.limit`, one per episode while there are enough episodes,
/// none a near-duplicate of `recently_sent` (texts of insights sent in the
/// last 30 days) or of another pick, best first. [`select`] with what was
/// left out.
#[must_use]
pub fn rank(
    candidates: &[Candidate],
    recently_sent: &[String],
    options: &RankOptions,
) -> Vec<DigestItem> {
    select(candidates, recently_sent, options).items
}

/// [`rank`], with what was left out and why.
#[must_use]
pub fn select(
    candidates: &[Candidate],
    recently_sent: &[String],
    options: &RankOptions,
) -> Ranking {
    let sent: Vec<TermVector> = recently_sent.iter().map(|t| TermVector::new(t)).collect();
    let readable: BTreeSet<String> = options
        .languages
        .iter()
        .map(|l| primary_language(l))
        .filter(|l| !l.is_empty())
        .collect();
    let mut left_out = LeftOut::default();
    let mut other_language_episodes: BTreeSet<&str> = BTreeSet::new();
    let mut strong: Vec<Scored<'_>> = Vec::new();
    let mut weak: Vec<Scored<'_>> = Vec::new();
    for candidate in candidates {
        let language = candidate
            .language
            .as_deref()
            .map(primary_language)
            .filter(|l| !l.is_empty());
        if let Some(language) = language
            && !readable.is_empty()
            && !readable.contains(&language)
        {
            left_out.insights_other_language += 1;
            other_language_episodes.insert(candidate.episode_key.as_str());
            continue;
        }
        let vector = TermVector::new(&candidate.insight.text);
        let closest = sent
            .iter()
            .map(|s| s.cosine(&vector))
            .fold(0.0_f64, f64::max);
        if !sent.is_empty() && closest >= options.novelty_threshold {
            left_out.insights_already_sent += 1;
            continue;
        }
        let importance = unit(candidate.insight.importance);
        let novelty = 1.0 - closest;
        let recency = recency(candidate.published, options.now);
        let total =
            WEIGHT_IMPORTANCE * importance + WEIGHT_NOVELTY * novelty + WEIGHT_RECENCY * recency;
        let scored = Scored {
            candidate,
            vector,
            score: ScoreComponents {
                importance,
                novelty,
                recency,
                total,
            },
        };
        if importance < options.min_importance {
            left_out.insights_below_floor += 1;
            weak.push(scored);
        } else {
            strong.push(scored);
        }
    }
    left_out.episodes_other_language = other_language_episodes.len() as u64;

    strong.sort_by(order);
    let strong: Vec<&Scored<'_>> = strong.iter().collect();
    let picks = pick(&strong, options);
    // The floor made the digest short when, without it, more would have been
    // picked from the same candidates.
    let short_of_strong_insights = picks.len() < options.limit && !weak.is_empty() && {
        let mut all: Vec<&Scored<'_>> = strong.iter().copied().chain(weak.iter()).collect();
        all.sort_by(|a, b| order(a, b));
        pick(&all, options).len() > picks.len()
    };

    let mut chosen: Vec<&Scored<'_>> = picks.iter().map(|&i| strong[i]).collect();
    chosen.sort_by(|a, b| order(a, b));
    let items = chosen
        .into_iter()
        .map(|s| DigestItem {
            podcast: s.candidate.podcast.clone(),
            episode: s.candidate.episode.clone(),
            episode_url: s.candidate.episode_url.clone(),
            audio_url: s.candidate.audio_url.clone(),
            insight: s.candidate.insight.clone(),
            score: s.score,
            language: s.candidate.language.clone(),
        })
        .collect();
    Ranking {
        items,
        left_out,
        short_of_strong_insights,
    }
}

/// The picks among `scored` (sorted best first), as indices: one at a time,
/// the undecided candidate whose episode, then whose podcast, has the fewest
/// picks so far, best first among equals; near-duplicates of a pick skipped.
fn pick(scored: &[&Scored<'_>], options: &RankOptions) -> Vec<usize> {
    let mut decided = vec![false; scored.len()];
    let mut picks: Vec<usize> = Vec::new();
    let mut per_episode: BTreeMap<&str, usize> = BTreeMap::new();
    let mut per_podcast: BTreeMap<&str, usize> = BTreeMap::new();
    // Every turn decides one candidate (picks or skips it), so the loop ends.
    while picks.len() < options.limit {
        let next = scored
            .iter()
            .enumerate()
            .filter(|(i, _)| !decided[*i])
            .min_by_key(|(i, s)| {
                let episode = per_episode
                    .get(s.candidate.episode_key.as_str())
                    .copied()
                    .unwrap_or(0);
                let podcast = per_podcast
                    .get(s.candidate.podcast.as_str())
                    .copied()
                    .unwrap_or(0);
                // `scored` is sorted best first, so the index orders equals.
                (episode, podcast, *i)
            })
            .map(|(i, _)| i);
        let Some(i) = next else { break };
        decided[i] = true;
        let s = scored[i];
        if picks
            .iter()
            .any(|&p| scored[p].vector.cosine(&s.vector) >= options.novelty_threshold)
        {
            continue;
        }
        picks.push(i);
        *per_episode
            .entry(s.candidate.episode_key.as_str())
            .or_insert(0) += 1;
        *per_podcast.entry(s.candidate.podcast.as_str()).or_insert(0) += 1;
    }
    picks
}

/// The primary subtag of a language tag, lower-cased: `en-US` → `en`,
/// `zh_CN` → `zh`; empty for an empty tag.
fn primary_language(tag: &str) -> String {
    tag.trim()
        .split(['-', '_'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// A candidate with its score and its vector for duplicate checks.
struct Scored<'a> {
    candidate: &'a Candidate,
    vector: TermVector,
    score: ScoreComponents,
}

/// Best first: total descending, then episode key, then insight text.
fn order(a: &Scored<'_>, b: &Scored<'_>) -> Ordering {
    b.score
        .total
        .total_cmp(&a.score.total)
        .then_with(|| a.candidate.episode_key.cmp(&b.candidate.episode_key))
        .then_with(|| a.candidate.insight.text.cmp(&b.candidate.insight.text))
}

/// `value` clamped to 0–1; not a number counts as 0.
fn unit(value: f64) -> f64 {
    if value.is_nan() {
        0.0
    } else {
        value.clamp(0.0, 1.0)
    }
}

/// Recency of an episode published at `published`, seen at `now` (see the
/// module docs).
#[must_use]
pub fn recency(published: Option<DateTime<Utc>>, now: DateTime<Utc>) -> f64 {
    let Some(published) = published else {
        return NEUTRAL_RECENCY;
    };
    #[expect(
        clippy::cast_precision_loss,
        reason = "seconds of an age fit an f64 closely enough"
    )]
    let hours = (now - published).num_seconds() as f64 / 3600.0;
    if hours <= 0.0 {
        1.0
    } else {
        unit(0.5_f64.powf(hours / RECENCY_HALF_LIFE_HOURS))
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};
    use meridian_core::text::similarity;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 14, 6, 0, 0)
            .single()
            .unwrap_or_default()
    }

    fn candidate(episode: &str, text: &str, importance: f64) -> Candidate {
        Candidate {
            episode_key: episode.to_owned(),
            podcast: format!("Podcast of {episode}"),
            episode: format!("Episode {episode}"),
            episode_url: Some(format!("https://example.com/{episode}")),
            audio_url: Some(format!("https://cdn.example.com/{episode}.mp3")),
            language: Some("en".to_owned()),
            published: Some(now() - Duration::hours(6)),
            insight: Insight {
                text: text.to_owned(),
                quote: text.to_owned(),
                start: Some(12.0),
                importance,
                why: String::new(),
                model: "builtin".to_owned(),
                speaker: None,
            },
        }
    }

    /// The defaults without the quality floor, for tests about other rules
    /// that use low importances.
    fn opts() -> RankOptions {
        RankOptions {
            min_importance: 0.0,
            ..RankOptions::new(now())
        }
    }

    fn texts(items: &[DigestItem]) -> Vec<&str> {
        items.iter().map(|i| i.insight.text.as_str()).collect()
    }

    const TOPICS: [&str; 8] = [
        "Disk caches built on SQLite make repeat API requests ten times faster.",
        "Podcast listeners prefer funny advertisements over feature lists.",
        "Rust's borrow checker prevents data races at compile time.",
        "Solar panels now produce electricity cheaper than coal plants.",
        "Sleep deprivation lowers memory consolidation in teenagers.",
        "Open source maintainers fund their work through GitHub sponsorships.",
        "Kubernetes operators automate database failover for stateful services.",
        "Coffee consumption correlates with longer life expectancy in cohort studies.",
    ];

    #[test]
    fn picks_the_top_limit_best_first() {
        let candidates: Vec<Candidate> = TOPICS
            .iter()
            .enumerate()
            .map(|(i, t)| candidate(&format!("e{i}"), t, 0.1 * (i as f64 + 1.0)))
            .collect();
        let items = rank(&candidates, &[], &opts());
        assert_eq!(items.len(), 5);
        assert_eq!(
            texts(&items),
            [TOPICS[7], TOPICS[6], TOPICS[5], TOPICS[4], TOPICS[3]]
        );
        assert!(
            items
                .windows(2)
                .all(|w| w[0].score.total >= w[1].score.total)
        );
    }

    #[test]
    fn at_most_one_insight_per_episode_when_enough_episodes_exist() {
        let mut candidates: Vec<Candidate> = TOPICS[..5]
            .iter()
            .map(|t| candidate("big", t, 0.9))
            .collect();
        for (i, t) in TOPICS[5..].iter().enumerate() {
            candidates.push(candidate(&format!("small{i}"), t, 0.2));
        }
        candidates.push(candidate(
            "other",
            "Tidal energy turbines survive winter storms offshore.",
            0.1,
        ));
        candidates.push(candidate(
            "fifth",
            "Bees navigate by polarised sunlight patterns.",
            0.1,
        ));
        let items = rank(&candidates, &[], &opts());
        assert_eq!(items.len(), 5);
        let mut episodes: Vec<&str> = items.iter().map(|i| i.episode.as_str()).collect();
        episodes.sort_unstable();
        episodes.dedup();
        assert_eq!(episodes.len(), 5, "{items:#?}");
        assert_eq!(
            items[0].insight.text, TOPICS[0],
            "the big episode keeps its best insight"
        );
    }

    #[test]
    fn fewer_episodes_than_limit_fill_with_second_best_insights() {
        let candidates = vec![
            candidate("a", TOPICS[0], 0.9),
            candidate("a", TOPICS[1], 0.8),
            candidate("a", TOPICS[2], 0.7),
            candidate("b", TOPICS[3], 0.3),
            candidate("b", TOPICS[4], 0.2),
            candidate("b", TOPICS[5], 0.1),
        ];
        let items = rank(&candidates, &[], &opts());
        assert_eq!(items.len(), 5);
        // Round one: a's best, b's best; round two: a's and b's second best;
        // round three: a's third best (before b's third, by score).
        assert_eq!(
            texts(&items),
            [TOPICS[0], TOPICS[1], TOPICS[2], TOPICS[3], TOPICS[4]]
        );
        let limited = rank(&candidates, &[], &RankOptions { limit: 3, ..opts() });
        assert_eq!(
            texts(&limited),
            [TOPICS[0], TOPICS[1], TOPICS[3]],
            "b's best is picked before a's second best, a's second before b's second"
        );
    }

    #[test]
    fn near_duplicates_of_recently_sent_insights_are_dropped() {
        let candidates = vec![
            candidate(
                "a",
                "SQLite disk caches make repeat API requests ten times faster.",
                0.9,
            ),
            candidate("b", TOPICS[2], 0.5),
        ];
        let sent = vec![TOPICS[0].to_owned()];
        let items = rank(&candidates, &sent, &opts());
        assert_eq!(texts(&items), [TOPICS[2]]);
        assert!(items[0].score.novelty > 0.8, "{:?}", items[0].score);
    }

    #[test]
    fn near_duplicates_among_picks_are_dropped() {
        let candidates = vec![
            candidate("a", TOPICS[0], 0.9),
            candidate(
                "b",
                "Disk caches built on SQLite make repeated API requests ten times faster!",
                0.8,
            ),
            candidate("c", TOPICS[2], 0.1),
        ];
        let items = rank(&candidates, &[], &opts());
        assert_eq!(texts(&items), [TOPICS[0], TOPICS[2]]);
        let twice = vec![
            candidate("a", TOPICS[0], 0.9),
            candidate("a", TOPICS[0], 0.9),
        ];
        assert_eq!(
            rank(&twice, &[], &opts()).len(),
            1,
            "the same insight never appears twice"
        );
    }

    #[test]
    fn chinese_near_duplicates_are_recognised_by_character_bigrams() {
        let candidates = vec![
            candidate(
                "a",
                "研究发现，播客听众中有百分之六十会在通勤时收听节目。",
                0.9,
            ),
            candidate("b", "研究发现播客听众中百分之六十在通勤时收听节目", 0.8),
            candidate(
                "c",
                "数据显示，使用缓存以后应用的响应时间下降了百分之八十。",
                0.5,
            ),
        ];
        let items = rank(&candidates, &[], &opts());
        assert_eq!(
            texts(&items),
            [
                candidates[0].insight.text.as_str(),
                candidates[2].insight.text.as_str()
            ]
        );
    }

    #[test]
    fn novelty_is_one_minus_the_closest_recent_similarity() {
        let text = TOPICS[0];
        let sent = vec![
            "SQLite makes things faster.".to_owned(),
            TOPICS[3].to_owned(),
        ];
        let items = rank(
            &[candidate("a", text, 0.5)],
            &sent,
            &RankOptions {
                novelty_threshold: 0.99,
                ..opts()
            },
        );
        let expected = 1.0 - similarity(text, &sent[0]).max(similarity(text, &sent[1]));
        assert!((items[0].score.novelty - expected).abs() < 1e-12);
        assert!(items[0].score.novelty < 1.0 && items[0].score.novelty > 0.0);
        let fresh = rank(&[candidate("a", text, 0.5)], &[], &opts());
        assert!((fresh[0].score.novelty - 1.0).abs() < 1e-12);
    }

    #[test]
    fn recency_halves_daily_and_unknown_dates_are_neutral() {
        assert!((recency(Some(now()), now()) - 1.0).abs() < 1e-12);
        assert!((recency(Some(now() + Duration::hours(3)), now()) - 1.0).abs() < 1e-12);
        assert!((recency(Some(now() - Duration::hours(24)), now()) - 0.5).abs() < 1e-12);
        assert!((recency(Some(now() - Duration::hours(48)), now()) - 0.25).abs() < 1e-12);
        assert!((recency(None, now()) - NEUTRAL_RECENCY).abs() < 1e-12);
    }

    #[test]
    fn fresher_episode_wins_between_equally_important_insights() {
        let mut old = candidate("old", TOPICS[0], 0.5);
        old.published = Some(now() - Duration::days(3));
        let mut undated = candidate("undated", TOPICS[1], 0.5);
        undated.published = None;
        let new = candidate("new", TOPICS[2], 0.5);
        let items = rank(&[old, undated, new], &[], &opts());
        assert_eq!(texts(&items), [TOPICS[2], TOPICS[1], TOPICS[0]]);
    }

    #[test]
    fn total_is_the_documented_weighted_sum() {
        let items = rank(&[candidate("a", TOPICS[0], 0.8)], &[], &opts());
        let s = items[0].score;
        assert!((s.importance - 0.8).abs() < 1e-12);
        let expected = WEIGHT_IMPORTANCE * s.importance
            + WEIGHT_NOVELTY * s.novelty
            + WEIGHT_RECENCY * s.recency;
        assert!((s.total - expected).abs() < 1e-12);
        assert!((WEIGHT_IMPORTANCE + WEIGHT_NOVELTY + WEIGHT_RECENCY - 1.0).abs() < 1e-12);
    }

    #[test]
    fn out_of_range_importance_is_clamped_and_nan_counts_as_zero() {
        let items = rank(
            &[
                candidate("a", TOPICS[0], 7.0),
                candidate("b", TOPICS[1], f64::NAN),
                candidate("c", TOPICS[2], -1.0),
            ],
            &[],
            &opts(),
        );
        let importance: Vec<f64> = items.iter().map(|i| i.score.importance).collect();
        assert_eq!(importance, [1.0, 0.0, 0.0]);
        assert!(items.iter().all(|i| (0.0..=1.0).contains(&i.score.total)));
    }

    #[test]
    fn ties_break_by_episode_key_then_text() {
        let candidates = vec![
            candidate("b", TOPICS[0], 0.5),
            candidate("a", TOPICS[2], 0.5),
            candidate("a", TOPICS[1], 0.5),
        ];
        let items = rank(&candidates, &[], &opts());
        assert_eq!(
            texts(&items),
            [TOPICS[1], TOPICS[2], TOPICS[0]],
            "equal totals: by key, then by text"
        );
        let two = rank(&candidates, &[], &RankOptions { limit: 2, ..opts() });
        assert_eq!(
            texts(&two),
            [TOPICS[1], TOPICS[0]],
            "round one takes a's first text, then b"
        );
        let mut reversed = candidates.clone();
        reversed.reverse();
        assert_eq!(
            rank(&reversed, &[], &opts()),
            items,
            "input order does not matter"
        );
    }

    #[test]
    fn picks_keep_their_episode_details() {
        let items = rank(&[candidate("a", TOPICS[0], 0.5)], &[], &opts());
        let item = &items[0];
        assert_eq!(item.podcast, "Podcast of a");
        assert_eq!(item.episode, "Episode a");
        assert_eq!(item.episode_url.as_deref(), Some("https://example.com/a"));
        assert_eq!(
            item.audio_url.as_deref(),
            Some("https://cdn.example.com/a.mp3")
        );
        assert_eq!(item.language.as_deref(), Some("en"));
        assert_eq!(item.insight.start, Some(12.0));
    }

    #[test]
    fn nothing_in_nothing_out() {
        assert!(rank(&[], &[], &opts()).is_empty());
        let zero = RankOptions { limit: 0, ..opts() };
        assert!(rank(&[candidate("a", TOPICS[0], 0.5)], &[], &zero).is_empty());
    }

    #[test]
    fn scores_do_not_depend_on_the_rest_of_the_episode() {
        // An episode whose best passage is middling keeps its middling score:
        // nothing is rescaled so that each episode's best counts as 1.
        let alone = rank(&[candidate("a", TOPICS[0], 0.55)], &[], &opts());
        assert!((alone[0].score.importance - 0.55).abs() < 1e-12);
        let with_siblings = rank(
            &[
                candidate("a", TOPICS[0], 0.55),
                candidate("a", TOPICS[1], 0.2),
                candidate("a", TOPICS[2], 0.05),
            ],
            &[],
            &RankOptions { limit: 1, ..opts() },
        );
        assert_eq!(
            with_siblings[0].score, alone[0].score,
            "weaker passages in the same episode change nothing"
        );
        let beside_stronger = select(
            &[
                candidate("a", TOPICS[0], 0.55),
                candidate("a", TOPICS[3], 0.95),
            ],
            &[],
            &opts(),
        );
        let same = beside_stronger
            .items
            .iter()
            .find(|i| i.insight.text == TOPICS[0])
            .map(|i| i.score);
        assert_eq!(
            same,
            Some(alone[0].score),
            "a stronger passage in the same episode changes nothing"
        );
    }

    #[test]
    fn episode_length_is_neither_an_advantage_nor_a_handicap() {
        // Two-hour episodes bring many insights, four-minute ones a single
        // one. The picks go by each insight's own importance: a long episode
        // does not win by having more passages, a short one does not win by
        // being short, and neither is held back.
        let mut candidates = Vec::new();
        for (e, importance) in [("long1", 0.9), ("long2", 0.7)] {
            for (i, t) in TOPICS
                .iter()
                .enumerate()
                .skip(if e == "long1" { 0 } else { 4 })
                .take(4)
            {
                let step = i as f64 * 0.01;
                candidates.push(candidate(e, t, importance - step));
            }
        }
        let short_texts = [
            "Tidal energy turbines survive winter storms offshore without damage.",
            "Bees navigate by polarised sunlight patterns across the sky.",
            "Glaciers in the Alps lost a tenth of their volume in two years.",
        ];
        for (i, (t, importance)) in short_texts.iter().zip([0.95, 0.8, 0.5]).enumerate() {
            candidates.push(candidate(&format!("short{i}"), t, importance));
        }
        let items = rank(&candidates, &[], &RankOptions::new(now()));
        let episodes: Vec<&str> = items.iter().map(|i| i.episode.as_str()).collect();
        assert_eq!(
            episodes,
            [
                "Episode short0",
                "Episode long1",
                "Episode short1",
                "Episode long2",
                "Episode short2"
            ],
            "one per episode, in order of each episode's best insight: {items:#?}"
        );
        let importance: Vec<f64> = items.iter().map(|i| i.score.importance).collect();
        assert_eq!(importance, [0.95, 0.9, 0.8, 0.7 - 0.04, 0.5]);
    }

    #[test]
    fn picks_spread_over_shows_before_a_second_episode_of_the_same_show() {
        let mut a1 = candidate("a1", TOPICS[0], 0.9);
        let mut a2 = candidate("a2", TOPICS[1], 0.85);
        let mut a3 = candidate("a3", TOPICS[2], 0.8);
        for c in [&mut a1, &mut a2, &mut a3] {
            c.podcast = "Daily Show A".to_owned();
        }
        let b = candidate("b", TOPICS[3], 0.6);
        let c = candidate("c", TOPICS[4], 0.5);
        let candidates = vec![a1, a2, a3, b, c];
        let three = rank(&candidates, &[], &RankOptions { limit: 3, ..opts() });
        assert_eq!(
            texts(&three),
            [TOPICS[0], TOPICS[3], TOPICS[4]],
            "one per show while there are enough shows"
        );
        let four = rank(&candidates, &[], &RankOptions { limit: 4, ..opts() });
        assert_eq!(
            texts(&four),
            [TOPICS[0], TOPICS[1], TOPICS[3], TOPICS[4]],
            "then the show's next episode"
        );
        // Other episodes of the same show still come before a second insight
        // of one episode.
        let mut second = candidates.clone();
        second.push(candidate("b", TOPICS[5], 0.59));
        let five = rank(&second, &[], &opts());
        assert_eq!(
            texts(&five),
            [TOPICS[0], TOPICS[1], TOPICS[2], TOPICS[3], TOPICS[4]]
        );
    }

    #[test]
    fn episodes_in_languages_the_readers_do_not_read_are_left_out_and_counted() {
        let mut german = candidate("de1", TOPICS[0], 0.9);
        german.language = Some("de-AT".to_owned());
        let mut german_too = candidate("de1", TOPICS[1], 0.8);
        german_too.language = Some("de-AT".to_owned());
        let mut spanish = candidate("es1", TOPICS[2], 0.85);
        spanish.language = Some("es".to_owned());
        let mut american = candidate("us1", TOPICS[3], 0.6);
        american.language = Some("EN-us".to_owned());
        let mut unknown = candidate("x1", TOPICS[4], 0.5);
        unknown.language = None;
        let mut blank = candidate("x2", TOPICS[5], 0.45);
        blank.language = Some("  ".to_owned());
        let candidates = vec![german, german_too, spanish, american, unknown, blank];
        let english = RankOptions {
            languages: vec!["en".to_owned()],
            ..RankOptions::new(now())
        };
        let ranking = select(&candidates, &[], &english);
        assert_eq!(
            texts(&ranking.items),
            [TOPICS[3], TOPICS[4], TOPICS[5]],
            "English, and episodes of unknown language, are kept"
        );
        assert_eq!(ranking.left_out.insights_other_language, 3);
        assert_eq!(ranking.left_out.episodes_other_language, 2);
        let both = RankOptions {
            languages: vec!["en".to_owned(), "DE".to_owned()],
            ..RankOptions::new(now())
        };
        let ranking = select(&candidates, &[], &both);
        assert_eq!(ranking.left_out.insights_other_language, 1);
        assert!(
            ranking
                .items
                .iter()
                .any(|i| i.language.as_deref() == Some("de-AT"))
        );
        let any = select(&candidates, &[], &RankOptions::new(now()));
        assert_eq!(any.left_out, LeftOut::default(), "no list: every language");
    }

    #[test]
    fn weak_candidates_are_not_picked_and_the_shortfall_is_flagged() {
        let candidates = vec![
            candidate("a", TOPICS[0], 0.9),
            candidate("b", TOPICS[1], 0.7),
            candidate("c", TOPICS[2], MIN_IMPORTANCE),
            candidate("d", TOPICS[3], MIN_IMPORTANCE - 0.01),
            candidate("e", TOPICS[4], 0.1),
        ];
        let ranking = select(&candidates, &[], &RankOptions::new(now()));
        assert_eq!(
            texts(&ranking.items),
            [TOPICS[0], TOPICS[1], TOPICS[2]],
            "fewer than five rather than weak ones; the floor itself passes"
        );
        assert_eq!(ranking.left_out.insights_below_floor, 2);
        assert!(ranking.short_of_strong_insights);

        // Short because the day had little, not because of the floor.
        let few = select(&candidates[..2], &[], &RankOptions::new(now()));
        assert_eq!(few.items.len(), 2);
        assert!(!few.short_of_strong_insights);
        // Full despite weak candidates: the floor cost nothing.
        let full = select(
            &candidates,
            &[],
            &RankOptions {
                limit: 3,
                ..RankOptions::new(now())
            },
        );
        assert_eq!(full.items.len(), 3);
        assert!(!full.short_of_strong_insights);
        // Nothing strong: no picks at all.
        let none = select(&candidates[3..], &[], &RankOptions::new(now()));
        assert!(none.items.is_empty() && none.short_of_strong_insights);
    }

    #[test]
    fn already_sent_insights_are_counted() {
        let candidates = vec![
            candidate("a", TOPICS[0], 0.9),
            candidate("b", TOPICS[2], 0.5),
        ];
        let ranking = select(&candidates, &[TOPICS[0].to_owned()], &opts());
        assert_eq!(texts(&ranking.items), [TOPICS[2]]);
        assert_eq!(ranking.left_out.insights_already_sent, 1);
    }
}
