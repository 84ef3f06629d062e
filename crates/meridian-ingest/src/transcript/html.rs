//! HTML transcripts: the Podcasting 2.0 shape
//! `<cite>Speaker:</cite><time>0:00</time><p>text</p>`, or any HTML as
//! paragraphs of text.

use meridian_core::Segment;

use super::parse_clock;
use crate::html::{TextSink, Token, Tokens, html_to_text};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Cite,
    Time,
    Para,
}

pub(super) fn parse(text: &str) -> Vec<Segment> {
    let segments = parse_cite_time(text);
    if !segments.is_empty() {
        return segments;
    }
    html_to_text(text)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| Segment {
            start: None,
            end: None,
            speaker: None,
            text: l.trim().to_owned(),
        })
        .collect()
}

/// Reads the `<cite>`/`<time>`/`<p>` shape. A `<cite>` names the speaker of
/// the paragraphs that follow until the next one; a `<time>` gives the start
/// of the next paragraph. Returns nothing when the document has no `<cite>`
/// and at most one `<time>` (then it is some other HTML).
fn parse_cite_time(text: &str) -> Vec<Segment> {
    let mut segments = Vec::new();
    let mut field: Option<(Field, &str, usize)> = None;
    let mut sink = TextSink::with_capacity(256);
    let mut speaker: Option<String> = None;
    let mut start: Option<f64> = None;
    let (mut cites, mut times) = (0usize, 0usize);
    for token in Tokens::new(text) {
        match token {
            Token::Open(name) => {
                if let Some((_, open_name, depth)) = &mut field {
                    if open_name.eq_ignore_ascii_case(name) {
                        *depth += 1;
                    }
                    if name.eq_ignore_ascii_case("br") {
                        sink.space();
                    }
                    continue;
                }
                let f = if name.eq_ignore_ascii_case("cite") {
                    Field::Cite
                } else if name.eq_ignore_ascii_case("time") {
                    Field::Time
                } else if name.eq_ignore_ascii_case("p") {
                    Field::Para
                } else {
                    continue;
                };
                match f {
                    Field::Cite => cites += 1,
                    Field::Time => times += 1,
                    Field::Para => {}
                }
                sink = TextSink::with_capacity(256);
                field = Some((f, name, 0));
            }
            Token::Text(t) => {
                if field.is_some() {
                    sink.push_encoded(t);
                }
            }
            Token::Close(name) => {
                let Some((f, open_name, depth)) = &mut field else {
                    continue;
                };
                if !open_name.eq_ignore_ascii_case(name) {
                    continue;
                }
                if *depth > 0 {
                    *depth -= 1;
                    continue;
                }
                let f = *f;
                field = None;
                let value = std::mem::replace(&mut sink, TextSink::with_capacity(0)).finish();
                match f {
                    Field::Cite => {
                        let name = value.trim().trim_end_matches(':').trim();
                        speaker = (!name.is_empty()).then(|| name.to_owned());
                    }
                    Field::Time => start = parse_clock(&value),
                    Field::Para => {
                        if !value.is_empty() {
                            segments.push(Segment {
                                start: start.take(),
                                end: None,
                                speaker: speaker.clone(),
                                text: value,
                            });
                        }
                    }
                }
            }
        }
    }
    // One `<time>` is a blog post's date, not a transcript.
    if cites > 0 || times > 1 {
        segments
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cite_time_p_shape() {
        let s = parse(
            "<html><body><cite>Alban:</cite>\n  <time>0:00</time>\n  <p>It&#39;s so <b>nice</b>.</p>\n\
             <cite>Kevin:</cite><time>1:02:30</time><p>You guys</p><p>More from Kevin</p></body></html>",
        );
        assert_eq!(s.len(), 3);
        assert_eq!(
            (s[0].speaker.as_deref(), s[0].start, s[0].text.as_str()),
            (Some("Alban"), Some(0.0), "It's so nice.")
        );
        assert_eq!(
            (s[1].speaker.as_deref(), s[1].start),
            (Some("Kevin"), Some(3750.0))
        );
        assert_eq!((s[2].speaker.as_deref(), s[2].start), (Some("Kevin"), None));
    }

    #[test]
    fn a_paragraph_before_any_cite_has_no_speaker() {
        let s = parse(
            "<time>0:00</time><p>Hello.</p><cite>Jingle:</cite><time>0:05</time><p>La la</p>",
        );
        assert_eq!((s[0].speaker.as_deref(), s[0].start), (None, Some(0.0)));
        assert_eq!(s[1].speaker.as_deref(), Some("Jingle"));
    }

    #[test]
    fn other_html_gives_paragraphs_without_times() {
        let s = parse(
            "<h1>Episode 5</h1><p>First para.</p><div>Second<br>line</div><script>x()</script>",
        );
        let texts: Vec<_> = s.iter().map(|x| x.text.as_str()).collect();
        assert_eq!(texts, vec!["Episode 5", "First para.", "Second", "line"]);
        assert!(s.iter().all(|x| x.start.is_none() && x.speaker.is_none()));
        assert!(parse("<html><body></body></html>").is_empty());
        let post = parse("<p>Posted <time>2024-01-02</time></p><div>Body text</div>");
        assert_eq!(
            post.len(),
            2,
            "one <time> is a date, not a transcript: {post:?}"
        );
    }
}
