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

/// Finds phrases of a list in lower-cased text, all at once (Aho-Corasick):
/// a phrase in a Latin script matches whole words only (`art` is not found
/// in `start`), a phrase with CJK characters anywhere (CJK text has no
/// spaces between words).
#[derive(Debug, Clone)]
pub struct PhraseMatcher {
    automaton: Option<AhoCorasick>,
    phrases: Vec<String>,
    cjk: Vec<bool>,
}

impl PhraseMatcher {
    /// A matcher for these (lower-case) phrases.
    #[must_use]
    pub fn new<'a>(phrases: impl IntoIterator<Item = &'a str>) -> Self {
        let mut list: Vec<String> = Vec::new();
        for p in phrases {
            let p = p.trim();
            if !p.is_empty() && !list.iter().any(|q| q == p) {
                list.push(p.to_owned());
            }
        }
        let automaton = AhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .build(&list)
            .ok();
        let cjk = list.iter().map(|p| p.chars().any(is_cjk)).collect();
        Self {
            automaton,
            phrases: list,
            cjk,
        }
    }

    /// A matcher for one list over every language (see [`all`]).
    #[must_use]
    pub fn for_list(name: &str) -> Self {
        Self::new(all(name))
    }

    /// A matcher for one list of one language plus, when given, more phrases.
    #[must_use]
    pub fn for_language(language: &str, name: &str) -> Self {
        Self::new(list(language, name).iter().map(String::as_str))
    }

    /// Whether the matcher has no phrases.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.phrases.is_empty()
    }

    /// Every match in `lower` (which must be lower-cased), as the phrase's
    /// index and its byte range, in order of their end.
    pub fn find_all<'a>(
        &'a self,
        lower: &'a str,
    ) -> impl Iterator<Item = (usize, std::ops::Range<usize>)> + 'a {
        self.automaton
            .iter()
            .flat_map(move |ac| ac.find_overlapping_iter(lower))
            .filter_map(move |m| {
                let id = m.pattern().as_usize();
                let range = m.range();
                (self.cjk[id] || whole_words(lower, range.clone())).then_some((id, range))
            })
    }

    /// Whether any phrase occurs in `lower`.
    #[must_use]
    pub fn is_match(&self, lower: &str) -> bool {
        self.find_all(lower).next().is_some()
    }

    /// The first phrase (by position) found in `lower`.
    #[must_use]
    pub fn first(&self, lower: &str) -> Option<&str> {
        self.find_all(lower)
            .min_by_key(|(_, r)| r.start)
            .map(|(id, _)| self.phrases[id].as_str())
    }

    /// How many distinct phrases occur in `lower`.
    #[must_use]
    pub fn count_distinct(&self, lower: &str) -> usize {
        let mut seen: Vec<usize> = self.find_all(lower).map(|(id, _)| id).collect();
        seen.sort_unstable();
        seen.dedup();
        seen.len()
    }

    /// The phrase with this index.
    #[must_use]
    pub fn phrase(&self, id: usize) -> &str {
        self.phrases.get(id).map_or("", String::as_str)
    }
}

/// Finds the phrases of several lists in one pass over a text: one
/// automaton for every phrase of every list (a phrase in several lists is
/// one pattern), each match reported with the lists it belongs to. The same
/// matching rules as [`PhraseMatcher`].
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
    /// A matcher for the named lists, each over every language.
    #[must_use]
    pub fn new(names: &[&str]) -> Self {
        let mut phrases: Vec<&'static str> = Vec::new();
        let mut lists: Vec<Vec<usize>> = Vec::new();
        for (index, name) in names.iter().enumerate() {
            for phrase in all(name) {
                match phrases.iter().position(|p| *p == phrase) {
                    Some(at) => {
                        if !lists[at].contains(&index) {
                            lists[at].push(index);
                        }
                    }
                    None => {
                        phrases.push(phrase);
                        lists.push(vec![index]);
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
            lists,
            cjk,
        }
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
    fn lists_skip_comments_and_blank_lines_and_lowercase() {
        assert_eq!(
            parse_list("# a comment\n\n  Laughter \nMUSIC\n"),
            ["laughter", "music"]
        );
    }

    #[test]
    fn latin_phrases_match_whole_words_and_cjk_anywhere() {
        let m = PhraseMatcher::new(["art", "thank you", "点赞"]);
        assert!(!m.is_match("a good start"));
        assert!(m.is_match("the art of it"));
        assert!(m.is_match("well, thank you!"));
        assert!(!m.is_match("thank yourself"));
        assert!(m.is_match("请不吝点赞订阅"));
        assert_eq!(m.first("thank you for the art"), Some("thank you"));
        assert_eq!(m.count_distinct("art art thank you"), 2);
        assert!(PhraseMatcher::new(["%"]).is_match("grew 40% a year"));
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
        assert!(PhraseMatcher::new([]).first("anything").is_none());
    }
}
