//! What a sentence looks like: an ad read, a greeting, a sign-off, filler, a
//! question, or a claim with reasons. Phrase lists for English, German and
//! Chinese (plus a little Japanese), matched on whole words for Latin scripts
//! and as substrings for CJK.
//!
//! The lists were grown from the ads, intros and outros of the real
//! transcripts in `shared/corpus` (Talk Python, Podnews, Buzzcast, Changelog);
//! `tests/builtin_corpus.rs` checks that none of those ends up as an insight.

use std::collections::HashMap;
use std::sync::LazyLock;

use meridian_core::text::{is_cjk, word_count};

/// Sponsorship and ad reads: a sentence with one of these is an ad, and opens
/// an ad span (see `ad_spans` in the engine).
const AD: &[&str] = &[
    "brought to you by",
    "is sponsored by",
    "sponsored and hosted by",
    "hosted and sponsored by",
    "tickets are on sale",
    "tickets are now on sale",
    "on sale now",
    "sponsored by our friends",
    "our sponsor",
    "our sponsors",
    "today's sponsor",
    "this week's sponsor",
    "episode sponsor",
    "a word from our sponsor",
    "word from our sponsors",
    "thanks to our sponsor",
    "thanks to our sponsors",
    "thank you to our sponsor",
    "thank you to our sponsors",
    "support for this podcast",
    "support for this show",
    "support for this episode",
    "podcast is supported by",
    "episode is supported by",
    "show is supported by",
    "for supporting the show",
    "for supporting the podcast",
    "for supporting this episode",
    "for supporting this podcast",
    "for sponsoring",
    "promo code",
    "coupon code",
    "discount code",
    "offer code",
    "use code",
    "use the code",
    "use my code",
    "percent off",
    "free trial",
    "special offer",
    "exclusive offer",
    "limited time offer",
    // German
    "gesponsert",
    "unser sponsor",
    "sponsor dieser folge",
    "sponsor der folge",
    "partner dieser folge",
    "präsentiert von",
    "unterstützt von",
    "rabattcode",
    "gutscheincode",
    "mit dem code",
    "werbepause",
    "enthält werbung",
    "bezahlte werbung",
    "unbezahlte werbung",
];

/// Sponsorship in Chinese and Japanese, matched as substrings.
const AD_CJK: &[&str] = &[
    "赞助",
    "本期节目由",
    "冠名",
    "优惠码",
    "优惠券",
    "折扣码",
    "促销码",
    "广告时间",
    "插播一条广告",
    "以下是广告",
    "广告之后",
    "本期广告",
    "购买链接",
    "点击链接",
    "限时优惠",
    "提供赞助",
    "スポンサー",
    "提供でお送り",
];

