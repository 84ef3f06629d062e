//! The digest archive: every digest the region made, as pages and as JSON.
//!
//! | route | what |
//! |---|---|
//! | `GET /archive?page=N` | the digests by day, newest first, [`PAGE_SIZE`] a page |
//! | `GET /archive/{date}` | one digest (`YYYY-MM-DD`): its insights with podcast, episode, quote and speaker, a link to the moment in the episode's audio and one to the episode's page, and why each was picked, under the region's AI-generated label |
//! | `GET /archive.json?page=N` | the index page as JSON |
//! | `GET /archive/{date}.json` | one digest as JSON, with the label and the machine-readable marker |
//!
//! JSON is chosen by the `.json` suffix, not by `Accept`: each URL names one
//! representation, so links, caches and `curl` agree without `Vary`. An
//! unknown or malformed date, or a page past the last, is a `404` (a page in
//! the region's language, or `{"error": "not_found", "detail": …}` for `.json`).
//!
//! The pages show exactly what the emails showed: the words, dates, reasons
//! and links come from `meridian-digest` ([`meridian_runtime::digest_view`]),
//! the label from `[mail] ai_label`, and the digest page and its JSON carry
//! the same `X-AI-Generated` marker as the email (header, and `<meta
//! name="ai-generated">` in the page).
//!
//! A digest never changes once made (the store keeps the first digest of a
//! day), so each rendered digest page is kept in memory and served without a
//! database round trip; entries expire after [`DIGEST_TTL`] so that a digest
//! removed by retention disappears. Index pages change when a digest is made,
//! so they are kept for [`INDEX_TTL`] only. The cache holds at most
//! [`CACHE_ENTRIES`] entries and starts afresh when full.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use chrono::NaiveDate;
use meridian_core::Digest;
use meridian_runtime::{
    CONFIRM_VALID_HOURS, Region, RenderContext, RuntimeError, digest_view, format_date, item_link,
    pick_reason,
};
use minijinja::{Environment, UndefinedBehavior, context};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::error::{ApiError, PageError};
use crate::pages::{self, Lang, Message};
use crate::routes::{html, page_context};

/// Digests per index page.
pub const PAGE_SIZE: u32 = 20;
/// How long a rendered digest page is served from memory.
pub const DIGEST_TTL: Duration = Duration::from_secs(300);
/// How long a rendered index page is served from memory.
pub const INDEX_TTL: Duration = Duration::from_secs(10);
/// Most rendered pages kept at once.
pub const CACHE_ENTRIES: usize = 1024;

/// The archive's routes, merged into the service's router. Each call has its
/// own page cache.
pub(crate) fn routes() -> axum::Router<AppState> {
    Router::new()
        .route("/archive", get(index_page))
        .route("/archive.json", get(index_json))
        .route("/archive/{date}", get(digest_by_date))
        .layer(Extension(Arc::new(PageCache::default())))
}

/// HTML or JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Format {
    Html,
    Json,
}

/// What the cache is keyed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Digest(NaiveDate, Format),
    Index(u32, Format),
}

/// A rendered `200` response body and the headers it goes with.
#[derive(Debug, Clone)]
struct Rendered {
    body: Bytes,
    format: Format,
    /// `X-AI-Generated` (digest pages only).
    marker: Option<HeaderValue>,
    cache_control: &'static str,
}

impl Rendered {
    fn response(&self) -> Response {
        let content_type = match self.format {
            Format::Html => "text/html; charset=utf-8",
            Format::Json => "application/json",
        };
        let mut response = Response::new(Body::from(self.body.clone()));
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(self.cache_control),
        );
        if let Some(marker) = &self.marker {
            headers.insert(HeaderName::from_static(MARKER_HEADER), marker.clone());
        }
        response
    }
}

/// [`AI_MARKER_HEADER`] as a header name (lower case; a test checks they agree).
const MARKER_HEADER: &str = "x-ai-generated";

/// Rendered pages with the time they were made.
#[derive(Debug, Default)]
pub(crate) struct PageCache {
    entries: Mutex<HashMap<Key, (Instant, Rendered)>>,
}

impl PageCache {
    fn get(&self, key: Key) -> Option<Rendered> {
        let ttl = match key {
            Key::Digest(..) => DIGEST_TTL,
            Key::Index(..) => INDEX_TTL,
        };
        let entries = self.entries.lock().ok()?;
        let (made, rendered) = entries.get(&key)?;
        (made.elapsed() < ttl).then(|| rendered.clone())
    }

