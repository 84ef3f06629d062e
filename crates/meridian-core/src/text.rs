//! Pure text utilities shared by the builtin insight engine and the ranking:
//! sentence segmentation, tokenisation for similarity, and a similarity score.
//!
//! Everything here is deterministic (no hash-map iteration order leaks into a
//! result) and works on English, German and Chinese/Japanese text:
//!
//! - [`sentences`] splits text into sentences and returns **byte ranges** into
//!   the input, so that callers can quote the original words verbatim and map a
//!   sentence back to where it came from.
//! - [`tokens`] turns text into comparison tokens: lowercase words for Latin
//!   scripts (stopwords and fillers removed, a light plural strip), character
//!   bigrams for CJK runs.
//! - [`TermVector`] and [`similarity`]: cosine similarity of term-frequency
//!   vectors over those tokens, 0 (nothing shared) to 1 (same tokens, same
//!   proportions).

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::LazyLock;

/// Splits `text` into sentences and returns their byte ranges in `text`.
///
/// Each range is trimmed of surrounding whitespace, starts and ends on a char
/// boundary, and contains at least one alphanumeric character; ranges are in
/// order and do not overlap. `&text[range]` is the sentence, verbatim.
///
/// A sentence ends:
/// - after `.`, `!`, `?` or an ellipsis (`...`, `…`) followed by whitespace or
///   the end of the text, together with any closing quotes or brackets right
///   after it (`He said "no." Then` splits after the quote);
/// - but not after a decimal point or a dot inside a word (`3.5`, `talkpython.fm`),
///   not after common abbreviations (`Dr.`, `e.g.`, `vs.`, `z.B.`), dotted
///   acronyms (`U.S.`, `a.m.`) or a name's initial (`Michael J. Fox`), and not
///   after an ellipsis followed by a lowercase word (`I was like... you know`);
/// - after the full-width terminators `。！？；` (and `…` before CJK text), which
///   need no following space;
/// - at a blank line (two line breaks), which callers use to mark a change of
///   speaker. A single line break is ordinary whitespace.
#[must_use]
pub fn sentences(text: &str) -> Vec<Range<usize>> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let offset = |i: usize| chars.get(i).map_or(text.len(), |&(pos, _)| pos);
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while let Some(&(pos, c)) = chars.get(i) {
        if c == '\n' {
            // A blank line is a hard break: find the end of the whitespace run.
            let mut j = i + 1;
            let mut newlines = 1;
            while let Some(&(_, w)) = chars.get(j).filter(|(_, w)| w.is_whitespace()) {
                newlines += usize::from(w == '\n');
                j += 1;
            }
            if newlines >= 2 {
                push_sentence(text, start..pos, &mut out);
                start = offset(j);
            }
            i = j;
            continue;
        }
        if is_cjk_terminator(c) {
            let mut j = i + 1;
            while chars
                .get(j)
                .is_some_and(|&(_, t)| is_cjk_terminator(t) || is_latin_terminator(t))
            {
                j += 1;
            }
            while chars.get(j).is_some_and(|&(_, t)| is_closer(t)) {
                j += 1;
            }
            let end = offset(j);
            push_sentence(text, start..end, &mut out);
            start = end;
            i = j;
            continue;
        }
        if is_latin_terminator(c) {
            let mut j = i + 1;
            while chars
                .get(j)
                .is_some_and(|&(_, t)| is_latin_terminator(t) || is_cjk_terminator(t))
            {
                j += 1;
            }
            let run: Vec<char> = chars[i..j].iter().map(|&(_, t)| t).collect();
            let ellipsis = run.contains(&'…') || run.iter().filter(|&&t| t == '.').count() >= 2;
            let single_period = run == ['.'];
            let mut k = j;
            while chars.get(k).is_some_and(|&(_, t)| is_closer(t)) {
                k += 1;
            }
            let next = chars.get(k).map(|&(_, t)| t);
            let boundary = match next {
                None => true,
                Some(n) if n.is_whitespace() => {
                    let following = chars[k..]
                        .iter()
                        .map(|&(_, t)| t)
                        .find(|t| !t.is_whitespace());
                    if single_period {
                        !is_abbreviation(&chars[..i], following)
                    } else if ellipsis {
                        following.is_none_or(|f| !f.is_lowercase())
                    } else {
                        true
                    }
                }
                // "Python.然后…": a CJK character may follow a Latin stop directly.
                Some(n) => is_cjk(n),
            };
            if boundary {
                let end = offset(k);
                push_sentence(text, start..end, &mut out);
                start = end;
                i = k;
            } else {
                i = j;
            }
            continue;
        }
        i += 1;
    }
    push_sentence(text, start..text.len(), &mut out);
    out
}

