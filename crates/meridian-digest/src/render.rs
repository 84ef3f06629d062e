//! Rendering: a [`Digest`] → subject line, HTML part and plain-text part, in
//! the region's locale.
//!
//! ```
//! use meridian_core::{Digest, Locale, RegionId};
//! use meridian_digest::render::{RenderContext, render_digest};
//!
//! let digest = Digest {
//!     region: RegionId::parse("eu").unwrap(),
//!     date: chrono::NaiveDate::from_ymd_opt(2026, 11, 27).unwrap(),
//!     items: vec![],
//!     short_of_strong_insights: false,
//! };
//! let ctx = RenderContext {
//!     locale: Locale::parse("de-DE").unwrap(),
//!     region_name: "Europäische Union".to_owned(),
//!     timezone: chrono_tz::Europe::Berlin,
//!     ai_label: "KI-generierter Inhalt".to_owned(),
//!     unsubscribe_url: None,
//!     archive_url: None,
//! };
//! let out = render_digest(&digest, &ctx).unwrap();
//! assert_eq!(out.subject, "Heute keine neuen Podcast-Erkenntnisse — Freitag, 27. November 2026");
//! assert!(out.text.starts_with("KI-generierter Inhalt"));
//! ```
//!
//! The templates (`templates/digest.html`, `templates/digest.txt`) are
//! embedded in the binary and compiled once. They only lay things out: every
//! word in the reader's language is chosen here, from hand-written per-locale
//! tables, including weekday and month names, so that no ICU data
//! has to ship. The insights themselves stay in the episode's language; the
//! HTML marks them with a `lang` attribute instead of translating them.
//!
//! Each item shows the insight, the quote it rests on (once: not when the
//! insight *is* the quote, as with the builtin engine) with the speaker's
//! name where the transcript gives it, the podcast and episode, a "Listen at
//! 12:35" link to the episode's audio at that second and a link to the
//! episode's page beside it, and in plain words why it was picked (see
//! [`pick_reason`]). A digest the quality floor kept short says so.
//!
//! Supported: `en-US`, `zh-CN`, `de-DE`. Another locale falls back to the one
//! with the same language (`de-AT` → `de-DE`), then to `en-US`.

use std::sync::LazyLock;

use chrono::{Datelike, NaiveDate};
use meridian_core::text::{normalize_whitespace, strip_invisible};
use meridian_core::{Digest, DigestItem, Locale, ScoreComponents, format_offset};
use minijinja::value::{Serde, Value};
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

/// The locales that have their own strings; any other falls back (see
/// [`effective_locale`]).
pub const SUPPORTED_LOCALES: [&str; 3] = ["en-US", "zh-CN", "de-DE"];

const HTML_TEMPLATE: &str = "digest.html";
const TEXT_TEMPLATE: &str = "digest.txt";

/// What a digest needs besides itself to be rendered for one region.
#[derive(Debug, Clone)]
pub struct RenderContext {
    /// The region's locale; picks the strings and the date format.
    pub locale: Locale,
    /// The region's display name, e.g. `United States`.
    pub region_name: String,
    /// The region's timezone (the digest's date is a day in it).
    pub timezone: chrono_tz::Tz,
    /// The AI-generated-content label the region's jurisdiction requires,
    /// from the region's config; shown at the top of both parts.
    pub ai_label: String,
    /// The subscriber's one-click unsubscribe page, when known.
    pub unsubscribe_url: Option<String>,
    /// The digest's web archive page, when there is one.
    pub archive_url: Option<String>,
}

/// A digest ready to be mailed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedDigest {
    /// The subject line (one line, localised date).
    pub subject: String,
    /// The HTML part.
    pub html: String,
    /// The plain-text part, with the same content.
    pub text: String,
}

/// Why a digest could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The embedded templates failed to compile: a bug in this crate's
    /// templates, caught by every test that renders.
    #[error("the embedded digest templates failed to compile: {detail}")]
    Templates {
        /// minijinja's message, with the template name and line.
        detail: String,
    },
    /// A template failed while rendering one digest.
    #[error("rendering `{template}` for the `{region}` digest of {date} failed: {source}")]
    Render {
        /// The template's name (`digest.html` or `digest.txt`).
        template: &'static str,
        /// The digest's region.
        region: String,
        /// The digest's day.
        date: NaiveDate,
        /// minijinja's error.
        #[source]
        source: minijinja::Error,
    },
    /// A template of the confirmation email failed.
    #[error("rendering `{template}` of the confirmation email in `{locale}` failed: {source}")]
    Confirmation {
        /// The template's name (`confirmation.html` or `confirmation.txt`).
        template: &'static str,
        /// The locale asked for.
        locale: String,
        /// minijinja's error.
        #[source]
        source: minijinja::Error,
    },
}

/// Renders `digest` for the region described by `ctx`.
///
/// An empty digest renders too, as a short "no new insights today" message.
///
/// # Errors
/// [`RenderError`] when a template fails, naming the template and the digest.
pub fn render_digest(digest: &Digest, ctx: &RenderContext) -> Result<RenderedDigest, RenderError> {
    let env = ENVIRONMENT.as_ref().map_err(|e| RenderError::Templates {
        detail: format!("{e:#}"),
    })?;
    let lang = Lang::resolve(&ctx.locale);
    let view = View::new(digest, ctx, lang);
    let value = Value::from(Serde(&view));
    let render = |template: &'static str| {
        env.get_template(template)
            .and_then(|t| t.render(value.clone()))
            .map_err(|source| RenderError::Render {
                template,
                region: digest.region.to_string(),
                date: digest.date,
                source,
            })
    };
    Ok(RenderedDigest {
        html: render(HTML_TEMPLATE)?,
        text: render(TEXT_TEMPLATE)?,
        subject: view.subject,
    })
}

/// The locale whose strings are used for `locale`: itself when supported,
/// else the supported one with the same language, else `en-US`.
///
/// `meridian config check` can use it to warn about a locale without strings.
#[must_use]
pub fn effective_locale(locale: &Locale) -> &'static str {
    Lang::resolve(locale).tag()
}