    fn put(&self, key: Key, rendered: Rendered) {
        // A poisoned lock only means another request panicked mid-insert;
        // the map itself is still whole.
        let mut entries = match self.entries.lock() {
            Ok(e) => e,
            Err(poisoned) => poisoned.into_inner(),
        };
        if entries.len() >= CACHE_ENTRIES {
            entries.clear();
        }
        entries.insert(key, (Instant::now(), rendered));
    }
}

static TEMPLATES: std::sync::LazyLock<Result<Environment<'static>, minijinja::Error>> =
    std::sync::LazyLock::new(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.add_filter("href", meridian_runtime::href_filter);
        env.add_filter("attr", attribute);
        env.add_template("layout.html", include_str!("../templates/layout.html"))?;
        env.add_template(
            "archive_index.html",
            include_str!("../templates/archive_index.html"),
        )?;
        env.add_template(
            "archive_digest.html",
            include_str!("../templates/archive_digest.html"),
        )?;
        Ok(env)
    });

/// Template filter for a quoted attribute holding one of our own paths or
/// the marker: escapes what HTML needs but leaves `/` readable (minijinja's
/// HTML escape writes it as `&#x2f;`).
fn attribute(value: String) -> minijinja::Value {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    minijinja::Value::from_safe_string(out)
}

fn render(template: &str, ctx: minijinja::Value) -> Result<String, minijinja::Error> {
    let env = TEMPLATES.as_ref().map_err(|e| {
        minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            format!("the archive templates: {e:#}"),
        )
    })?;
    env.get_template(template)?.render(ctx)
}

/// The archive's own words, per language.
struct Words {
    index_title: &'static str,
    intro: String,
    empty: &'static str,
    newer: &'static str,
    older: &'static str,
    pages_label: &'static str,
    all_digests: &'static str,
    subscribe: &'static str,
    more_label: &'static str,
}

impl Words {
    fn of(lang: Lang, region: &str) -> Self {
        match lang {
            Lang::En => Self {
                index_title: "Digest archive",
                intro: format!(
                    "Every daily podcast digest for {region}, newest first. The insights are chosen and summarised by AI."
                ),
                empty: "No digests yet. The first one is made on the next daily run.",
                newer: "Newer digests",
                older: "Older digests",
                pages_label: "Pages",
                all_digests: "All digests",
                subscribe: "Subscribe",
                more_label: "More",
            },
            Lang::Zh => Self {
                index_title: "摘要存档",
                intro: format!(
                    "{region}的全部每日播客摘要，按日期从新到旧排列。洞见由 AI 挑选并总结。"
                ),
                empty: "暂无摘要。下一次每日运行后将生成第一份摘要。",
                newer: "较新的摘要",
                older: "较早的摘要",
                pages_label: "分页",
                all_digests: "全部摘要",
                subscribe: "订阅",
                more_label: "更多",
            },
            Lang::De => Self {
                index_title: "Digest-Archiv",
                intro: format!(
                    "Alle täglichen Podcast-Digests für die Region {region}, die neuesten zuerst. Die Erkenntnisse werden von einer KI ausgewählt und zusammengefasst."
                ),
                empty: "Noch keine Digests. Der erste entsteht beim nächsten täglichen Lauf.",
                newer: "Neuere Digests",
                older: "Ältere Digests",
                pages_label: "Seiten",
                all_digests: "Alle Digests",
                subscribe: "Abonnieren",
                more_label: "Weiteres",
            },
        }
    }

    fn insights(lang: Lang, n: usize) -> String {
        match (lang, n) {
            (Lang::En, 1) => "1 insight".to_owned(),
            (Lang::En, n) => format!("{n} insights"),
            (Lang::Zh, n) => format!("{n} 条洞见"),
            (Lang::De, 1) => "1 Erkenntnis".to_owned(),
            (Lang::De, n) => format!("{n} Erkenntnisse"),
        }
    }

    fn page_of(lang: Lang, page: u32, pages: u32) -> String {
        match lang {
            Lang::En => format!("Page {page} of {pages}"),
            Lang::Zh => format!("第 {page} 页，共 {pages} 页"),
            Lang::De => format!("Seite {page} von {pages}"),
        }
    }
}