/// Trims `range` and keeps it when it holds something worth calling a sentence.
fn push_sentence(text: &str, range: Range<usize>, out: &mut Vec<Range<usize>>) {
    let Some(slice) = text.get(range.clone()) else {
        return;
    };
    let lead = slice.len() - slice.trim_start().len();
    let trimmed = slice.trim();
    if trimmed.chars().any(char::is_alphanumeric) {
        let begin = range.start + lead;
        out.push(begin..begin + trimmed.len());
    }
}

fn is_latin_terminator(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | '…')
}

fn is_cjk_terminator(c: char) -> bool {
    matches!(c, '。' | '！' | '？' | '；' | '｡')
}

fn is_closer(c: char) -> bool {
    matches!(
        c,
        '"' | '\'' | '”' | '’' | '»' | ')' | ']' | '}' | '」' | '』' | '）' | '】' | '》' | '〉'
    )
}

/// Abbreviations after which a period does not end a sentence (lowercase,
/// without the final period).
const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "vs", "cf", "e.g", "i.e", "eg", "ie",
    "fig", "approx", "ca", "dept", "gen", "gov", "sen", "rep", "capt", "col", "lt", "sgt", "rev",
    "hon", "ft", "al", "viz", "resp", "inc", "ltd", "corp", "co", "z.b", "d.h", "u.a", "bzw",
    "ggf", "evtl", "nr", "dipl", "ing",
];

/// Whether the period at the end of `before` belongs to an abbreviation, given
/// the next non-space character after it.
fn is_abbreviation(before: &[(usize, char)], following: Option<char>) -> bool {
    // The word the period ends: back to the previous whitespace or opening bracket.
    let word_start = before
        .iter()
        .rposition(|&(_, c)| c.is_whitespace() || matches!(c, '(' | '[' | '"' | '“' | '‘'))
        .map_or(0, |p| p + 1);
    let word: String = before[word_start..].iter().map(|&(_, c)| c).collect();
    if word.is_empty() {
        return false;
    }
    let lower = word.to_lowercase();
    if ABBREVIATIONS.contains(&lower.as_str()) {
        return true;
    }
    // "No. 5" is a number sign, "No." alone is an answer.
    if lower == "no" {
        return following.is_some_and(|f| f.is_ascii_digit());
    }
    // Dotted acronyms (U.S., a.m., Ph.D): ending a sentence on one is rare
    // enough that merging two sentences beats cutting "2 a.m. | Pacific time".
    let mut parts = lower.split('.');
    if lower.contains('.')
        && parts
            .all(|p| !p.is_empty() && p.chars().count() <= 2 && p.chars().all(char::is_alphabetic))
    {
        return true;
    }
    // A name's initial: "Michael J. Fox", but not "vitamin C. Then".
    let mut letters = word.chars();
    if let (Some(initial), None) = (letters.next(), letters.next())
        && initial.is_uppercase()
    {
        let previous_word = before[..word_start]
            .iter()
            .rev()
            .skip_while(|(_, c)| c.is_whitespace())
            .take_while(|(_, c)| !c.is_whitespace())
            .last()
            .map(|&(_, c)| c);
        return previous_word.is_none_or(char::is_uppercase);
    }
    false
}

/// Whether `c` is written without spaces between words (Han, kana, Hangul and
/// their punctuation-free neighbours), so that it is compared by bigrams.
#[must_use]
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF      // hiragana, katakana
        | 0x3400..=0x4DBF    // CJK extension A
        | 0x4E00..=0x9FFF    // CJK unified ideographs
        | 0xAC00..=0xD7AF    // Hangul syllables
        | 0xF900..=0xFAFF    // compatibility ideographs
        | 0x20000..=0x2FA1F  // extensions B–F, compatibility supplement
    )
}

