//! Language resources: the word and phrase lists that the transcript
//! normaliser, the builtin insight engine and the text utilities read, kept
//! as data in the repository's `lang/` folder — one folder a language (`en`,
//! `de`, `zh`), one `.txt` file a list — and compiled into the binary.
//!
//! A list file holds one entry a line; blank lines and lines starting with
//! `#` are ignored; entries are lower-cased when loaded. The lists a language
//! may have, and what reads them, are described in `lang/README.md`. Adding a
//! language means adding a folder with these files; adding a phrase means
//! adding a line. No Rust changes.
//!
//! Lists are looked up by language (`en-US` and `en` both find `en`) or as the
//! union over every language ([`all`]): speech-recognition artefacts and
//! annotations are recognised whatever the episode's declared language, since
//! declared languages are often wrong.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use crate::text::is_cjk;

/// (language, list, text) for every `lang/<language>/<list>.txt`.
static FILES: &[(&str, &str, &str)] = include!(concat!(env!("OUT_DIR"), "/lang_files.rs"));

/// Every list, parsed once on first use.
static LISTS: LazyLock<BTreeMap<(&'static str, &'static str), Vec<String>>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|&(language, list, text)| ((language, list), parse_list(text)))
        .collect()
});

fn parse_list(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_lowercase)
        .collect()
}

/// The languages that have resources (`["de", "en", "zh"]`), sorted.
#[must_use]
pub fn languages() -> Vec<&'static str> {
    let mut codes: Vec<&'static str> = FILES.iter().map(|&(code, _, _)| code).collect();
    codes.dedup();
    codes
}

/// The primary language subtag of a BCP-47 tag, lower-cased: `en-US` → `en`,
/// `zh_CN` → `zh`.
#[must_use]
pub fn primary(tag: &str) -> String {
    tag.split(['-', '_'])
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// The names of every list any language has (`claim_cause`, `filler`, …),
/// sorted, without repeats.
#[must_use]
pub fn list_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = FILES.iter().map(|&(_, name, _)| name).collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// One language's list (`list("de-DE", "filler")`); empty when the language
/// or the list does not exist.
#[must_use]
pub fn list(language: &str, name: &str) -> &'static [String] {
    let code = primary(language);
    LISTS
        .iter()
        .find(|((l, n), _)| *l == code && *n == name)
        .map_or(&[], |(_, entries)| entries.as_slice())
}

/// A list's entries over every language, in language order, without
/// repeats.
#[must_use]
pub fn all(name: &str) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for ((_, n), entries) in LISTS.iter() {
        if *n == name {
            for e in entries {
                if !out.contains(&e.as_str()) {
                    out.push(e);
                }
            }
        }
    }
    out
}

/// What [`identify`] makes of a text's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identified {
    /// The text is in this language (a folder of `lang/`).
    Language(&'static str),
    /// The text is long enough to tell, and it is in none of the languages
    /// of `lang/`: a declared language that has lists there is wrong.
    Unknown,
    /// Too little text, or no clear answer: keep what the source declares.
    Undecided,
}

/// Words (Latin script) or CJK characters read to identify a language.
const IDENTIFY_SAMPLE: usize = 2000;
/// Fewer Latin-script words than this decide nothing.
const IDENTIFY_MIN_WORDS: usize = 100;
/// A language's `stopwords` must cover at least this share of the words…
const IDENTIFY_SHARE: f64 = 0.2;
/// …and this many times the next language's share.
const IDENTIFY_MARGIN: f64 = 3.0;
/// Below this share for every language, the text is in none of them.
const IDENTIFY_NONE: f64 = 0.1;