/// A digest as a web page shows it (the server's archive): the same words,
/// localised date, labels, reasons and links as its email, as one template
/// value, so that the page cannot drift from what subscribers received.
/// Fields: `lang`, `subject`, `title`, `date`, `ai_label`, `notice` (the
/// "only N were strong enough" line, or none), `items` (each `number`,
/// `text`, `quote` (empty when the text is the quote), `speaker` or none,
/// `podcast`, `episode`, `lang`, `lang_badge`, `listen` = {`label`, `url`}
/// or none, `page` = {`label`, `url`} or none, `why`, `reason`), `labels`
/// (`from`, `why_picked`, `colon`, `empty`, `quote_open`, `quote_close`,
/// `speaker_dash`…), `footer`, `region_name`, `timezone`. Show URLs through
/// [`href`].
#[must_use]
pub fn digest_view(digest: &Digest, ctx: &RenderContext) -> Value {
    let lang = Lang::resolve(&ctx.locale);
    Value::from(Serde(&View::new(digest, ctx, lang)))
}

/// `date` written out in `locale`'s words, as in a digest's subject:
/// "Friday, 27 November 2026", "2026年11月27日 星期五",
/// "Freitag, 27. November 2026".
#[must_use]
pub fn format_date(locale: &Locale, date: NaiveDate) -> String {
    Lang::resolve(locale).format_date(date)
}

/// The "listen" link a digest item shows: the episode's audio at the moment
/// its quote starts (see [`moment_url`]), or the whole audio when the start is
/// unknown; `None` when the episode has no audio link (`http(s)` only: feed
/// data may carry any scheme). The episode's web page is a separate link
/// ([`DigestItem::episode_url`]), never given a time.
#[must_use]
pub fn item_link(item: &DigestItem) -> Option<String> {
    let audio = web_link(item.audio_url.as_deref())?;
    Some(moment_url(audio, item.insight.start))
}

/// Why a digest item was picked, in plain words in `locale`'s language, from
/// its score components: how substantive the passage is, whether it is new
/// to the reader, and how recent its episode is. For example "One of the most
/// substantive passages among the new episodes, new to you, from an episode
/// published in the last 24 hours." The numbers themselves stay in the
/// digest (and the archive's JSON) for auditors.
#[must_use]
pub fn pick_reason(locale: &Locale, score: &ScoreComponents) -> String {
    Lang::resolve(locale).reason(score)
}

/// Importance from which a pick counts as one of the most substantive
/// passages of the day's episodes, in [`pick_reason`].
pub const STRONG_IMPORTANCE: f64 = 0.75;
/// Novelty from which a pick counts as new to the reader (nothing like it
/// sent recently), in [`pick_reason`].
pub const FRESH_NOVELTY: f64 = 0.8;

/// The template environment, built once. Templates are embedded so a binary
/// never depends on files next to it; a template error is kept (not
/// panicked on) and returned by every render.
pub(crate) static ENVIRONMENT: LazyLock<Result<Environment<'static>, minijinja::Error>> =
    LazyLock::new(build_environment);

fn build_environment() -> Result<Environment<'static>, minijinja::Error> {
    let mut env = Environment::new();
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()?,
    );
    // A misspelt variable is an error in tests, not an empty spot in a
    // subscriber's inbox.
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.add_filter("href", href);
    // The default auto-escape callback escapes HTML for names ending in
    // `.html` and nothing for `.txt`, which is exactly what we want.
    env.add_template(HTML_TEMPLATE, include_str!("../templates/digest.html"))?;
    env.add_template(TEXT_TEMPLATE, include_str!("../templates/digest.txt"))?;
    env.add_template(
        crate::confirmation::HTML_TEMPLATE,
        include_str!("../templates/confirmation.html"),
    )?;
    env.add_template(
        crate::confirmation::TEXT_TEMPLATE,
        include_str!("../templates/confirmation.txt"),
    )?;
    Ok(env)
}

/// Template filter for `href` attributes: only `http(s)` and `mailto` links
/// survive (a feed could carry a `javascript:` URL), and the value is escaped
/// for a quoted attribute without turning `/` into `&#x2f;` as minijinja's
/// general HTML escape does, which keeps links readable to spam filters and
/// old clients. Public so that another template environment showing a
/// [`digest_view`] (the web archive) escapes its links the same way.
#[must_use]
pub fn href(url: String) -> Value {
    if !is_safe_link(&url) {
        return Value::from_safe_string(String::new());
    }
    let mut out = String::with_capacity(url.len());
    for c in url.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    Value::from_safe_string(out)
}

/// `url` trimmed, when it is a non-empty `http(s)` link.
fn web_link(url: Option<&str>) -> Option<&str> {
    url.map(str::trim).filter(|u| {
        !u.is_empty() && is_safe_link(u) && !u.to_ascii_lowercase().starts_with("mailto:")
    })
}

fn is_safe_link(url: &str) -> bool {
    let lower = url.trim_start().to_ascii_lowercase();
    ["http://", "https://", "mailto:"]
        .iter()
        .any(|scheme| lower.starts_with(scheme))
        && !url.chars().any(char::is_control)
}

/// The link to the moment a quote starts in the episode's audio: the audio
/// (enclosure) URL with a Media Fragments `#t=SECONDS`, whole seconds
/// (replacing any fragment it had); the URL unchanged when the start is
/// unknown. Browsers and players that know the syntax start playing there;
/// others play from the beginning. Meant for the audio file, not for a web
/// page, where the fragment means nothing.
#[must_use]
pub fn moment_url(audio_url: &str, start: Option<f64>) -> String {
    let base = audio_url.split('#').next().unwrap_or(audio_url);
    match start {
        Some(s) if s.is_finite() && s > 0.0 => {
            // Whole seconds, like the label next to it (format_offset floors).
            #[expect(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "finite and positive, floored"
            )]
            let secs = s.floor() as u64;
            format!("{base}#t={secs}")
        }
        Some(_) => format!("{base}#t=0"),
        None => audio_url.to_owned(),
    }
}

/// A BCP 47 tag as it may appear in an attribute: letters, digits and `-`.
/// Feed data is untrusted; anything else is dropped rather than escaped.
fn clean_language_tag(tag: &str) -> Option<String> {
    let tag = tag.trim();
    let ok = !tag.is_empty()
        && tag.len() <= 35
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    ok.then(|| tag.replace('_', "-"))
}

/// The languages with their own strings. A closed set: adding one means adding
/// an arm to every `match` below, which the compiler enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lang {
    En,
    Zh,
    De,
}

/// Fixed labels, one set per [`Lang`].
#[derive(Debug, Serialize)]
struct Labels {
    from: &'static str,
    why_picked: &'static str,
    colon: &'static str,
    unsubscribe: &'static str,
    archive: &'static str,
    empty: &'static str,
    quote_open: &'static str,
    quote_close: &'static str,
    /// Put before a speaker's name after a quote.
    speaker_dash: &'static str,
}