/// Whether `c` is a bidi control (U+061C, U+200E, U+200F, U+202A-U+202E,
/// U+2066-U+2069) or an invisible character (U+200B-U+200D, U+2060-U+2064,
/// U+FEFF). Such characters reorder or hide what a reader sees (`evil\u{202e}txt.exe`
/// shows as `evilexe.txt`) while the text compares differently.
#[must_use]
pub fn is_invisible_or_bidi(c: char) -> bool {
    matches!(
        c,
        '\u{061c}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{feff}'
    )
}

/// Removes bidi controls and invisible characters ([`is_invisible_or_bidi`])
/// from text taken from feeds and transcripts, so that what reaches an email,
/// a page or a terminal reads in the order it is stored. Borrows when there is
/// nothing to remove (the common case).
#[must_use]
pub fn strip_invisible(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().any(is_invisible_or_bidi) {
        std::borrow::Cow::Owned(text.chars().filter(|c| !is_invisible_or_bidi(*c)).collect())
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// [`strip_invisible`] in place, allocating only when something is removed.
pub fn strip_invisible_in_place(text: &mut String) {
    if text.chars().any(is_invisible_or_bidi) {
        text.retain(|c| !is_invisible_or_bidi(c));
    }
}

/// Collapses every run of whitespace to one space and trims the ends.
#[must_use]
pub fn normalize_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Counts words the way a reader would: Latin-script words, plus one word per
/// two CJK characters (a rough equivalent for length limits).
#[must_use]
pub fn word_count(text: &str) -> usize {
    let mut counter = WordCounter::default();
    counter.push_until(text, usize::MAX);
    counter.count()
}

/// Whether `text` has more than `limit` words as [`word_count`] counts them,
/// stopping as soon as it knows (for length limits on long texts).
#[must_use]
pub fn word_count_exceeds(text: &str, limit: usize) -> bool {
    let mut counter = WordCounter::default();
    counter.push_until(text, limit)
}

/// [`word_count`], one character at a time.
#[derive(Debug, Default)]
struct WordCounter {
    words: usize,
    cjk: usize,
    in_word: bool,
}

impl WordCounter {
    /// Counts `text`, stopping (and returning `true`) once the count exceeds
    /// `limit`. ASCII, most of the text in most languages, is read a byte at
    /// a time without decoding characters.
    fn push_until(&mut self, text: &str, limit: usize) -> bool {
        let bytes = text.as_bytes();
        let mut at = 0;
        while let Some(&b) = bytes.get(at) {
            if b.is_ascii() {
                if b.is_ascii_alphanumeric() {
                    if !self.in_word {
                        self.words += 1;
                        if self.count() > limit {
                            return true;
                        }
                    }
                    self.in_word = true;
                } else if !(self.in_word && matches!(b, b'\'' | b'-')) {
                    self.in_word = false;
                }
                at += 1;
            } else {
                let Some(c) = text.get(at..).and_then(|rest| rest.chars().next()) else {
                    break;
                };
                self.push(c);
                if self.count() > limit {
                    return true;
                }
                at += c.len_utf8();
            }
        }
        false
    }

    fn push(&mut self, c: char) {
        if is_cjk(c) {
            self.cjk += 1;
            self.in_word = false;
        } else if c.is_alphanumeric() {
            if !self.in_word {
                self.words += 1;
            }
            self.in_word = true;
        } else if !(self.in_word && matches!(c, '\'' | '’' | '-')) {
            self.in_word = false;
        }
    }

    fn count(&self) -> usize {
        self.words + self.cjk.div_ceil(2)
    }
}

/// CJK characters and CJK punctuation (`，`, `。`, `「`): text written without
/// spaces, so that two pieces of it join without one.
#[must_use]
pub fn is_cjk_text(c: char) -> bool {
    is_cjk(c) || matches!(c as u32, 0x3000..=0x303F | 0xFF00..=0xFFEF)
}

/// A hash set for words: a fast hasher with a fixed seed (the texts are the
/// service's own input, hashed to look words up, never to defend a table
/// that an attacker fills), so runs are repeatable.
pub type WordSet<T> = HashSet<T, foldhash::fast::FixedState>;
/// A hash map keyed by words, with the hasher of [`WordSet`].
pub type WordMap<K, V> = HashMap<K, V, foldhash::fast::FixedState>;

/// Words too common to say anything about a sentence's topic, plus spoken
/// fillers: the `stopwords` lists of every language in `lang/`.
static STOPWORDS: LazyLock<WordSet<&'static str>> =
    LazyLock::new(|| crate::lang::all("stopwords").into_iter().collect());

fn is_stopword(word: &str) -> bool {
    STOPWORDS.contains(word)
}

/// Splits `text` into comparison tokens.
///
/// - Latin-script words (letters, digits, inner apostrophes, decimal points)
///   are lowercased; stopwords, fillers and one-letter words are dropped, and a
///   plural `s` is stripped (`podcasts` → `podcast`).
/// - A run of CJK characters yields its character bigrams (`数据显示` →
///   `数据`, `据显`, `显示`); a lone CJK character yields itself.
#[must_use]
pub fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for_each_token(text, |token| out.push(token.to_owned()));
    out
}

/// Calls `f` with each of [`tokens`]' tokens in turn, without allocating one
/// string per token: for callers that count or intern them.
pub fn for_each_token(text: &str, mut f: impl FnMut(&str)) {
    let out = &mut f;
    let mut word = String::new();
    let mut run: Vec<char> = Vec::new();
    let mut chars = text.chars().peekable();
    let mut prev: Option<char> = None;
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        if is_cjk(c) {
            flush_word(&mut word, out);
            run.push(c);
        } else {
            flush_cjk(&mut run, out);
            if c.is_ascii_alphanumeric() {
                word.push(c.to_ascii_lowercase());
            } else if c.is_alphanumeric() {
                word.extend(c.to_lowercase());
            } else if matches!(c, '\'' | '’')
                && prev.is_some_and(char::is_alphanumeric)
                && next.is_some_and(char::is_alphanumeric)
            {
                word.push('\'');
            } else if matches!(c, '.' | ',')
                && prev.is_some_and(|p| p.is_ascii_digit())
                && next.is_some_and(|n| n.is_ascii_digit())
            {
                word.push('.');
            } else {
                flush_word(&mut word, out);
            }
        }
        prev = Some(c);
    }
    flush_word(&mut word, out);
    flush_cjk(&mut run, out);
}