/// Greetings, host introductions and show self-promotion.
const GREETING: &[&str] = &[
    "here's that conversation",
    "here's our conversation",
    "here is our conversation",
    "welcome to my podcast",
    "welcome to my show",
    "welcome to our show",
    "without further ado",
    "here's my conversation with",
    "here is my conversation with",
    "let's connect on",
    "connect with me on",
    "find me on",
    "social links",
    "welcome to the show",
    "welcome to the podcast",
    "welcome to another episode",
    "welcome to episode",
    "welcome back to the show",
    "welcome back to",
    "welcome back everyone",
    "welcome back everybody",
    "welcome in",
    "welcome everybody",
    "welcome everyone",
    "welcome aboard",
    "hello and welcome",
    "hey everybody",
    "hey everyone",
    "hey folks",
    "hey guys",
    "hello everybody",
    "hello everyone",
    "hello folks",
    "hi everybody",
    "hi everyone",
    "good morning everyone",
    "i'm your host",
    "i am your host",
    "this is your host",
    "your host",
    "your hosts",
    "my co host",
    "my cohost",
    "i'm joined by",
    "we're joined by",
    "we are joined by",
    "i'm joined today",
    "joined today by",
    "glad to be joined",
    "joining me today",
    "joining us today",
    "with me today",
    "with us today",
    "thanks for coming on",
    "thank you for coming on",
    "thanks for having me",
    "thank you for having me",
    "thanks for having us",
    "thank you for having us",
    "thanks for being here",
    "thank you for being here",
    "thanks for joining me",
    "thank you for joining me",
    "great to have you",
    "good to have you",
    "nice to have you",
    "happy to have you",
    "awesome to have you",
    "to have you back",
    "to have you on",
    "happy to be here",
    "glad to be here",
    "great to be here",
    "good to be here",
    "nice to be here",
    "happy to be back",
    "great to be back",
    "good to be back",
    "how are you doing",
    "how are you today",
    "how're you doing",
    "how's it going",
    "let's kick this off",
    "let's kick it off",
    "let's get started",
    "let's get into it",
    "let's dive in",
    "let's dive into it",
    "let's jump in",
    "let's jump right in",
    "this is episode",
    "is a podcast that",
    "is a podcast about",
    "is a podcast for",
    "is a weekly podcast",
    "is a daily podcast",
    "podcast is hosted by",
    "show is hosted by",
    "follow me on",
    "follow us on",
    "follow the show",
    "follow the podcast",
    "keep up with the show",
    "subscribe to our",
    // German
    "willkommen",
    "hallo zusammen",
    "hallo und herzlich",
    "servus und",
    "ich bin euer host",
    "ich bin eure gastgeberin",
    "ich bin euer gastgeber",
    "heute zu gast",
    "schön dass du da bist",
    "schön dass ihr dabei seid",
];

/// Greetings in Chinese and Japanese.
const GREETING_CJK: &[&str] = &[
    "欢迎收听",
    "欢迎来到",
    "欢迎回到",
    "欢迎大家",
    "大家好",
    "各位听众",
    "我是主持人",
    "我是你们的主持人",
    "我是本期主持人",
    "主持人是",
    "本期节目",
    "今天的嘉宾",
    "今天我们请到",
    "欢迎嘉宾",
    "こんにちは",
    "ようこそ",
];

/// Sign-offs and calls to subscribe, rate or share.
const OUTRO: &[&str] = &[
    "for coming back",
    "for listening",
    "for tuning in",
    "for joining us",
    "for joining me",
    "for having me",
    "for having us",
    "for coming on",
    "for being on",
    "for taking the time",
    "for taking time",
    "dear listener",
    "dear listeners",
    "tune in next week",
    "see y'all",
    "see you later",
    "see you all next",
    "will return next week",
    "back next week",
    "support us",
    "support the show",
    "supporting the show",
    "helps support the show",
    "grow the show",
    "give us feedback",
    "send us a",
    "become a supporter",
    "become a member",
    "become a patron",
    "patreon",
    "you can subscribe",
    "our music is",
    "music is from",
    "our voiceover",
    "theme music",
    "our producer",
    "our editor is",
    "leave a link",
    "the link is in",
    "links are in",
    "links are all in",
    "link is in your",
    "thanks for listening",
    "thank you for listening",
    "thanks so much for listening",
    "thank you so much for listening",
    "thanks for tuning in",
    "thank you for tuning in",
    "see you next time",
    "see you next week",
    "see you in the next",
    "until next time",
    "till next time",
    "catch you next time",
    "talk to you soon",
    "talk to you next",
    "that's all for",
    "that's it for today",
    "that's it for this",
    "that's our show",
    "that's the show",
    "this has been another episode",
    "this has been episode",
    "thank you for being on the show",
    "thanks for being on the show",
    "thank you all for being on the show",
    "thank you for coming on the show",
    "thanks for coming on the show",
    "thanks for joining us",
    "thank you for joining us",
    "don't forget to subscribe",
    "be sure to subscribe",
    "make sure to subscribe",
    "make sure you subscribe",
    "hit subscribe",
    "hit the subscribe",
    "subscribe to the show",
    "subscribe to the podcast",
    "subscribe wherever",
    "rate and review",
    "rate review",
    "leave a review",
    "leave us a review",
    "leave a rating",
    "five star review",
    "five star rating",
    "wherever you get your podcasts",
    "wherever you listen",
    "share this episode",
    "tell a friend",
    "tell your friends",
    "bye bye",
    "goodbye everyone",
    "take care everyone",
    "signing off",
    "until next week",
    "we're out of time",
    "we are out of time",
    "wrap it up",
    "wrap things up",
    "before we wrap",
    "final thoughts",
    // German
    "danke fürs zuhören",
    "danke für's zuhören",
    "vielen dank fürs zuhören",
    "danke für eure aufmerksamkeit",
    "bis zum nächsten mal",
    "bis zur nächsten folge",
    "bis nächste woche",
    "bis bald",
    "tschüss",
    "abonniert",
    "abonnieren",
    "bewertet uns",
    "empfehlt uns",
];