/// The region's rendering context for `digest_view` (no subscriber links:
/// the page is public).
fn render_context(region: &Region) -> RenderContext {
    let cfg = region.config();
    RenderContext {
        locale: cfg.locale.clone(),
        region_name: cfg.name.clone(),
        timezone: cfg.timezone,
        ai_label: cfg.mail.ai_label.clone(),
        unsubscribe_url: None,
        archive_url: None,
    }
}

/// `YYYY-MM-DD` exactly (no `2026-1-2` alias of `2026-01-02`).
fn parse_date(text: &str) -> Option<NaiveDate> {
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    (date.format("%Y-%m-%d").to_string() == text).then_some(date)
}

/// `?page=N`
#[derive(Debug, Deserialize)]
pub(crate) struct PageQuery {
    #[serde(default)]
    page: Option<String>,
}

/// Page 1 when absent; `None` for anything but a whole number ≥ 1.
fn requested_page(query: Result<Query<PageQuery>, QueryRejection>) -> Option<u32> {
    match query.ok().and_then(|Query(q)| q.page) {
        None => Some(1),
        Some(p) => p.trim().parse::<u32>().ok().filter(|p| *p >= 1),
    }
}

/// One digest in the JSON index.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct DigestSummary {
    /// The day, `YYYY-MM-DD`, in the region's timezone.
    date: String,
    /// How many insights it has (at most five).
    insights: usize,
    /// The first insight's text.
    headline: Option<String>,
    /// The digest's page.
    url: String,
    /// The digest as JSON.
    json_url: String,
}

/// `GET /archive.json`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ArchiveIndex {
    /// The region's id.
    region: String,
    /// This page, from 1.
    page: u32,
    /// How many pages there are (at least 1).
    pages: u32,
    /// How many digests there are in all.
    total: i64,
    /// This page's digests, newest day first.
    digests: Vec<DigestSummary>,
    /// The next page (older digests), if any.
    next: Option<String>,
    /// The previous page (newer digests), if any.
    prev: Option<String>,
}

/// How an insight was scored: the ranking's components, for auditors (the
/// reader sees `why_picked`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ScoreJson {
    importance: f64,
    novelty: f64,
    recency: f64,
    total: f64,
}

/// One insight of a digest.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct InsightJson {
    /// 1 for the best.
    rank: usize,
    /// The insight.
    text: String,
    /// The verbatim words from the episode it rests on.
    quote: String,
    /// Who says the quote, when the transcript names the speaker.
    speaker: Option<String>,
    /// The podcast's title.
    podcast: String,
    /// The episode's title.
    episode: String,
    /// The episode's web page. (Digests made before `audio_url` existed may
    /// hold the media URL here when the feed had no page.)
    episode_url: Option<String>,
    /// The episode's audio (the feed's enclosure URL).
    audio_url: Option<String>,
    /// Where the quote starts in the episode, seconds.
    start_seconds: Option<f64>,
    /// The audio at that moment (`audio.mp3#t=SECONDS`), or the whole audio
    /// when the start is unknown; none without an audio URL.
    moment_url: Option<String>,
    /// The episode's language.
    language: Option<String>,
    /// Why it matters, when the model said.
    why: String,
    /// The region's model entry that produced it.
    model: String,
    /// Why it was picked, in words in the region's language, as the email
    /// says it.
    why_picked: String,
    /// Why it was picked, as the ranking scored it.
    score: ScoreJson,
}

/// The AI-generated-content disclosure.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct AiGenerated {
    /// The visible label the region's jurisdiction expects (`[mail] ai_label`).
    label: String,
    /// The machine-readable marker, as in the emails' `X-AI-Generated` header:
    /// generator, provider, model, region and content id.
    marker: String,
}

/// `GET /archive/{date}.json`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct DigestJson {
    /// The region's id.
    region: String,
    /// The day, `YYYY-MM-DD`, in the region's timezone.
    date: String,
    /// `sha256:…` of the digest, as in the marker.
    content_id: String,
    /// The disclosure shown above the insights.
    ai_generated: AiGenerated,
    /// The digest's page.
    url: String,
    /// The insights, best first.
    insights: Vec<InsightJson>,
    /// Whether the digest has fewer insights than the region asks for
    /// because the other candidates were below the quality floor.
    short_of_strong_insights: bool,
}

