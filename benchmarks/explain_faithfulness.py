"""Are the explanations faithful?  Delete the words they rank highest and watch the probability fall.

For each explanation method, on quotes of a labelled split: explain the predicted
label for one labelled dyad of the quote, delete the top-k weighted quote words
(k = 1, 3, 5; deletion = removing the words from the quote text, the context and
speaker stay), and measure the drop in that label's calibrated probability;
do the same with k random quote words (a few draws, averaged; the same draws
for every method).  A faithful method's top-k drop is well above the random
one.  The method with the larger top-k-minus-random drop (mean over k) is the
one ``models.explanation.DEFAULT_METHOD`` should name; the time per
explanation is printed beside it.

    python -m benchmarks.explain_faithfulness --model stance-classifier:TAG \\
        --data training/data/corpus/test.jsonl -n 200 [--json out.json]

``--model-dir PATH`` takes a saved model directory instead of a store tag.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from models.settings import apply_offline_env

apply_offline_env()

from models.explanation import METHODS, explain, top_words  # noqa: E402
from models.input_encoding import QuoteInput  # noqa: E402

KS = (1, 3, 5)


def load_quotes(path: Path, n: int, seed: int, trained: set[frozenset[str]], default_dyads: list[str]):
    """Up to ``n`` (quote, dyad) pairs, a seeded sample; the dyad is one the record labels and the model
    trained on (else a default dyad)."""
    from models.label_schema import dyad_key

    rows = []
    with path.open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError as exc:
                raise SystemExit(f"{path}:{line_no}: not JSON ({exc})") from None
            text = str(rec.get("text") or "")
            if len(text.split()) < 2:
                continue
            rows.append(rec)
    rng = random.Random(seed)
    rng.shuffle(rows)
    out = []
    for rec in rows[:n]:
        labelled = [d for d in (rec.get("labels") or {}) if dyad_key(d) in trained]
        dyad = rng.choice(sorted(labelled)) if labelled else rng.choice(default_dyads)
        quote = QuoteInput(rec["text"], rec.get("speaker") or "", rec.get("context") or "",
                           rec.get("speaker_actor") or "")
        out.append((quote, dyad))
    return out


def delete_words(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` without the characters of ``spans``, whitespace collapsed."""
    keep, at = [], 0
    for start, end in sorted(spans):
        keep.append(text[at:start])
        at = max(at, end)
    keep.append(text[at:])
    return re.sub(r"\s+", " ", " ".join(keep)).strip()


def _probabilities(predictor: Any, base: QuoteInput, texts: list[str], dyad: str, label: str) -> list[float]:
    quotes = [QuoteInput(t, base.speaker, base.context, base.speaker_actor) for t in texts]
    return [p.stance[dyad].scores[label] for p in predictor.predict(quotes, dyads=[dyad])]


