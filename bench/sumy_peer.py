"""sumy's LexRank and TextRank on the builtin engine's own sentences: the peer
that `meridian-bench insights --peer-python PYTHON` compares the engine with
(bench/quality.sh installs sumy and runs it).

stdin:  a JSON list, one request per transcript file:
        {"language": "en", "sentences": ["...", ...], "k": 5}
stdout: a JSON list, one answer per request, in the same order:
        {"lexrank": [i, ...], "textrank": [i, ...]}
        the indexes (into "sentences") of the k best-rated sentences of each
        summariser, best first.

The sentences are the engine's, so both sides choose from the same units.
sumy normally splits text with NLTK's punkt model, which would have to be
downloaded; here the document model is built directly from the given
sentences (one paragraph), and words come from a plain tokenizer: runs of
letters and digits, and for Chinese and Japanese overlapping character pairs.
Stop words are sumy's own (english, german, chinese); English and German words
are stemmed with sumy's Stemmer (NLTK's Snowball stemmers, which need no
data), other languages are not stemmed.

sumy's summarisers return their picks in document order; the ranking is taken
from the ratings they compute (the same calls their `__call__` makes), sorted
best first with ties in document order, as sumy's own selection does. Ratings
are kept per position, not in a dict keyed by sentence text as sumy does, so
that two identical sentences do not share one rating.
"""

import json
import math
import os
import re
import sys
from concurrent.futures import ProcessPoolExecutor

import numpy

import sumy
from sumy.models.dom import ObjectDocumentModel, Paragraph, Sentence
from sumy.nlp.stemmers import Stemmer, null_stemmer
from sumy.summarizers.lex_rank import LexRankSummarizer
from sumy.summarizers.text_rank import TextRankSummarizer
from sumy.utils import get_stop_words

LANGUAGES = {"en": "english", "de": "german", "zh": "chinese"}
STEMMED = {"english", "german"}

CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f"
TOKEN = re.compile(f"(?P<cjk>[{CJK}]+)|(?P<word>[^\\W_{CJK}]+)")


class PlainTokenizer:
    """The tokenizer interface sumy's document model uses, without NLTK data."""

    def to_sentences(self, paragraph):
        # Sentences come ready-made from the engine.
        return (paragraph,)

    def to_words(self, sentence):
        words = []
        for m in TOKEN.finditer(sentence):
            run = m.group("cjk")
            if run is None:
                words.append(m.group("word"))
            elif len(run) == 1:
                words.append(run)
            else:
                words.extend(run[i : i + 2] for i in range(len(run) - 1))
        return tuple(words)


def language_name(code):
    code = (code or "").lower()
    return LANGUAGES.get(code.split("-")[0], "english")


def stemmer_for(language):
    if language in STEMMED:
        try:
            return Stemmer(language)
        except LookupError:
            pass
    return null_stemmer


def stop_words_for(language):
    try:
        return get_stop_words(language)
    except LookupError:
        return frozenset()


def best_first(ratings, k):
    order = sorted(range(len(ratings)), key=lambda i: ratings[i], reverse=True)
    return [int(i) for i in order[:k]]


def finite(ratings, name, request):
    """NaN ratings (sumy's power method divides by a zero norm when no two
    sentences are similar) rank last, in document order, and are reported."""
    bad = sum(1 for r in ratings if not math.isfinite(r))
    if bad:
        print(
            f"sumy_peer: {name}: {bad} of {len(ratings)} ratings not finite "
            f"({request.get('language')}, {len(ratings)} sentences); ranked last",
            file=sys.stderr,
        )
    return [r if math.isfinite(r) else -math.inf for r in ratings]


def lexrank_ratings(summarizer, document):
    # LexRankSummarizer.__call__, up to the ratings.
    words = [summarizer._to_words_set(s) for s in document.sentences]
    tf = summarizer._compute_tf(words)
    idf = summarizer._compute_idf(words)
    matrix = summarizer._create_matrix(words, summarizer.threshold, tf, idf)
    return [float(x) for x in summarizer.power_method(matrix, summarizer.epsilon)]


def textrank_ratings(summarizer, document):
    # TextRankSummarizer.rate_sentences, by position.
    matrix = summarizer._create_matrix(document)
    return [float(x) for x in summarizer.power_method(matrix, summarizer.epsilon)]


def answer(request):
    texts = request.get("sentences") or []
    k = int(request.get("k", 5))
    if not texts:
        return {"lexrank": [], "textrank": []}
    language = language_name(request.get("language"))
    tokenizer = PlainTokenizer()
    document = ObjectDocumentModel(
        [Paragraph([Sentence(t, tokenizer) for t in texts])]
    )
    stemmer = stemmer_for(language)
    stop_words = stop_words_for(language)
    lex = LexRankSummarizer(stemmer)
    lex.stop_words = stop_words
    text = TextRankSummarizer(stemmer)
    text.stop_words = stop_words
    # numpy's "invalid value" warning is replaced by the report in finite().
    with numpy.errstate(invalid="ignore", divide="ignore"):
        lex_ratings = lexrank_ratings(lex, document)
        text_ratings = textrank_ratings(text, document)
    return {
        "lexrank": best_first(finite(lex_ratings, "LexRank", request), k),
        "textrank": best_first(finite(text_ratings, "TextRank", request), k),
    }


def main():
    requests = json.load(sys.stdin)
    print(
        f"sumy {sumy.__version__}: LexRank and TextRank over {len(requests)} files",
        file=sys.stderr,
    )
    workers = max(1, min(len(requests), os.cpu_count() or 1))
    if workers == 1:
        answers = [answer(r) for r in requests]
    else:
        # Longest files first, so that no core idles at the end.
        order = sorted(
            range(len(requests)),
            key=lambda i: len(requests[i].get("sentences") or []),
            reverse=True,
        )
        answers = [None] * len(requests)
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for i, a in zip(order, pool.map(answer, [requests[i] for i in order])):
                answers[i] = a
    json.dump(answers, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
