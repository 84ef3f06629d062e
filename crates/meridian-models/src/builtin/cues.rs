//! What a sentence looks like: an ad read, a greeting, housekeeping, a
//! sign-off, filler, a question, a sentence that leans on the one before, or
//! a claim — and how strong a claim.
//!
//! Every word and phrase list comes from the language resources in `lang/`
//! (see `meridian_core::lang`), over every language at once: a German phrase
//! does not occur in an English sentence, and a transcript's declared language
//! is often wrong. Latin-script phrases match whole words of the lower-cased
//! sentence; phrases with CJK characters match anywhere. *Opening* lists
//! (`greeting_opening`, `continuation`, `needs_context`, `chit_chat_opening`,
//! `question_opening`) count at the sentence's first word or after up to three
//! `lead_in` words ("So, what …"); `dangling_opening` and `pronoun_opening` count
//! at the very first word only.
//!
//! Claims are recognised by *families* of cues — every `claim_*` list is one:
//! conditionals, contrast, advice, principles and findings, cause, a number
//! with its meaning — and a sentence's claim strength is the number of
//! distinct families it shows. One "because" or one bare number is no claim:
//! a cause family needs the cause inside the sentence (a sentence that opens
//! with it needs its predecessor instead), and a number counts only with its
//! unit or comparison (`claim_quantity`).

use std::sync::LazyLock;

use meridian_core::lang::{self, ListHit, ListsMatcher};
use meridian_core::text::{WordSet, is_cjk, word_count};

/// Fewest words a sentence needs to carry a claim.
pub(super) const MIN_WORDS: usize = 6;

/// The phrase lists, in the order of [`LIST_NAMES`]; each matched over every
/// language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
enum List {
    Sponsor,
    Greeting,
    GreetingOpening,
    Outro,
    Housekeeping,
    CallToAction,
    IntroHint,
    OutroHint,
    Continuation,
    NeedsContext,
    ChitChatOpening,
    ChitChat,
    DanglingOpening,
    PronounOpening,
    QuestionOpening,
    Disfluency,
    Referring,
}

/// The file names of [`List`]'s lists, in its order.
const LIST_NAMES: [&str; 17] = [
    "sponsor",
    "greeting",
    "greeting_opening",
    "outro",
    "housekeeping",
    "call_to_action",
    "intro_hint",
    "outro_hint",
    "continuation",
    "needs_context",
    "chit_chat_opening",
    "chit_chat",
    "dangling_opening",
    "pronoun_opening",
    "question_opening",
    "disfluency",
    "referring",
];

/// Every phrase list, and the claim families after them, in one automaton:
/// a sentence is scanned once.
struct Lists {
    matcher: ListsMatcher,
    /// How many claim families follow the lists of [`LIST_NAMES`].
    families: usize,
    question_ending: Vec<&'static str>,
    /// Single words.
    filler: WordSet<&'static str>,
    lead_in: WordSet<&'static str>,
}

static LISTS: LazyLock<Lists> = LazyLock::new(|| {
    // Every `claim_*` list of any language is one family.
    let families: Vec<&'static str> = lang::list_names()
        .into_iter()
        .filter(|n| n.starts_with("claim_"))
        .collect();
    let names: Vec<&str> = LIST_NAMES
        .iter()
        .copied()
        .chain(families.iter().copied())
        .collect();
    Lists {
        matcher: ListsMatcher::new(&names),
        families: families.len(),
        question_ending: lang::all("question_ending"),
        filler: lang::all("filler").into_iter().collect(),
        lead_in: lang::all("lead_in").into_iter().collect(),
    }
});

