use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::transcript::TranscriptFormat;

/// Why a feed URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeedUrlError {
    /// Not a URL at all.
    #[error("feed URL `{url}` is not a valid URL: {reason}")]
    Invalid {
        /// The URL as given.
        url: String,
        /// The parser's reason.
        reason: String,
    },
    /// A scheme other than http, https or file.
    #[error("feed URL `{url}` has scheme `{scheme}`; only http, https and file are accepted")]
    Scheme {
        /// The URL as given.
        url: String,
        /// The scheme found.
        scheme: String,
    },
    /// User name or password embedded in the URL.
    #[error("feed URL `{0}` carries credentials; put secrets in the environment, not in URLs")]
    Credentials(String),
}

/// Where a feed (or a transcript, or an enclosure) is read from: an `http`/`https`
/// URL without credentials, or a `file:` URL for local files given by an operator.
///
/// Remote URLs are fetched only through the region's egress client. A `file:` URL
/// found *inside* remote content (a feed linking to `file:///etc/passwd`) is
/// refused by ingest; only operators put file URLs in a region.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FeedUrl(url::Url);

impl FeedUrl {
    /// Parses a URL.
    ///
    /// # Errors
    /// [`FeedUrlError`] naming the URL when it is malformed, has another scheme,
    /// or carries credentials.
    pub fn parse(s: &str) -> Result<Self, FeedUrlError> {
        let url = url::Url::parse(s.trim()).map_err(|e| FeedUrlError::Invalid {
            url: s.to_owned(),
            reason: e.to_string(),
        })?;
        Self::from_url(url, s)
    }

    /// Resolves `s` against `base` (for relative links inside a feed) and parses it.
    ///
    /// # Errors
    /// As [`FeedUrl::parse`].
    pub fn join(base: &FeedUrl, s: &str) -> Result<Self, FeedUrlError> {
        let url = base.0.join(s.trim()).map_err(|e| FeedUrlError::Invalid {
            url: s.to_owned(),
            reason: e.to_string(),
        })?;
        Self::from_url(url, s)
    }

    /// Turns a local path into a `file:` URL.
    ///
    /// # Errors
    /// [`FeedUrlError::Invalid`] when the path is not absolute.
    pub fn from_path(path: &std::path::Path) -> Result<Self, FeedUrlError> {
        url::Url::from_file_path(path)
            .map(Self)
            .map_err(|()| FeedUrlError::Invalid {
                url: path.display().to_string(),
                reason: "not an absolute path".to_owned(),
            })
    }

    fn from_url(url: url::Url, original: &str) -> Result<Self, FeedUrlError> {
        match url.scheme() {
            "http" | "https" => {
                if url.host_str().is_none_or(str::is_empty) {
                    return Err(FeedUrlError::Invalid {
                        url: original.to_owned(),
                        reason: "no host".to_owned(),
                    });
                }
            }
            "file" => {}
            other => {
                return Err(FeedUrlError::Scheme {
                    url: original.to_owned(),
                    scheme: other.to_owned(),
                });
            }
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(FeedUrlError::Credentials(redact(&url)));
        }
        Ok(Self(url))
    }

    /// Whether this URL is fetched over the network (http/https).
    #[must_use]
    pub fn is_remote(&self) -> bool {
        self.0.scheme() != "file"
    }

    /// The local path of a `file:` URL.
    #[must_use]
    pub fn to_file_path(&self) -> Option<std::path::PathBuf> {
        if self.is_remote() {
            None
        } else {
            self.0.to_file_path().ok()
        }
    }

    /// The host, for remote URLs.
    #[must_use]
    pub fn host(&self) -> Option<&str> {
        self.0.host_str()
    }

    /// The underlying URL.
    #[must_use]
    pub fn as_url(&self) -> &url::Url {
        &self.0
    }

    /// The URL as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

fn redact(url: &url::Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string()
}

impl fmt::Display for FeedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

impl TryFrom<String> for FeedUrl {
    type Error = FeedUrlError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<FeedUrl> for String {
    fn from(u: FeedUrl) -> Self {
        u.0.into()
    }
}

/// How an episode's key was obtained, most trustworthy first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuidSource {
    /// The item's own `<guid>` / Atom `<id>`.
    Guid,
    /// No guid: the enclosure URL.
    Enclosure,
    /// No guid nor enclosure: the item link.
    Link,
    /// Nothing else: a hash of title and publication date.
    TitleDate,
}

/// An episode's identity within its feed. Episodes are keyed by (feed, guid).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EpisodeGuid(pub String);

impl fmt::Display for EpisodeGuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An episode's media file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Enclosure {
    /// Where the audio or video is.
    pub url: String,
    /// Declared MIME type (`audio/mpeg`).
    #[serde(rename = "type")]
    pub mime_type: Option<String>,
    /// Declared size in bytes.
    pub length: Option<u64>,
}