fn digest_json(region: &Region, digest: &Digest) -> DigestJson {
    let date = digest.date.to_string();
    let locale = &region.config().locale;
    DigestJson {
        region: region.config().id.to_string(),
        content_id: format!("sha256:{}", digest.content_hash().to_hex()),
        ai_generated: AiGenerated {
            label: region.config().mail.ai_label.trim().to_owned(),
            marker: region.ai_marker(digest),
        },
        url: format!("/archive/{date}"),
        date,
        insights: digest
            .items
            .iter()
            .enumerate()
            .map(|(i, item)| InsightJson {
                rank: i + 1,
                text: item.insight.text.clone(),
                quote: item.insight.quote.clone(),
                speaker: item.insight.speaker.clone(),
                podcast: item.podcast.clone(),
                episode: item.episode.clone(),
                episode_url: item.episode_url.clone(),
                audio_url: item.audio_url.clone(),
                start_seconds: item.insight.start,
                moment_url: item_link(item),
                language: item.language.clone(),
                why: item.insight.why.clone(),
                model: item.insight.model.clone(),
                why_picked: pick_reason(locale, &item.score),
                score: ScoreJson {
                    importance: item.score.importance,
                    novelty: item.score.novelty,
                    recency: item.score.recency,
                    total: item.score.total,
                },
            })
            .collect(),
        short_of_strong_insights: digest.short_of_strong_insights,
    }
}

/// Why an archive request failed.
enum ArchiveError {
    /// No such digest or page.
    NotFound(String),
    /// The store failed.
    Internal(RuntimeError),
    /// A template failed.
    Template(minijinja::Error),
    /// The JSON could not be written.
    Json(serde_json::Error),
}

impl From<meridian_store::StoreError> for ArchiveError {
    fn from(e: meridian_store::StoreError) -> Self {
        Self::Internal(RuntimeError::from(e))
    }
}

impl ArchiveError {
    fn into_response(self, region: &Region, format: Format) -> Response {
        match (format, self) {
            (Format::Html, Self::NotFound(_)) => {
                match pages::message(
                    &page_context(region),
                    Message::NotFound,
                    CONFIRM_VALID_HOURS,
                ) {
                    Ok(body) => html(StatusCode::NOT_FOUND, body),
                    Err(e) => PageError::template(region)(e).into_response(),
                }
            }
            (Format::Json, Self::NotFound(what)) => {
                crate::error::error_response(StatusCode::NOT_FOUND, what)
            }
            (Format::Html, Self::Internal(e)) => PageError::internal(region)(e).into_response(),
            (Format::Html, Self::Template(e)) => PageError::template(region)(e).into_response(),
            (Format::Html, Self::Json(e)) => PageError::template(region)(minijinja::Error::new(
                minijinja::ErrorKind::BadSerialization,
                e.to_string(),
            ))
            .into_response(),
            (Format::Json, Self::Internal(e)) => ApiError::runtime(e).into_response(),
            (Format::Json, Self::Template(e)) => {
                tracing::error!(region = %region.config().id, error = %e, "An archive template failed.");
                json_internal()
            }
            (Format::Json, Self::Json(e)) => {
                tracing::error!(region = %region.config().id, error = %e, "Writing archive JSON failed.");
                json_internal()
            }
        }
    }
}

fn json_internal() -> Response {
    crate::error::error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error; the cause is in the service's log".to_owned(),
    )
}