/// Sign-offs in Chinese and Japanese.
const OUTRO_CJK: &[&str] = &[
    "感谢收听",
    "谢谢收听",
    "感谢大家收听",
    "谢谢大家收听",
    "感谢您的收听",
    "我们下期再见",
    "下期再见",
    "下次再见",
    "下周再见",
    "记得订阅",
    "订阅我们",
    "点赞",
    "转发",
    "关注我们",
    "五星好评",
    "好评",
    "评论区",
    "一键三连",
    "拜拜",
    "ご視聴ありがとう",
    "ご清聴ありがとう",
    "チャンネル登録",
    "また次回",
];

/// Calls to action that, with a web address, make a sentence promotion.
const CALL_TO_ACTION: &[&str] = &[
    "become a",
    "you can become",
    "get tickets",
    "get your tickets",
    "buy tickets",
    "tickets",
    "you can find",
    "you'll find",
    "find us",
    "browse",
    "visit",
    "visiting",
    "go to",
    "head to",
    "head over to",
    "check out",
    "check them out",
    "check it out",
    "sign up",
    "get started",
    "download",
    "find out more",
    "learn more",
    "link is in",
    "in the show notes",
    "in your show notes",
    "show notes",
    "besucht",
    "schaut vorbei",
];

/// Words that only hint at an intro when they come in the first few percent of
/// an episode ("this is the Podnews Weekly Review", "in this episode…").
const HEAD_HINT: &[&str] = &[
    "welcome",
    "episode",
    "podcast",
    "show",
    "recorded",
    "today on",
    "on today's",
    "in today's",
    "coming up",
    "later in the show",
    "in the chapters",
    "my name is",
    "i'm your",
    "host",
    "newsletter",
    "folge",
    "sendung",
];

/// Words that only hint at an outro in the last few percent of an episode.
const TAIL_HINT: &[&str] = &[
    "thank you",
    "thanks",
    "appreciate it",
    "bye",
    "music",
    "this has been",
    "where can people",
    "where can folks",
    "where can listeners",
    "find you online",
    "last question",
    "anything else",
    "danke",
];

/// Hints in Chinese for the first / last few percent.
const HEAD_HINT_CJK: &[&str] = &["本期", "今天", "节目", "播客"];
const TAIL_HINT_CJK: &[&str] = &["谢谢", "感谢", "再见"];

/// Cues of a claim, a finding or a line of reasoning.
const CLAIM: &[&str] = &[
    "because",
    "the reason",
    "reason why",
    "which means",
    "that means",
    "this means",
    "means that",
    "the key",
    "key is",
    "turns out",
    "the data",
    "data shows",
    "research",
    "study",
    "studies",
    "we found",
    "found that",
    "the result",
    "the problem is",
    "the trick",
    "the lesson",
    "the point is",
    "the difference",
    "the biggest",
    "most important",
    "important",
    "therefore",
    "in fact",
    "evidence",
    "percent",
    "on average",
    "compared to",
    "instead of",
    "the goal",
    "the idea is",
    "what matters",
    "matters",
    "the benefit",
    "the advantage",
    "the downside",
    "the risk",
    "the way to",
    "weil",
    "deshalb",
    "das bedeutet",
    "der grund",
    "wichtig",
    "daher",
    "studie",
    "prozent",
    "tatsächlich",
    "ergebnis",
    "entscheidend",
    "der schlüssel",
];