fn flush_word(word: &mut String, out: &mut impl FnMut(&str)) {
    if word.is_empty() {
        return;
    }
    // Possessives compare as their noun: "Rust's" → "rust".
    if word.ends_with("'s") {
        word.truncate(word.len() - 2);
    }
    let digit = word.bytes().any(|b| b.is_ascii_digit());
    if (word.chars().nth(1).is_none() && !digit) || is_stopword(word) {
        word.clear();
        return;
    }
    let plural = !digit
        && word.len() >= 4
        && word.ends_with('s')
        && !word.ends_with("ss")
        && !word.ends_with("us")
        && !word.ends_with("is")
        && word.chars().count() >= 4;
    if plural {
        word.pop();
    }
    out(word);
    word.clear();
}

fn flush_cjk(run: &mut Vec<char>, out: &mut impl FnMut(&str)) {
    let mut buf = [0_u8; 8];
    match run.len() {
        0 => {}
        1 => out(run[0].encode_utf8(&mut buf)),
        _ => {
            for pair in run.windows(2) {
                let first = pair[0].len_utf8();
                pair[0].encode_utf8(&mut buf);
                let second = pair[1].encode_utf8(&mut buf[first..]).len();
                // Both halves were written from chars: valid UTF-8.
                out(std::str::from_utf8(&buf[..first + second]).unwrap_or_default());
            }
        }
    }
    run.clear();
}

/// A term-frequency vector over [`tokens`], ready for cosine similarity.
///
/// Build it once per text when comparing one text against many.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TermVector {
    /// (token, count), sorted by token.
    terms: Vec<(String, f64)>,
    /// Euclidean norm of the counts.
    norm: f64,
}

impl TermVector {
    /// The vector of `text`'s tokens.
    #[must_use]
    pub fn new(text: &str) -> Self {
        let mut all = tokens(text);
        all.sort_unstable();
        let mut terms: Vec<(String, f64)> = Vec::new();
        for token in all {
            match terms.last_mut() {
                Some((last, count)) if *last == token => *count += 1.0,
                _ => terms.push((token, 1.0)),
            }
        }
        let norm = terms.iter().map(|(_, c)| c * c).sum::<f64>().sqrt();
        Self { terms, norm }
    }

