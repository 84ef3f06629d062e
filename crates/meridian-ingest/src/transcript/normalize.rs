//! Normalisation: the segments a transcript file holds → one segment per
//! sentence, as a reader (and the insight engines) should see them.
//!
//! Transcript files cut speech where their tool happened to: subtitle cues of
//! one to three words, caption lines that repeat the line before (roll-up
//! captions), word-level JSON, or speech recognition without any punctuation.
//! They also carry what nobody said: `[laughter]`, `[unintelligible
//! 00:03:18]`, `♪` lyrics, segments by `Jingle` or `Music`, and the
//! hallucinations speech recognition writes over music or silence ("请不吝点赞
//! 订阅 转发…", "Untertitel im Auftrag des ZDF"), sometimes in a loop.
//!
//! [`normalize`] works in five steps, each linear in the transcript:
//!
//! 1. **Clean** every segment: drop annotations (bracketed words of the
//!    `non_speech` lists in `lang/`, bracketed timestamps, `♪…♪`, `>>`),
//!    drop the segment when nothing spoken is left, when its speaker is a
//!    non-speech label, or when it is mostly a known hallucination
//!    (`hallucinations` lists); read an inline speaker tag (`【说话人1】`,
//!    `[SPEAKER_01]`) at its start.
//! 2. **Collapse loops and roll-ups**: a segment that repeats one of the last
//!    three of the same speaker is dropped; a segment that starts with the end
//!    of the one before (roll-up captions) loses the repeated words; a phrase
//!    of up to eight words repeated three or more times in a row is kept once.
//! 3. **Join** consecutive segments of one speaker into a turn (a space
//!    between segments, none between two CJK characters).
//! 4. **Split** each turn into sentences: at sentence punctuation when the
//!    file is punctuated, else (raw speech recognition) at the pauses between
//!    segments once a sentence has a natural length, and at a segment boundary
//!    at the latest when it grows too long. A punctuated sentence that runs
//!    on past [`MAX_WORDS`] is cut at a clause mark (`,` `，` `;`) or a segment
//!    boundary near [`TARGET_WORDS`].
//! 5. **Time** each sentence by the segment where its first word is (the
//!    cue's start, as a reader clicking "listen" expects), its end by the
//!    segment where its last word is.

use std::ops::Range;
use std::sync::LazyLock;

use aho_corasick::AhoCorasick;

use meridian_core::Segment;
use meridian_core::lang::{self, ListsMatcher};
use meridian_core::text::{self, is_cjk, is_cjk_text, word_count, word_count_exceeds};

use super::collapse;

/// A sentence longer than this many words (two CJK characters count one) is
/// a run-on and is cut.
pub const MAX_WORDS: usize = 60;
/// The length run-ons and unpunctuated speech are cut to, in words.
pub const TARGET_WORDS: usize = 28;
/// Unpunctuated speech is not cut at a pause before this many words.
const MIN_WORDS: usize = 10;
/// A gap between segments at least this long (seconds) is a pause.
const PAUSE_SECS: f64 = 0.6;
/// A file with more words than this per sentence mark is unpunctuated.
const UNPUNCTUATED_WORDS_PER_MARK: usize = 80;
/// How many words of a transcript decide whether it is punctuated.
const PUNCTUATION_SAMPLE_WORDS: usize = 5000;
/// A phrase repeated this many times in a row is a loop.
const LOOP_REPEATS: usize = 3;
/// Longest phrase (in tokens) looked for in loops.
const LOOP_MAX_TOKENS: usize = 8;
/// Longest repeated line (in tokens) looked for in roll-up captions.
const ROLL_UP_MAX_TOKENS: usize = 40;
/// A segment "spoken" by a non-speech label (`Jingle:`) of at most this many
/// words is the jingle itself.
const NON_SPEECH_LABEL_WORDS: usize = 25;
/// The longest bracketed annotation, in bytes.
const MAX_ANNOTATION_BYTES: usize = 120;
/// Share of a segment's letters that a hallucination must cover to drop it.
const HALLUCINATION_SHARE: f64 = 0.6;

static NON_SPEECH: LazyLock<ListsMatcher> = LazyLock::new(|| ListsMatcher::new(&["non_speech"]));

/// Words that open a clause (`clause_opening` lists): where unpunctuated
/// speech has no clause mark and no pause, a run-on is cut before one of
/// them rather than between two arbitrary characters.
static CLAUSE_OPENING: LazyLock<ListsMatcher> =
    LazyLock::new(|| ListsMatcher::new(&["clause_opening"]));

/// Hallucinations in their folded form (see [`fold`]), all in one automaton.
static HALLUCINATIONS: LazyLock<Option<AhoCorasick>> = LazyLock::new(|| {
    let folded: Vec<String> = lang::all("hallucinations")
        .into_iter()
        .map(fold)
        .filter(|f| f.chars().count() >= 4)
        .collect();
    AhoCorasick::new(folded).ok()
});

/// The longest hallucination as written in its list, in bytes.
static LONGEST_HALLUCINATION: LazyLock<usize> = LazyLock::new(|| {
    lang::all("hallucinations")
        .into_iter()
        .map(str::len)
        .max()
        .unwrap_or(0)
});