/// What a sentence looks like.
#[derive(Debug, Clone, Default)]
pub(super) struct Cues {
    /// An ad read (sponsorship, promo code).
    pub ad: bool,
    /// The sponsor named after "brought to you by"/"sponsored by", lowercase.
    pub sponsor: Option<String>,
    /// A call to action with a web address, or a web address with a path.
    pub promotion: bool,
    /// Mentions a web address at all.
    pub web_address: bool,
    /// A greeting, host introduction or show self-promotion.
    pub greeting: bool,
    /// A sign-off or call to subscribe/rate/share.
    pub outro: bool,
    /// Housekeeping: what comes later in the show, breaks, links, polls,
    /// other shows.
    pub housekeeping: bool,
    /// Looks like an intro when it comes at the very beginning.
    pub head_hint: bool,
    /// Looks like an outro when it comes at the very end.
    pub tail_hint: bool,
    /// Too short, or nothing but filler.
    pub filler: bool,
    /// Has a few content words (less strict than not `filler`): enough to
    /// extend a neighbour.
    pub has_content: bool,
    /// Asks rather than tells: a question mark, a question opening or a
    /// question particle.
    pub question: bool,
    /// Ends like a sentence (not a piece cut out of a run-on).
    pub complete: bool,
    /// First-person small talk, laughter.
    pub chit_chat: bool,
    /// Opens with "and", "but", "like"…: leans on what came before.
    pub dangling: bool,
    /// Opens with a word that refers back ("it", "they", "das", "他").
    pub refers_back: bool,
    /// Distinct claim families shown.
    pub claims: usize,
    /// Disfluencies ("um", "you know", "like"), with repeats.
    pub disfluencies: usize,
    /// Words that refer to something said before ("it", "they", "das",
    /// "他们"), anywhere in the sentence: the more of them per word, the
    /// less the sentence is understood alone.
    pub referring: usize,
    /// Starts in lowercase: a piece of a run-on, or a sentence cut by the
    /// transcriber.
    pub fragment: bool,
    /// Opens by continuing the previous sentence ("because…", "so…").
    pub continues: bool,
    /// Opens in a way that needs the previous sentence ("that means…").
    pub needs_context: bool,
    /// Names and other specific terms (see [`specifics`]); set by the
    /// engine, which knows whether the episode capitalises its nouns.
    pub specifics: usize,
    /// Length in [`word_count`] words.
    pub length: usize,
    /// The sentence, lower-cased, with typographic apostrophes made plain.
    pub lower: String,
}

