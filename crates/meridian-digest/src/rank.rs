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
//! Selection, in order of total (ties: episode key, then insight text):
//!
//! 1. a candidate whose similarity to a recently sent insight is at least
//!    [`RankOptions::novelty_threshold`] is dropped (the reader has seen it);
//! 2. the picks are made in rounds: the first round takes at most one insight
//!    per episode, so that when the day has at least `limit` episodes every
//!    pick comes from a different one; only when the first round leaves room
//!    does the second round take the episodes' second-best insights, and so on;
//! 3. in every round a candidate that is a near-duplicate of an earlier pick
//!    (similarity ≥ the same threshold) is skipped.
//!
//! The picks come back best first, each with its [`ScoreComponents`].
//!
//! [`similarity`]: meridian_core::text::similarity

use std::cmp::Ordering;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use meridian_core::text::TermVector;
use meridian_core::{DigestItem, Insight, ScoreComponents};

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

/// One insight of one of the day's new episodes, with what the digest shows
/// about its episode.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// Identifies the episode, unique per episode (e.g. feed URL + guid).
    pub episode_key: String,
    /// The podcast's title.
    pub podcast: String,
    /// The episode's title.
    pub episode: String,
    /// The episode's web page or media URL.
    pub episode_url: Option<String>,
    /// The episode's language.
    pub language: Option<String>,
    /// When the episode was published, when the feed says.
    pub published: Option<DateTime<Utc>>,
    /// The insight.
    pub insight: Insight,
}

/// How [`rank`] selects.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankOptions {
    /// Most picks ([`DEFAULT_LIMIT`]).
    pub limit: usize,
    /// Similarity at or above which two insights count as near-duplicates
    /// ([`DEFAULT_NOVELTY_THRESHOLD`]).
    pub novelty_threshold: f64,
    /// The time recency is measured against (the run's start).
    pub now: DateTime<Utc>,
}

impl RankOptions {
    /// The default limit and threshold, measured at `now`.
    #[must_use]
    pub fn new(now: DateTime<Utc>) -> Self {
        Self {
            limit: DEFAULT_LIMIT,
            novelty_threshold: DEFAULT_NOVELTY_THRESHOLD,
            now,
        }
    }
}