/// Turns a transcript file's segments into sentences (see the module docs).
#[must_use]
pub fn normalize(segments: Vec<Segment>) -> Vec<Segment> {
    let cleaned = clean(segments);
    let deduplicated = collapse_repeats(cleaned);
    let punctuated = is_punctuated(&deduplicated);
    let mut out = Vec::with_capacity(deduplicated.len());
    let mut start = 0;
    while start < deduplicated.len() {
        let speaker = &deduplicated[start].speaker;
        let end = deduplicated[start..]
            .iter()
            .position(|s| &s.speaker != speaker)
            .map_or(deduplicated.len(), |n| start + n);
        split_turn(&deduplicated[start..end], punctuated, &mut out);
        start = end;
    }
    out
}

// ---------------------------------------------------------------------------
// 1. Clean.

fn clean(segments: Vec<Segment>) -> Vec<Segment> {
    let tags = speaker_tags(&segments);
    let mut inline_speaker: Option<String> = None;
    let mut out = Vec::with_capacity(segments.len());
    for mut seg in segments {
        // Bidi controls and invisible characters would reorder or hide words
        // in the emails and pages that quote them.
        meridian_core::text::strip_invisible_in_place(&mut seg.text);
        if let Some(speaker) = &mut seg.speaker {
            meridian_core::text::strip_invisible_in_place(speaker);
        }
        if seg.speaker.as_deref().is_some_and(is_non_speech_label) {
            // "Jingle:" or "Music:" over a few words is the jingle; over a
            // long passage it is a mislabelled speaker (diarisation tools name
            // a voice after the first thing it said), so the words stay.
            if word_count(&seg.text) <= NON_SPEECH_LABEL_WORDS {
                continue;
            }
            seg.speaker = None;
        }
        for (n, (tag, piece)) in split_at_tags(&seg.text, &tags).into_iter().enumerate() {
            if let Some(tag) = tag {
                inline_speaker = Some(tag.to_owned());
            }
            let text = strip_annotations(piece);
            if !text.chars().any(char::is_alphanumeric)
                || is_non_speech_label(&text)
                || is_hallucination(&text)
            {
                continue;
            }
            out.push(Segment {
                // Words after a tag inside a segment start at an unknown time.
                start: if n == 0 { seg.start } else { None },
                end: seg.end,
                speaker: seg.speaker.clone().or_else(|| inline_speaker.clone()),
                text,
            });
        }
    }
    out
}

/// Whether `s` (a speaker name or a whole segment) is a non-speech label:
/// "Music", "Jingle", "[Intro]", "(Lachen)".
fn is_non_speech_label(s: &str) -> bool {
    // Labels are a few words; a sentence is none.
    if s.len() > MAX_ANNOTATION_BYTES || s.split_whitespace().nth(3).is_some() {
        return false;
    }
    let lower = s
        .trim()
        .trim_matches(|c: char| !c.is_alphanumeric())
        .to_lowercase();
    !lower.is_empty()
        && NON_SPEECH
            .scan(&lower)
            .iter()
            .any(|h| h.range.start == 0 && h.range.end == lower.len())
}

/// An inline speaker tag at the start of `text`: `【说话人1】`,
/// `[SPEAKER_01]`, `[Speaker 2]:`; the tag's name and the text after it.
fn inline_tag(text: &str) -> Option<(&str, &str)> {
    let text = text.trim_start();
    let (open, close) = if text.starts_with('【') {
        ('【', '】')
    } else if text.starts_with('[') {
        ('[', ']')
    } else {
        return None;
    };
    let close_at = text.find(close)?;
    let name = text[open.len_utf8()..close_at].trim();
    let looks_like_name = !name.is_empty()
        && name.chars().count() <= 24
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '_' | '-' | '.' | '·'))
        && !is_non_speech_label(name);
    let rest = text[close_at + close.len_utf8()..]
        .trim_start()
        .trim_start_matches([':', '：'])
        .trim_start();
    looks_like_name.then_some((name, rest))
}

/// The inline tags used as speakers: a name in `【…】` anywhere in the text,
/// or in `[…]` at a segment's start, once some tag occurs at least twice (so
/// that one bracketed word is not taken for a name).
fn speaker_tags(segments: &[Segment]) -> Vec<String> {
    let mut counts: Vec<(String, usize)> = Vec::new();
    let mut count = |name: &str| match counts.iter_mut().find(|(n, _)| n == name) {
        Some((_, c)) => *c += 1,
        None => counts.push((name.to_owned(), 1)),
    };
    for seg in segments {
        if let Some((tag, _)) = inline_tag(&seg.text)
            && !seg.text.trim_start().starts_with('【')
        {
            count(tag);
        }
        let mut rest = seg.text.as_str();
        while let Some(at) = rest.find('【') {
            if let Some((tag, _)) = inline_tag(&rest[at..]) {
                count(tag);
            }
            rest = &rest[at + '【'.len_utf8()..];
        }
    }
    // Once one tag recurs, the file tags speakers: its other tags (a guest
    // who speaks once) are names too.
    if counts.iter().any(|(_, c)| *c >= 2) {
        counts.into_iter().map(|(n, _)| n).collect()
    } else {
        Vec::new()
    }
}