/// A `podcast:transcript` link of an episode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TranscriptLink {
    /// Where the transcript is.
    pub url: String,
    /// The declared MIME type, as written in the feed.
    #[serde(rename = "type")]
    pub mime_type: String,
    /// The format Meridian reads it as, when the type is one it knows.
    pub format: Option<TranscriptFormat>,
    /// The transcript's language (`en`, `zh-cn`…), when declared.
    pub language: Option<String>,
    /// `captions` when the file is a caption track.
    pub rel: Option<String>,
}

/// One episode as read from a feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpisodeMeta {
    /// The episode's key within its feed.
    pub guid: EpisodeGuid,
    /// Where the key came from.
    pub guid_source: GuidSource,
    /// Title, as plain text.
    pub title: String,
    /// Publication time; `None` when missing or unparseable (the episode is kept).
    pub published: Option<DateTime<Utc>>,
    /// The episode's web page.
    pub link: Option<String>,
    /// Show notes reduced to plain text.
    pub description: String,
    /// The media file.
    pub enclosure: Option<Enclosure>,
    /// Duration in seconds (`itunes:duration`).
    pub duration_secs: Option<u64>,
    /// `podcast:transcript` links.
    pub transcripts: Vec<TranscriptLink>,
    /// `podcast:chapters` URL.
    pub chapters_url: Option<String>,
    /// `podcast:person` names.
    pub persons: Vec<String>,
    /// Language of the episode (the feed's, unless the item says otherwise).
    pub language: Option<String>,
}

/// A podcast as read from its feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PodcastFeed {
    /// The podcast's title, as plain text.
    pub title: String,
    /// The podcast's web site.
    pub link: Option<String>,
    /// Description as plain text.
    pub description: String,
    /// Declared language (`en-us`, `zh-cn`…).
    pub language: Option<String>,
    /// Author (`itunes:author` or the feed's author).
    pub author: Option<String>,
    /// Cover image URL.
    pub image: Option<String>,
    /// `podcast:guid`, the podcast's global id.
    pub podcast_guid: Option<String>,
    /// `podcast:block` says "do not ingest me".
    pub blocked: bool,
    /// `itunes:new-feed-url`: the publisher moved the feed.
    pub new_feed_url: Option<String>,
    /// The feed's `<ttl>` in minutes, for polite polling.
    pub ttl_minutes: Option<u32>,
    /// The episodes, in feed order.
    pub episodes: Vec<EpisodeMeta>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_http_https_and_file() {
        assert!(
            FeedUrl::parse("https://feeds.example.com/show.xml")
                .unwrap()
                .is_remote()
        );
        let f = FeedUrl::parse("file:///tmp/show.xml").unwrap();
        assert!(!f.is_remote());
        assert_eq!(
            f.to_file_path().unwrap(),
            std::path::PathBuf::from("/tmp/show.xml")
        );
    }

    #[test]
    fn refuses_other_schemes_and_credentials() {
        assert!(matches!(
            FeedUrl::parse("ftp://x.example/feed"),
            Err(FeedUrlError::Scheme { .. })
        ));
        assert!(matches!(
            FeedUrl::parse("gopher://x"),
            Err(FeedUrlError::Scheme { .. })
        ));
        let e = FeedUrl::parse("https://user:hunter2@x.example/feed").unwrap_err();
        assert!(matches!(e, FeedUrlError::Credentials(_)));
        assert!(
            !e.to_string().contains("hunter2"),
            "the error must not echo the password"
        );
        assert!(FeedUrl::parse("not a url").is_err());
        assert!(FeedUrl::parse("http://").is_err());
    }

    #[test]
    fn joins_relative_links() {
        let base = FeedUrl::parse("https://x.example/shows/feed.xml").unwrap();
        assert_eq!(
            FeedUrl::join(&base, "ep1.vtt").unwrap().as_str(),
            "https://x.example/shows/ep1.vtt"
        );
    }
}