    /// Whether the text had no comparison tokens at all.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Cosine similarity with `other`, 0–1; 0 when either side is empty.
    #[must_use]
    pub fn cosine(&self, other: &Self) -> f64 {
        if self.is_empty() || other.is_empty() {
            return 0.0;
        }
        let (mut i, mut j, mut dot) = (0, 0, 0.0);
        while let (Some((a, x)), Some((b, y))) = (self.terms.get(i), other.terms.get(j)) {
            match a.cmp(b) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    dot += x * y;
                    i += 1;
                    j += 1;
                }
            }
        }
        (dot / (self.norm * other.norm)).clamp(0.0, 1.0)
    }
}

/// How alike two texts are, 0–1: the cosine similarity of their
/// term-frequency vectors over [`tokens`] (so stopwords and fillers do not
/// count, and Chinese is compared by character bigrams).
///
/// 1 means the same content words in the same proportions (word order and
/// case are ignored); 0 means no content word in common, or a side with no
/// content words. Used for novelty against insights already sent and for
/// near-duplicate detection; a reworded sentence about the same thing
/// typically scores 0.5–0.8, unrelated sentences under 0.2.
#[must_use]
pub fn similarity(a: &str, b: &str) -> f64 {
    TermVector::new(a).cosine(&TermVector::new(b))
}