/// Splits a segment's text at the speaker tags in `tags` (at its start, and
/// `【…】` anywhere): the pieces, each with the tag that opens it.
fn split_at_tags<'a>(text: &'a str, tags: &[String]) -> Vec<(Option<&'a str>, &'a str)> {
    let is_tag = |t: &str| tags.iter().any(|x| x == t);
    let mut out: Vec<(Option<&'a str>, &'a str)> = Vec::new();
    let (mut tag, mut rest) = match inline_tag(text) {
        Some((t, after)) if is_tag(t) => (Some(t), after),
        _ => (None, text),
    };
    if tags.is_empty() {
        return vec![(tag, rest)];
    }
    let mut from = 0;
    while let Some(at) = rest[from..].find('【').map(|a| from + a) {
        match inline_tag(&rest[at..]) {
            Some((t, after)) if is_tag(t) => {
                out.push((tag, &rest[..at]));
                tag = Some(t);
                rest = after;
                from = 0;
            }
            _ => from = at + '【'.len_utf8(),
        }
    }
    out.push((tag, rest));
    out
}

/// Removes annotations from a segment's text: bracketed non-speech words and
/// timestamps (`[laughter]`, `(Lachen)`, `[unintelligible 00:03:18.16]`,
/// `[01:32:14.04]`), `♪` and what is sung between two of them, and `>>`
/// (a caption's change of speaker). Whitespace is collapsed.
fn strip_annotations(text: &str) -> String {
    if !text.contains(['[', '(', '（', '♪', '>', '【']) {
        return collapse(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(['[', '(', '（', '♪', '>', '【']) {
        out.push_str(&rest[..at]);
        let from = &rest[at..];
        let open = from.chars().next().unwrap_or(' ');
        let skip = match open {
            '♪' => {
                // `♪ lyrics ♪`: the song goes; a lone note goes alone.
                let after = &from[open.len_utf8()..];
                Some(after.find('♪').map_or(open.len_utf8(), |close| {
                    open.len_utf8() + close + '♪'.len_utf8()
                }))
            }
            '>' => from.starts_with(">>").then_some(2),
            _ => {
                let close = match open {
                    '[' => ']',
                    '(' => ')',
                    '（' => '）',
                    _ => '】',
                };
                // Annotations are short: the closing bracket is looked for
                // nearby only, so that stray brackets cost linear time.
                from.char_indices()
                    .take_while(|&(i, _)| i <= MAX_ANNOTATION_BYTES)
                    .find(|&(_, c)| c == close)
                    .and_then(|(c, _)| {
                        is_annotation(&from[open.len_utf8()..c]).then_some(c + close.len_utf8())
                    })
            }
        };
        match skip {
            Some(n) => {
                out.push(' ');
                rest = &from[n..];
            }
            None => {
                out.push(open);
                rest = &from[open.len_utf8()..];
            }
        }
    }
    out.push_str(rest);
    let text = collapse(&out);
    // Removing an annotation can leave a space before punctuation.
    text.replace(" ,", ",")
        .replace(" .", ".")
        .replace(" ?", "?")
        .replace(" !", "!")
}

/// Whether a bracket's content is an annotation: a timestamp, or a
/// non-speech word followed by at most a timestamp or one more word
/// (`music playing`, `unintelligible 00:03:18.16`).
fn is_annotation(inner: &str) -> bool {
    let inner = inner.trim();
    if inner.is_empty() {
        return false;
    }
    if inner.contains(':')
        && inner
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ':' | '.' | ','))
    {
        return true;
    }
    let lower = inner.to_lowercase();
    NON_SPEECH
        .scan(&lower)
        .iter()
        .filter(|h| h.range.start == 0)
        .any(|h| {
            let words: Vec<&str> = lower[h.range.end..]
                .split(|c: char| c.is_whitespace() || c == ',')
                .filter(|w| !w.is_empty())
                .filter(|w| !w.chars().all(|c| c.is_ascii_digit() || ":.".contains(c)))
                .collect();
            words.len() <= 1
        })
}

/// Case, whitespace and punctuation folded away: how hallucinations are
/// compared.
fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// Whether known hallucinations make up most of a segment.
fn is_hallucination(text: &str) -> bool {
    let Some(automaton) = HALLUCINATIONS.as_ref() else {
        return false;
    };
    // A hallucination must make up most of the segment: a segment several
    // times longer than the longest one cannot be one.
    if text.len() > 3 * *LONGEST_HALLUCINATION {
        return false;
    }
    let folded = fold(text);
    if folded.is_empty() || !automaton.is_match(&folded) {
        return false;
    }
    let mut covered = vec![false; folded.len()];
    for m in automaton.find_overlapping_iter(&folded) {
        covered[m.range()].fill(true);
    }
    let hit = covered.iter().filter(|c| **c).count();
    #[expect(clippy::cast_precision_loss, reason = "segment lengths")]
    let share = hit as f64 / folded.len() as f64;
    share >= HALLUCINATION_SHARE
}

// ---------------------------------------------------------------------------
// 2. Loops and roll-ups.

