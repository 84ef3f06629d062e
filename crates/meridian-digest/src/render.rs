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
//! Supported: `en-US`, `zh-CN`, `de-DE`. Another locale falls back to the one
//! with the same language (`de-AT` → `de-DE`), then to `en-US`.

use std::sync::LazyLock;

use chrono::{Datelike, NaiveDate};
use meridian_core::{Digest, DigestItem, Locale, format_offset};
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
/// localised date, labels, scores and moment links as its email, as one
/// template value, so that the page cannot drift from what subscribers
/// received. Fields: `lang`, `subject`, `title`, `date`, `ai_label`,
/// `items` (each `number`, `text`, `quote`, `podcast`, `episode`, `lang`,
/// `lang_badge`, `listen` = {`label`, `url`} or none, `why`, `scores`),
/// `labels` (`from`, `why_picked`, `colon`, `empty`, `quote_open`,
/// `quote_close`…), `footer`, `region_name`, `timezone`. Show URLs through
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

/// The link a digest item shows: the moment its quote starts in the episode
/// (see [`moment_url`]), or the episode itself when the start is unknown;
/// `None` when the episode has no web link (`http(s)` only: feed data may
/// carry any scheme).
#[must_use]
pub fn item_link(item: &DigestItem) -> Option<String> {
    let url = item.episode_url.as_deref().map(str::trim).filter(|u| {
        !u.is_empty() && is_safe_link(u) && !u.to_ascii_lowercase().starts_with("mailto:")
    })?;
    Some(match item.insight.start {
        Some(start) => moment_url(url, Some(start)),
        None => url.to_owned(),
    })
}

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

fn is_safe_link(url: &str) -> bool {
    let lower = url.trim_start().to_ascii_lowercase();
    ["http://", "https://", "mailto:"]
        .iter()
        .any(|scheme| lower.starts_with(scheme))
        && !url.chars().any(char::is_control)
}

/// The link to the moment a quote starts: the episode URL with a Media
/// Fragments `#t=SECONDS` (replacing any fragment it had). Players and
/// browsers that know the syntax seek there; others open the episode.
#[must_use]
pub fn moment_url(episode_url: &str, start: Option<f64>) -> String {
    let base = episode_url.split('#').next().unwrap_or(episode_url);
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
        None => episode_url.to_owned(),
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

    fn open_episode(self) -> &'static str {
        match self {
            Self::En => "Open the episode",
            Self::Zh => "打开节目",
            Self::De => "Folge öffnen",
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

    /// "importance 0.82 · novelty 0.91 · recency 0.50", with the locale's
    /// decimal separator.
    fn scores(self, item: &DigestItem) -> String {
        let (importance, novelty, recency) = match self {
            Self::En => ("importance", "novelty", "recency"),
            Self::Zh => ("重要性", "新颖度", "时效性"),
            Self::De => ("Relevanz", "Neuheit", "Aktualität"),
        };
        let num = |x: f64| {
            let s = format!("{x:.2}");
            match self {
                Self::De => s.replace('.', ","),
                Self::En | Self::Zh => s,
            }
        };
        let s = item.score;
        format!(
            "{importance} {} · {novelty} {} · {recency} {}",
            num(s.importance),
            num(s.novelty),
            num(s.recency)
        )
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
    quote: String,
    podcast: String,
    episode: String,
    /// The episode's language, for the `lang` attribute.
    lang: Option<String>,
    /// Shown next to the titles when the episode is not in the reader's
    /// language, so nobody is surprised by a German quote in an English mail.
    lang_badge: Option<String>,
    listen: Option<ListenView>,
    why: String,
    scores: String,
}

#[derive(Debug, Serialize)]
struct ListenView {
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
        let url = item
            .episode_url
            .as_deref()
            .map(str::trim)
            .filter(|u| is_safe_link(u) && !u.is_empty());
        let listen = match (insight.start, url) {
            (Some(start), url) => Some(ListenView {
                label: lang.listen_at(&format_offset(start)),
                url: url.map(|u| moment_url(u, Some(start))),
            }),
            (None, Some(url)) => Some(ListenView {
                label: lang.open_episode().to_owned(),
                url: Some(url.to_owned()),
            }),
            (None, None) => None,
        };
        let item_lang = item.language.as_deref().and_then(clean_language_tag);
        let lang_badge = item_lang.as_deref().and_then(|l| {
            let primary = l.split('-').next().unwrap_or(l);
            (!primary.eq_ignore_ascii_case(lang.language())).then(|| l.to_ascii_uppercase())
        });
        Self {
            number,
            text: insight.text.trim().to_owned(),
            quote: insight.quote.trim().to_owned(),
            podcast: item.podcast.trim().to_owned(),
            episode: item.episode.trim().to_owned(),
            lang: item_lang,
            lang_badge,
            listen,
            why: insight.why.trim().to_owned(),
            scores: lang.scores(item),
        }
    }
}

#[cfg(test)]
mod tests {
    use meridian_core::{Insight, RegionId, ScoreComponents};

    use super::*;

    fn item(n: usize, start: Option<f64>, language: Option<&str>) -> DigestItem {
        DigestItem {
            podcast: format!("Podcast {n}"),
            episode: format!("Episode {n}"),
            episode_url: Some(format!("https://pod.example/ep{n}")),
            insight: Insight {
                text: format!("Insight number {n} about batteries."),
                quote: format!("The exact words of quote {n}."),
                start,
                importance: 0.8,
                why: String::new(),
                model: "builtin".to_owned(),
            },
            score: ScoreComponents {
                importance: 0.8,
                novelty: 0.9,
                recency: 0.5,
                total: 0.75,
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
        }
    }

    fn five() -> Digest {
        digest(
            (1..=5)
                .map(|n| item(n, Some(754.0 + n as f64), Some("en")))
                .collect(),
        )
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
                out.text
                    .contains(&format!("https://pod.example/ep{n}#t={}", 754 + n)),
                "moment link {n}"
            );
            assert!(
                out.html
                    .contains(&format!("href=\"https://pod.example/ep{n}#t={}\"", 754 + n)),
                "html link {n}"
            );
        }
        assert!(
            out.text
                .contains("Why this was picked: importance 0.80 · novelty 0.90 · recency 0.50")
        );
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
        let out = render_digest(&d, &ctx("de-DE", "KI")).unwrap();
        assert!(
            out.text
                .contains("Anhören ab 1:02:05: https://pod.example/ep1#t=3725"),
            "{}",
            out.text
        );
        assert!(
            out.text.contains("Folge öffnen: https://pod.example/ep2\n"),
            "no start: plain episode link"
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
        assert!(out.text.contains("Relevanz 0,80"), "German decimal comma");
    }

    #[test]
    fn item_link_points_at_the_moment_and_refuses_other_schemes() {
        let mut it = item(1, Some(61.9), None);
        assert_eq!(
            item_link(&it).as_deref(),
            Some("https://pod.example/ep1#t=61")
        );
        it.insight.start = None;
        assert_eq!(item_link(&it).as_deref(), Some("https://pod.example/ep1"));
        for bad in ["javascript:alert(1)", "mailto:a@b.example", "  "] {
            it.episode_url = Some(bad.to_owned());
            assert_eq!(item_link(&it), None, "{bad}");
        }
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
}