/// Claim cues in Chinese.
const CLAIM_CJK: &[&str] = &[
    "因为",
    "所以",
    "关键",
    "意味着",
    "研究发现",
    "数据显示",
    "研究",
    "数据",
    "结果",
    "重要",
    "原因",
    "发现",
    "证明",
    "增长",
    "下降",
    "百分之",
    "因此",
    "核心",
];

/// Openings that continue the previous sentence's reasoning.
const CONTINUATION: &[&str] = &[
    "because",
    "so",
    "that means",
    "which means",
    "this means",
    "that's why",
    "this is why",
    "therefore",
    "and that's",
    "and so",
    "in other words",
    "for example",
    "for instance",
    "which is why",
    "weil",
    "deshalb",
    "das bedeutet",
    "also",
    "zum beispiel",
    "daher",
];

/// Openings that make no sense without the previous sentence, so that a
/// picked sentence starting this way takes its predecessor along.
const NEEDS_CONTEXT: &[&str] = &[
    "because",
    "that means",
    "which means",
    "this means",
    "that's why",
    "this is why",
    "which is why",
    "therefore",
    "das bedeutet",
    "deshalb",
    "daher",
];

/// Openings in Chinese that need the previous sentence.
const NEEDS_CONTEXT_CJK: &[&str] = &["因为", "所以", "这意味着", "因此", "这就是为什么"];

/// Continuation openings in Chinese.
const CONTINUATION_CJK: &[&str] = &[
    "因为",
    "所以",
    "这意味着",
    "也就是说",
    "因此",
    "比如",
    "例如",
    "这就是为什么",
];

/// Openings of small talk, and markers of laughter and crosstalk.
const CHIT_CHAT_OPENING: &[&str] = &[
    "i think",
    "i mean",
    "i guess",
    "i don't know",
    "i feel like",
    "i remember",
    "i was like",
    "i'm like",
    "you know",
    "oh",
    "ha",
    "haha",
    "well i",
    "i love",
    "i'm sure",
];
const CHIT_CHAT_ANYWHERE: &[&str] = &[
    "laughs",
    "laughter",
    "haha",
    "lol",
    "crosstalk",
    "unintelligible",
];

/// Words that carry nothing on their own in speech. Sorted (a test checks),
/// for binary search.
const FILLER: &[&str] = &[
    "a",
    "absolutely",
    "all",
    "alright",
    "and",
    "anyway",
    "anyways",
    "awesome",
    "but",
    "cool",
    "erm",
    "exactly",
    "good",
    "great",
    "hmm",
    "i",
    "interesting",
    "is",
    "it",
    "it's",
    "just",
    "know",
    "like",
    "mean",
    "mm",
    "nice",
    "no",
    "oh",
    "ok",
    "okay",
    "really",
    "right",
    "so",
    "sure",
    "thank",
    "thanks",
    "that",
    "that's",
    "the",
    "this",
    "totally",
    "true",
    "uh",
    "um",
    "was",
    "well",
    "wow",
    "yeah",
    "yep",
    "yes",
    "you",
];

/// Greeting words that open a sentence ("Hi Buzzsprout, Gillian here…",
/// "Welcome to Podcasting Q&A…").
const GREETING_OPENING: &[&str] = &[
    "you're listening to",
    "you are listening to",
    "welcome",
    "hi",
    "hey",
    "hello",
    "howdy",
    "greetings",
    "good morning",
    "good evening",
    "good afternoon",
    "hallo",
    "servus",
    "moin",
];

/// Openings that leave a sentence leaning on what came before.
const DANGLING_OPENING: &[&str] = &[
    "and", "but", "or", "like", "um", "uh", "yeah", "well", "okay", "ok", "anyway", "und", "aber",
];

