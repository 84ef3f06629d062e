//! Links inside a feed (enclosures, transcripts, chapters, pages, images),
//! resolved against the feed's URL and normalised.
//!
//! Resolving goes through the `url` crate ([`FeedUrl::join`]), which parses,
//! percent-encodes, lower-cases and removes dot segments. Nearly every link in
//! a real feed is already what that would give back: an absolute `http(s)`
//! URL with a lower-case host and nothing to encode. Parsing those anyway was
//! an eighth of a feed parse (about 8,000 instructions a link;
//! docs/benchmarks.md), so [`is_normal_http_url`] recognises them with one
//! pass over the bytes and they are kept as written. It is deliberately
//! narrow: anything it is not sure of (a port, a fragment, upper case,
//! non-ASCII, `%2e`, `xn--`, a quote…) takes the full path, and a test checks
//! that both give the same answer.

use meridian_core::FeedUrl;

/// A URL for something we may fetch (enclosure, transcript, chapters):
/// resolved against the feed's URL; `file:` URLs inside a remote feed and
/// anything not http/https/file are refused.
pub(crate) fn resolve_resource(source: &FeedUrl, raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    if is_normal_http_url(raw) {
        return Some(raw.to_owned());
    }
    let url = FeedUrl::join(source, raw).ok()?;
    if source.is_remote() && !url.is_remote() {
        tracing::debug!(feed = %source, link = raw, "Dropped a file: link inside a remote feed");
        return None;
    }
    Some(url.as_str().to_owned())
}

/// A web page link: resolved like a resource, kept only when it resolves.
pub(crate) fn resolve_link(source: &FeedUrl, raw: Option<&str>) -> Option<String> {
    resolve_resource(source, raw?)
}

/// Whether `s` is an absolute `http`/`https` URL that [`FeedUrl::join`]
/// accepts and gives back unchanged, whatever the base: the scheme and host
/// in lower case (host labels of `a-z`, `0-9`, `-`, the last one starting
/// with a letter so that it cannot be read as an IPv4 address, no IDNA `xn--`
/// label), no port, user or fragment, a path starting with `/` without dot
/// segments, and path and query made only of characters the URL standard
/// leaves as they are.
fn is_normal_http_url(s: &str) -> bool {
    let Some(rest) = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
    else {
        return false;
    };
    let bytes = rest.as_bytes();
    // Host: labels of `a-z0-9-`, none empty, none `xn--`; the last one starts
    // with a letter. It ends at the path's `/` (a port, user or query or
    // fragment right after the host is not plain).
    let mut label_start = 0;
    let mut host_end = None;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'a'..=b'z' | b'0'..=b'9' | b'-' => {}
            b'.' | b'/' => {
                let label = &bytes[label_start..i];
                if label.is_empty() || label.starts_with(b"xn--") {
                    return false;
                }
                if b == b'/' {
                    if !label[0].is_ascii_lowercase() {
                        return false;
                    }
                    host_end = Some(i);
                    break;
                }
                label_start = i + 1;
            }
            _ => return false,
        }
    }
    let Some(host_end) = host_end else {
        return false;
    };
    // Path, then query: plain bytes only; in the path no dot segment (`.`,
    // `..`) and no `%2e`, which the URL standard reads as a dot.
    let target = &bytes[host_end..];
    let mut segment_start = 0;
    for (i, &b) in target.iter().enumerate() {
        match URL_BYTE[usize::from(b)] {
            PLAIN => {}
            SLASH => segment_start = i + 1,
            DOT => {
                if i == segment_start {
                    let end = |at: usize| matches!(target.get(at), None | Some(b'/' | b'?'));
                    if end(i + 1) || (target.get(i + 1) == Some(&b'.') && end(i + 2)) {
                        return false;
                    }
                }
            }
            PERCENT => {
                if target.get(i + 1) == Some(&b'2')
                    && target.get(i + 2).is_some_and(|c| c | 0x20 == b'e')
                {
                    return false;
                }
            }
            QUESTION => {
                return target[i + 1..]
                    .iter()
                    .all(|&c| URL_BYTE[usize::from(c)] != OTHER);
            }
            _ => return false,
        }
    }
    true
}

/// Classes of bytes in a URL's path and query.
const OTHER: u8 = 0;
const PLAIN: u8 = 1;
const SLASH: u8 = 2;
const DOT: u8 = 3;
const PERCENT: u8 = 4;
const QUESTION: u8 = 5;

