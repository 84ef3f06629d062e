"""Python feedparser over every feed of the corpus, for comparison with
`meridian-bench parse` (run both through bench/run.sh).

Usage: python feedparser_bench.py CORPUS_DIR ITERATIONS  -> JSON on stdout.
Each pass parses every file of CORPUS_DIR/feeds from bytes already in memory
(`feedparser.parse(bytes)`); the median pass counts, as on the Rust side.
"""

import json
import pathlib
import statistics
import sys
import time

import feedparser


def main() -> None:
    corpus = pathlib.Path(sys.argv[1])
    iterations = max(1, int(sys.argv[2]))
    files = sorted(p for p in (corpus / "feeds").iterdir() if p.is_file())
    feeds = [p.read_bytes() for p in files]
    total = sum(len(b) for b in feeds)
    episodes = sum(len(feedparser.parse(b).entries) for b in feeds)  # warm-up
    passes = []
    for _ in range(iterations):
        start = time.perf_counter()
        for data in feeds:
            feedparser.parse(data)
        passes.append(time.perf_counter() - start)
    median = statistics.median(passes)
    print(json.dumps({
        "feedparser_version": feedparser.__version__,
        "python": sys.version.split()[0],
        "files": len(feeds),
        "bytes": total,
        "iterations": iterations,
        "episodes": episodes,
        "median_secs": median,
        "min_secs": min(passes),
        "feeds_per_sec": len(feeds) / median,
        "mb_per_sec": total / 1e6 / median,
    }, indent=2))


if __name__ == "__main__":
    main()