/// `GET /archive`: the index page.
async fn index_page(
    State(state): State<AppState>,
    Extension(cache): Extension<Arc<PageCache>>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Response {
    index(&state.region, &cache, requested_page(query), Format::Html).await
}

/// `GET /archive.json`: the index page as JSON.
#[utoipa::path(
    get,
    path = "/archive.json",
    tag = "archive",
    params(("page" = Option<u32>, Query, description = "Page number, from 1 (newest digests)")),
    responses(
        (status = 200, description = "One page of the archive, newest day first", body = ArchiveIndex),
        (status = 404, description = "No such page"),
    )
)]
pub(crate) async fn index_json(
    State(state): State<AppState>,
    Extension(cache): Extension<Arc<PageCache>>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Response {
    index(&state.region, &cache, requested_page(query), Format::Json).await
}

async fn index(region: &Region, cache: &PageCache, page: Option<u32>, format: Format) -> Response {
    let Some(page) = page else {
        return ArchiveError::NotFound("no such page".to_owned()).into_response(region, format);
    };
    let key = Key::Index(page, format);
    if let Some(hit) = cache.get(key) {
        return hit.response();
    }
    match render_index(region, page, format).await {
        Ok(rendered) => {
            let response = rendered.response();
            cache.put(key, rendered);
            response
        }
        Err(e) => e.into_response(region, format),
    }
}

async fn render_index(
    region: &Region,
    page: u32,
    format: Format,
) -> Result<Rendered, ArchiveError> {
    let offset = i64::from(page - 1) * i64::from(PAGE_SIZE);
    let listing = region
        .store()
        .digest_page(offset, i64::from(PAGE_SIZE))
        .await?;
    let pages =
        u32::try_from((listing.total.max(1) + i64::from(PAGE_SIZE) - 1) / i64::from(PAGE_SIZE))
            .unwrap_or(u32::MAX);
    if page > pages {
        return Err(ArchiveError::NotFound(format!(
            "no page {page}: the archive has {pages}"
        )));
    }
    let suffix = match format {
        Format::Html => "",
        Format::Json => ".json",
    };
    let link = |p: u32| {
        if p == 1 {
            format!("/archive{suffix}")
        } else {
            format!("/archive{suffix}?page={p}")
        }
    };
    let newer = (page > 1).then(|| link(page - 1));
    let older = (page < pages).then(|| link(page + 1));
    let body = match format {
        Format::Json => {
            let index = ArchiveIndex {
                region: region.config().id.to_string(),
                page,
                pages,
                total: listing.total,
                digests: listing
                    .digests
                    .iter()
                    .map(|d| {
                        let date = d.digest.date.to_string();
                        DigestSummary {
                            insights: d.digest.items.len(),
                            headline: d.digest.items.first().map(|i| i.insight.text.clone()),
                            url: format!("/archive/{date}"),
                            json_url: format!("/archive/{date}.json"),
                            date,
                        }
                    })
                    .collect(),
                next: older,
                prev: newer,
            };
            serde_json::to_vec(&index).map_err(ArchiveError::Json)?
        }
        Format::Html => {
            let cfg = region.config();
            let lang = Lang::of(&cfg.locale);
            let words = Words::of(lang, &cfg.name);
            let entries: Vec<minijinja::Value> = listing
                .digests
                .iter()
                .map(|d| {
                    let first = d.digest.items.first();
                    context! {
                        iso => d.digest.date.to_string(),
                        date => format_date(&cfg.locale, d.digest.date),
                        count => Words::insights(lang, d.digest.items.len()),
                        teaser => first.map(|i| i.insight.text.trim().to_owned()),
                        teaser_lang => first.and_then(|i| i.language.clone()).filter(|l| {
                            !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                        }),
                    }
                })
                .collect();
            render(
                "archive_index.html",
                context! {
                    lang => lang.tag(),
                    region_name => &cfg.name,
                    title => words.index_title,
                    intro => words.intro,
                    ai_label => cfg.mail.ai_label.trim(),
                    entries => entries,
                    empty => words.empty,
                    pages_label => words.pages_label,
                    page_of => (pages > 1).then(|| Words::page_of(lang, page, pages)),
                    newer => newer,
                    newer_label => words.newer,
                    older => older,
                    older_label => words.older,
                    json_url => link(page).replacen("/archive", "/archive.json", 1),
                    subscribe => words.subscribe,
                    more_label => words.more_label,
                },
            )
            .map_err(ArchiveError::Template)?
            .into_bytes()
        }
    };
    Ok(Rendered {
        body: Bytes::from(body),
        format,
        marker: None,
        cache_control: "public, max-age=60",
    })
}

/// `GET /archive/{date}` and `GET /archive/{date}.json`.
async fn digest_by_date(
    State(state): State<AppState>,
    Extension(cache): Extension<Arc<PageCache>>,
    Path(raw): Path<String>,
) -> Response {
    match raw.strip_suffix(".json") {
        Some(date) => {
            digest_json_by_date(State(state), Extension(cache), Path(date.to_owned())).await
        }
        None => digest_page(&state.region, &cache, &raw, Format::Html).await,
    }
}

/// `GET /archive/{date}.json`: one digest as JSON. (The router has one route,
/// `/archive/{date}`, whose handler sends a `.json` suffix here.)
#[utoipa::path(
    get,
    path = "/archive/{date}.json",
    tag = "archive",
    params(("date" = String, Path, description = "The digest's day, YYYY-MM-DD")),
    responses(
        (status = 200, description = "The digest, with its AI-generated label and marker", body = DigestJson),
        (status = 404, description = "No digest for that day"),
    )
)]
pub(crate) async fn digest_json_by_date(
    State(state): State<AppState>,
    Extension(cache): Extension<Arc<PageCache>>,
    Path(date): Path<String>,
) -> Response {
    digest_page(&state.region, &cache, &date, Format::Json).await
}