impl Lang {
    pub(crate) fn resolve(locale: &Locale) -> Self {
        match locale.as_str() {
            "en-US" => Self::En,
            "zh-CN" => Self::Zh,
            "de-DE" => Self::De,
            _ => match locale.language() {
                "zh" => Self::Zh,
                "de" => Self::De,
                _ => Self::En,
            },
        }
    }

    pub(crate) fn tag(self) -> &'static str {
        match self {
            Self::En => "en-US",
            Self::Zh => "zh-CN",
            Self::De => "de-DE",
        }
    }

    pub(crate) fn language(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Zh => "zh",
            Self::De => "de",
        }
    }

    fn labels(self) -> Labels {
        match self {
            Self::En => Labels {
                from: "From",
                why_picked: "Why this was picked",
                colon: ": ",
                unsubscribe: "Unsubscribe",
                archive: "View in browser",
                empty: "No new podcast insights today. We will be back tomorrow.",
                quote_open: "“",
                quote_close: "”",
                speaker_dash: "— ",
            },
            Self::Zh => Labels {
                from: "来自",
                why_picked: "入选理由",
                colon: "：",
                unsubscribe: "退订",
                archive: "在浏览器中查看",
                empty: "今天没有新的播客洞见，明天见。",
                quote_open: "“",
                quote_close: "”",
                speaker_dash: "——",
            },
            Self::De => Labels {
                from: "Aus",
                why_picked: "Warum ausgewählt",
                colon: ": ",
                unsubscribe: "Abbestellen",
                archive: "Im Browser ansehen",
                empty: "Heute gibt es keine neuen Podcast-Erkenntnisse. Morgen geht es weiter.",
                quote_open: "„",
                quote_close: "“",
                speaker_dash: "— ",
            },
        }
    }

    /// The heading, which is also the subject without its date.
    fn title(self, count: usize) -> String {
        match (self, count) {
            (Self::En, 0) => "No new podcast insights today".to_owned(),
            (Self::En, 1) => "Your top podcast insight".to_owned(),
            (Self::En, n) => format!("Your top {n} podcast insights"),
            (Self::Zh, 0) => "今日暂无新的播客洞见".to_owned(),
            (Self::Zh, 1) => "今日播客洞见".to_owned(),
            (Self::Zh, n) => format!("今日播客{}大洞见", chinese_numeral(n)),
            (Self::De, 0) => "Heute keine neuen Podcast-Erkenntnisse".to_owned(),
            (Self::De, 1) => "Ihre Top-Podcast-Erkenntnis".to_owned(),
            (Self::De, n) => format!("Ihre Top {n} Podcast-Erkenntnisse"),
        }
    }

    fn listen_at(self, offset: &str) -> String {
        match self {
            Self::En => format!("Listen at {offset}"),
            Self::Zh => format!("收听位置 {offset}"),
            Self::De => format!("Anhören ab {offset}"),
        }
    }

    fn listen_to_episode(self) -> &'static str {
        match self {
            Self::En => "Listen to the episode",
            Self::Zh => "收听节目",
            Self::De => "Folge anhören",
        }
    }

    fn episode_page(self) -> &'static str {
        match self {
            Self::En => "Episode page",
            Self::Zh => "节目页面",
            Self::De => "Seite der Folge",
        }
    }

    /// The line under the heading of a digest the quality floor kept short.
    fn only_strong(self, count: usize) -> String {
        match (self, count) {
            (Self::En, 1) => "Only one insight today was strong enough to send.".to_owned(),
            (Self::En, n) => format!("Only {n} insights today were strong enough to send."),
            (Self::Zh, n) => format!("今天只有{}条洞见足够有分量，值得发送。", chinese_numeral(n)),
            (Self::De, 1) => {
                "Heute war nur eine Erkenntnis stark genug, um sie zu versenden.".to_owned()
            }
            (Self::De, n) => {
                format!("Heute waren nur {n} Erkenntnisse stark genug, um sie zu versenden.")
            }
        }
    }

    fn footer(self, region: &str) -> String {
        match self {
            Self::En => format!(
                "You receive this daily podcast digest from Meridian as a subscriber in {region}."
            ),
            Self::Zh => format!("您订阅了 Meridian {region} 区域的每日播客摘要，因此收到此邮件。"),
            Self::De => format!(
                "Sie erhalten diesen täglichen Podcast-Digest von Meridian als Abonnent in der Region {region}."
            ),
        }
    }

    /// Why a pick was picked, in words (see [`pick_reason`]).
    fn reason(self, score: &ScoreComponents) -> String {
        let substance = match (self, score.importance >= STRONG_IMPORTANCE) {
            (Self::En, true) => "One of the most substantive passages among the new episodes",
            (Self::En, false) => "A substantive passage",
            (Self::Zh, true) => "新节目中最有分量的段落之一",
            (Self::Zh, false) => "内容扎实的段落",
            (Self::De, true) => "Eine der gehaltvollsten Passagen der neuen Folgen",
            (Self::De, false) => "Eine gehaltvolle Passage",
        };
        let novelty = match (self, score.novelty >= FRESH_NOVELTY) {
            (Self::En, true) => "new to you",
            (Self::En, false) => "unlike what you were sent lately",
            (Self::Zh, true) => "您此前没有读到过类似内容",
            (Self::Zh, false) => "与您近期收到的内容不同",
            (Self::De, true) => "neu für Sie",
            (Self::De, false) => "anders als das, was Sie zuletzt erhielten",
        };
        let mut parts = vec![substance.to_owned(), novelty.to_owned()];
        if let Some(hours) = age_hours(score.recency) {
            #[expect(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "finite, at least 48, floored"
            )]
            let days = (hours / 24.0).floor() as u64;
            parts.push(match (self, hours) {
                (Self::En, h) if h < 24.0 => {
                    "from an episode published in the last 24 hours".to_owned()
                }
                (Self::En, h) if h < 48.0 => {
                    "from an episode published in the last two days".to_owned()
                }
                (Self::En, _) => format!("from an episode published {days} days ago"),
                (Self::Zh, h) if h < 24.0 => "出自过去24小时内发布的节目".to_owned(),
                (Self::Zh, h) if h < 48.0 => "出自近两天发布的节目".to_owned(),
                (Self::Zh, _) => format!("出自{days}天前发布的节目"),
                (Self::De, h) if h < 24.0 => {
                    "aus einer in den letzten 24 Stunden erschienenen Folge".to_owned()
                }
                (Self::De, h) if h < 48.0 => {
                    "aus einer in den letzten zwei Tagen erschienenen Folge".to_owned()
                }
                (Self::De, _) => format!("aus einer vor {days} Tagen erschienenen Folge"),
            });
        }
        match self {
            Self::En | Self::De => format!("{}.", parts.join(", ")),
            Self::Zh => format!("{}。", parts.join("，")),
        }
    }

    /// The digest's day written out: "Friday, 27 November 2026",
    /// "2026年11月27日 星期五", "Freitag, 27. November 2026".
    fn format_date(self, date: NaiveDate) -> String {
        let weekday = date.weekday().num_days_from_monday() as usize;
        let month = date.month0() as usize;
        let (day, year) = (date.day(), date.year());
        match self {
            Self::En => {
                const WEEKDAYS: [&str; 7] = [
                    "Monday",
                    "Tuesday",
                    "Wednesday",
                    "Thursday",
                    "Friday",
                    "Saturday",
                    "Sunday",
                ];
                const MONTHS: [&str; 12] = [
                    "January",
                    "February",
                    "March",
                    "April",
                    "May",
                    "June",
                    "July",
                    "August",
                    "September",
                    "October",
                    "November",
                    "December",
                ];
                format!(
                    "{}, {day} {} {year}",
                    pick(&WEEKDAYS, weekday),
                    pick(&MONTHS, month)
                )
            }
            Self::Zh => {
                const WEEKDAYS: [&str; 7] = [
                    "星期一",
                    "星期二",
                    "星期三",
                    "星期四",
                    "星期五",
                    "星期六",
                    "星期日",
                ];
                format!(
                    "{year}年{}月{day}日 {}",
                    month + 1,
                    pick(&WEEKDAYS, weekday)
                )
            }
            Self::De => {
                const WEEKDAYS: [&str; 7] = [
                    "Montag",
                    "Dienstag",
                    "Mittwoch",
                    "Donnerstag",
                    "Freitag",
                    "Samstag",
                    "Sonntag",
                ];
                const MONTHS: [&str; 12] = [
                    "Januar",
                    "Februar",
                    "März",
                    "April",
                    "Mai",
                    "Juni",
                    "Juli",
                    "August",
                    "September",
                    "Oktober",
                    "November",
                    "Dezember",
                ];
                format!(
                    "{}, {day}. {} {year}",
                    pick(&WEEKDAYS, weekday),
                    pick(&MONTHS, month)
                )
            }
        }
    }
}

