//! A transcript laid out as one text: segments joined, sentences found over
//! the joined text, and each sentence mapped back to the segment (and so the
//! time) where it starts.
//!
//! Subtitle formats (VTT, SRT) cut sentences wherever a cue ends, and
//! word-level JSON has one word per segment, so sentences cannot be found per
//! segment. Instead the segment texts are joined (a space between them, nothing
//! between two CJK characters, a blank line where the speaker changes, which
//! [`meridian_core::text::sentences`] treats as a hard break), and an
//! offset → segment index (`segment_offsets`, sorted) maps any byte of the
//! joined text back to its segment by binary search.

use std::ops::Range;

use meridian_core::Transcript;
use meridian_core::text::{self, is_cjk_text, word_count, word_count_exceeds};

/// A sentence longer than this (in [`word_count`] words) is a run-on: a
/// transcript without punctuation, or song lyrics. It is cut into pieces.
const MAX_SENTENCE_WORDS: usize = 60;
/// Target size of the pieces a run-on is cut into.
const PIECE_WORDS: usize = 30;

/// One sentence (or one piece of a run-on) of the joined text.
#[derive(Debug, Clone)]
pub(super) struct Sentence {
    /// Byte range in [`Document::text`].
    pub range: Range<usize>,
    /// Start time of the segment where the sentence begins, seconds.
    pub start: Option<f64>,
    /// Speaker turn: consecutive sentences with the same turn were said by one
    /// speaker without interruption.
    pub turn: usize,
    /// Who says it, when the transcript names the speaker.
    pub speaker: Option<String>,
    /// Where in the episode the sentence begins, 0–1, as a share of the text
    /// before it. Text rather than time: times are often coarse (one per
    /// paragraph in HTML transcripts) or missing, and a long music intro
    /// carries no words to cut.
    pub position: f64,
}

/// A transcript's joined text and its sentences.
#[derive(Debug)]
pub(super) struct Document {
    /// The segment texts, joined.
    pub text: String,
    /// The sentences, in order.
    pub sentences: Vec<Sentence>,
}

impl Document {
    /// Lays out `transcript`.
    pub fn new(transcript: &Transcript) -> Self {
        let mut text = String::new();
        // (byte offset where the segment's text starts, segment start time)
        let mut segment_offsets: Vec<usize> = Vec::new();
        let mut segment_starts: Vec<Option<f64>> = Vec::new();
        let mut segment_speakers: Vec<Option<&str>> = Vec::new();
        let mut last_speaker: Option<&str> = None;
        for segment in &transcript.segments {
            let body = strip_markup(segment.text.trim());
            if body.is_empty() {
                continue;
            }
            let speaker = segment.speaker.as_deref();
            if !text.is_empty() {
                let changed =
                    speaker.is_some() && last_speaker.is_some() && speaker != last_speaker;
                let cjk_join = text.chars().next_back().is_some_and(is_cjk_text)
                    && body.chars().next().is_some_and(is_cjk_text);
                text.push_str(if changed {
                    "\n\n"
                } else if cjk_join {
                    ""
                } else {
                    " "
                });
            }
            if speaker.is_some() {
                last_speaker = speaker;
            }
            segment_offsets.push(text.len());
            segment_starts.push(segment.start.filter(|s| s.is_finite()));
            segment_speakers.push(speaker);
            text.push_str(&body);
        }

        let segment_at = |offset: usize| {
            segment_offsets
                .partition_point(|&o| o <= offset)
                .saturating_sub(1)
        };
        let start_at = |offset: usize| {
            // The segment's own time. An earlier segment's time would send a
            // listener to the wrong moment (in a Markdown transcript with a
            // time marker every few minutes, minutes too early): a sentence
            // without a time of its own has none.
            segment_starts.get(segment_at(offset)).copied().flatten()
        };

        let mut sentences = Vec::new();
        let mut turn = 0;
        let mut previous_end = 0;
        for range in text::sentences(&text) {
            for piece in split_run_on(&text, range, &segment_offsets) {
                let piece = skip_speaker_label(&text, piece);
                if piece.is_empty() {
                    continue;
                }
                let gap = text.get(previous_end..piece.start).unwrap_or("");
                if gap.matches('\n').count() >= 2 {
                    turn += 1;
                }
                previous_end = piece.end;
                let start = start_at(piece.start);
                let position = ratio(piece.start, text.len());
                let speaker = segment_speakers
                    .get(segment_at(piece.start))
                    .copied()
                    .flatten()
                    .map(str::to_owned);
                sentences.push(Sentence {
                    range: piece,
                    start,
                    turn,
                    speaker,
                    position,
                });
            }
        }
        Self { text, sentences }
    }