async fn digest_page(region: &Region, cache: &PageCache, text: &str, format: Format) -> Response {
    let Some(date) = parse_date(text) else {
        return ArchiveError::NotFound(format!("`{text}` is not a date (YYYY-MM-DD)"))
            .into_response(region, format);
    };
    let key = Key::Digest(date, format);
    if let Some(hit) = cache.get(key) {
        return hit.response();
    }
    match render_digest_page(region, date, format).await {
        Ok(rendered) => {
            let response = rendered.response();
            cache.put(key, rendered);
            response
        }
        Err(e) => e.into_response(region, format),
    }
}

async fn render_digest_page(
    region: &Region,
    date: NaiveDate,
    format: Format,
) -> Result<Rendered, ArchiveError> {
    let stored = region
        .store()
        .digest_for_date(date)
        .await?
        .ok_or_else(|| ArchiveError::NotFound(format!("no digest for {date}")))?;
    let digest = &stored.digest;
    let marker = region.ai_marker(digest);
    let body = match format {
        Format::Json => {
            serde_json::to_vec(&digest_json(region, digest)).map_err(ArchiveError::Json)?
        }
        Format::Html => {
            let cfg = region.config();
            let words = Words::of(Lang::of(&cfg.locale), &cfg.name);
            let view = digest_view(digest, &render_context(region));
            let title = view.get_attr("subject").map_err(ArchiveError::Template)?;
            render(
                "archive_digest.html",
                context! {
                    lang => view.get_attr("lang").map_err(ArchiveError::Template)?,
                    region_name => &cfg.name,
                    title => title,
                    d => view,
                    iso => date.to_string(),
                    marker => &marker,
                    all_digests => words.all_digests,
                    subscribe => words.subscribe,
                    more_label => words.more_label,
                },
            )
            .map_err(ArchiveError::Template)?
            .into_bytes()
        }
    };
    Ok(Rendered {
        body: Bytes::from(body),
        format,
        marker: HeaderValue::from_str(&marker).ok(),
        cache_control: "public, max-age=300",
    })
}

#[cfg(test)]
mod tests {
    use meridian_runtime::AI_MARKER_HEADER;

    use super::*;

    #[test]
    fn only_canonical_dates_name_a_digest() {
        assert_eq!(
            parse_date("2026-11-28"),
            NaiveDate::from_ymd_opt(2026, 11, 28)
        );
        for bad in [
            "2026-1-2",
            "2026-02-30",
            "20261128",
            "2026-11-28x",
            "",
            "../etc",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn pages_are_whole_numbers_from_one() {
        let q = |p: &str| {
            Ok(Query(PageQuery {
                page: Some(p.to_owned()),
            }))
        };
        assert_eq!(requested_page(Ok(Query(PageQuery { page: None }))), Some(1));
        assert_eq!(requested_page(q("3")), Some(3));
        for bad in ["0", "-1", "x", "1.5", ""] {
            assert_eq!(requested_page(q(bad)), None, "{bad}");
        }
    }

    #[test]
    fn the_marker_header_is_the_emails() {
        assert!(MARKER_HEADER.eq_ignore_ascii_case(AI_MARKER_HEADER));
    }

    #[test]
    fn the_cache_serves_until_the_entry_expires() {
        let cache = PageCache::default();
        let date = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
        let key = Key::Digest(date, Format::Html);
        assert!(cache.get(key).is_none());
        cache.put(
            key,
            Rendered {
                body: Bytes::from_static(b"page"),
                format: Format::Html,
                marker: None,
                cache_control: "public",
            },
        );
        assert_eq!(cache.get(key).unwrap().body, Bytes::from_static(b"page"));
        assert!(
            cache.get(Key::Digest(date, Format::Json)).is_none(),
            "per format"
        );
        // Expired: made longer ago than the TTL.
        if let Some(earlier) = Instant::now().checked_sub(DIGEST_TTL + Duration::from_secs(1)) {
            cache.entries.lock().unwrap().get_mut(&key).unwrap().0 = earlier;
            assert!(cache.get(key).is_none());
        }
    }
}