/// Which language `text` is in, from the language resources alone.
///
/// Running speech is dense with function words, so the share of a text's
/// words that a language's `stopwords` list covers tells its language apart:
/// about 0.35–0.6 for its own language in the corpus' transcripts, under 0.08
/// for another language. CJK text is told by its script: kana make it
/// Japanese, Han characters alone Chinese (when those languages have a
/// folder); Hangul is in none of the shipped languages. Reads the first
/// 2,000 words. A language added under `lang/` with a
/// `stopwords` list is recognised without code changes.
#[must_use]
pub fn identify(text: &str) -> Identified {
    static STOPWORDS: LazyLock<Vec<(&'static str, std::collections::HashSet<&'static str>)>> =
        LazyLock::new(|| {
            languages()
                .into_iter()
                .map(|code| {
                    (
                        code,
                        list(code, "stopwords").iter().map(String::as_str).collect(),
                    )
                })
                .filter(|(_, words): &(&str, std::collections::HashSet<&str>)| !words.is_empty())
                .collect()
        });
    let (mut latin, mut han, mut kana, mut hangul) = (0_usize, 0_usize, 0_usize, 0_usize);
    let mut hits = vec![0_usize; STOPWORDS.len()];
    let mut word = String::new();
    let mut flush = |word: &mut String, latin: &mut usize| {
        if !word.is_empty() {
            *latin += 1;
            for (hit, (_, words)) in hits.iter_mut().zip(STOPWORDS.iter()) {
                if words.contains(word.as_str()) {
                    *hit += 1;
                }
            }
            word.clear();
        }
    };
    for c in text.chars() {
        if latin + (han + kana + hangul) / 2 >= IDENTIFY_SAMPLE {
            break;
        }
        match c as u32 {
            0x3040..=0x30FF => kana += 1,
            0xAC00..=0xD7AF => hangul += 1,
            _ if is_cjk(c) => han += 1,
            _ if c.is_alphabetic() => word.extend(c.to_lowercase()),
            _ if matches!(c, '\'' | '’') && !word.is_empty() => word.push('\''),
            _ => flush(&mut word, &mut latin),
        }
    }
    flush(&mut word, &mut latin);
    let cjk = han + kana + hangul;
    let has = |code: &str| languages().contains(&code);
    if cjk / 2 > latin {
        return if hangul * 2 > cjk {
            Identified::Unknown
        } else if kana * 10 >= han + kana && has("ja") {
            Identified::Language("ja")
        } else if has("zh") {
            Identified::Language("zh")
        } else {
            Identified::Unknown
        };
    }
    if latin < IDENTIFY_MIN_WORDS || STOPWORDS.is_empty() {
        return Identified::Undecided;
    }
    #[expect(clippy::cast_precision_loss, reason = "word counts")]
    let mut shares: Vec<(f64, &'static str)> = STOPWORDS
        .iter()
        .zip(&hits)
        .map(|((code, _), &n)| (n as f64 / latin as f64, *code))
        .collect();
    shares.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    let best = shares[0];
    let second = shares.get(1).map_or(0.0, |s| s.0);
    if best.0 >= IDENTIFY_SHARE && best.0 >= IDENTIFY_MARGIN * second {
        Identified::Language(best.1)
    } else if best.0 < IDENTIFY_NONE {
        Identified::Unknown
    } else {
        Identified::Undecided
    }
}

/// Finds the phrases of several lists in one pass over a text: one
/// automaton for every phrase of every list (a phrase in several lists is
/// one pattern), each match reported with the lists it belongs to. A phrase
/// in a Latin script matches whole words only (`art` is not found in
/// `start`), a phrase with CJK characters anywhere (CJK text has no spaces
/// between words).
#[derive(Debug, Clone)]
pub struct ListsMatcher {
    automaton: Option<AhoCorasick>,
    /// For each pattern, the indexes (into the names given) of its lists.
    lists: Vec<Vec<usize>>,
    cjk: Vec<bool>,
}

/// One phrase found by [`ListsMatcher::scan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListHit<'a> {
    /// Indexes of the lists holding the phrase, as given to
    /// [`ListsMatcher::new`].
    pub lists: &'a [usize],
    /// Where it is in the text.
    pub range: std::ops::Range<usize>,
}

impl ListsMatcher {
    /// A matcher for the named lists of `lang/`, each over every language.
    #[must_use]
    pub fn new(names: &[&str]) -> Self {
        let lists: Vec<Vec<&str>> = names.iter().map(|name| all(name)).collect();
        Self::from_lists(&lists)
    }

    /// A matcher for these lists of (lower-case) phrases.
    #[must_use]
    pub fn from_lists(lists: &[Vec<&str>]) -> Self {
        let mut phrases: Vec<&str> = Vec::new();
        let mut owners: Vec<Vec<usize>> = Vec::new();
        for (index, list) in lists.iter().enumerate() {
            for phrase in list.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
                match phrases.iter().position(|p| *p == phrase) {
                    Some(at) => {
                        if !owners[at].contains(&index) {
                            owners[at].push(index);
                        }
                    }
                    None => {
                        phrases.push(phrase);
                        owners.push(vec![index]);
                    }
                }
            }
        }
        let automaton = AhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .kind(Some(aho_corasick::AhoCorasickKind::DFA))
            .build(&phrases)
            .ok();
        let cjk = phrases.iter().map(|p| p.chars().any(is_cjk)).collect();
        Self {
            automaton,
            lists: owners,
            cjk,
        }
    }

    /// Whether any phrase occurs in `lower`.
    #[must_use]
    pub fn is_match(&self, lower: &str) -> bool {
        !self.scan(lower).is_empty()
    }

    /// Every phrase in `lower` (which must be lower-cased), in order of its
    /// end.
    #[must_use]
    pub fn scan(&self, lower: &str) -> Vec<ListHit<'_>> {
        let Some(ac) = &self.automaton else {
            return Vec::new();
        };
        ac.find_overlapping_iter(lower)
            .filter_map(|m| {
                let id = m.pattern().as_usize();
                let range = m.range();
                (self.cjk[id] || whole_words(lower, range.clone())).then(|| ListHit {
                    lists: &self.lists[id],
                    range,
                })
            })
            .collect()
    }
}