    /// The sentence's text, verbatim.
    pub fn slice(&self, range: Range<usize>) -> &str {
        self.text.get(range).unwrap_or("")
    }
}

#[expect(
    clippy::cast_precision_loss,
    reason = "transcripts are far below 2^52 bytes"
)]
fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// Removes the bits of markup some transcript exports leave in the text —
/// Markdown escapes and bold markers, bracketed timestamps (`[54:14]`,
/// `[01:15:52.10]`) — which are not words anyone said.
fn strip_markup(text: &str) -> String {
    if !text.contains(['\\', '*', '[']) {
        return text.to_owned();
    }
    let unescaped = text
        .replace("\\[", "[")
        .replace("\\]", "]")
        .replace("**", "");
    let mut out = String::with_capacity(unescaped.len());
    let mut rest = unescaped.as_str();
    while let Some(open) = rest.find('[') {
        let (before, from_bracket) = rest.split_at(open);
        out.push_str(before);
        let timestamp = from_bracket.find(']').filter(|&close| {
            let inside = &from_bracket[1..close];
            inside.contains(':')
                && inside
                    .chars()
                    .all(|c| c.is_ascii_digit() || matches!(c, ':' | '.'))
        });
        match timestamp {
            Some(close) => {
                rest = from_bracket[close + 1..].trim_start();
            }
            None => {
                out.push('[');
                rest = &from_bracket[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Cuts a run-on sentence into pieces of about [`PIECE_WORDS`] words and at
/// most [`MAX_SENTENCE_WORDS`], at segment boundaries (so each piece keeps a
/// time; the transcript normaliser has already cut run-ons into segments at
/// clause marks, pauses and clause-opening words). Only a stretch between
/// two boundaries that is itself longer than that limit is cut between words
/// (or CJK characters).
fn split_run_on(text: &str, range: Range<usize>, segment_offsets: &[usize]) -> Vec<Range<usize>> {
    let Some(sentence) = text.get(range.clone()) else {
        return Vec::new();
    };
    // A word takes at least two bytes with its separator: short sentences
    // need no counting.
    if sentence.len() <= 2 * MAX_SENTENCE_WORDS || !word_count_exceeds(sentence, MAX_SENTENCE_WORDS)
    {
        return vec![range];
    }
    let first = segment_offsets.partition_point(|&o| o <= range.start);
    let last = segment_offsets.partition_point(|&o| o < range.end);
    let boundaries = segment_offsets.get(first..last).unwrap_or(&[]);
    // The stretches between boundaries, each with its words; a stretch over
    // the limit is cut into pieces of about `PIECE_WORDS` words first.
    let mut stretches: Vec<(Range<usize>, usize)> = Vec::new();
    let mut start = range.start;
    for end in boundaries.iter().copied().chain(std::iter::once(range.end)) {
        let words = text.get(start..end).map_or(0, word_count);
        if words > MAX_SENTENCE_WORDS {
            stretches.extend(cut_between_words(text, start..end));
        } else {
            stretches.push((start..end, words));
        }
        start = end;
    }
    // Consecutive stretches join into a piece until it has `PIECE_WORDS`
    // words, never past `MAX_SENTENCE_WORDS`.
    let mut pieces: Vec<Range<usize>> = Vec::new();
    let mut words = 0;
    for (stretch, n) in stretches {
        match pieces.last_mut() {
            Some(piece) if words < PIECE_WORDS && words + n <= MAX_SENTENCE_WORDS => {
                piece.end = stretch.end;
                words += n;
            }
            _ => {
                pieces.push(stretch);
                words = n;
            }
        }
    }
    // A short tail joins the piece before it when that stays within the limit.
    if pieces.len() >= 2 && words < PIECE_WORDS / 3 {
        let tail = pieces.pop().unwrap_or_default();
        if let Some(last) = pieces.last_mut() {
            if text.get(last.start..tail.end).map_or(0, word_count) <= MAX_SENTENCE_WORDS {
                last.end = tail.end;
            } else {
                pieces.push(tail);
            }
        }
    }
    pieces
        .into_iter()
        .map(|r| trim_range(text, r))
        .filter(|r| !r.is_empty())
        .collect()
}

/// Cuts `range` (no segment boundary inside) into pieces of about
/// [`PIECE_WORDS`] words at word starts or between CJK characters, each with
/// its words.
fn cut_between_words(text: &str, range: Range<usize>) -> Vec<(Range<usize>, usize)> {
    let Some(stretch) = text.get(range.clone()) else {
        return Vec::new();
    };
    let mut pieces = Vec::new();
    let mut start = range.start;
    let mut counted_to = range.start;
    let mut words = 0;
    let mut previous: Option<char> = None;
    for (i, c) in stretch.char_indices() {
        let at = range.start + i;
        let word_start = previous.is_some_and(char::is_whitespace) && !c.is_whitespace();
        let cjk_start = previous.is_some_and(is_cjk_text) && is_cjk_text(c);
        previous = Some(c);
        if !(word_start || cjk_start) {
            continue;
        }
        words += text.get(counted_to..at).map_or(0, word_count);
        counted_to = at;
        if words >= PIECE_WORDS {
            pieces.push((start..at, words));
            start = at;
            words = 0;
        }
    }
    words += text.get(counted_to..range.end).map_or(0, word_count);
    pieces.push((start..range.end, words));
    pieces
}

fn trim_range(text: &str, range: Range<usize>) -> Range<usize> {
    let slice = text.get(range.clone()).unwrap_or("");
    let lead = slice.len() - slice.trim_start().len();
    let start = range.start + lead;
    start..start + slice.trim().len()
}

/// Drops an inline speaker label (`Kevin: `, `Dave Jones: `) at the start of a
/// sentence: some SRT and text transcripts carry speakers that way, and the
/// label is not part of what was said.
fn skip_speaker_label(text: &str, range: Range<usize>) -> Range<usize> {
    let Some(sentence) = text.get(range.clone()) else {
        return range;
    };
    let Some(colon) = sentence.find(": ") else {
        return range;
    };
    let label = &sentence[..colon];
    let words: Vec<&str> = label.split(' ').collect();
    let is_label = (1..=3).contains(&words.len())
        && words.iter().all(|w| {
            let mut chars = w.chars();
            chars.next().is_some_and(char::is_uppercase)
                && chars.all(|c| c.is_alphabetic() || matches!(c, '.' | '\'' | '-'))
        });
    if is_label {
        trim_range(text, range.start + colon + 1..range.end)
    } else {
        range
    }
}

#[cfg(test)]
mod tests {
    use meridian_core::{Segment, TranscriptFormat, TranscriptSource};

    use super::*;

    fn transcript(segments: &[(Option<f64>, Option<&str>, &str)]) -> Transcript {
        Transcript {
            source: TranscriptSource::Feed(TranscriptFormat::Vtt),
            language: None,
            segments: segments
                .iter()
                .map(|&(start, speaker, text)| Segment {
                    start,
                    end: start.map(|s| s + 2.0),
                    speaker: speaker.map(str::to_owned),
                    text: text.to_owned(),
                })
                .collect(),
        }
    }

    fn sentences(doc: &Document) -> Vec<(&str, Option<f64>, usize)> {
        doc.sentences
            .iter()
            .map(|s| (doc.slice(s.range.clone()), s.start, s.turn))
            .collect()
    }

    #[test]
    fn sentences_split_across_cues_map_to_the_cue_where_they_start() {
        let doc = Document::new(&transcript(&[
            (Some(0.0), None, "It is so nice to"),
            (Some(4.8), None, "record this show. And Travis"),
            (Some(8.25), None, "does all the work."),
        ]));
        assert_eq!(
            sentences(&doc),
            [
                ("It is so nice to record this show.", Some(0.0), 0),
                ("And Travis does all the work.", Some(4.8), 0)
            ]
        );
    }

    #[test]
    fn a_change_of_speaker_ends_a_sentence_and_a_turn() {
        let doc = Document::new(&transcript(&[
            (Some(0.0), Some("A"), "so what happened then"),
            (Some(3.0), Some("B"), "we shipped it"),
            (Some(5.0), Some("B"), "on time."),
        ]));
        assert_eq!(
            sentences(&doc),
            [
                ("so what happened then", Some(0.0), 0),
                ("we shipped it on time.", Some(3.0), 1)
            ]
        );
    }

    #[test]
    fn chinese_cues_join_without_spaces() {
        let doc = Document::new(&transcript(&[
            (Some(1.0), None, "数据显示，播客"),
            (Some(2.5), None, "增长很快，"),
            (Some(4.0), None, "然后呢。"),
        ]));
        assert_eq!(
            sentences(&doc)[0],
            ("数据显示，播客增长很快，然后呢。", Some(1.0), 0)
        );
    }

    #[test]
    fn run_on_text_is_cut_at_cue_boundaries() {
        let line = "and then we kept talking about the thing without any stop at all";
        let segments: Vec<(Option<f64>, Option<&str>, &str)> = (0..12)
            .map(|i| (Some(f64::from(i) * 3.0), None, line))
            .collect();
        let doc = Document::new(&transcript(&segments));
        assert!(doc.sentences.len() >= 4, "{}", doc.sentences.len());
        for s in &doc.sentences {
            let words = word_count(doc.slice(s.range.clone()));
            assert!((10..=MAX_SENTENCE_WORDS).contains(&words), "{words}");
            assert!(s.start.is_some());
        }
    }

    #[test]
    fn unpunctuated_chinese_is_cut_only_where_its_segments_end() {
        // Segments as the normaliser leaves unpunctuated speech: each under
        // the limit but longer than a piece, together one run-on without a
        // sentence mark. Every
        // piece must start where a segment starts (never between two
        // characters of a word), and keep that segment's time.
        let parts = [
            "我们今天讨论的是加拿大的经济问题和它过去十年的变化以及这些变化对普通人的生活带来了什么样的影响和压力而这些问题在接下来的几年里面还会继续影响每一个普通家庭的日常生活",
            "但是加拿大面临的问题跟今天的英国很像尤其是在经济政策上和移民政策上而且程度比英国还要更加严重一些而这些问题在接下来的几年里面还会继续影响每一个普通家庭的日常生活",
            "所以我们先退一步回答一个更加宏大的问题也就是生产力为什么在过去十年里几乎没有任何增长的这个问题而这些问题在接下来的几年里面还会继续影响每一个普通家庭的日常生活",
            "因为在过去十年加拿大的生产力没有增长它的增长来自人口而人口增长也不来自于出生率而是来自于移民而这些问题在接下来的几年里面还会继续影响每一个普通家庭的日常生活",
            "而且房价也在不断上升货币在贬值通货膨胀越来越严重央行却没有办法加息因为加息会让房地产泡沫破灭而这些问题在接下来的几年里面还会继续影响每一个普通家庭的日常生活",
            "其实这也导致了绝大多数人在日常生活中觉得自己变穷了生活质量下降购买力下降而专家却说经济在增长而这些问题在接下来的几年里面还会继续影响每一个普通家庭的日常生活",
        ];
        let segments: Vec<(Option<f64>, Option<&str>, &str)> = parts
            .iter()
            .enumerate()
            .map(|(i, p)| (Some(f64::from(u8::try_from(i).unwrap()) * 7.0), None, *p))
            .collect();
        let doc = Document::new(&transcript(&segments));
        assert!(doc.sentences.len() >= 2, "{}", doc.sentences.len());
        for s in &doc.sentences {
            let text = doc.slice(s.range.clone());
            let at = parts.iter().position(|p| text.starts_with(p));
            assert!(at.is_some(), "a piece starts inside a segment: {text}");
            let expected = f64::from(u8::try_from(at.unwrap()).unwrap()) * 7.0;
            assert_eq!(s.start, Some(expected), "{text}");
            assert!(word_count(text) <= MAX_SENTENCE_WORDS, "{text}");
        }
    }

    #[test]
    fn inline_speaker_labels_and_markdown_are_not_quoted() {
        let doc = Document::new(&transcript(&[
            (None, None, "Kevin: That is true. Alban: I never said that."),
            (None, None, "**Mark Russinovich:** Yes \\[laughs\\] indeed."),
            (
                None,
                None,
                "\\[54:14\\] And for me, [01:15:52.10] that's the key [a].",
            ),
        ]));
        let texts: Vec<&str> = sentences(&doc).into_iter().map(|(t, _, _)| t).collect();
        assert_eq!(
            texts,
            [
                "That is true.",
                "I never said that.",
                "Yes [laughs] indeed.",
                "And for me, that's the key [a]."
            ]
        );
    }

    #[test]
    fn positions_follow_the_text() {
        let doc = Document::new(&transcript(&[(
            None,
            None,
            "First one here. Second one here.",
        )]));
        assert!(doc.sentences[0].position < 1e-9);
        assert!(doc.sentences[1].position > 0.4);
        assert_eq!(doc.sentences[1].start, None);
    }
}