impl Cues {
    /// Reads `sentence`, whose comparison tokens
    /// ([`meridian_core::text::tokens`]) number `content`.
    pub fn of(sentence: &str, content: usize) -> Self {
        let lists = &*LISTS;
        let mut lower = sentence.to_lowercase();
        if lower.contains(['’', '‘']) {
            lower = lower.replace(['’', '‘'], "'");
        }
        let words = word_spans(&lower);
        // The opening: after up to three lead-in words.
        let lead = words
            .iter()
            .take(3)
            .take_while(|r| lists.lead_in.contains(&lower[(*r).clone()]))
            .count();
        let first = words.first().map_or(0, |r| r.start);
        let opening = words.get(lead).map_or(first, |r| r.start);
        let trimmed = lower.trim_start_matches(|c: char| !c.is_alphanumeric());
        let cjk_start = lower.len() - trimmed.len();
        let hits = lists.matcher.scan(&lower);
        let in_list = |hit: &ListHit<'_>, list: List| hit.lists.contains(&(list as usize));
        let has = |list: List| hits.iter().any(|h| in_list(h, list));
        let opens = |list: List| {
            hits.iter()
                .any(|h| in_list(h, list) && [first, opening, cjk_start].contains(&h.range.start))
        };
        let opens_first = |list: List| {
            hits.iter()
                .any(|h| in_list(h, list) && [first, cjk_start].contains(&h.range.start))
        };
        let web = web_addresses(sentence, &lower);
        let sponsor = if has(List::Sponsor)
            || [
                "sponsored",
                "brought",
                "presented",
                "supported",
                "supporting",
                "sponsoring",
            ]
            .iter()
            .any(|w| lower.contains(w))
        {
            sponsor_name(sentence)
        } else {
            None
        };
        let length = word_count(sentence);
        let cjk_chars = sentence.chars().filter(|c| is_cjk(*c)).count();
        let substance = words
            .iter()
            .filter(|r| !lists.filler.contains(&lower[(*r).clone()]))
            .count()
            + cjk_chars / 2;
        let ending = sentence.trim_end_matches(|c: char| {
            matches!(c, '"' | '\'' | '”' | '’' | ')' | ']' | '」' | '』' | '）')
                || c.is_whitespace()
        });
        let bare_end = ending.trim_end_matches(|c: char| !c.is_alphanumeric());
        let question = ending.ends_with(['?', '？'])
            || opens(List::QuestionOpening)
            || lists.question_ending.iter().any(|e| bare_end.ends_with(e));
        // A family counts when one of its phrases stands inside the sentence:
        // a cause that opens the sentence is the previous sentence's cause,
        // not a claim of this one.
        let openings = [first, opening, cjk_start];
        let claims = (0..lists.families)
            .filter(|f| {
                hits.iter().any(|h| {
                    h.lists.contains(&(LIST_NAMES.len() + f)) && !openings.contains(&h.range.start)
                })
            })
            .count();
        Self {
            ad: has(List::Sponsor) || sponsor.is_some(),
            sponsor,
            promotion: web.with_path || (web.any && has(List::CallToAction)),
            web_address: web.any,
            greeting: has(List::Greeting) || opens(List::GreetingOpening),
            outro: has(List::Outro),
            housekeeping: has(List::Housekeeping),
            head_hint: has(List::IntroHint),
            tail_hint: has(List::OutroHint),
            filler: length < MIN_WORDS || content < 3 || substance < 3,
            has_content: content >= 2,
            question,
            complete: ending.ends_with(['.', '!', '?', '…', '。', '！', '？', '；']),
            chit_chat: opens(List::ChitChatOpening) || has(List::ChitChat),
            dangling: opens_first(List::DanglingOpening),
            refers_back: opens_first(List::PronounOpening),
            claims,
            disfluencies: hits.iter().filter(|h| in_list(h, List::Disfluency)).count(),
            referring: referring_words(&hits),
            fragment: sentence
                .chars()
                .find(|c| c.is_alphanumeric())
                .is_some_and(char::is_lowercase),
            continues: opens(List::Continuation),
            needs_context: opens(List::NeedsContext),
            specifics: 0,
            length,
            lower,
        }
    }

    /// Whether the sentence can never be (part of) an insight.
    pub fn is_noise(&self) -> bool {
        self.ad || self.promotion || self.greeting || self.outro || self.housekeeping
    }

    /// Whether the sentence names `name` (a sponsor) as a word.
    pub fn mentions(&self, name: &str) -> bool {
        lang::contains_words(&self.lower, name)
    }
}

/// Words of the `referring` lists among `hits`, each place counted once
/// (`他们` and the `他` inside it are one word).
fn referring_words(hits: &[ListHit<'_>]) -> usize {
    let mut starts: Vec<usize> = hits
        .iter()
        .filter(|h| h.lists.contains(&(List::Referring as usize)))
        .map(|h| h.range.start)
        .collect();
    starts.sort_unstable();
    starts.dedup();
    starts.len()
}

/// Words of `sentence` split for capital checks: letters, digits and inner
/// apostrophes.
fn latin_words(sentence: &str) -> impl Iterator<Item = &str> {
    sentence
        .split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '’'))
        .filter(|w| !w.is_empty() && !w.chars().any(is_cjk))
}

fn starts_upper(word: &str) -> bool {
    word.chars().next().is_some_and(char::is_uppercase)
}