/// Picks the day's top insights from `candidates` (see the module docs):
/// at most `options.limit`, one per episode while there are enough episodes,
/// none a near-duplicate of `recently_sent` (texts of insights sent in the
/// last 30 days) or of another pick, best first.
#[must_use]
pub fn rank(
    candidates: &[Candidate],
    recently_sent: &[String],
    options: &RankOptions,
) -> Vec<DigestItem> {
    let sent: Vec<TermVector> = recently_sent.iter().map(|t| TermVector::new(t)).collect();
    let mut scored: Vec<Scored<'_>> = candidates
        .iter()
        .filter_map(|candidate| {
            let vector = TermVector::new(&candidate.insight.text);
            let closest = sent
                .iter()
                .map(|s| s.cosine(&vector))
                .fold(0.0_f64, f64::max);
            if !sent.is_empty() && closest >= options.novelty_threshold {
                return None;
            }
            let importance = unit(candidate.insight.importance);
            let novelty = 1.0 - closest;
            let recency = recency(candidate.published, options.now);
            let total = WEIGHT_IMPORTANCE * importance
                + WEIGHT_NOVELTY * novelty
                + WEIGHT_RECENCY * recency;
            let score = ScoreComponents {
                importance,
                novelty,
                recency,
                total,
            };
            Some(Scored {
                candidate,
                vector,
                score,
            })
        })
        .collect();
    scored.sort_by(order);

    let mut picked = vec![false; scored.len()];
    let mut picks: Vec<usize> = Vec::new();
    let mut per_episode: BTreeMap<&str, usize> = BTreeMap::new();
    // Each round lets every episode have one more pick; a round always decides
    // at least one candidate (picks or skips it), so the loop ends.
    let mut round = 1;
    while picks.len() < options.limit && picked.contains(&false) {
        for (i, s) in scored.iter().enumerate() {
            if picks.len() >= options.limit {
                break;
            }
            let key = s.candidate.episode_key.as_str();
            if picked[i] || per_episode.get(key).copied().unwrap_or(0) >= round {
                continue;
            }
            // A near-duplicate now is a near-duplicate in every later round.
            picked[i] = true;
            if picks
                .iter()
                .any(|&p| scored[p].vector.cosine(&s.vector) >= options.novelty_threshold)
            {
                continue;
            }
            picks.push(i);
            *per_episode.entry(key).or_insert(0) += 1;
        }
        round += 1;
    }

    let mut chosen: Vec<&Scored<'_>> = picks.iter().map(|&i| &scored[i]).collect();
    chosen.sort_by(|a, b| order(a, b));
    chosen
        .into_iter()
        .map(|s| DigestItem {
            podcast: s.candidate.podcast.clone(),
            episode: s.candidate.episode.clone(),
            episode_url: s.candidate.episode_url.clone(),
            insight: s.candidate.insight.clone(),
            score: s.score,
            language: s.candidate.language.clone(),
        })
        .collect()
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
            language: Some("en".to_owned()),
            published: Some(now() - Duration::hours(6)),
            insight: Insight {
                text: text.to_owned(),
                quote: text.to_owned(),
                start: Some(12.0),
                importance,
                why: String::new(),
                model: "builtin".to_owned(),
            },
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
        let items = rank(&candidates, &[], &RankOptions::new(now()));
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
        let items = rank(&candidates, &[], &RankOptions::new(now()));
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
        let items = rank(&candidates, &[], &RankOptions::new(now()));
        assert_eq!(items.len(), 5);
        // Round one: a's best, b's best; round two: a's and b's second best;
        // round three: a's third best (before b's third, by score).
        assert_eq!(
            texts(&items),
            [TOPICS[0], TOPICS[1], TOPICS[2], TOPICS[3], TOPICS[4]]
        );
        let limited = rank(
            &candidates,
            &[],
            &RankOptions {
                limit: 3,
                ..RankOptions::new(now())
            },
        );
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
        let items = rank(&candidates, &sent, &RankOptions::new(now()));
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
        let items = rank(&candidates, &[], &RankOptions::new(now()));
        assert_eq!(texts(&items), [TOPICS[0], TOPICS[2]]);
        let twice = vec![
            candidate("a", TOPICS[0], 0.9),
            candidate("a", TOPICS[0], 0.9),
        ];
        assert_eq!(
            rank(&twice, &[], &RankOptions::new(now())).len(),
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
        let items = rank(&candidates, &[], &RankOptions::new(now()));
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
                ..RankOptions::new(now())
            },
        );
        let expected = 1.0 - similarity(text, &sent[0]).max(similarity(text, &sent[1]));
        assert!((items[0].score.novelty - expected).abs() < 1e-12);
        assert!(items[0].score.novelty < 1.0 && items[0].score.novelty > 0.0);
        let fresh = rank(&[candidate("a", text, 0.5)], &[], &RankOptions::new(now()));
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
        let items = rank(&[old, undated, new], &[], &RankOptions::new(now()));
        assert_eq!(texts(&items), [TOPICS[2], TOPICS[1], TOPICS[0]]);
    }

    #[test]
    fn total_is_the_documented_weighted_sum() {
        let items = rank(
            &[candidate("a", TOPICS[0], 0.8)],
            &[],
            &RankOptions::new(now()),
        );
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
            &RankOptions::new(now()),
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
        let items = rank(&candidates, &[], &RankOptions::new(now()));
        assert_eq!(
            texts(&items),
            [TOPICS[1], TOPICS[2], TOPICS[0]],
            "equal totals: by key, then by text"
        );
        let two = rank(
            &candidates,
            &[],
            &RankOptions {
                limit: 2,
                ..RankOptions::new(now())
            },
        );
        assert_eq!(
            texts(&two),
            [TOPICS[1], TOPICS[0]],
            "round one takes a's first text, then b"
        );
        let mut reversed = candidates.clone();
        reversed.reverse();
        assert_eq!(
            rank(&reversed, &[], &RankOptions::new(now())),
            items,
            "input order does not matter"
        );
    }

    #[test]
    fn picks_keep_their_episode_details() {
        let items = rank(
            &[candidate("a", TOPICS[0], 0.5)],
            &[],
            &RankOptions::new(now()),
        );
        let item = &items[0];
        assert_eq!(item.podcast, "Podcast of a");
        assert_eq!(item.episode, "Episode a");
        assert_eq!(item.episode_url.as_deref(), Some("https://example.com/a"));
        assert_eq!(item.language.as_deref(), Some("en"));
        assert_eq!(item.insight.start, Some(12.0));
    }

    #[test]
    fn nothing_in_nothing_out() {
        assert!(rank(&[], &[], &RankOptions::new(now())).is_empty());
        let zero = RankOptions {
            limit: 0,
            ..RankOptions::new(now())
        };
        assert!(rank(&[candidate("a", TOPICS[0], 0.5)], &[], &zero).is_empty());
    }
}
