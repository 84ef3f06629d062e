//! WebVTT and SRT: blocks of `start --> end` plus text.

use meridian_core::Segment;

use super::{collapse, parse_clock, prefixes_are_speakers, speaker_prefix};
use crate::html::decode_entities;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flavor {
    Vtt,
    Srt,
}

struct Cue {
    start: f64,
    end: Option<f64>,
    voice: Option<String>,
    text: String,
}

/// Reads cues. Blocks are separated by blank lines; a cue is a `-->` timing
/// line and the text lines after it (an identifier or number before it is
/// skipped). Blocks without a timing line are the VTT header or `NOTE`,
/// `STYLE`, `REGION` blocks (skipped), or, in SRT, text that a stray blank line
/// split from its cue (appended to it).
pub(super) fn parse(text: &str, flavor: Flavor) -> Vec<Segment> {
    let mut cues: Vec<Cue> = Vec::new();
    let mut lines = text.lines().map(|l| l.trim_end_matches('\r'));
    let mut block: Vec<&str> = Vec::with_capacity(8);
    loop {
        block.clear();
        for line in lines.by_ref() {
            if line.trim().is_empty() {
                if block.is_empty() {
                    continue;
                }
                break;
            }
            block.push(line);
        }
        if block.is_empty() {
            break;
        }
        read_block(&block, flavor, &mut cues);
    }
    finish(cues)
}

fn read_block(block: &[&str], flavor: Flavor, cues: &mut Vec<Cue>) {
    let timings: Vec<usize> = block
        .iter()
        .enumerate()
        .filter(|(_, l)| l.contains("-->"))
        .map(|(i, _)| i)
        .collect();
    if timings.is_empty() {
        // VTT header, NOTE, STYLE and REGION blocks carry no cue. In SRT, text
        // split from its cue by a stray blank line still belongs to it.
        if flavor == Flavor::Srt
            && let Some(last) = cues.last_mut()
        {
            for line in block {
                last.text.push('\n');
                last.text.push_str(line);
            }
        }
        return;
    }
    // Lines before the first timing are an identifier or a header; a block may
    // hold several cues when the blank lines between them are missing.
    for (n, &at) in timings.iter().enumerate() {
        let Some((start, end)) = parse_timing(block[at]) else {
            continue;
        };
        let mut stop = timings.get(n + 1).copied().unwrap_or(block.len());
        if stop < block.len()
            && stop > at + 1
            && block[stop - 1].trim().bytes().all(|b| b.is_ascii_digit())
        {
            // The next cue's number.
            stop -= 1;
        }
        let payload = block[at + 1..stop].join("\n");
        let voice = if flavor == Flavor::Vtt {
            voice_of(&payload)
        } else {
            None
        };
        cues.push(Cue {
            start,
            end,
            voice,
            text: payload,
        });
    }
}

/// `00:00:01.000 --> 00:00:04.000 align:start` → (1.0, Some(4.0)).
fn parse_timing(line: &str) -> Option<(f64, Option<f64>)> {
    let (left, right) = line.split_once("-->")?;
    let start = parse_clock(left)?;
    let end = right.split_whitespace().next().and_then(parse_clock);
    Some((start, end))
}

/// The speaker of the first `<v Name>` (or `<v.class Name>`) tag.
fn voice_of(payload: &str) -> Option<String> {
    let at = payload.find("<v")?;
    let tag = &payload[at + 2..];
    if !tag.starts_with([' ', '.', '\t']) {
        return None;
    }
    let tag = &tag[..tag.find('>')?];
    let name = tag
        .split_once(char::is_whitespace)
        .map(|(_, name)| name.trim())?;
    (!name.is_empty()).then(|| collapse(&decode_entities(name)))
}

/// Removes cue markup (`<v …>`, `<c.x>`, `<i>`, `<00:01.000>` timestamps…) and
/// decodes entities. In cue text a raw `<` always opens a tag.
fn strip_markup(payload: &str) -> String {
    if !payload.contains('<') {
        return collapse(&decode_entities(payload));
    }
    let mut plain = String::with_capacity(payload.len());
    let mut rest = payload;
    while let Some(lt) = rest.find('<') {
        plain.push_str(&rest[..lt]);
        plain.push(' ');
        match rest[lt..].find('>') {
            Some(gt) => rest = &rest[lt + gt + 1..],
            None => rest = "",
        }
    }
    plain.push_str(rest);
    // Markup was replaced by spaces so that words in separate tags stay apart;
    // a space before punctuation that this left is removed again.
    let text = collapse(&decode_entities(&plain));
    text.replace(" ,", ",").replace(" .", ".")
}