/// Whether the text of these sentences capitalises its nouns (German): a
/// capital there names nothing. Decided over the whole episode, where a
/// name-dense sentence cannot tip it: more than one word in eight inside a
/// sentence starts with a capital (English speech: about one in twenty).
pub(super) fn capitalises_nouns<'a>(sentences: impl Iterator<Item = &'a str>) -> bool {
    let (mut inner, mut capitalised) = (0_usize, 0_usize);
    for sentence in sentences {
        for word in latin_words(sentence).skip(1) {
            inner += 1;
            if starts_upper(word) {
                capitalised += 1;
            }
        }
    }
    inner >= 30 && capitalised * 8 > inner
}

/// Counts the distinct specific terms of `sentence`: acronyms and words with
/// two capitals (`GitHub`), words mixing letters and digits (`MP3s`), Latin
/// words inside CJK text (`AI`), and — unless the episode capitalises its
/// nouns ([`capitalises_nouns`]) — capitalised words inside the sentence
/// (names: `Jenkins`), not counting `I`.
pub(super) fn specifics(sentence: &str, nouns_capitalised: bool) -> usize {
    let cjk = sentence.chars().any(is_cjk);
    let mut seen: Vec<&str> = Vec::new();
    for (index, word) in latin_words(sentence).enumerate() {
        let letters = word.chars().filter(|c| c.is_alphabetic()).count();
        let digits = word.chars().filter(char::is_ascii_digit).count();
        let capitals = word.chars().filter(|c| c.is_uppercase()).count();
        let specific = (letters > 0 && digits > 0)
            || capitals >= 2
            || (cjk && letters >= 2)
            || (!cjk
                && !nouns_capitalised
                && index > 0
                && starts_upper(word)
                && letters >= 2
                && !word.starts_with("I'")
                && !word.starts_with("I’"));
        if specific && !seen.contains(&word) {
            seen.push(word);
        }
    }
    seen.len()
}

/// Byte ranges of the words (letters and digits, inner apostrophes) of a
/// lower-cased sentence; a CJK run counts as one word here.
fn word_spans(lower: &str) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut chars = lower.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let inner_apostrophe =
            c == '\'' && start.is_some() && chars.peek().is_some_and(|(_, n)| n.is_alphanumeric());
        if c.is_alphanumeric() || inner_apostrophe {
            if start.is_none() {
                start = Some(i);
            }
        } else if let Some(s) = start.take() {
            out.push(s..i);
        }
    }
    if let Some(s) = start {
        out.push(s..lower.len());
    }
    out
}

/// Top-level domains that, after a dot, make a word a web address.
const TLDS: &[&str] = &[
    "com", "fm", "org", "net", "io", "co", "ai", "dev", "app", "tv", "me", "ly", "show", "news",
    "cn", "de", "uk", "eu", "us", "info", "gg", "so", "link", "page", "xyz", "at", "ch",
];

#[derive(Debug, Default)]
struct WebAddresses {
    any: bool,
    with_path: bool,
}

/// Finds web addresses ("talkpython.fm/sentry", "www.example.com", "example
/// dot com").
fn web_addresses(sentence: &str, lower: &str) -> WebAddresses {
    let mut found = WebAddresses::default();
    for raw in sentence.split_whitespace() {
        if !raw.contains(['.', '/']) {
            continue;
        }
        let word = raw.trim_matches(|c: char| !c.is_alphanumeric() && c != '/');
        let lower = word.to_lowercase();
        let (host, path) = match lower.split_once('/') {
            Some((host, path)) => (host, !path.is_empty()),
            None => (lower.as_str(), false),
        };
        let is_address = lower.starts_with("http") && lower.contains("://")
            || host.starts_with("www.")
            || host.rsplit_once('.').is_some_and(|(name, tld)| {
                !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '@'))
                    && TLDS.contains(&tld)
            });
        if is_address {
            found.any = true;
            found.with_path |= path;
        }
    }
    if [" dot com", " dot org", " dot fm", " dot net", " dot io"]
        .iter()
        .any(|d| lower.contains(d))
    {
        found.any = true;
    }
    found
}