/// Whether `phrase` occurs in `text` as whole words (both lower-cased), the
/// way [`ListsMatcher`] matches a Latin-script phrase: for a single phrase,
/// without building an automaton.
#[must_use]
pub fn contains_words(text: &str, phrase: &str) -> bool {
    !phrase.is_empty()
        && text
            .match_indices(phrase)
            .any(|(at, _)| whole_words(text, at..at + phrase.len()))
}

/// Whether `range` of `text` starts and ends at word boundaries. A phrase
/// edge that is itself no letter (`%`, `+`) needs no boundary there.
fn whole_words(text: &str, range: std::ops::Range<usize>) -> bool {
    let is_word = |c: char| c.is_alphanumeric() || c == '\'' || c == '’';
    let phrase = &text[range.clone()];
    let before = text[..range.start].chars().next_back();
    let after = text[range.end..].chars().next();
    let open = !phrase.chars().next().is_some_and(is_word) || before.is_none_or(|c| !is_word(c));
    let close =
        !phrase.chars().next_back().is_some_and(is_word) || after.is_none_or(|c| !is_word(c));
    open && close
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_language_has_its_lists() {
        let codes = languages();
        for code in ["de", "en", "zh"] {
            assert!(codes.contains(&code), "{code} in {codes:?}");
            assert!(!list(code, "non_speech").is_empty(), "{code}: non_speech");
        }
        assert_eq!(list("en-US", "non_speech"), list("en", "non_speech"));
        assert!(list("xx", "non_speech").is_empty());
        assert!(list("en", "no-such-list").is_empty());
    }

    #[test]
    fn texts_are_identified_by_their_function_words_or_script() {
        let en = "So the way I think about it is that you have to start with the \
                  users and what they need, and then you can work out what the system \
                  should do. ";
        let de = "Also ich glaube, dass das eigentlich gar nicht so schwer ist, wenn man \
                  sich vorher überlegt, was man mit den Daten machen will und wer sie \
                  am Ende wirklich braucht. ";
        let es = "Bueno, hoy vamos a hablar de cómo funciona el mercado de la vivienda y \
                  por qué los precios siguen subiendo aunque los salarios no lo hacen. ";
        assert_eq!(identify(&en.repeat(5)), Identified::Language("en"));
        assert_eq!(identify(&de.repeat(5)), Identified::Language("de"));
        assert_eq!(identify(&es.repeat(5)), Identified::Unknown);
        assert_eq!(identify(en), Identified::Undecided, "too short to tell");
        assert_eq!(
            identify("我觉得这个问题其实没有那么复杂，关键是你要先想清楚数据给谁用。"),
            Identified::Language("zh")
        );
        assert_eq!(
            identify("私はこの問題がそれほど複雑ではないと思います。"),
            Identified::Language("ja")
        );
        assert_eq!(
            identify("오늘은 부동산 시장에 대해 이야기해 보겠습니다."),
            Identified::Unknown
        );
        assert_eq!(identify(""), Identified::Undecided);
    }

    #[test]
    fn lists_skip_comments_and_blank_lines_and_lowercase() {
        assert_eq!(
            parse_list("# a comment\n\n  Laughter \nMUSIC\n"),
            ["laughter", "music"]
        );
    }

    #[test]
    fn latin_phrases_match_whole_words_and_cjk_anywhere() {
        let m = ListsMatcher::from_lists(&[vec!["art", "thank you", "点赞"]]);
        let text = |t: &'static str, h: &ListHit<'_>| &t[h.range.clone()];
        assert!(!m.is_match("a good start"));
        assert!(m.is_match("the art of it"));
        assert!(m.is_match("well, thank you!"));
        assert!(!m.is_match("thank yourself"));
        assert!(m.is_match("请不吝点赞订阅"));
        let first = m.scan("thank you for the art");
        let earliest = first.iter().min_by_key(|h| h.range.start);
        assert_eq!(
            earliest.map(|h| text("thank you for the art", h)),
            Some("thank you")
        );
        let mut distinct: Vec<&str> = m
            .scan("art art thank you")
            .iter()
            .map(|h| text("art art thank you", h))
            .collect();
        distinct.dedup();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), 2);
        assert!(ListsMatcher::from_lists(&[vec!["%"]]).is_match("grew 40% a year"));
        assert!(contains_words("the art of it", "art") && !contains_words("a start", "art"));
    }

    #[test]
    fn several_lists_are_scanned_at_once() {
        let m = ListsMatcher::new(&["non_speech", "hallucinations"]);
        let hits = m.scan("[laughter] thanks for watching");
        assert!(
            hits.iter()
                .any(|h| h.lists == [0] && &"[laughter] thanks"[h.range.clone()] == "laughter")
        );
        assert!(hits.iter().any(|h| h.lists == [1]));
        assert!(m.scan("nothing here").is_empty());
        assert!(ListsMatcher::from_lists(&[]).scan("anything").is_empty());
    }
}