fn finish(cues: Vec<Cue>) -> Vec<Segment> {
    let mut segments = Vec::with_capacity(cues.len());
    let texts: Vec<String> = cues.iter().map(|c| strip_markup(&c.text)).collect();
    let prefixes = prefixes_are_speakers(
        cues.iter()
            .zip(&texts)
            .filter(|(c, _)| c.voice.is_none())
            .map(|(_, t)| t.as_str()),
    );
    let mut current: Option<String> = None;
    for (cue, text) in cues.into_iter().zip(texts) {
        let (speaker, text) = match cue.voice {
            Some(v) => (Some(v), text),
            None if prefixes => match speaker_prefix(&text) {
                Some((name, rest)) => {
                    current = Some(name.to_owned());
                    (current.clone(), rest.to_owned())
                }
                // SRT and prefix-style VTT name the speaker when it changes.
                None => (current.clone(), text),
            },
            None => (None, text),
        };
        if text.is_empty() {
            continue;
        }
        segments.push(Segment {
            start: Some(cue.start),
            end: cue.end,
            speaker,
            text,
        });
    }
    segments
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vtt(s: &str) -> Vec<Segment> {
        parse(s, Flavor::Vtt)
    }

    #[test]
    fn vtt_voices_settings_notes_and_markup() {
        let s = vtt(
            "\u{feff}WEBVTT - title\r\nKind: captions\r\n\r\nNOTE a comment\r\nspanning lines\r\n\r\n\
                     STYLE\r\n::cue { color: red }\r\n\r\n\
                     intro\r\n00:00:01.000 --> 00:00:04.500 align:start position:10%\r\n<v.loud Sarah Jane>Hello &amp; <i>welcome</i>\r\nto the show\r\n\r\n\
                     00:04.500 --> 00:06.000\r\n<v Gillian>Hi<00:05.000> <c.yellow>there</c>\r\n\r\n\
                     1:00:00.000 --> 1:00:01.000\r\nNo voice\r\n",
        );
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].speaker.as_deref(), Some("Sarah Jane"));
        assert_eq!(s[0].text, "Hello & welcome to the show");
        assert_eq!((s[0].start, s[0].end), (Some(1.0), Some(4.5)));
        assert_eq!(
            (s[1].speaker.as_deref(), s[1].text.as_str()),
            (Some("Gillian"), "Hi there")
        );
        assert_eq!(s[1].start, Some(4.5));
        assert_eq!((s[2].speaker.as_deref(), s[2].start), (None, Some(3600.0)));
    }

    #[test]
    fn vtt_short_timings_grow() {
        let s = vtt(
            "WEBVTT\n\n0.000 --> 3.480\n<v SPEAKER_1>It's Friday.\n\n14:15.040 --> 14:16.000\n<v SPEAKER_2>Bye.\n",
        );
        assert_eq!(s[0].start, Some(0.0));
        assert_eq!(s[1].start, Some(855.04));
    }

    #[test]
    fn srt_numbers_commas_crlf_and_speaker_prefixes() {
        let srt = "1\r\n00:00:00,179 --> 00:00:02,399\r\nTravis: When you first get\r\nstarted in podcasting\r\n\r\n\
                   2\r\n00:00:02.400 --> 00:00:04.799\r\nalmost guaranteed\r\n\r\n\
                   3\r\n00:00:04,801 --> 00:00:07,980\r\nGilon: <i>Right.</i>\r\n\r\n\
                   4\r\n00:00:08,000 --> 00:00:09,000\r\nTravis: Yes.\r\n";
        let s = parse(srt, Flavor::Srt);
        assert_eq!(s.len(), 4);
        assert_eq!(
            (s[0].speaker.as_deref(), s[0].text.as_str()),
            (Some("Travis"), "When you first get started in podcasting")
        );
        assert_eq!(s[0].start, Some(0.179));
        assert_eq!(
            s[1].speaker.as_deref(),
            Some("Travis"),
            "a cue without prefix continues the speaker"
        );
        assert_eq!(s[1].end, Some(4.799));
        assert_eq!(
            (s[2].speaker.as_deref(), s[2].text.as_str()),
            (Some("Gilon"), "Right.")
        );
    }

    #[test]
    fn a_single_colon_is_not_a_speaker() {
        let s = parse(
            "1\n00:00:01,000 --> 00:00:02,000\nNote: this is text\n\n2\n00:00:02,000 --> 00:00:03,000\nmore\n",
            Flavor::Srt,
        );
        assert_eq!(s[0].speaker, None);
        assert_eq!(s[0].text, "Note: this is text");
    }

    #[test]
    fn missing_blank_lines_and_stray_ones() {
        let srt = "1\n00:00:01,000 --> 00:00:02,000\nOne\n2\n00:00:02,000 --> 00:00:03,000\nTwo\n\nstill two\n";
        let s = parse(srt, Flavor::Srt);
        let got: Vec<_> = s.iter().map(|x| (x.start, x.text.as_str())).collect();
        assert_eq!(got, vec![(Some(1.0), "One"), (Some(2.0), "Two still two")]);
        let s = vtt("WEBVTT\n00:00.000 --> 00:01.000\nno blank after the header\n");
        assert_eq!(s[0].text, "no blank after the header");
    }

    #[test]
    fn garbage_gives_no_cues() {
        assert!(vtt("WEBVTT\n\njust words\n").is_empty());
        assert!(parse("hello\nworld", Flavor::Srt).is_empty());
        assert!(
            vtt("WEBVTT\n\nxx --> yy\ntext\n").is_empty(),
            "bad timings are skipped"
        );
        assert!(
            vtt("WEBVTT\n\n00:01.000 --> 00:02.000\n<v A></v>\n").is_empty(),
            "cues without text are skipped"
        );
    }
}