#[cfg(test)]
mod tests {
    #[test]
    fn bidi_controls_and_invisible_characters_are_stripped() {
        let hostile = "Show\u{202e}3pm.exe\u{202c} \u{2066}x\u{2069}\u{200b}\u{200d}\u{feff}\u{061c}\u{200e}\u{200f}\u{2060}!";
        assert_eq!(super::strip_invisible(hostile), "Show3pm.exe x!");
        let mut s = hostile.to_owned();
        super::strip_invisible_in_place(&mut s);
        assert_eq!(s, "Show3pm.exe x!");
        assert!(matches!(
            super::strip_invisible("plain 中文 text"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    use super::*;

    fn split(text: &str) -> Vec<&str> {
        sentences(text).into_iter().map(|r| &text[r]).collect()
    }

    #[test]
    fn english_sentences_split_at_stops_questions_and_exclamations() {
        assert_eq!(
            split("Podcasts grew 20% last year. Why? Because video!  Nobody expected it."),
            [
                "Podcasts grew 20% last year.",
                "Why?",
                "Because video!",
                "Nobody expected it."
            ]
        );
    }

    #[test]
    fn abbreviations_decimals_and_domains_do_not_end_sentences() {
        assert_eq!(
            split(
                "Dr. Smith measured 3.5 times more, e.g. in the U.S. market. Visit talkpython.fm today."
            ),
            [
                "Dr. Smith measured 3.5 times more, e.g. in the U.S. market.",
                "Visit talkpython.fm today."
            ]
        );
        assert_eq!(
            split("Join them at 2 a.m. Pacific time. Michael J. Fox agrees."),
            [
                "Join them at 2 a.m. Pacific time.",
                "Michael J. Fox agrees."
            ]
        );
        assert_eq!(
            split("Take vitamin C. Then rest."),
            ["Take vitamin C.", "Then rest."]
        );
        assert_eq!(
            split("No. I disagree. See No. 5 here."),
            ["No.", "I disagree.", "See No. 5 here."]
        );
    }

    #[test]
    fn ellipses_split_only_before_a_new_sentence() {
        assert_eq!(
            split("I was like... you know, fine. And then… Nothing happened..."),
            [
                "I was like... you know, fine.",
                "And then…",
                "Nothing happened..."
            ]
        );
    }

    #[test]
    fn closing_quotes_stay_with_their_sentence() {
        assert_eq!(
            split("He said \"stop.\" Then he left. (It worked.) She wrote “done!” Fine."),
            [
                "He said \"stop.\"",
                "Then he left.",
                "(It worked.)",
                "She wrote “done!”",
                "Fine."
            ]
        );
    }

    #[test]
    fn chinese_full_width_punctuation_splits_without_spaces() {
        assert_eq!(
            split(
                "数据显示，收听量增长了百分之二十。为什么？因为视频！我们来看；下一个问题……好的。"
            ),
            [
                "数据显示，收听量增长了百分之二十。",
                "为什么？",
                "因为视频！",
                "我们来看；",
                "下一个问题……",
                "好的。"
            ]
        );
        assert_eq!(
            split("他说：“好的。”然后走了。"),
            ["他说：“好的。”", "然后走了。"]
        );
    }

    #[test]
    fn blank_lines_are_hard_breaks_and_single_newlines_are_spaces() {
        assert_eq!(
            split("first speaker without a stop\n\nsecond speaker\ncontinues here. Done"),
            [
                "first speaker without a stop",
                "second speaker\ncontinues here.",
                "Done"
            ]
        );
    }

    #[test]
    fn ranges_are_trimmed_and_skip_punctuation_only_pieces() {
        let text = "  Hello there.  ...  — ! Next one.  ";
        let ranges = sentences(text);
        assert_eq!(split(text), ["Hello there.", "Next one."]);
        assert!(ranges.windows(2).all(|w| w[0].end <= w[1].start));
        assert!(sentences("").is_empty());
        assert!(sentences(" ... ").is_empty());
    }

    #[test]
    fn tokens_drop_stopwords_and_fold_case_and_plurals() {
        assert_eq!(
            tokens("So, um, the Podcasts are GROWING because of video"),
            ["podcast", "growing", "video"]
        );
        assert_eq!(
            tokens("It grew 3.5% in 2024; don't panic"),
            ["grew", "3.5", "2024", "panic"]
        );
        assert_eq!(
            tokens("Das ist aber wirklich wichtig"),
            ["wirklich", "wichtig"]
        );
        assert_eq!(
            tokens("Rust's borrow checker"),
            ["rust", "borrow", "checker"]
        );
    }

    #[test]
    fn cjk_runs_become_character_bigrams() {
        assert_eq!(tokens("数据显示"), ["数据", "据显", "显示"]);
        assert_eq!(tokens("AI模型，好"), ["ai", "模型", "好"]);
    }

    #[test]
    fn similarity_is_one_for_same_words_and_zero_for_unrelated() {
        let a = "Podcast ads should be funnier, says the data.";
        assert!((similarity(a, "the DATA says: podcast ads should be funnier") - 1.0).abs() < 1e-9);
        assert!(similarity(a, "Rust compiles to native code") < 1e-9);
        assert!(
            similarity("um yeah", "um yeah") < 1e-9,
            "fillers alone carry nothing"
        );
        let reworded = similarity(a, "The data says podcast advertising ought to be funnier.");
        assert!(reworded > 0.5 && reworded < 1.0, "{reworded}");
    }

    #[test]
    fn similarity_compares_chinese_by_bigrams() {
        let s = similarity("研究发现播客广告应该更有趣", "研究发现播客广告更有趣");
        assert!(s > 0.7, "{s}");
        assert!(similarity("研究发现播客广告应该更有趣", "今天天气很好") < 0.1);
    }

    #[test]
    fn stopwords_of_every_language_are_left_out() {
        assert_eq!(tokens("the cache and the database"), ["cache", "database"]);
        assert_eq!(
            tokens("der Cache und die Datenbank"),
            ["cache", "datenbank"]
        );
        assert!(is_stopword("because") && is_stopword("und") && !is_stopword("cache"));
    }

    #[test]
    fn word_count_counts_latin_words_and_cjk_pairs() {
        assert_eq!(word_count("Don't stop-believing, 3.5 times"), 5);
        assert_eq!(word_count("数据显示增长"), 3);
        assert!(word_count_exceeds("数据显示增长", 2) && !word_count_exceeds("数据显示增长", 3));
        // Mixed scripts: ASCII read byte by byte, the rest as characters.
        let mixed = "Über 20 Prozent — 数据显示 l'été’s café-au-lait AI模型";
        assert_eq!(word_count(mixed), 9);
        for limit in 0..12 {
            assert_eq!(word_count_exceeds(mixed, limit), limit < 9, "limit {limit}");
        }
    }

    #[test]
    fn normalize_whitespace_collapses_runs() {
        assert_eq!(normalize_whitespace("  a\n b\t\tc  "), "a b c");
    }
}
