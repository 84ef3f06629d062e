//! Plain-text and Markdown transcripts.

use meridian_core::Segment;

use super::{parse_clock, prefixes_are_speakers, speaker_prefix};

/// Reads paragraphs. A line that starts with a timestamp (`[00:01:02]`,
/// `(01:02)`, `00:01:02`) or a Markdown speaker (`**Name:**`, `**Name**:`)
/// starts a new segment; other lines continue the current one; a blank line
/// ends it. Plain `Name: text` paragraph starts are speakers when used
/// consistently (see [`prefixes_are_speakers`]). A paragraph without a
/// speaker continues the previous one.
pub(super) fn parse(text: &str) -> Vec<Segment> {
    let mut segments: Vec<Segment> = Vec::new();
    let mut current: Option<Segment> = None;
    let mut explicit_speakers = false;
    let mut last_speaker: Option<String> = None;
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() {
            push(&mut segments, current.take());
            continue;
        }
        let (start, rest) = leading_time(line);
        let (speaker, rest) = match markdown_speaker(rest) {
            Some((name, rest)) => (Some(name), rest),
            None => (None, rest),
        };
        let heading = rest.starts_with('#');
        let body = clean_markdown(rest.trim_start_matches('#').trim());
        if start.is_some() || speaker.is_some() || heading {
            push(&mut segments, current.take());
            explicit_speakers |= speaker.is_some();
            if let Some(name) = speaker {
                last_speaker = Some(name.to_owned());
            }
            let seg = Segment {
                start,
                end: None,
                speaker: last_speaker.clone(),
                text: body,
            };
            if heading {
                push(&mut segments, Some(seg));
            } else {
                current = Some(seg);
            }
            continue;
        }
        match &mut current {
            Some(seg) => {
                if !seg.text.is_empty() && !body.is_empty() {
                    seg.text.push(' ');
                }
                seg.text.push_str(&body);
            }
            None => {
                current = Some(Segment {
                    start: None,
                    end: None,
                    speaker: last_speaker.clone(),
                    text: body,
                })
            }
        }
    }
    push(&mut segments, current);
    let mut segments = split_at_inline_times(segments);
    if !explicit_speakers && prefixes_are_speakers(segments.iter().map(|s| s.text.as_str())) {
        let mut last: Option<String> = None;
        for seg in &mut segments {
            if let Some((name, rest)) = speaker_prefix(&seg.text) {
                last = Some(name.to_owned());
                seg.text = rest.to_owned();
            }
            seg.speaker.clone_from(&last);
        }
        segments.retain(|s| !s.text.is_empty());
    }
    segments
}

/// Splits segments at inline time markers (`[01:32:14.04]`, `[08:07]`, as
/// Markdown transcripts place them every few minutes inside a paragraph):
/// the words after a marker start at its time, the marker itself goes.
fn split_at_inline_times(segments: Vec<Segment>) -> Vec<Segment> {
    let mut out = Vec::with_capacity(segments.len());
    for seg in segments {
        if !seg.text.contains('[') {
            out.push(seg);
            continue;
        }
        let mut piece = Segment {
            text: String::new(),
            ..seg.clone()
        };
        let mut rest = seg.text.as_str();
        while let Some(open) = rest.find('[') {
            let after = &rest[open + 1..];
            let time = after
                .find(']')
                .filter(|&close| after[..close].contains(':'))
                .and_then(|close| parse_clock(&after[..close]).map(|t| (t, close)));
            match time {
                Some((t, close)) => {
                    piece.text.push_str(&rest[..open]);
                    let finished = std::mem::replace(
                        &mut piece,
                        Segment {
                            start: Some(t),
                            end: None,
                            speaker: seg.speaker.clone(),
                            text: String::new(),
                        },
                    );
                    push_trimmed(&mut out, finished);
                    rest = &after[close + 1..];
                }
                None => {
                    piece.text.push_str(&rest[..=open]);
                    rest = after;
                }
            }
        }
        piece.text.push_str(rest);
        push_trimmed(&mut out, piece);
    }
    out
}

fn push_trimmed(out: &mut Vec<Segment>, mut seg: Segment) {
    let text = super::collapse(&seg.text);
    if text.chars().any(char::is_alphanumeric) {
        seg.text = text;
        out.push(seg);
    }
}

fn push(segments: &mut Vec<Segment>, seg: Option<Segment>) {
    if let Some(seg) = seg
        && !seg.text.is_empty()
    {
        segments.push(seg);
    }
}