/// The sponsor in "sponsored by Buzzsprout", "brought to you by Sentry",
/// "thank you to BaseDash for supporting": the capitalised word after the
/// phrase, lowercase. A lowercase word ("sponsored by someone") is no sponsor.
fn sponsor_name(sentence: &str) -> Option<String> {
    const OPENERS: &[&[&str]] = &[
        &["sponsored", "by"],
        &["sponsored", "and", "hosted", "by"],
        &["brought", "to", "you", "by"],
        &["presented", "by"],
        &["supported", "by"],
        &["thank", "you", "to"],
        &["thanks", "to"],
    ];
    let raw: Vec<&str> = sentence
        .split(|c: char| !(c.is_alphanumeric() || matches!(c, '\'' | '’' | '.')))
        .filter(|w| !w.is_empty())
        .collect();
    let lower: Vec<String> = raw.iter().map(|w| w.to_lowercase()).collect();
    for opener in OPENERS {
        for start in 0..lower.len() {
            let matches = opener
                .iter()
                .enumerate()
                .all(|(k, w)| lower.get(start + k).is_some_and(|l| l == w));
            if !matches {
                continue;
            }
            let Some(name) = raw.get(start + opener.len()) else {
                continue;
            };
            let capitalised = name.chars().next().is_some_and(char::is_uppercase);
            // "thanks to Python's typing…" is no sponsorship: only count the
            // gratitude openers when the sentence says what for.
            let thanks = opener[0] == "thank" || opener[0] == "thanks";
            let for_support = lower.iter().any(|w| {
                matches!(
                    w.as_str(),
                    "supporting" | "sponsoring" | "support" | "sponsor" | "sponsors"
                )
            });
            if capitalised && (!thanks || for_support) {
                let name = name.trim_end_matches('.').to_lowercase();
                if !matches!(
                    name.as_str(),
                    "the" | "our" | "my" | "this" | "you" | "i" | "we"
                ) {
                    return Some(name);
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use meridian_core::text::tokens;

    use super::*;

    fn cues(sentence: &str) -> Cues {
        Cues::of(sentence, tokens(sentence).len())
    }

    #[test]
    fn names_acronyms_and_latin_terms_in_cjk_are_specific_but_german_nouns_are_not() {
        let english = [
            "We moved the whole build from Jenkins to GitHub Actions last year.",
            "I think it is the best thing we did, and I'd do it again.",
            "The cache was never warm on the other machines, so every build started cold.",
            "That cost us about twenty minutes a build, which adds up over a week of work.",
        ];
        let german = [
            "Die Band hat den Vertrag mit dem Label nie wirklich gelesen.",
            "Die Band zahlt bei DistroKid im Jahr 25 Dollar für MP3s.",
            "Das ist eigentlich der Punkt, an dem die meisten Musiker ihr Geld verlieren.",
            "Wer den Vertrag liest, sieht sofort, wie klein der Anteil am Streaming ist.",
        ];
        assert!(!capitalises_nouns(english.iter().copied()));
        assert!(capitalises_nouns(german.iter().copied()));
        assert_eq!(specifics(english[0], false), 3, "Jenkins, GitHub, Actions");
        assert_eq!(specifics(english[1], false), 0, "I, I'd");
        assert_eq!(
            specifics(german[0], true),
            0,
            "capitalised nouns name nothing"
        );
        assert_eq!(specifics(german[1], true), 2, "DistroKid, MP3s");
        assert_eq!(specifics("我觉得 AI 和 PVP 游戏其实是一回事。", false), 2);
    }

    #[test]
    fn sponsorship_is_an_ad_and_names_the_sponsor() {
        let found = cues("This episode is sponsored by BaseDash.");
        assert!(found.ad);
        assert_eq!(found.sponsor.as_deref(), Some("basedash"));
        assert_eq!(
            cues("And it's brought to you by Sentry.")
                .sponsor
                .as_deref(),
            Some("sentry")
        );
        assert_eq!(
            cues("Thank you to BaseDash for supporting the podcast.")
                .sponsor
                .as_deref(),
            Some("basedash")
        );
        assert!(cues("Use promo code PODCAST for 20 percent off your first order.").ad);
    }

    #[test]
    fn sponsorship_of_something_else_is_not_an_ad() {
        let found = cues("Those Kaggle competitions are sponsored by someone who needs a model.");
        assert!(!found.ad, "{found:?}");
        assert!(!cues("Thanks to Python's typing we caught the bug before release.").ad);
    }

    #[test]
    fn web_addresses_with_calls_to_action_are_promotion() {
        assert!(cues("Get started for free at talkpython.fm/BaseDash.").promotion);
        assert!(cues("Check them out by visiting example.com today.").promotion);
        assert!(!cues("The index has 4.1 million podcasts right now.").promotion);
        assert!(!cues("We moved from Node.js to Python 3.12 for the backend.").web_address);
    }

    #[test]
    fn greetings_and_sign_offs_are_recognised_in_three_languages() {
        for greeting in [
            "Welcome to the show, Mark.",
            "This is your host, Michael Kennedy.",
            "Hey everybody, it's a big week.",
            "欢迎收听本期节目，我是主持人小王。",
            "Herzlich willkommen zu einer neuen Folge.",
        ] {
            assert!(cues(greeting).greeting, "{greeting}");
        }
        for outro in [
            "Thanks so much for listening, I really appreciate it.",
            "Don't forget to subscribe and rate and review us.",
            "感谢收听，我们下期再见。",
            "Danke fürs Zuhören und bis zum nächsten Mal.",
        ] {
            assert!(cues(outro).outro, "{outro}");
        }
    }

    #[test]
    fn content_about_advertising_is_not_an_ad() {
        for sentence in [
            "71% of people say that they want funny podcast ads.",
            "数据显示，播客广告应该更有趣，因为听众更喜欢幽默。",
            "Podcast-Werbung sollte lustiger sein, weil Hörer das mögen.",
        ] {
            let found = cues(sentence);
            assert!(!found.is_noise(), "{sentence}: {found:?}");
        }
    }

    #[test]
    fn filler_and_short_sentences_carry_no_claim() {
        assert!(cues("Um, yeah, so, anyway.").filler);
        assert!(cues("Yeah, exactly, that's true, I mean.").filler);
        assert!(cues("That's awesome.").filler);
        assert!(!cues("The cache made our API ten times faster.").filler);
    }

    #[test]
    fn claims_questions_and_continuations_are_seen() {
        let found = cues("It turns out 71% of listeners skip ads because they are boring.");
        assert!(found.claims >= 3, "{found:?}");
        assert!(cues("But how's that working out for us?").question);
        assert!(cues("So that means the cache wins.").continues);
        assert!(cues("这意味着缓存更快。").continues);
        assert!(cues("I think it was, like, two months ago.").chit_chat);
        assert!(cues("So, yeah, I think it was fine.").chit_chat);
        assert!(!cues("The team I think of is small.").chit_chat);
        assert_eq!(cues("Um, you know, it's like, uh, fine.").disfluencies, 4);
        assert!(cues("get in the directory, then when you publish").fragment);
        assert!(cues("And then the cache grew without bounds.").dangling);
        assert!(cues("Our cache grew without bounds.").complete);
        assert!(!cues("our cache grew without bounds and then we").complete);
    }

    #[test]
    fn greeting_words_opening_a_sentence_are_greetings() {
        assert!(cues("Welcome to Podcasting Q&A, where you learn the best tips.").greeting);
        assert!(cues("Hi Buzzsprout, Gillian here from the careers podcast.").greeting);
        assert!(!cues("They said hi to everyone who came to the booth.").greeting);
    }
}