/// The episode's age in hours at ranking time, read back from its recency
/// (`0.5^(age / 24 h)`, see [`crate::rank::recency`]); `None` when the date was
/// unknown (recency exactly [`crate::rank::NEUTRAL_RECENCY`]) or the value is
/// out of range.
fn age_hours(recency: f64) -> Option<f64> {
    use crate::rank::{NEUTRAL_RECENCY, RECENCY_HALF_LIFE_HOURS};
    if recency.to_bits() == NEUTRAL_RECENCY.to_bits()
        || !(f64::MIN_POSITIVE..=1.0).contains(&recency)
    {
        return None;
    }
    let hours = -recency.log2() * RECENCY_HALF_LIFE_HOURS;
    hours.is_finite().then_some(hours.max(0.0))
}

/// `table[i]`, or `""` when out of range (chrono keeps weekday < 7 and month
/// < 12, so this never happens; it only avoids an index panic path).
fn pick(table: &[&'static str], i: usize) -> &'static str {
    table.get(i).copied().unwrap_or("")
}

/// 1–10 as Chinese numerals (五 for 5), larger counts as digits.
fn chinese_numeral(n: usize) -> String {
    const DIGITS: [&str; 11] = [
        "零", "一", "二", "三", "四", "五", "六", "七", "八", "九", "十",
    ];
    DIGITS
        .get(n)
        .map_or_else(|| n.to_string(), |d| (*d).to_owned())
}

/// Everything the templates show, already localised and formatted: the
/// templates hold layout, this holds words.
#[derive(Debug, Serialize)]
struct View {
    lang: String,
    subject: String,
    title: String,
    date: String,
    ai_label: String,
    /// "Only 3 insights today were strong enough to send.", when the quality
    /// floor kept the digest short.
    notice: Option<String>,
    items: Vec<ItemView>,
    labels: Labels,
    footer: String,
    region_name: String,
    timezone: &'static str,
    unsubscribe_url: Option<String>,
    archive_url: Option<String>,
}

#[derive(Debug, Serialize)]
struct ItemView {
    number: usize,
    text: String,
    /// Empty when the insight's text is the quote itself.
    quote: String,
    /// Who says the quote, when known.
    speaker: Option<String>,
    podcast: String,
    episode: String,
    /// The episode's language, for the `lang` attribute.
    lang: Option<String>,
    /// Shown next to the titles when the episode is not in the reader's
    /// language, so nobody is surprised by a German quote in an English mail.
    lang_badge: Option<String>,
    /// "Listen at 12:35", linking the audio at that second.
    listen: Option<LinkView>,
    /// The episode's web page.
    page: Option<LinkView>,
    why: String,
    /// Why it was picked, in words.
    reason: String,
}

#[derive(Debug, Serialize)]
struct LinkView {
    label: String,
    url: Option<String>,
}

impl View {
    fn new(digest: &Digest, ctx: &RenderContext, lang: Lang) -> Self {
        let date = lang.format_date(digest.date);
        let title = lang.title(digest.items.len());
        let items = digest
            .items
            .iter()
            .enumerate()
            .map(|(i, item)| ItemView::new(i + 1, item, lang))
            .collect();
        // The document's language: the region's own tag when its strings are
        // in that language (de-AT keeps de-AT), else the fallback's.
        let doc_lang = if ctx.locale.language() == lang.language() {
            ctx.locale.as_str()
        } else {
            lang.tag()
        };
        Self {
            lang: doc_lang.to_owned(),
            subject: format!("{title} — {date}"),
            title,
            date,
            ai_label: ctx.ai_label.trim().to_owned(),
            notice: (digest.short_of_strong_insights && !digest.items.is_empty())
                .then(|| lang.only_strong(digest.items.len())),
            items,
            labels: lang.labels(),
            footer: lang.footer(&ctx.region_name),
            region_name: ctx.region_name.clone(),
            timezone: ctx.timezone.name(),
            unsubscribe_url: ctx.unsubscribe_url.clone().filter(|u| !u.trim().is_empty()),
            archive_url: ctx.archive_url.clone().filter(|u| !u.trim().is_empty()),
        }
    }
}

impl ItemView {
    fn new(number: usize, item: &DigestItem, lang: Lang) -> Self {
        let insight = &item.insight;
        let audio = web_link(item.audio_url.as_deref());
        let listen = match (insight.start, audio) {
            (Some(start), audio) => Some(LinkView {
                label: lang.listen_at(&format_offset(start)),
                url: audio.map(|u| moment_url(u, Some(start))),
            }),
            (None, Some(audio)) => Some(LinkView {
                label: lang.listen_to_episode().to_owned(),
                url: Some(audio.to_owned()),
            }),
            (None, None) => None,
        };
        let page = web_link(item.episode_url.as_deref()).map(|url| LinkView {
            label: lang.episode_page().to_owned(),
            url: Some(url.to_owned()),
        });
        let item_lang = item.language.as_deref().and_then(clean_language_tag);
        let lang_badge = item_lang.as_deref().and_then(|l| {
            let primary = l.split('-').next().unwrap_or(l);
            (!primary.eq_ignore_ascii_case(lang.language())).then(|| l.to_ascii_uppercase())
        });
        // Bidi controls and invisible characters would reorder or hide words
        // on the page. Ingest strips them from feed and transcript text; a
        // model's words, and text stored before that, are cleaned here.
        let clean = |s: &str| strip_invisible(s).trim().to_owned();
        let text = clean(&insight.text);
        let quote = if same_words(&insight.text, &insight.quote) {
            String::new()
        } else {
            clean(&insight.quote)
        };
        Self {
            number,
            text,
            quote,
            speaker: insight
                .speaker
                .as_deref()
                .map(|s| normalize_whitespace(&strip_invisible(s)))
                .filter(|s| !s.is_empty()),
            podcast: clean(&item.podcast),
            episode: clean(&item.episode),
            lang: item_lang,
            lang_badge,
            listen,
            page,
            why: clean(&insight.why),
            reason: lang.reason(&item.score),
        }
    }
}

/// Whether two texts say the same words: equal once case, whitespace and
/// punctuation are folded away. The builtin engine's insight is its quote
/// with whitespace normalised; showing both would print one sentence twice.
fn same_words(a: &str, b: &str) -> bool {
    let fold = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect()
    };
    let (a, b) = (fold(a), fold(b));
    !a.is_empty() && a == b
}

#[cfg(test)]
mod tests {
    use meridian_core::{Insight, RegionId};

    use super::*;
    use crate::rank::NEUTRAL_RECENCY;

    fn item(n: usize, start: Option<f64>, language: Option<&str>) -> DigestItem {
        DigestItem {
            podcast: format!("Podcast {n}"),
            episode: format!("Episode {n}"),
            episode_url: Some(format!("https://pod.example/ep{n}")),
            audio_url: Some(format!("https://cdn.pod.example/ep{n}.mp3")),
            insight: Insight {
                text: format!("Insight number {n} about batteries."),
                quote: format!("The exact words of quote {n}."),
                start,
                importance: 0.8,
                why: String::new(),
                model: "builtin".to_owned(),
                speaker: None,
            },
            score: ScoreComponents {
                importance: 0.8,
                novelty: 0.9,
                recency: 0.9,
                total: 0.84,
            },
            language: language.map(str::to_owned),
        }
    }

    fn digest(items: Vec<DigestItem>) -> Digest {
        Digest {
            region: RegionId::parse("us").unwrap(),
            // A Friday.
            date: NaiveDate::from_ymd_opt(2026, 11, 27).unwrap(),
            items,
            short_of_strong_insights: false,
        }
    }

    fn five() -> Digest {
        digest(
            (1..=5)
                .map(|n| item(n, Some(754.0 + n as f64), Some("en")))
                .collect(),
        )
    }

    #[test]
    fn bidi_controls_and_invisible_characters_never_reach_the_email() {
        let mut hostile = item(1, Some(10.0), Some("en"));
        hostile.podcast = "Evil \u{202E}gnp.exe\u{202C} Show".to_owned();
        hostile.episode = "Zero\u{200B}width".to_owned();
        hostile.insight.text = "A model wrote \u{2066}this\u{2069} insight.".to_owned();
        hostile.insight.quote = "And quoted \u{200F}this\u{FEFF} passage.".to_owned();
        hostile.insight.speaker = Some("Ada\u{202D} Lovelace".to_owned());
        let out = render_digest(&digest(vec![hostile]), &ctx("en-US", "AI")).unwrap();
        for part in [&out.html, &out.text] {
            assert!(
                !part.chars().any(meridian_core::text::is_invisible_or_bidi),
                "{part}"
            );
            assert!(part.contains("Evil gnp.exe Show"), "{part}");
            assert!(part.contains("A model wrote this insight."), "{part}");
            assert!(part.contains("Ada Lovelace"), "{part}");
        }
    }

    fn ctx(locale: &str, ai_label: &str) -> RenderContext {
        RenderContext {
            locale: Locale::parse(locale).unwrap(),
            region_name: "Testland".to_owned(),
            timezone: chrono_tz::Tz::Europe__Berlin,
            ai_label: ai_label.to_owned(),
            unsubscribe_url: Some("https://meridian.example/unsubscribe?token=abc&x=1".to_owned()),
            archive_url: None,
        }
    }

    /// Byte position of `needle` in `hay`, failing with a readable message.
    fn pos(hay: &str, needle: &str, what: &str) -> usize {
        hay.find(needle)
            .unwrap_or_else(|| panic!("{what}: `{needle}` not found in:\n{hay}"))
    }

    #[test]
    fn each_locale_puts_its_label_first_and_writes_its_date() {
        let cases = [
            (
                "en-US",
                "AI-generated content",
                "Your top 5 podcast insights — Friday, 27 November 2026",
                "Listen at 12:35",
            ),
            (
                "zh-CN",
                "本内容由人工智能生成",
                "今日播客五大洞见 — 2026年11月27日 星期五",
                "收听位置 12:35",
            ),
            (
                "de-DE",
                "KI-generierter Inhalt",
                "Ihre Top 5 Podcast-Erkenntnisse — Freitag, 27. November 2026",
                "Anhören ab 12:35",
            ),
        ];
        for (locale, label, subject, listen) in cases {
            let out = render_digest(&five(), &ctx(locale, label)).unwrap();
            assert_eq!(out.subject, subject, "{locale}: subject");
            assert!(!out.subject.contains('\n'), "{locale}: subject is one line");
            // The HTML `<title>` repeats the subject; the reader sees the body.
            let html_body = &out.html[pos(&out.html, "<body", "body")..];
            for (part, body) in [("html", html_body), ("text", out.text.as_str())] {
                let label_at = pos(body, label, &format!("{locale} {part}: AI label"));
                let first_insight = pos(
                    body,
                    "Insight number 1",
                    &format!("{locale} {part}: first insight"),
                );
                let date_at = pos(
                    body,
                    subject.rsplit(" — ").next().unwrap(),
                    &format!("{locale} {part}: date"),
                );
                assert!(
                    label_at < date_at && label_at < first_insight,
                    "{locale} {part}: label comes first"
                );
                assert!(body.contains(listen), "{locale} {part}: listen label");
            }
            assert!(
                pos(html_body, label, "label") < pos(html_body, "<h1", "heading"),
                "{locale}: label above the heading"
            );
            assert!(
                out.html.contains(&format!("<html lang=\"{locale}\">")),
                "{locale}: document language"
            );
        }
    }

    #[test]
    fn weekdays_and_months_come_from_the_tables() {
        // 2024-02-29 is a Thursday; 2027-01-03 a Sunday.
        let d = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
        assert_eq!(Lang::En.format_date(d), "Thursday, 29 February 2024");
        assert_eq!(Lang::Zh.format_date(d), "2024年2月29日 星期四");
        assert_eq!(Lang::De.format_date(d), "Donnerstag, 29. Februar 2024");
        let d = NaiveDate::from_ymd_opt(2027, 1, 3).unwrap();
        assert_eq!(Lang::En.format_date(d), "Sunday, 3 January 2027");
        assert_eq!(Lang::Zh.format_date(d), "2027年1月3日 星期日");
        assert_eq!(Lang::De.format_date(d), "Sonntag, 3. Januar 2027");
        let d = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
        assert_eq!(Lang::De.format_date(d), "Montag, 2. März 2026");
    }

    #[test]
    fn html_escapes_markup_in_insights_and_text_keeps_it() {
        let mut d = five();
        d.items[0].insight.text = "Beware <script>alert('x')</script> & friends".to_owned();
        d.items[1].podcast = "Rock & <b>Roll</b>".to_owned();
        d.items[2].episode_url = Some("javascript:alert(1)".to_owned());
        d.items[3].audio_url = Some("javascript:alert(2)".to_owned());
        let out = render_digest(&d, &ctx("en-US", "AI")).unwrap();
        assert!(
            !out.html.contains("<script"),
            "no live script tag:\n{}",
            out.html
        );
        assert!(out.html.contains("&lt;script&gt;"), "escaped script tag");
        assert!(
            out.html.contains("Rock &amp; &lt;b&gt;Roll"),
            "escaped podcast title"
        );
        assert!(!out.html.contains("javascript:"), "non-web link dropped");
        assert!(
            out.text
                .contains("Beware <script>alert('x')</script> & friends"),
            "text part is not HTML-escaped"
        );
        // The unsubscribe link keeps its query string, attribute-escaped.
        assert!(
            out.html
                .contains("href=\"https://meridian.example/unsubscribe?token=abc&amp;x=1\"")
        );
        assert!(
            out.text
                .contains("Unsubscribe: https://meridian.example/unsubscribe?token=abc&x=1")
        );
    }

    #[test]
    fn text_part_carries_every_insight_with_its_sources() {
        let out = render_digest(&five(), &ctx("en-US", "AI-generated")).unwrap();
        let mut last = 0;
        for n in 1..=5 {
            let at = pos(
                &out.text,
                &format!("{n}. Insight number {n} about batteries."),
                "numbered insight",
            );
            assert!(at > last, "insight {n} in order");
            last = at;
            assert!(
                out.text
                    .contains(&format!("From Podcast {n} · Episode {n}")),
                "text names podcast and episode {n}"
            );
            for needle in [
                format!("The exact words of quote {n}."),
                format!(">Podcast {n}<"),
                format!(">Episode {n}<"),
            ] {
                assert!(out.html.contains(&needle), "html has `{needle}`");
            }
            assert!(
                out.text.contains(&format!(
                    "Listen at 12:{}: https://cdn.pod.example/ep{n}.mp3#t={}",
                    34 + n,
                    754 + n
                )),
                "moment link {n}"
            );
            assert!(
                out.text
                    .contains(&format!("Episode page: https://pod.example/ep{n}\n")),
                "page link {n}"
            );
            assert!(
                out.html.contains(&format!(
                    "href=\"https://cdn.pod.example/ep{n}.mp3#t={}\"",
                    754 + n
                )),
                "html link {n}"
            );
            assert!(
                out.html
                    .contains(&format!("href=\"https://pod.example/ep{n}\"")),
                "html page link {n}"
            );
        }
        assert!(out.text.contains(
            "Why this was picked: One of the most substantive passages among the new episodes, \
             new to you, from an episode published in the last 24 hours."
        ));
        assert!(
            out.text.contains("Testland") && out.html.contains("Testland"),
            "region name in the footer"
        );
        assert!(
            !out.text.contains("{{") && !out.html.contains("{%"),
            "no template syntax leaks"
        );
    }

    #[test]
    fn start_offsets_are_formatted_and_missing_ones_link_the_episode() {
        let mut d = digest(vec![
            item(1, Some(3725.5), None),
            item(2, None, None),
            item(3, Some(9.0), None),
        ]);
        d.items[2].episode_url = None;
        d.items[2].audio_url = None;
        let out = render_digest(&d, &ctx("de-DE", "KI")).unwrap();
        assert!(
            out.text
                .contains("Anhören ab 1:02:05: https://cdn.pod.example/ep1.mp3#t=3725"),
            "{}",
            out.text
        );
        assert!(
            out.text
                .contains("Folge anhören: https://cdn.pod.example/ep2.mp3\n"),
            "no start: the whole audio"
        );
        assert!(
            out.text
                .contains("Seite der Folge: https://pod.example/ep2\n"),
            "the page, without a time"
        );
        assert!(
            out.text.contains("Anhören ab 0:09\n"),
            "start without URL: label only"
        );
        assert!(out.html.contains("Anhören ab 0:09"));
        assert_eq!(
            out.subject,
            "Ihre Top 3 Podcast-Erkenntnisse — Freitag, 27. November 2026"
        );
        assert!(
            !out.text.contains("0,80") && !out.text.contains("0.80"),
            "no score numbers for readers"
        );
    }

    #[test]
    fn item_link_points_at_the_moment_in_the_audio_and_refuses_other_schemes() {
        let mut it = item(1, Some(61.9), None);
        assert_eq!(
            item_link(&it).as_deref(),
            Some("https://cdn.pod.example/ep1.mp3#t=61")
        );
        it.insight.start = None;
        assert_eq!(
            item_link(&it).as_deref(),
            Some("https://cdn.pod.example/ep1.mp3")
        );
        for bad in ["javascript:alert(1)", "mailto:a@b.example.com", "  "] {
            it.audio_url = Some(bad.to_owned());
            assert_eq!(item_link(&it), None, "{bad}");
        }
        it.audio_url = None;
        assert_eq!(
            item_link(&it),
            None,
            "the episode page is never the moment link"
        );
    }

    #[test]
    fn format_date_is_the_subject_date() {
        let date = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
        let zh = format_date(&Locale::parse("zh-CN").unwrap(), date);
        assert_eq!(zh, "2026年11月27日 星期五");
        let de = format_date(&Locale::parse("de-AT").unwrap(), date);
        assert_eq!(de, "Freitag, 27. November 2026");
    }

    #[test]
    fn moment_url_replaces_an_existing_fragment() {
        assert_eq!(
            moment_url("https://a.example/x#chapter2", Some(61.9)),
            "https://a.example/x#t=61"
        );
        assert_eq!(
            moment_url("https://a.example/x#chapter2", None),
            "https://a.example/x#chapter2"
        );
    }

    #[test]
    fn unknown_locales_fall_back_by_language_then_to_english() {
        for (locale, effective, subject_start) in [
            ("de-AT", "de-DE", "Ihre Top 5"),
            ("zh-TW", "zh-CN", "今日播客五大洞见"),
            ("en-GB", "en-US", "Your top 5"),
            ("fr-FR", "en-US", "Your top 5"),
        ] {
            assert_eq!(
                effective_locale(&Locale::parse(locale).unwrap()),
                effective,
                "{locale}"
            );
            let out = render_digest(&five(), &ctx(locale, "AI")).unwrap();
            assert!(
                out.subject.starts_with(subject_start),
                "{locale}: {}",
                out.subject
            );
        }
        let out = render_digest(&five(), &ctx("fr-FR", "AI")).unwrap();
        assert!(
            out.html.contains("<html lang=\"en-US\">"),
            "French falls back to an English document"
        );
    }

    #[test]
    fn items_are_marked_with_their_own_language() {
        let mut d = five();
        d.items[0].language = Some("de".to_owned());
        d.items[1].language = Some("x\" onmouseover=\"bad".to_owned());
        let out = render_digest(&d, &ctx("en-US", "AI")).unwrap();
        assert!(
            out.html.contains("<div lang=\"de\">"),
            "German episode marked"
        );
        assert!(
            out.html.contains("<div lang=\"en\">"),
            "English episode marked"
        );
        assert!(
            !out.html.contains("onmouseover"),
            "bad language tag dropped"
        );
        assert!(
            out.text.contains("Podcast 1 · Episode 1 [DE]"),
            "foreign-language badge in text"
        );
        assert!(
            !out.text.contains("Podcast 3 · Episode 3 [EN]"),
            "no badge for the reader's language"
        );
    }

    #[test]
    fn an_empty_digest_says_so_in_each_locale() {
        for (locale, subject, message) in [
            (
                "en-US",
                "No new podcast insights today — Friday, 27 November 2026",
                "No new podcast insights today.",
            ),
            (
                "zh-CN",
                "今日暂无新的播客洞见 — 2026年11月27日 星期五",
                "今天没有新的播客洞见",
            ),
            (
                "de-DE",
                "Heute keine neuen Podcast-Erkenntnisse — Freitag, 27. November 2026",
                "Heute gibt es keine neuen",
            ),
        ] {
            let out = render_digest(&digest(vec![]), &ctx(locale, "LABEL")).unwrap();
            assert_eq!(out.subject, subject, "{locale}");
            assert!(
                out.html.contains(message) && out.text.contains(message),
                "{locale}: empty message"
            );
            assert!(out.text.starts_with("LABEL"), "{locale}: label first");
        }
    }

    #[test]
    fn footer_has_unsubscribe_and_archive_links_only_when_given() {
        let mut c = ctx("zh-CN", "AI");
        c.archive_url = Some("https://meridian.example/cn/digest/2026-11-27".to_owned());
        let out = render_digest(&five(), &c).unwrap();
        assert!(out.html.contains(">退订</a>") && out.html.contains(">在浏览器中查看</a>"));
        assert!(
            out.text
                .contains("退订：https://meridian.example/unsubscribe")
        );
        assert!(out.text.contains("Europe/Berlin"));
        c.unsubscribe_url = None;
        c.archive_url = None;
        let out = render_digest(&five(), &c).unwrap();
        assert!(!out.html.contains("退订") && !out.text.contains("退订"));
    }

    #[test]
    fn chinese_counts_use_chinese_numerals() {
        let d = digest((1..=3).map(|n| item(n, None, None)).collect());
        let out = render_digest(&d, &ctx("zh-CN", "AI")).unwrap();
        assert_eq!(out.subject, "今日播客三大洞见 — 2026年11月27日 星期五");
    }

    #[test]
    fn listen_links_the_audio_at_the_second_and_the_page_beside_it() {
        let mut d = digest(vec![item(1, Some(7562.4), Some("en"))]);
        d.items[0].audio_url = Some("https://cdn.pod.example/audio.mp3?id=7#old".to_owned());
        let out = render_digest(&d, &ctx("en-US", "AI")).unwrap();
        assert!(
            out.text
                .contains("Listen at 2:06:02: https://cdn.pod.example/audio.mp3?id=7#t=7562\n"),
            "{}",
            out.text
        );
        assert!(
            out.text.contains("Episode page: https://pod.example/ep1\n"),
            "{}",
            out.text
        );
        let listen = pos(
            &out.html,
            "href=\"https://cdn.pod.example/audio.mp3?id=7#t=7562\"",
            "audio link",
        );
        let page = pos(&out.html, "href=\"https://pod.example/ep1\"", "page link");
        assert!(listen < page, "the page link follows the listen link");
        assert!(out.html.contains("&#9654; Listen at 2:06:02</a>"));
        assert!(out.html.contains(">Episode page</a>"));

        // No audio: the time is shown without a link, the page still is.
        d.items[0].audio_url = None;
        let out = render_digest(&d, &ctx("en-US", "AI")).unwrap();
        assert!(out.text.contains("   Listen at 2:06:02\n"), "{}", out.text);
        assert!(!out.text.contains("#t="), "{}", out.text);
        assert!(out.text.contains("Episode page: https://pod.example/ep1\n"));
    }

    #[test]
    fn the_quote_is_shown_once_when_the_insight_is_the_quote() {
        let mut d = five();
        // The builtin engine: the text is the quote with whitespace tidied.
        d.items[0].insight.quote = "Batteries  got cheaper\nbecause factories scaled.".to_owned();
        d.items[0].insight.text = "Batteries got cheaper because factories scaled.".to_owned();
        let out = render_digest(&d, &ctx("en-US", "AI")).unwrap();
        for (part, body) in [("html", out.html.as_str()), ("text", out.text.as_str())] {
            assert_eq!(
                body.matches("because factories scaled").count(),
                1,
                "{part}: the sentence appears once:\n{body}"
            );
        }
        // An LLM's insight differs from its quote: both are shown.
        assert!(out.text.contains("Insight number 2 about batteries."));
        assert!(out.text.contains("“The exact words of quote 2.”"));
        assert!(out.html.contains("The exact words of quote 2."));
    }

    #[test]
    fn the_speaker_is_named_with_the_quote_where_known() {
        let mut d = five();
        d.items[0].insight.speaker = Some(" Ada  Lovelace ".to_owned());
        d.items[1].insight.speaker = Some("Grace Hopper".to_owned());
        d.items[1].insight.text = d.items[1].insight.quote.clone();
        for (locale, with_quote, alone) in [
            (
                "en-US",
                "“The exact words of quote 1.” — Ada Lovelace",
                "   — Grace Hopper\n",
            ),
            (
                "de-DE",
                "„The exact words of quote 1.“ — Ada Lovelace",
                "   — Grace Hopper\n",
            ),
            (
                "zh-CN",
                "“The exact words of quote 1.” ——Ada Lovelace",
                "   ——Grace Hopper\n",
            ),
        ] {
            let out = render_digest(&d, &ctx(locale, "AI")).unwrap();
            assert!(out.text.contains(with_quote), "{locale}:\n{}", out.text);
            assert!(
                out.text.contains(alone),
                "{locale}: the speaker of a quote shown as the insight:\n{}",
                out.text
            );
            assert!(
                out.html.contains("Ada Lovelace</span></blockquote>"),
                "{locale}"
            );
            assert!(out.html.contains("Grace Hopper</p>"), "{locale}");
        }
        let out = render_digest(&five(), &ctx("en-US", "AI")).unwrap();
        assert!(
            !out.text.contains(" — \n") && !out.html.contains("class=\"speaker\""),
            "no speaker, no attribution"
        );
    }

    #[test]
    fn why_it_was_picked_is_said_in_words_in_each_locale() {
        let score = |importance: f64, novelty: f64, recency: f64| ScoreComponents {
            importance,
            novelty,
            recency,
            total: 0.0,
        };
        let hours_old = |h: f64| 0.5_f64.powf(h / 24.0);
        let cases = [
            (
                "en-US",
                score(0.9, 1.0, 1.0),
                "One of the most substantive passages among the new episodes, new to you, \
                 from an episode published in the last 24 hours.",
            ),
            (
                "en-US",
                score(0.5, 0.6, hours_old(30.0)),
                "A substantive passage, unlike what you were sent lately, \
                 from an episode published in the last two days.",
            ),
            (
                "en-US",
                score(0.5, 0.9, hours_old(24.0 * 5.5)),
                "A substantive passage, new to you, from an episode published 5 days ago.",
            ),
            (
                "en-US",
                score(0.8, 0.9, NEUTRAL_RECENCY),
                "One of the most substantive passages among the new episodes, new to you.",
            ),
            (
                "de-DE",
                score(0.9, 1.0, hours_old(2.0)),
                "Eine der gehaltvollsten Passagen der neuen Folgen, neu für Sie, \
                 aus einer in den letzten 24 Stunden erschienenen Folge.",
            ),
            (
                "de-DE",
                score(0.5, 0.5, hours_old(80.0)),
                "Eine gehaltvolle Passage, anders als das, was Sie zuletzt erhielten, \
                 aus einer vor 3 Tagen erschienenen Folge.",
            ),
            (
                "zh-CN",
                score(0.9, 1.0, 1.0),
                "新节目中最有分量的段落之一，您此前没有读到过类似内容，出自过去24小时内发布的节目。",
            ),
            (
                "zh-CN",
                score(0.5, 0.5, hours_old(40.0)),
                "内容扎实的段落，与您近期收到的内容不同，出自近两天发布的节目。",
            ),
        ];
        for (locale, s, expected) in cases {
            assert_eq!(
                pick_reason(&Locale::parse(locale).unwrap(), &s),
                expected,
                "{locale} {s:?}"
            );
        }
        let out = render_digest(&five(), &ctx("zh-CN", "AI")).unwrap();
        assert!(
            out.text.contains("入选理由：新节目中最有分量的段落之一"),
            "{}",
            out.text
        );
        for word in ["importance", "novelty", "recency", "重要性", "0.80"] {
            assert!(
                !out.text.contains(word) && !out.html.contains(word),
                "{word}"
            );
        }
    }

    #[test]
    fn a_digest_kept_short_by_the_quality_floor_says_so() {
        let mut d = digest((1..=3).map(|n| item(n, None, None)).collect());
        d.short_of_strong_insights = true;
        for (locale, line) in [
            ("en-US", "Only 3 insights today were strong enough to send."),
            (
                "de-DE",
                "Heute waren nur 3 Erkenntnisse stark genug, um sie zu versenden.",
            ),
            ("zh-CN", "今天只有三条洞见足够有分量，值得发送。"),
        ] {
            let out = render_digest(&d, &ctx(locale, "AI")).unwrap();
            assert!(out.text.contains(line), "{locale}:\n{}", out.text);
            assert!(out.html.contains(line), "{locale}");
            assert!(
                pos(&out.text, line, "notice") < pos(&out.text, "Insight number 1", "first"),
                "{locale}: the line comes before the insights"
            );
        }
        d.items.truncate(1);
        let out = render_digest(&d, &ctx("en-US", "AI")).unwrap();
        assert!(
            out.text
                .contains("Only one insight today was strong enough to send.")
        );
        d.short_of_strong_insights = false;
        let out = render_digest(&d, &ctx("en-US", "AI")).unwrap();
        assert!(!out.text.contains("strong enough") && !out.html.contains("strong enough"));
    }
}