/// A timestamp at the start of a line and the text after it.
fn leading_time(line: &str) -> (Option<f64>, &str) {
    let (token, rest) = if let Some(inner) = line.strip_prefix(['[', '(']) {
        match inner.find([']', ')']) {
            Some(close) => (&inner[..close], &inner[close + 1..]),
            None => return (None, line),
        }
    } else {
        match line.split_once(char::is_whitespace) {
            Some((t, rest)) => (t, rest),
            None => (line, ""),
        }
    };
    if !token.contains(':') {
        return (None, line);
    }
    match parse_clock(token) {
        Some(t) => (
            Some(t),
            rest.trim_start()
                .trim_start_matches(['-', '–'])
                .trim_start(),
        ),
        None => (None, line),
    }
}

/// `**Name:** text`, `**Name**: text` or `__Name:__ text`.
fn markdown_speaker(line: &str) -> Option<(&str, &str)> {
    let marker = if line.starts_with("**") {
        "**"
    } else if line.starts_with("__") {
        "__"
    } else {
        return None;
    };
    let inner = &line[2..];
    let close = inner.find(marker)?;
    let name = &inner[..close];
    let after = &inner[close + 2..];
    let (name, rest) = if let Some(n) = name.strip_suffix(':') {
        (n, after)
    } else {
        (name, after.strip_prefix(':')?)
    };
    let name = name.trim();
    (!name.is_empty() && name.chars().count() <= 60).then(|| (name, rest.trim_start()))
}

/// Removes Markdown emphasis markers and backslash escapes.
fn clean_markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek().is_some_and(char::is_ascii_punctuation) => {
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            }
            '*' | '_' if chars.peek() == Some(&c) => {
                chars.next();
            }
            _ => out.push(c),
        }
    }
    super::collapse(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamped_lines() {
        let s = parse(
            "00:00:00 So you've created a project.\n\n00:00:04 You're getting\ncontributors.\n[01:02:03] - Later\n(1:05) Short",
        );
        let got: Vec<_> = s.iter().map(|x| (x.start, x.text.as_str())).collect();
        assert_eq!(
            got,
            vec![
                (Some(0.0), "So you've created a project."),
                (Some(4.0), "You're getting contributors."),
                (Some(3723.0), "Later"),
                (Some(65.0), "Short"),
            ]
        );
    }

    #[test]
    fn markdown_speakers_and_escapes() {
        let s = parse(
            "**Jerod Santo:** Alright, we're *joined*.\n\n**Mark**: Thank you \\[unintelligible 00:03:18.16\\]\n\nstill Mark\n\n# Heading",
        );
        assert_eq!(
            (s[0].speaker.as_deref(), s[0].text.as_str()),
            (Some("Jerod Santo"), "Alright, we're *joined*.")
        );
        assert_eq!(
            (s[1].speaker.as_deref(), s[1].text.as_str()),
            (Some("Mark"), "Thank you [unintelligible 00:03:18.16]")
        );
        assert_eq!(
            s[2].speaker.as_deref(),
            Some("Mark"),
            "a paragraph without a marker continues the speaker"
        );
        assert_eq!(s[3].text, "Heading");
    }

    #[test]
    fn plain_prefixes_when_consistent() {
        let s = parse("Ann: Hello there.\n\nBob: Hi.\n\nAnn: Bye.\nsee you\n\nan aside");
        let got: Vec<_> = s
            .iter()
            .map(|x| (x.speaker.as_deref(), x.text.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (Some("Ann"), "Hello there."),
                (Some("Bob"), "Hi."),
                (Some("Ann"), "Bye. see you"),
                (Some("Ann"), "an aside")
            ]
        );
        let once = parse("Summary: a show about things.\n\nMore text.");
        assert_eq!(once[0].speaker, None);
        assert_eq!(once[0].text, "Summary: a show about things.");
    }

    #[test]
    fn inline_time_markers_split_paragraphs() {
        let s = parse(
            "**Ann:** Before the marker. \\[08:07\\] After the marker.\n\n**Bob:** Also [01:02:03.50] timed.",
        );
        let got: Vec<_> = s
            .iter()
            .map(|x| (x.speaker.as_deref(), x.start, x.text.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (Some("Ann"), None, "Before the marker."),
                (Some("Ann"), Some(487.0), "After the marker."),
                (Some("Bob"), None, "Also"),
                (Some("Bob"), Some(3723.5), "timed."),
            ]
        );
    }

    #[test]
    fn plain_paragraphs() {
        let s = parse("First line\nsecond line\n\n\nNext para 10:30 stays");
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].text, "First line second line");
        assert_eq!(s[1].start, None);
        assert!(parse("  \n\n").is_empty());
    }
}