/// Words that may come before an opening ("So, I think…", "Yeah, and that
/// means…") without changing what the opening says.
const LEAD_IN: &[&str] = &[
    "also", "and", "anyway", "but", "like", "now", "oh", "ok", "okay", "plus", "so", "uh", "um",
    "well", "yeah", "yes",
];

/// Disfluencies: each one makes a quote harder to read.
const DISFLUENCY: &[&str] = &[
    "um", "uh", "erm", "you know", "i mean", "kind of", "sort of", "like", "gonna", "kinda",
];

/// Fewest words a sentence needs to carry a claim.
pub(super) const MIN_WORDS: usize = 6;

/// The phrase lists by what they say about a sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ad,
    Greeting,
    GreetingOpening,
    Outro,
    CallToAction,
    HeadHint,
    TailHint,
    Claim,
    Continuation,
    NeedsContext,
    ChitChatOpening,
    ChitChat,
    Dangling,
    Disfluency,
}

impl Kind {
    fn bit(self) -> u32 {
        1 << (self as u32)
    }

    /// Kinds that only count at the start of a sentence.
    fn opening_only(self) -> bool {
        matches!(
            self,
            Self::GreetingOpening
                | Self::Continuation
                | Self::NeedsContext
                | Self::ChitChatOpening
                | Self::Dangling
        )
    }
}

/// One phrase of a list: its kind, a number (claims are counted distinct) and
/// its words after the first.
#[derive(Debug)]
struct Phrase {
    kind: Kind,
    id: usize,
    rest: Vec<&'static str>,
}

/// Every Latin-script phrase, by its first word. Matching walks a sentence's
/// words once and looks each up here, instead of searching the sentence once
/// per phrase: a few hundred phrases × a couple of thousand sentences would
/// otherwise dominate the engine's run time.
static PHRASES: LazyLock<HashMap<&'static str, Vec<Phrase>>> = LazyLock::new(|| {
    let lists: [(Kind, &[&'static str]); 14] = [
        (Kind::Ad, AD),
        (Kind::Greeting, GREETING),
        (Kind::GreetingOpening, GREETING_OPENING),
        (Kind::Outro, OUTRO),
        (Kind::CallToAction, CALL_TO_ACTION),
        (Kind::HeadHint, HEAD_HINT),
        (Kind::TailHint, TAIL_HINT),
        (Kind::Claim, CLAIM),
        (Kind::Continuation, CONTINUATION),
        (Kind::NeedsContext, NEEDS_CONTEXT),
        (Kind::ChitChatOpening, CHIT_CHAT_OPENING),
        (Kind::ChitChat, CHIT_CHAT_ANYWHERE),
        (Kind::Dangling, DANGLING_OPENING),
        (Kind::Disfluency, DISFLUENCY),
    ];
    let mut index: HashMap<&'static str, Vec<Phrase>> = HashMap::new();
    let mut id = 0;
    for (kind, list) in lists {
        for phrase in list {
            let mut words = phrase.split(' ');
            if let Some(first) = words.next() {
                index.entry(first).or_default().push(Phrase {
                    kind,
                    id,
                    rest: words.collect(),
                });
                id += 1;
            }
        }
    }
    index
});

/// What [`scan`] finds in a sentence.
#[derive(Debug, Default)]
struct Found {
    /// Bit set of [`Kind::bit`].
    kinds: u32,
    /// Distinct claim phrases.
    claims: usize,
    /// Disfluencies, counted with repeats.
    disfluencies: usize,
}