fn collapse_repeats(segments: Vec<Segment>) -> Vec<Segment> {
    let mut out: Vec<Segment> = Vec::with_capacity(segments.len());
    // A key of each kept segment's folded text, and the tokens of the last one.
    let mut keys: Vec<u64> = Vec::with_capacity(segments.len());
    let mut last_tokens: Vec<Token> = Vec::new();
    for mut seg in segments {
        let mut tokens = loop_tokens(&seg.text);
        let key = text_key(&tokens);
        let repeat = (out.len().saturating_sub(3)..out.len())
            .rev()
            .find(|&i| out[i].speaker == seg.speaker && keys[i] == key);
        if let Some(i) = repeat {
            // A repeat of a recent segment: the loop is one utterance.
            if let Some(end) = seg.end {
                let kept = &mut out[i];
                kept.end = Some(kept.end.map_or(end, |e| e.max(end)));
            }
            continue;
        }
        let mut changed = false;
        if out.last().is_some_and(|p| p.speaker == seg.speaker)
            && let Some(cut) = rolled_up(&last_tokens, &tokens)
        {
            seg.text = seg.text[cut..].trim_start().to_owned();
            if !seg.text.chars().any(char::is_alphanumeric) {
                continue;
            }
            tokens = loop_tokens(&seg.text);
            changed = true;
        }
        if let Some(text) = collapse_loops(&seg.text, &tokens) {
            seg.text = text;
            tokens = loop_tokens(&seg.text);
            changed = true;
        }
        keys.push(if changed { text_key(&tokens) } else { key });
        last_tokens = tokens;
        out.push(seg);
    }
    out
}