/// Bytes that the URL standard keeps as they are in a path and in a query
/// are ASCII letters and digits and `-._~!$&()*+,;=:@/%` (and `?` in the
/// query): `'` is encoded in queries, the rest of ASCII in one or the other
/// or it ends the part, and non-ASCII is always encoded. Everything else is
/// [`OTHER`].
const URL_BYTE: [u8; 256] = {
    let mut table = [OTHER; 256];
    let mut b = 0;
    while b < 256 {
        #[expect(clippy::cast_possible_truncation, reason = "b < 256")]
        let c = b as u8;
        table[b] = match c {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => PLAIN,
            b'-' | b'_' | b'~' | b'!' | b'$' | b'&' | b'(' | b')' | b'*' | b'+' | b',' | b';'
            | b'=' | b':' | b'@' => PLAIN,
            b'/' => SLASH,
            b'.' => DOT,
            b'%' => PERCENT,
            b'?' => QUESTION,
            _ => OTHER,
        };
        b += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    /// What the full path (the `url` crate) makes of `s` against `base`.
    fn joined(base: &FeedUrl, s: &str) -> Option<String> {
        FeedUrl::join(base, s).ok().map(|u| u.as_str().to_owned())
    }

    #[test]
    fn common_links_are_recognised_as_normal() {
        for s in [
            "https://traffic.libsyn.com/secure/show/ep_12.mp3?dest-id=42&x=1",
            "http://feeds.example.com/~r/show/~5/abc/ep.mp3",
            "https://a-b.c0.example/path/with:colon;and=eq/@x/%20ok/",
            "https://www.buzzsprout.com/2144220/transcripts/12345.vtt",
        ] {
            assert!(is_normal_http_url(s), "{s}");
        }
        for s in [
            "HTTPS://a.example/",
            "https://A.example/",
            "https://a.example",
            "https://a.example:443/",
            "https://a.example/x#frag",
            "https://user@a.example/",
            "https://a.example/./x",
            "https://a.example/a/../x",
            "https://a.example/a/%2E%2e/x",
            "https://a.example/a b",
            "https://a.example/é",
            "https://a.example/x?it's",
            "https://xn--caf-dma.example/",
            "https://127.0.0.1/",
            "https://a.0x7f/",
            "https://a..example/",
            "https://a.example./",
            "https:///a.example/",
            "https:\\\\a.example\\x",
            "/relative/path.mp3",
            "ep.mp3",
            "file:///etc/passwd",
        ] {
            assert!(!is_normal_http_url(s), "{s}");
        }
    }

    /// Exhaustive over short pieces, each a known trouble spot of URL
    /// parsing: wherever the fast path says "normal", the `url` crate agrees
    /// byte for byte, against a remote and a local base.
    #[test]
    fn fast_path_agrees_with_the_url_crate() {
        let bases = [
            FeedUrl::parse("https://pod.example/shows/feed.xml").unwrap(),
            FeedUrl::parse("file:///srv/feeds/show.xml").unwrap(),
        ];
        let schemes = [
            "http://", "https://", "HTTP://", "http:/", "http:", "ftp://",
        ];
        let hosts = [
            "a.example",
            "A.example",
            "a-b.example",
            "1.example",
            "example.1",
            "1.2.3.4",
            "a.b1",
            "a.0x1",
            "xn--a.example",
            "x.xn--a",
            "a..b",
            ".a",
            "a.",
            "",
            "a_b.example",
            "a.example:80",
            "u@a.example",
            "-a.example",
            "a-.example",
            "a.b.c.d-e",
            "a.e-",
            "a.ex%41mple",
            "a.example?",
            "a.example#",
        ];
        let paths = [
            "",
            "/",
            "//",
            "/a",
            "/a/",
            "/./a",
            "/a/.",
            "/a/..",
            "/a/../b",
            "/%2e/a",
            "/.%2E/a",
            "/.a",
            "/a.",
            "/...",
            "/%41%zz",
            "/a b",
            "/a\tb",
            "/a\\b",
            "/a\"b",
            "/a<b",
            "/a`b",
            "/a{b}",
            "/a|b",
            "/a^b",
            "/a'b",
            "/a[b]",
            "/é",
            "/a#f",
            "/~!$&()*+,;=:@-._",
            "/.",
            "/..",
            "/a/.?",
            "/%",
            "/%2",
            "/a%2",
            "/%2f",
            "/a/..b",
            "/a/b..",
            "/.../x",
        ];
        let queries = [
            "", "?", "?a=b", "?a=b&c", "?a?b", "?a'b", "?a b", "?a\"b", "?a<b", "?a%2e", "?a#b",
            "?a`b", "?a{b}", "?/..",
        ];
        let mut normal = 0;
        for scheme in schemes {
            for host in hosts {
                for path in paths {
                    for query in queries {
                        let s = format!("{scheme}{host}{path}{query}");
                        if !is_normal_http_url(&s) {
                            continue;
                        }
                        normal += 1;
                        for base in &bases {
                            assert_eq!(joined(base, &s).as_deref(), Some(s.as_str()), "{s}");
                            assert_eq!(resolve_resource(base, &s).as_deref(), Some(s.as_str()));
                        }
                    }
                }
            }
        }
        assert!(normal > 500, "the table exercises the fast path: {normal}");
    }
}