/// Finds the phrases in `words`. Opening kinds count at the first word, or
/// after up to three lead-in words ("so", "and", "yeah"…), except
/// [`Kind::Dangling`], which *is* a lead-in and counts only first.
fn scan(words: &[&str]) -> Found {
    let opening_end = words
        .iter()
        .take(3)
        .take_while(|w| LEAD_IN.binary_search(w).is_ok())
        .count();
    let mut found = Found::default();
    let mut claims: Vec<usize> = Vec::new();
    for (pos, word) in words.iter().enumerate() {
        let Some(phrases) = PHRASES.get(word) else {
            continue;
        };
        for phrase in phrases {
            let allowed = match phrase.kind {
                Kind::Dangling => pos == 0,
                kind if kind.opening_only() => pos <= opening_end,
                _ => true,
            };
            if !allowed
                || !words
                    .get(pos + 1..)
                    .is_some_and(|after| after.starts_with(&phrase.rest))
            {
                continue;
            }
            found.kinds |= phrase.kind.bit();
            match phrase.kind {
                Kind::Claim => claims.push(phrase.id),
                Kind::Disfluency => found.disfluencies += 1,
                _ => {}
            }
        }
    }
    claims.sort_unstable();
    claims.dedup();
    found.claims = claims.len();
    found
}

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
    /// Looks like an intro when it comes at the very beginning.
    pub head_hint: bool,
    /// Looks like an outro when it comes at the very end.
    pub tail_hint: bool,
    /// Too short, or nothing but filler.
    pub filler: bool,
    /// Has a few content words (less strict than not `filler`): enough to
    /// extend a neighbour.
    pub has_content: bool,
    /// Comparison tokens ([`meridian_core::text::tokens`]): content words,
    /// or CJK bigrams.
    pub content: usize,
    /// Ends with a question mark.
    pub question: bool,
    /// Ends like a sentence (not a piece cut out of a run-on).
    pub complete: bool,
    /// First-person small talk, laughter.
    pub chit_chat: bool,
    /// Opens with "and", "but", "like"…: leans on what came before.
    pub dangling: bool,
    /// Distinct claim cues (a number counts as one).
    pub claims: usize,
    /// Disfluencies ("um", "you know", "like"), with repeats.
    pub disfluencies: usize,
    /// Starts in lowercase: a piece of a run-on, or a sentence cut by the
    /// transcriber.
    pub fragment: bool,
    /// Opens by continuing the previous sentence ("because…", "so…").
    pub continues: bool,
    /// Opens in a way that needs the previous sentence ("that means…").
    pub needs_context: bool,
    /// Length in [`word_count`] words.
    pub length: usize,
    /// Lowercase words joined by single spaces, padded with a space each side.
    pub words: String,
}

impl Cues {
    /// Reads `sentence`, whose comparison tokens
    /// ([`meridian_core::text::tokens`]) number `content`.
    pub fn of(sentence: &str, content: usize) -> Self {
        let words = normalized_words(sentence);
        let list: Vec<&str> = words.split(' ').filter(|w| !w.is_empty()).collect();
        let found = scan(&list);
        let has = |kind: Kind| found.kinds & kind.bit() != 0;

        // CJK phrases are substrings; skip them for sentences without CJK.
        let (mut cjk_chars, mut number) = (0, false);
        for c in sentence.chars() {
            if c.is_ascii() {
                number |= c.is_ascii_digit() || c == '%';
            } else {
                cjk_chars += usize::from(is_cjk(c));
            }
        }
        let opening = sentence.trim_start();
        let has_cjk =
            |phrases: &[&str]| cjk_chars > 0 && phrases.iter().any(|p| sentence.contains(p));
        let starts_cjk =
            |phrases: &[&str]| cjk_chars > 0 && phrases.iter().any(|p| opening.starts_with(p));
        let cjk_claims = if cjk_chars > 0 {
            CLAIM_CJK.iter().filter(|p| sentence.contains(*p)).count()
        } else {
            0
        };

        let web = web_addresses(sentence, &list);
        // Only sentences with an opener's key word can name a sponsor.
        let maybe_sponsor = list.iter().any(|w| {
            matches!(
                *w,
                "sponsored" | "brought" | "presented" | "supported" | "supporting" | "sponsoring"
            )
        });
        let sponsor = if maybe_sponsor {
            sponsor_name(sentence)
        } else {
            None
        };
        let length = word_count(sentence);
        let substance = list
            .iter()
            .filter(|w| FILLER.binary_search(w).is_err())
            .count()
            + cjk_chars / 2;
        let ending = sentence.trim_end_matches(|c: char| {
            matches!(c, '"' | '\'' | '”' | '’' | ')' | ']' | '」' | '』' | '）')
                || c.is_whitespace()
        });
        Self {
            ad: has(Kind::Ad) || has_cjk(AD_CJK) || sponsor.is_some(),
            sponsor,
            promotion: web.with_path || (web.any && has(Kind::CallToAction)),
            web_address: web.any,
            greeting: has(Kind::Greeting) || has(Kind::GreetingOpening) || has_cjk(GREETING_CJK),
            outro: has(Kind::Outro) || has_cjk(OUTRO_CJK),
            head_hint: has(Kind::HeadHint) || has_cjk(HEAD_HINT_CJK),
            tail_hint: has(Kind::TailHint) || has_cjk(TAIL_HINT_CJK),
            filler: length < MIN_WORDS || content < 3 || substance < 3,
            has_content: content >= 2,
            content,
            question: ending.ends_with('?') || ending.ends_with('？'),
            complete: ending.ends_with(['.', '!', '?', '…', '。', '！', '？', '；']),
            chit_chat: has(Kind::ChitChatOpening) || has(Kind::ChitChat),
            dangling: has(Kind::Dangling),
            claims: found.claims + cjk_claims + usize::from(number),
            disfluencies: found.disfluencies,
            fragment: sentence
                .chars()
                .find(|c| c.is_alphanumeric())
                .is_some_and(char::is_lowercase),
            continues: has(Kind::Continuation) || starts_cjk(CONTINUATION_CJK),
            needs_context: has(Kind::NeedsContext) || starts_cjk(NEEDS_CONTEXT_CJK),
            length,
            words,
        }
    }

