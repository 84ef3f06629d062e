//! JSON Feed (<https://jsonfeed.org>) documents, read with feed-rs.

use meridian_core::{Enclosure, EpisodeGuid, EpisodeMeta, FeedUrl, GuidSource, PodcastFeed};

use crate::error::{DocKind, IngestError};
use crate::feed::visible;
use crate::html::html_to_text;

/// Parses a JSON Feed; attachments become enclosures. Keys follow the same
/// rules as XML feeds: `id`, else the attachment URL, else the item URL.
pub(crate) fn parse(text: &str, source: &FeedUrl) -> Result<PodcastFeed, IngestError> {
    let subject = source.as_str();
    let parsed = feed_rs::parser::Builder::new()
        // Empty ids tell us the item had none, so that our own fallback applies.
        .id_generator(|_, _, _| String::new())
        .sanitize_content(false)
        .build()
        .parse(text.as_bytes());
    let feed = match parsed {
        Ok(f) => f,
        Err(feed_rs::parser::ParseFeedError::ParseError(_)) => {
            return Err(IngestError::wrong(
                DocKind::Feed,
                subject,
                "JSON, but not a JSON Feed".to_owned(),
            ));
        }
        Err(e) => {
            return Err(IngestError::unparseable(
                DocKind::Feed,
                subject,
                None,
                format!("not a valid JSON Feed: {e}"),
            ));
        }
    };
    // Titles and show notes go through `html_to_text`, which drops bidi
    // controls and invisible characters as it reads; the language and the
    // author are stripped here.
    let language = feed.language.map(visible);
    let mut taken = std::collections::HashSet::new();
    let mut episodes = Vec::with_capacity(feed.entries.len());
    for entry in feed.entries {
        let page = entry
            .links
            .iter()
            .find(|l| l.media_type.is_none())
            .map(|l| l.href.clone());
        let enclosure = entry
            .links
            .iter()
            .find(|l| l.media_type.is_some())
            .and_then(|l| {
                let url = FeedUrl::join(source, &l.href).ok()?;
                (url.is_remote() || !source.is_remote()).then(|| Enclosure {
                    url: url.as_str().to_owned(),
                    mime_type: l.media_type.clone(),
                    length: l.length,
                })
            });
        let title = entry
            .title
            .map(|t| html_to_text(&t.content))
            .unwrap_or_default();
        let body = entry
            .content
            .and_then(|c| c.body)
            .or(entry.summary.map(|s| s.content))
            .unwrap_or_default();
        let (key, key_source) = [
            (
                Some(entry.id.as_str()).filter(|s| !s.trim().is_empty()),
                GuidSource::Guid,
            ),
            (
                enclosure.as_ref().map(|e| e.url.as_str()),
                GuidSource::Enclosure,
            ),
            (page.as_deref(), GuidSource::Link),
        ]
        .into_iter()
        .find_map(|(k, s)| k.filter(|k| !taken.contains(*k)).map(|k| (k.to_owned(), s)))
        .unwrap_or_else(|| {
            let date = entry.published.map(|d| d.to_rfc3339()).unwrap_or_default();
            let hash = meridian_core::ContentHash::of_parts([title.as_bytes(), date.as_bytes()]);
            (hash.to_hex(), GuidSource::TitleDate)
        });
        if !taken.insert(key.clone()) {
            continue;
        }
        episodes.push(EpisodeMeta {
            guid: EpisodeGuid(key),
            guid_source: key_source,
            title,
            published: entry.published.or(entry.updated),
            link: page,
            description: html_to_text(&body),
            enclosure,
            duration_secs: None,
            transcripts: Vec::new(),
            chapters_url: None,
            persons: Vec::new(),
            language: language.clone(),
        });
    }
    Ok(PodcastFeed {
        title: feed
            .title
            .map(|t| html_to_text(&t.content))
            .unwrap_or_default(),
        link: feed.links.first().map(|l| l.href.clone()),
        description: feed
            .description
            .map(|d| html_to_text(&d.content))
            .unwrap_or_default(),
        language,
        author: feed
            .authors
            .into_iter()
            .find_map(|a| a.name.filter(|n| !n.trim().is_empty()))
            .map(visible),
        image: feed.icon.or(feed.logo).map(|i| i.uri),
        podcast_guid: None,
        blocked: false,
        new_feed_url: None,
        ttl_minutes: None,
        episodes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_feed_attachments_become_enclosures() {
        let doc = r#"{"version":"https://jsonfeed.org/version/1.1","title":"JF","home_page_url":"https://j.example/",
            "items":[{"id":"1","title":"Ep","content_html":"<p>Notes</p>","date_published":"2021-01-02T03:04:05Z",
            "attachments":[{"url":"https://j.example/1.mp3","mime_type":"audio/mpeg","size_in_bytes":42}]},
            {"title":"No id","url":"https://j.example/2"}]}"#;
        let source = FeedUrl::parse("https://j.example/feed.json").unwrap();
        let f = crate::parse_feed(doc.as_bytes(), &source).unwrap();
        assert_eq!(f.title, "JF");
        assert_eq!(f.episodes.len(), 2);
        let e = &f.episodes[0];
        assert_eq!((e.guid.0.as_str(), e.description.as_str()), ("1", "Notes"));
        assert_eq!(
            e.enclosure.as_ref().map(|x| (x.url.as_str(), x.length)),
            Some(("https://j.example/1.mp3", Some(42)))
        );
        assert_eq!(f.episodes[1].guid_source, GuidSource::Link);
        let not = crate::parse_feed(br#"{"version":"1.0.0","segments":[]}"#, &source).unwrap_err();
        assert!(matches!(not.kind(), "unparseable" | "not_a_feed"), "{not}");
    }
}