/// A key of a text's folded form from its tokens: equal texts up to case,
/// whitespace and punctuation have equal keys.
fn text_key(tokens: &[Token]) -> u64 {
    tokens.iter().fold(FNV_OFFSET, |hash, (_, token)| {
        (hash ^ token).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A token for loop and roll-up checks: a word or a single CJK character,
/// its byte range, and a hash of its folded form (equal tokens, equal
/// hashes; a collision only makes two words look alike).
type Token = (Range<usize>, u64);

/// The tokens of `text` (see [`Token`]).
fn loop_tokens(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut word_start: Option<usize> = None;
    let mut hash = FNV_OFFSET;
    let mut letters = 0;
    let mut flush = |start: &mut Option<usize>, end: usize, hash: &mut u64, letters: &mut usize| {
        if let Some(s) = start.take()
            && *letters > 0
        {
            out.push((s..end, *hash));
        }
        *hash = FNV_OFFSET;
        *letters = 0;
    };
    for (i, c) in text.char_indices() {
        if is_cjk(c) {
            flush(&mut word_start, i, &mut hash, &mut letters);
            let mut h = FNV_OFFSET;
            fnv(&mut h, c);
            flush(&mut Some(i), i + c.len_utf8(), &mut h, &mut 1);
        } else if c.is_whitespace() {
            flush(&mut word_start, i, &mut hash, &mut letters);
        } else {
            if word_start.is_none() {
                word_start = Some(i);
            }
            if c.is_ascii_alphanumeric() {
                fnv(&mut hash, c.to_ascii_lowercase());
                letters += 1;
            } else if c.is_alphanumeric() {
                for l in c.to_lowercase() {
                    fnv(&mut hash, l);
                }
                letters += 1;
            }
        }
    }
    flush(&mut word_start, text.len(), &mut hash, &mut letters);
    out
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

fn fnv(hash: &mut u64, c: char) {
    *hash ^= u64::from(u32::from(c));
    *hash = hash.wrapping_mul(0x0100_0000_01b3);
}

/// Where the new part of a roll-up caption starts: the byte offset in the
/// current text after the longest run of its first tokens that repeats the
/// last tokens of the previous one, when that run is at least three tokens
/// and a third of the current text.
fn rolled_up(prev: &[Token], cur: &[Token]) -> Option<usize> {
    // A roll-up repeats one caption line: at most a few dozen tokens.
    let most = prev.len().min(cur.len()).min(ROLL_UP_MAX_TOKENS);
    let least = cur.len().div_ceil(3).max(3);
    let longest = (least..=most).rev().find(|&k| {
        prev[prev.len() - k..]
            .iter()
            .zip(&cur[..k])
            .all(|(a, b)| a.1 == b.1)
    })?;
    Some(cur[longest - 1].0.end)
}

/// Keeps once a phrase of up to [`LOOP_MAX_TOKENS`] tokens repeated
/// [`LOOP_REPEATS`] or more times in a row ("we we we we" → "we"; a
/// hallucinated sentence said six times → once); `None` when there is none.
fn collapse_loops(text: &str, tokens: &[Token]) -> Option<String> {
    if tokens.len() < LOOP_REPEATS {
        return None;
    }
    // Byte ranges of `text` to remove.
    let mut cuts: Vec<Range<usize>> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let mut advanced = false;
        for n in 1..=LOOP_MAX_TOKENS {
            if i + n * LOOP_REPEATS > tokens.len() {
                break;
            }
            let same = |a: usize, b: usize| tokens[a].1 == tokens[b].1;
            let mut repeats = 1;
            while i + (repeats + 1) * n <= tokens.len()
                && (0..n).all(|k| same(i + k, i + repeats * n + k))
            {
                repeats += 1;
            }
            if repeats >= LOOP_REPEATS {
                let keep_end = tokens[i + n - 1].0.end;
                let drop_end = tokens[i + repeats * n - 1].0.end;
                cuts.push(keep_end..drop_end);
                i += repeats * n;
                advanced = true;
                break;
            }
        }
        if !advanced {
            i += 1;
        }
    }
    if cuts.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut from = 0;
    for cut in cuts {
        out.push_str(&text[from..cut.start]);
        from = cut.end;
    }
    out.push_str(&text[from..]);
    Some(collapse(&out))
}

// ---------------------------------------------------------------------------
// 3–5. Turns into sentences.

/// Whether the transcript has sentence punctuation at all (speech recognition
/// without a punctuation model writes none).
fn is_punctuated(segments: &[Segment]) -> bool {
    let (mut words, mut marks) = (0, 0);
    for seg in segments {
        words += word_count(&seg.text);
        marks += seg
            .text
            .chars()
            .filter(|c| matches!(c, '.' | '!' | '?' | '。' | '！' | '？' | '…'))
            .count();
        // A few thousand words tell.
        if words >= PUNCTUATION_SAMPLE_WORDS {
            break;
        }
    }
    words == 0 || marks * UNPUNCTUATED_WORDS_PER_MARK >= words
}

/// One speaker's consecutive segments, joined.
struct Turn<'a> {
    text: String,
    /// Byte offset in `text` where each segment starts.
    offsets: Vec<usize>,
    segments: &'a [Segment],
}

impl<'a> Turn<'a> {
    fn new(segments: &'a [Segment]) -> Self {
        let mut text = String::new();
        let mut offsets = Vec::with_capacity(segments.len());
        for seg in segments {
            let body = seg.text.trim();
            if !text.is_empty() {
                let cjk = text.chars().next_back().is_some_and(is_cjk_text)
                    && body.chars().next().is_some_and(is_cjk_text);
                if !cjk {
                    text.push(' ');
                }
            }
            offsets.push(text.len());
            text.push_str(body);
        }
        Self {
            text,
            offsets,
            segments,
        }
    }

    /// Index of the segment holding byte `at`.
    fn segment_at(&self, at: usize) -> usize {
        self.offsets.partition_point(|&o| o <= at).saturating_sub(1)
    }

    fn sentence(&self, range: Range<usize>) -> Option<Segment> {
        let range = trim_range(&self.text, range);
        let body = self.text.get(range.clone())?;
        if !body.chars().any(char::is_alphanumeric) {
            return None;
        }
        let first = self.segment_at(range.start);
        let last = self.segment_at(range.end.saturating_sub(1).max(range.start));
        // The first segment's time, or the closest earlier one in the turn.
        let start = self.segments[..=first].iter().rev().find_map(|s| s.start);
        let end = self.segments[last..]
            .iter()
            .find_map(|s| s.end)
            .filter(|e| start.is_none_or(|s| *e >= s));
        Some(Segment {
            start,
            end,
            speaker: self.segments[first].speaker.clone(),
            text: body.to_owned(),
        })
    }
}

fn split_turn(segments: &[Segment], punctuated: bool, out: &mut Vec<Segment>) {
    let turn = Turn::new(segments);
    let ranges: Vec<Range<usize>> =
        if punctuated && segments.iter().all(|s| is_one_sentence(&s.text)) {
            // Every segment already is one sentence (the common case in Podlove
            // and many SRT files): no need to look for sentences across them.
            turn.offsets
                .iter()
                .zip(segments)
                .flat_map(|(&at, seg)| cut_run_on(&turn, at..at + seg.text.trim().len()))
                .collect()
        } else if punctuated {
            text::sentences(&turn.text)
                .into_iter()
                .flat_map(|r| cut_run_on(&turn, r))
                .collect()
        } else {
            unpunctuated_sentences(&turn)
        };
    out.extend(ranges.into_iter().filter_map(|r| turn.sentence(r)));
}

/// Whether a segment's text is exactly one sentence: it ends with sentence
/// punctuation and has none inside (no `.`, `!`, `?` before a space, no CJK
/// sentence mark before its end). Conservative: an abbreviation inside
/// ("Dr. Smith") makes it "not one", and the turn is split the full way.
fn is_one_sentence(text: &str) -> bool {
    let text = text.trim();
    let body = text.trim_end_matches(|c: char| {
        matches!(
            c,
            '"' | '\'' | '”' | '’' | ')' | ']' | '」' | '』' | '）' | '】'
        )
    });
    let Some(last) = body.chars().next_back() else {
        return false;
    };
    if !matches!(last, '.' | '!' | '?' | '…' | '。' | '！' | '？') {
        return false;
    }
    let inner = body[..body.len() - last.len_utf8()].trim_end_matches(['.', '!', '?', '…']);
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '。' | '！' | '？' | '；' | '｡' => return false,
            '.' | '!' | '?' | '…' if chars.peek().is_none_or(|n| n.is_whitespace()) => {
                return false;
            }
            _ => {}
        }
    }
    true
}