    /// Whether the sentence can never be (part of) an insight.
    pub fn is_noise(&self) -> bool {
        self.ad || self.promotion || self.greeting || self.outro
    }

    /// Whether the sentence names `name` (a sponsor) as a word.
    pub fn mentions(&self, name: &str) -> bool {
        has_phrase(&self.words, name)
    }
}

/// Lowercase words (letters, digits, inner apostrophes) joined by single
/// spaces, with a space at each end so that phrases match whole words.
fn normalized_words(sentence: &str) -> String {
    let mut out = String::with_capacity(sentence.len() + 2);
    out.push(' ');
    let mut chars = sentence.chars().peekable();
    let mut previous_alnum = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
            previous_alnum = true;
        } else if c.is_alphanumeric() && !is_cjk(c) {
            out.extend(c.to_lowercase());
            previous_alnum = true;
        } else if matches!(c, '\'' | '’')
            && previous_alnum
            && chars.peek().is_some_and(|n| n.is_alphanumeric())
        {
            out.push('\'');
        } else {
            if !out.ends_with(' ') {
                out.push(' ');
            }
            previous_alnum = false;
        }
    }
    if !out.ends_with(' ') {
        out.push(' ');
    }
    out
}

/// Whether `words` (from [`normalized_words`]) contains `phrase` as whole words.
fn has_phrase(words: &str, phrase: &str) -> bool {
    words.match_indices(phrase).any(|(i, _)| {
        let before = words.as_bytes().get(i.wrapping_sub(1)).copied();
        let after = words.as_bytes().get(i + phrase.len()).copied();
        before == Some(b' ') && after == Some(b' ')
    })
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
fn web_addresses(sentence: &str, words: &[&str]) -> WebAddresses {
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
    if words
        .windows(2)
        .any(|pair| pair[0] == "dot" && matches!(pair[1], "com" | "org" | "fm" | "net" | "io"))
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
    fn word_lists_are_sorted_for_binary_search() {
        assert!(FILLER.windows(2).all(|w| w[0] < w[1]));
        assert!(LEAD_IN.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn greeting_words_opening_a_sentence_are_greetings() {
        assert!(cues("Welcome to Podcasting Q&A, where you learn the best tips.").greeting);
        assert!(cues("Hi Buzzsprout, Gillian here from the careers podcast.").greeting);
        assert!(!cues("They said hi to everyone who came to the booth.").greeting);
    }
}