def run(predictor: Any, pairs: list[tuple[QuoteInput, str]], methods: list[str], ks: tuple[int, ...],
        draws: int, seed: int) -> dict:
    rng = random.Random(seed)
    drops: dict[str, dict[int, list[float]]] = {m: {k: [] for k in ks} for m in methods}
    random_drops: dict[int, list[float]] = {k: [] for k in ks}
    seconds: dict[str, list[float]] = {m: [] for m in methods}
    # Warm-up (first call builds caches and kernels): not timed, not scored.
    for m in methods:
        explain(predictor, pairs[0][0], pairs[0][1], method=m)
    for i, (quote, dyad) in enumerate(pairs):
        results = {}
        for m in methods:
            t0 = time.perf_counter()
            results[m] = explain(predictor, quote, dyad, method=m)
            seconds[m].append(time.perf_counter() - t0)
        first = results[methods[0]]
        dyad, label = first["dyad"], first["label"]
        words = [t for t in first["tokens"] if t["segment"] == "quote"]
        texts: list[str] = [quote.text]
        slots: list[tuple[str, int]] = [("orig", 0)]
        for k in ks:
            if len(words) <= k:  # deleting every word measures nothing
                continue
            for m in methods:
                top = top_words(results[m], k)
                texts.append(delete_words(quote.text, [(t["start"], t["end"]) for t in top]))
                slots.append((m, k))
            for _ in range(draws):
                picked = rng.sample(words, k)
                texts.append(delete_words(quote.text, [(t["start"], t["end"]) for t in picked]))
                slots.append(("random", k))
        probs = _probabilities(predictor, quote, texts, dyad, label)
        p0 = probs[0]
        rand: dict[int, list[float]] = {}
        for (what, k), p in zip(slots[1:], probs[1:]):
            if what == "random":
                rand.setdefault(k, []).append(p0 - p)
            else:
                drops[what][k].append(p0 - p)
        for k, values in rand.items():
            random_drops[k].append(statistics.fmean(values))
        if (i + 1) % 20 == 0:
            print(f"  {i + 1}/{len(pairs)} quotes", file=sys.stderr, flush=True)

    report: dict[str, Any] = {"n_quotes": len(pairs), "random_draws": draws, "methods": {}}
    for m in methods:
        per_k = {}
        for k in ks:
            top, rnd = drops[m][k], random_drops[k]
            per_k[k] = {"n": len(top), "top_drop": statistics.fmean(top) if top else float("nan"),
                        "random_drop": statistics.fmean(rnd) if rnd else float("nan")}
            per_k[k]["gain"] = per_k[k]["top_drop"] - per_k[k]["random_drop"]
        report["methods"][m] = {
            "per_k": per_k,
            "mean_gain": statistics.fmean(v["gain"] for v in per_k.values()),
            "seconds_per_explanation": statistics.fmean(seconds[m]),
            "median_seconds": statistics.median(seconds[m]),
        }
    report["winner"] = max(methods, key=lambda m: report["methods"][m]["mean_gain"])
    return report


def print_report(report: dict, model: str) -> None:
    print(f"model {model}; {report['n_quotes']} quotes; random = mean of {report['random_draws']} draws")
    print(f"{'method':<22} {'k':>2} {'n':>4} {'top-k drop':>11} {'random drop':>12} {'top-random':>11}")
    for m, r in report["methods"].items():
        for k, v in r["per_k"].items():
            print(f"{m:<22} {k:>2} {v['n']:>4} {v['top_drop']:>11.4f} {v['random_drop']:>12.4f} {v['gain']:>11.4f}")
        print(f"{m:<22} mean top-random {r['mean_gain']:.4f}; {1000 * r['seconds_per_explanation']:.0f} ms per "
              f"explanation (median {1000 * r['median_seconds']:.0f} ms)")
    print(f"winner: {report['winner']} (set models.explanation.DEFAULT_METHOD to it)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", help="model tag in the BentoML store, e.g. stance-classifier:latest")
    src.add_argument("--model-dir", help="a saved model directory instead of a store tag")
    ap.add_argument("--data", required=True, type=Path, help="labelled JSONL (the test split)")
    ap.add_argument("-n", type=int, default=200, help="quotes to explain (default 200)")
    ap.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated, of {list(METHODS)}")
    ap.add_argument("--ks", default=",".join(map(str, KS)), help="words to delete (default 1,3,5)")
    ap.add_argument("--random-draws", type=int, default=3, help="random deletions per quote and k, averaged")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    args = ap.parse_args(argv)

    import torch

    from models.predictor import Predictor

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        ap.error(f"unknown method(s) {unknown}; choose from {list(METHODS)}")
    ks = tuple(int(k) for k in args.ks.split(","))
    if args.model:
        from models import model_store

        tag, path = model_store.resolve(args.model)
    else:
        tag, path = f"dir:{args.model_dir}", Path(args.model_dir)
    predictor = Predictor.from_directory(path, tag, device=args.device)
    from models.label_schema import dyad_key

    pairs = load_quotes(args.data, args.n, args.seed, {dyad_key(d) for d in predictor.config.dyads},
                        list(predictor.config.default_dyads))
    if not pairs:
        raise SystemExit(f"{args.data}: no quotes of two words or more")
    report = run(predictor, pairs, methods, ks, args.random_draws, args.seed)
    report["model"] = tag
    print_report(report, tag)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