/// Sentences of speech without punctuation: segments are added until the
/// sentence has [`MIN_WORDS`] and a pause follows, or [`TARGET_WORDS`]; a
/// sentence never takes a segment that would carry it past [`MAX_WORDS`].
/// A single segment over [`MAX_WORDS`] is cut on its own.
fn unpunctuated_sentences(turn: &Turn<'_>) -> Vec<Range<usize>> {
    let segs = turn.segments;
    let mut out = Vec::new();
    let mut begin = 0;
    let mut words = 0;
    for i in 0..segs.len() {
        let seg_words = word_count(&segs[i].text);
        if words > 0 && words + seg_words > MAX_WORDS {
            out.push(turn.offsets[begin]..turn.offsets[i]);
            begin = i;
            words = 0;
        }
        words += seg_words;
        let end = turn.offsets.get(i + 1).copied().unwrap_or(turn.text.len());
        let pause =
            segs.get(i + 1)
                .is_some_and(|next| match (segs[i].end.or(segs[i].start), next.start) {
                    (Some(a), Some(b)) => b - a >= PAUSE_SECS,
                    _ => false,
                });
        if (words >= MIN_WORDS && pause) || words >= TARGET_WORDS {
            out.extend(cut_run_on(turn, turn.offsets[begin]..end));
            begin = i + 1;
            words = 0;
        }
    }
    if begin < segs.len() {
        out.extend(cut_run_on(turn, turn.offsets[begin]..turn.text.len()));
    }
    out
}

/// Cuts a sentence over [`MAX_WORDS`] into pieces near [`TARGET_WORDS`]:
/// after a clause mark when there is one, else at a segment boundary, else
/// between words.
fn cut_run_on(turn: &Turn<'_>, range: Range<usize>) -> Vec<Range<usize>> {
    let text = &turn.text;
    let Some(sentence) = text.get(range.clone()) else {
        return Vec::new();
    };
    if sentence.len() <= 2 * MAX_WORDS || !word_count_exceeds(sentence, MAX_WORDS) {
        return vec![range];
    }
    let mut pieces = Vec::new();
    let mut begin = range.start;
    // Words left after `begin`, counted once and then decreased piece by
    // piece, so that a long run-on costs linear time.
    let mut left = word_count(sentence);
    while left > MAX_WORDS {
        let cut = best_cut(turn, begin, range.end);
        if cut <= begin || cut >= range.end {
            break;
        }
        left = left.saturating_sub(word_count(&text[begin..cut]));
        pieces.push(begin..cut);
        begin = cut;
    }
    pieces.push(begin..range.end);
    pieces
        .into_iter()
        .map(|r| trim_range(text, r))
        .filter(|r| !r.is_empty())
        .collect()
}

/// Where to cut a run-on that starts at `begin`: the candidate closest to
/// [`TARGET_WORDS`] words in, among clause marks, then segment boundaries,
/// then the starts of clause-opening words (`clause_opening` lists: "但是",
/// "because"), then word boundaries, between [`MIN_WORDS`] and [`MAX_WORDS`]
/// words.
fn best_cut(turn: &Turn<'_>, begin: usize, end: usize) -> usize {
    let text = &turn.text;
    // Byte offsets of candidate cuts with the words before them.
    let mut clause: Vec<(usize, usize)> = Vec::new();
    let mut boundary: Vec<(usize, usize)> = Vec::new();
    let mut space: Vec<(usize, usize)> = Vec::new();
    // Every character's offset with the words before it, for the openers.
    let mut counted: Vec<(usize, usize)> = Vec::new();
    let mut words = 0;
    let mut in_word = false;
    let mut cjk = 0;
    let mut window_end = end;
    let seg_starts: Vec<usize> = turn
        .offsets
        .iter()
        .copied()
        .filter(|&o| o > begin && o < end)
        .collect();
    let mut next_seg = 0;
    for (i, c) in text[begin..end].char_indices() {
        let at = begin + i;
        while next_seg < seg_starts.len() && seg_starts[next_seg] <= at {
            boundary.push((seg_starts[next_seg], words + cjk / 2));
            next_seg += 1;
        }
        let count = words + cjk / 2;
        if count > MAX_WORDS {
            window_end = at;
            break;
        }
        counted.push((at, count));
        if is_cjk(c) {
            cjk += 1;
            in_word = false;
        } else if c.is_alphanumeric() {
            if !in_word {
                words += 1;
            }
            in_word = true;
        } else {
            in_word = false;
            if matches!(c, ',' | '，' | ';' | '；' | ':' | '：' | '、') {
                clause.push((at + c.len_utf8(), words + cjk / 2));
            } else if c.is_whitespace() {
                space.push((at, words + cjk / 2));
            }
        }
        if is_cjk(c) && cjk % 2 == 0 {
            space.push((at + c.len_utf8(), words + cjk / 2));
        }
    }
    let pick = |cands: &[(usize, usize)]| {
        cands
            .iter()
            .filter(|(_, w)| (MIN_WORDS..=MAX_WORDS).contains(w))
            .min_by_key(|(_, w)| w.abs_diff(TARGET_WORDS))
            .map(|(at, _)| *at)
    };
    pick(&clause)
        .or_else(|| pick(&boundary))
        .or_else(|| pick(&openers(text, begin, window_end, &counted)))
        .or_else(|| pick(&space))
        .unwrap_or(end)
}

