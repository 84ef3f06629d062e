use crate::{corpus, meridian, run};

#[test]
fn inspect_feed_prints_podcast_episodes_and_transcript_links_as_json() {
    let feed = corpus().join("feeds/rsscom-wilder-posibilities.xml");
    let (code, out, err) = run(meridian().args(["inspect", "feed", "--json"]).arg(&feed));
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON on stdout");
    let podcast = &v[0]["podcast"];
    let episodes = podcast["episodes"].as_array().expect("episodes");
    assert_eq!(episodes.len(), 42, "MANIFEST: 42 items");
    assert!(
        episodes
            .iter()
            .all(|e| e["guid"].is_string() && e["title"].is_string())
    );
    let with_transcripts: Vec<_> = episodes
        .iter()
        .filter(|e| !e["transcripts"].as_array().unwrap().is_empty())
        .collect();
    assert_eq!(with_transcripts.len(), 6, "MANIFEST: 6 podcast:transcript");
    let t = &with_transcripts[0]["transcripts"][0];
    assert!(t["url"].as_str().unwrap().starts_with("http"), "{t}");
    assert!(t["type"].is_string(), "{t}");
    assert!(episodes[0]["enclosure"]["url"].is_string());
}

#[test]
fn inspect_feed_fails_with_one_line_naming_the_file() {
    let bad = corpus().join("malformed/mismatched-tag.xml");
    let good = corpus().join("feeds/narro-single-item.rss");
    let (code, out, err) = run(meridian()
        .args(["inspect", "feed", "--json"])
        .arg(&good)
        .arg(&bad));
    assert_eq!(code, 4, "bad input exits with 4: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "one line per bad input: {err}");
    assert!(lines[0].contains("mismatched-tag.xml"), "{}", lines[0]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        v[0]["podcast"].is_object(),
        "the good input is still reported"
    );
    assert!(v[1]["error"].is_string());
}

#[test]
fn inspect_transcript_prints_timed_segments_with_speakers() {
    let vtt = corpus().join("transcripts/talkpython-534-diskcache-speakers.vtt");
    let (code, out, err) = run(meridian()
        .args(["inspect", "transcript", "--json"])
        .arg(&vtt));
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let segs = v["segments"].as_array().unwrap();
    assert!(segs.len() > 100);
    assert!(
        segs.iter().any(|s| s["speaker"].is_string()),
        "speakers kept"
    );
    let starts: Vec<f64> = segs.iter().filter_map(|s| s["start"].as_f64()).collect();
    assert_eq!(starts.len(), segs.len(), "every cue has a start");
    assert!(starts.last().unwrap() > &3600.0, "an 1h17m episode");
}

#[test]
fn inspect_transcript_honours_type_and_rejects_garbage() {
    let srt = corpus().join("transcripts/buzzcast.srt");
    let (code, _, err) = run(meridian()
        .args(["inspect", "transcript", "--type", "srt", "--json"])
        .arg(&srt));
    assert_eq!(code, 0, "{err}");
    let junk = corpus().join("malformed/not-xml.rss");
    let (code, _, err) = run(meridian()
        .args(["inspect", "transcript", "--type", "vtt"])
        .arg(&junk));
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("not-xml.rss"), "{err}");
}
