"""Prints the results of bench/run.sh as Markdown tables (stdin: nothing;
arguments: the JSON files written by the run)."""

import json
import pathlib
import sys


def load(path: str) -> dict:
    return json.loads(pathlib.Path(path).read_text())


def main() -> None:
    out = pathlib.Path(sys.argv[1])
    if (out / "parse.json").exists() and (out / "feedparser.json").exists():
        parse_table(out)
    daily_table(out)


def parse_table(out: pathlib.Path) -> None:
    parse = load(out / "parse.json")
    fp = load(out / "feedparser.json")
    m, s = parse["meridian"], parse["scan"]
    print(f"## Parse: {parse['files']} corpus feeds, {parse['bytes'] / 1e6:.1f} MB, "
          f"{parse['episodes']} episodes (median of {parse['iterations']} passes; feedparser {fp['iterations']})\n")
    print("| parser | s/pass | feeds/s | MB/s |")
    print("|---|---:|---:|---:|")
    print(f"| Meridian `parse_feed` | {m['median_secs']:.3f} | {m['feeds_per_sec']:.0f} | {m['mb_per_sec']:.1f} |")
    print(f"| bare quick-xml scan | {s['median_secs']:.3f} | {s['feeds_per_sec']:.0f} | {s['mb_per_sec']:.1f} |")
    print(f"| Python feedparser {fp['feedparser_version']} | {fp['median_secs']:.3f} | {fp['feeds_per_sec']:.1f} | {fp['mb_per_sec']:.2f} |")
    vs_fp = fp["median_secs"] / m["median_secs"]
    vs_scan = m["median_secs"] / s["median_secs"]
    print()
    print(f"- Meridian vs feedparser: **{vs_fp:.0f}x** faster (target >= 30x: {'met' if vs_fp >= 30 else 'MISSED'})")
    print(f"- Meridian vs bare scan: **{vs_scan:.2f}x** the scan's time (target <= 3x: {'met' if vs_scan <= 3 else 'MISSED'})")
    if parse["refused"]:
        print(f"- Meridian refused: {parse['refused']}")


def daily_table(out: pathlib.Path) -> None:
    runs = sorted((load(p) for p in out.glob("daily-*.json")), key=lambda r: r["feeds"])
    if not runs:
        return
    print("\n## Daily runs (builtin engine, SQLite, loopback server in a child process)\n")
    print("| feeds | feed MB | first run s | new episodes | archived | transcripts | peak RSS MB | second run s (304s) | DB MB |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in runs:
        f, s2 = r["first"], r["second"]
        transcripts = sum(v for k, v in f["transcripts"].items() if k not in ("failed", "show_notes", "empty"))
        print(f"| {r['feeds']} | {r['feed_mb']:.0f} | {f['wall_secs']:.1f} | {f['feeds'].get('new_episodes', 0)} | "
              f"{f['feeds'].get('archived_episodes', 0)} | {transcripts} | {max(f['peak_rss_mb'], s2['peak_rss_mb']):.0f} | "
              f"{s2['wall_secs']:.2f} | {r['database_mb']:.0f} |")
    for r in runs:
        for name in ("first", "second"):
            run = r[name]
            stages = ", ".join(f"{k} {v:.1f}s" for k, v in run["stages"])
            print(f"\n- {r['feeds']} feeds, {name} run: stages end at {stages}; "
                  f"feeds {run['feeds']}; transcripts {run['transcripts']}; failures {run['feed_error_count']}"
                  + (f" e.g. {run['feed_errors'][:2]}" if run["feed_errors"] else ""))
    by_size = {r["feeds"]: r for r in runs}
    if 1000 in by_size:
        one = by_size[1000]
        print()
        print(f"- 1,000 feeds: first run {one['first']['wall_secs']:.1f} s (target < 30 s: "
              f"{'met' if one['first']['wall_secs'] < 30 else 'MISSED'}), peak RSS "
              f"{one['first']['peak_rss_mb']:.0f} MB (target < 200 MB: {'met' if one['first']['peak_rss_mb'] < 200 else 'MISSED'}), "
              f"second run {one['second']['wall_secs']:.2f} s (target < 2 s: {'met' if one['second']['wall_secs'] < 2 else 'MISSED'})")
        if 10000 in by_size:
            ten = by_size[10000]
            ratio = ten["first"]["wall_secs"] / one["first"]["wall_secs"]
            print(f"- 10,000 / 1,000 first-run ratio: **{ratio:.1f}x** (target <= 11x: {'met' if ratio <= 11 else 'MISSED'}); "
                  f"second runs {ten['second']['wall_secs'] / one['second']['wall_secs']:.1f}x")


if __name__ == "__main__":
    main()