/// The starts of clause-opening words in `text[begin..end]`, each with the
/// words before it (from `counted`, every character's offset and count).
/// ASCII is lower-cased in place, so byte offsets stay those of `text`.
fn openers(
    text: &str,
    begin: usize,
    end: usize,
    counted: &[(usize, usize)],
) -> Vec<(usize, usize)> {
    let Some(window) = text.get(begin..end) else {
        return Vec::new();
    };
    let lower = window.to_ascii_lowercase();
    CLAUSE_OPENING
        .scan(&lower)
        .into_iter()
        .filter_map(|hit| {
            let at = begin + hit.range.start;
            let i = counted.partition_point(|&(o, _)| o < at);
            counted
                .get(i)
                .filter(|&&(o, _)| o == at)
                .map(|&(_, words)| (at, words))
        })
        .collect()
}

/// The range without surrounding whitespace, and without clause marks (and
/// CJK sentence marks) at its start: a cut next to a comma leaves one there.
fn trim_range(text: &str, range: Range<usize>) -> Range<usize> {
    let slice = text.get(range.clone()).unwrap_or("");
    let start_trimmed = slice.trim_start_matches(|c: char| {
        c.is_whitespace()
            || matches!(
                c,
                ',' | '，' | '、' | ';' | '；' | ':' | '：' | '。' | '！' | '？'
            )
    });
    let start = range.start + (slice.len() - start_trimmed.len());
    start..start + start_trimmed.trim_end().len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(start: f64, speaker: Option<&str>, text: &str) -> Segment {
        Segment {
            start: Some(start),
            end: Some(start + 2.0),
            speaker: speaker.map(str::to_owned),
            text: text.to_owned(),
        }
    }

    fn texts(segments: &[Segment]) -> Vec<&str> {
        segments.iter().map(|s| s.text.as_str()).collect()
    }

    #[test]
    fn caption_fragments_become_sentences_timed_by_their_first_cue() {
        let out = normalize(vec![
            seg(0.0, Some("Ann"), "So the cache"),
            seg(2.0, Some("Ann"), "made every page"),
            seg(4.0, Some("Ann"), "four times faster. And then"),
            seg(6.0, Some("Ann"), "we shipped it."),
            seg(8.0, Some("Bob"), "Nice."),
        ]);
        assert_eq!(
            texts(&out),
            [
                "So the cache made every page four times faster.",
                "And then we shipped it.",
                "Nice."
            ]
        );
        assert_eq!(
            out.iter().map(|s| s.start).collect::<Vec<_>>(),
            [Some(0.0), Some(4.0), Some(8.0)]
        );
        assert_eq!(out[0].end, Some(6.0));
        assert_eq!(out[2].speaker.as_deref(), Some("Bob"));
    }

    #[test]
    fn annotations_and_non_speech_segments_are_dropped() {
        let out = normalize(vec![
            seg(0.0, Some("Jingle"), "La la la."),
            seg(
                0.5,
                Some("Music"),
                &"A mislabelled speaker says a lot here. ".repeat(5),
            ),
            seg(1.0, None, "[Music]"),
            seg(2.0, Some("Ann"), "That was [laughter] really good."),
            seg(
                3.0,
                Some("Ann"),
                "We tried it [unintelligible 00:03:18.16] twice.",
            ),
            seg(4.0, Some("Ann"), "(Lachen) Wirklich."),
            seg(5.0, Some("Ann"), "♪ la la ♪ Done [01:32:14.04] here."),
            seg(6.0, Some("Ann"), "The [a] footnote stays."),
        ]);
        assert_eq!(
            texts(&out),
            [
                "A mislabelled speaker says a lot here.",
                "That was really good.",
                "We tried it twice.",
                "Wirklich.",
                "Done here.",
                "The [a] footnote stays."
            ]
        );
    }

    #[test]
    fn inline_speaker_tags_name_the_speaker_until_the_next_tag() {
        let out = normalize(vec![
            seg(0.0, None, "【说话人0】我们审视时间的价值。"),
            seg(1.0, None, "欢迎收听。"),
            seg(2.0, None, "【说话人1】好的。"),
            seg(3.0, None, "【说话人0】对。"),
        ]);
        let got: Vec<_> = out
            .iter()
            .map(|s| (s.speaker.as_deref(), s.text.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (Some("说话人0"), "我们审视时间的价值。"),
                (Some("说话人0"), "欢迎收听。"),
                (Some("说话人1"), "好的。"),
                (Some("说话人0"), "对。")
            ]
        );
        let once = normalize(vec![seg(0.0, None, "[Update] The plan changed.")]);
        assert_eq!(once[0].speaker, None, "one bracketed word is not a speaker");
        let mid = normalize(vec![seg(
            0.0,
            None,
            "【说话人0】先说一句。【说话人1】再说一句。【说话人0】好。",
        )]);
        let got: Vec<_> = mid
            .iter()
            .map(|s| (s.speaker.as_deref(), s.text.as_str(), s.start))
            .collect();
        assert_eq!(
            got,
            [
                (Some("说话人0"), "先说一句。", Some(0.0)),
                (Some("说话人1"), "再说一句。", None),
                (Some("说话人0"), "好。", None)
            ],
            "tags inside a segment split it"
        );
    }

    #[test]
    fn hallucinations_and_loops_are_removed() {
        let out = normalize(vec![
            seg(0.0, None, "请不吝点赞 订阅 转发 打赏支持明镜与点点栏目"),
            seg(30.0, None, "收到七年前有关我的报道和照片"),
            seg(33.0, None, "我们就这样走了"),
            seg(35.0, None, "我们就这样走了"),
            seg(37.0, None, "我们就这样走了"),
            seg(39.0, None, "yes we did it we did it we did it we did it"),
        ]);
        let all: String = out.iter().map(|s| s.text.as_str()).collect();
        assert!(!all.contains("点赞"), "{all}");
        assert_eq!(all.matches("我们就这样走了").count(), 1, "{all}");
        assert!(all.contains("yes we did it"), "{all}");
        assert_eq!(all.matches("did it").count(), 1, "{all}");
        assert_eq!(out[0].start, Some(30.0));
    }

    #[test]
    fn roll_up_captions_lose_the_repeated_line() {
        let out = normalize(vec![
            seg(0.0, None, "we built a small tool"),
            seg(2.0, None, "we built a small tool that reads feeds."),
            seg(4.0, None, "that reads feeds. It was fast."),
        ]);
        assert_eq!(
            texts(&out),
            ["we built a small tool that reads feeds.", "It was fast."]
        );
        assert_eq!(out[1].start, Some(4.0));
    }

    #[test]
    fn unpunctuated_speech_is_cut_at_pauses_and_natural_lengths() {
        let mut segments = Vec::new();
        let mut t = 0.0;
        for i in 0..40 {
            let text = format!("word{i} goes on and on here");
            segments.push(Segment {
                start: Some(t),
                end: Some(t + 2.0),
                speaker: None,
                text,
            });
            // A pause after every fourth segment.
            t += if i % 4 == 3 { 3.0 } else { 2.0 };
        }
        let out = normalize(segments);
        assert!(out.len() >= 8, "{}", out.len());
        for s in &out {
            let words = word_count(&s.text);
            assert!(
                (MIN_WORDS..=MAX_WORDS).contains(&words),
                "{words}: {}",
                s.text
            );
            assert!(s.start.is_some());
        }
        assert!(
            out[0].text.starts_with("word0 ") && out[0].text.ends_with("word3 goes on and on here")
        );
    }

    #[test]
    fn one_sentence_segments_are_recognised_conservatively() {
        for (text, one) in [
            ("The cache made it fast.", true),
            ("Really?", true),
            ("“It works.”", true),
            ("数据显示增长很快。", true),
            ("It works. It is fast.", false),
            ("Dr. Smith agrees.", false),
            ("and then we", false),
            ("先说一句。再说一句。", false),
            ("Version 3.5 is out.", true),
        ] {
            assert_eq!(is_one_sentence(text), one, "{text}");
        }
    }

    #[test]
    fn word_limits_agree_with_word_count() {
        for text in [
            "one two three",
            "数据显示增长很快",
            "don't stop-believing, 3.5 times",
            "",
        ] {
            let n = word_count(text);
            assert!(!word_count_exceeds(text, n), "{text}");
            assert_eq!(
                word_count_exceeds(text, n.saturating_sub(1)),
                n > 0,
                "{text}"
            );
        }
    }

    #[test]
    fn a_piece_never_starts_with_a_clause_mark() {
        for (text, want) in [
            ("，其实涨得很不错。", "其实涨得很不错。"),
            (" , and then it grew ", "and then it grew"),
            (".NET is fast", ".NET is fast"),
        ] {
            let range = trim_range(text, 0..text.len());
            assert_eq!(&text[range], want);
        }
    }

    #[test]
    fn a_long_run_on_is_cut_at_clause_marks() {
        let long = (0..30)
            .map(|i| format!("clause number {i} of the text"))
            .collect::<Vec<_>>()
            .join(", ");
        let out = normalize(vec![seg(
            0.0,
            None,
            &format!("It starts. Then it goes on. {long}. Short one."),
        )]);
        assert!(out.len() >= 4, "{out:#?}");
        for s in &out {
            assert!(word_count(&s.text) <= MAX_WORDS, "{}", s.text);
        }
        assert_eq!(out.last().map(|s| s.text.as_str()), Some("Short one."));
    }

    #[test]
    fn unpunctuated_chinese_is_cut_before_a_clause_opening_word() {
        // One long line of speech recognition without any mark or pause:
        // the cuts fall before words that open a clause (`clause_opening`),
        // not between two characters of a word.
        let clauses = [
            "今天我们来讨论一下加拿大的经济和它在过去十年里面发生的很多变化",
            "但是加拿大面临的问题跟今天的英国非常相像尤其是在经济政策和移民政策上",
            "所以我们需要先退一步来回答一个更加宏大的问题那就是生产力为什么没有增长",
            "因为在过去的十年里加拿大的生产力几乎没有增长它的经济增长来自人口",
            "而且人口增长也不是来自于出生率的提高而是来自于移民数量的大量增加",
        ];
        let out = normalize(vec![seg(0.0, None, &clauses.concat())]);
        assert!(out.len() >= 2, "{out:#?}");
        for s in &out {
            assert!(
                clauses.iter().any(|c| s.text.starts_with(c)),
                "cut inside a clause: {}",
                s.text
            );
            assert!(word_count(&s.text) <= MAX_WORDS, "{}", s.text);
        }
    }
}
