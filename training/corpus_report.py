"""Checks and figures for the annotated corpus: ``python -m training.corpus_report [DIR]``.

Fails (exit 1) on a schema error, a duplicate id or text, or a dev/test quote
too close to a train quote (character n-gram cosine above 0.8); prints label
distributions, speakers, lengths, vocabulary, and the macro-F1 of a shallow
TF-IDF + logistic-regression baseline, which must stay at or below 0.85 (a
corpus a bag of words can solve is too templated to teach the model anything).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from models.label_schema import PROJECT_DYADS, STANCE_LABELS, SENTIMENT_LABELS, QuoteRecord
from training.data import DataError, load_records

NEAR_DUPLICATE_THRESHOLD = 0.8
BASELINE_CEILING = 0.85
DEFAULT_DIR = Path(__file__).resolve().parent / "data"
ACTOR_WORDS = {
    "russia": r"russia\w*|moscow|kremlin|putin|lavrov|peskov|zakharova|tass|ria",
    "israel": r"israel\w*|jerusalem|netanyahu|idf|knesset|tel aviv",
    "iran": r"iran\w*|tehran|khamenei|irgc|zarif|araghchi|pezeshkian|raisi|rouhani",
}


def load_splits(directory: Path) -> dict[str, list[QuoteRecord]]:
    out = {}
    for name in ("train", "dev", "test"):
        path = directory / f"{name}.jsonl"
        if not path.is_file():
            raise DataError(f"{path}: missing; the corpus needs train.jsonl, dev.jsonl and test.jsonl")
        out[name] = load_records(path)
    return out


def duplicate_problems(splits: dict[str, list[QuoteRecord]]) -> list[str]:
    problems = []
    ids: dict[str, str] = {}
    texts: dict[str, str] = {}
    for name, recs in splits.items():
        for r in recs:
            if r.id in ids:
                problems.append(f"duplicate id {r.id!r} in {name} and {ids[r.id]}")
            ids[r.id] = name
            key = re.sub(r"\W+", " ", r.text.lower()).strip()
            if key in texts:
                problems.append(f"duplicate text of {r.id!r} ({name}) and {texts[key]}")
            texts[key] = f"{r.id} ({name})"
    return problems


def near_duplicates(
    train: Sequence[QuoteRecord], held_out: Sequence[QuoteRecord], threshold: float = NEAR_DUPLICATE_THRESHOLD
) -> list[tuple[str, str, float]]:
    """(held-out id, train id, similarity) for every pair above ``threshold``."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    if not train or not held_out:
        return []
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), lowercase=True, sublinear_tf=True)
    a = vec.fit_transform([r.text for r in train])
    b = vec.transform([r.text for r in held_out])
    sims = (b @ a.T).tocsr()
    out = []
    for i in range(sims.shape[0]):
        row = sims.getrow(i)
        if row.nnz and row.data.max() > threshold:
            j = row.indices[row.data.argmax()]
            out.append((held_out[i].id, train[j].id, float(row.data.max())))
    return out


def names_actor(text: str, actor: str) -> bool:
    pattern = ACTOR_WORDS.get(actor, re.escape(actor))
    return re.search(rf"\b(?:{pattern})", text, re.I) is not None


def needs_context(r: QuoteRecord) -> bool:
    """The quote's words do not name both actors of some dyad it takes a stance on."""
    for dyad, label in r.labels.items():
        if label == "none":
            continue
        a, b = dyad.split("-")
        if not (names_actor(r.text, a) and names_actor(r.text, b)):
            return True
    return False


def baseline_macro_f1(train: Sequence[QuoteRecord], test: Sequence[QuoteRecord]) -> dict[str, float]:
    """TF-IDF (word 1-2 grams over speaker + quote + context) + logistic regression, per project dyad."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score

    def doc(r: QuoteRecord) -> str:
        return f"{r.speaker} || {r.text} || {r.context}"

    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True)
    x_train = vec.fit_transform([doc(r) for r in train])
    x_test = vec.transform([doc(r) for r in test])
    out = {}
    targets = {d: (lambda r, d=d: r.labels.get(d)) for d in PROJECT_DYADS}
    targets["sentiment"] = lambda r: r.sentiment or None
    for name, get in targets.items():
        ytr = [get(r) for r in train]
        yte = [get(r) for r in test]
        keep_tr = [i for i, y in enumerate(ytr) if y]
        keep_te = [i for i, y in enumerate(yte) if y]
        clf = LogisticRegression(max_iter=2000, C=4.0, class_weight="balanced")
        clf.fit(x_train[keep_tr], [ytr[i] for i in keep_tr])
        pred = clf.predict(x_test[keep_te])
        out[name] = float(f1_score([yte[i] for i in keep_te], pred, average="macro"))
    return out


def figures(splits: dict[str, list[QuoteRecord]]) -> dict[str, Any]:
    everything = [r for recs in splits.values() for r in recs]
    n = len(everything)
    fig: dict[str, Any] = {"n_quotes": n, "split_sizes": {k: len(v) for k, v in splits.items()}}
    fig["label_distribution"] = {
        dyad: {name: dict(Counter(r.labels.get(dyad, "?") for r in recs)) for name, recs in splits.items()}
        for dyad in PROJECT_DYADS
    }
    fig["label_share"] = {
        dyad: {lab: round(sum(r.labels.get(dyad) == lab for r in everything) / n, 3) for lab in STANCE_LABELS}
        for dyad in PROJECT_DYADS
    }
    fig["sentiment_share"] = {lab: round(sum(r.sentiment == lab for r in everything) / n, 3) for lab in SENTIMENT_LABELS}
    other = Counter(d for r in everything for d in r.labels if d not in PROJECT_DYADS)
    fig["other_dyads"] = dict(other.most_common())
    fig["none_for_both_share"] = round(
        sum(all(r.labels.get(d) == "none" for d in PROJECT_DYADS) for r in everything) / n, 3
    )
    fig["stance_on_both_share"] = round(
        sum(all(r.labels.get(d, "none") != "none" for d in PROJECT_DYADS) for r in everything) / n, 3
    )
    fig["needs_context_share"] = round(sum(needs_context(r) for r in everything) / n, 3)
    fig["names_no_project_actor_share"] = round(
        sum(not any(names_actor(r.text, a) for a in ("russia", "israel", "iran")) for r in everything) / n, 3
    )
    speakers = Counter(r.speaker for r in everything if r.speaker)
    fig["distinct_speakers"] = len(speakers)
    lengths = np.array([len(r.text.split()) for r in everything])
    ctx = np.array([len(r.context.split()) for r in everything if r.context])
    fig["quote_words"] = {"median": float(np.median(lengths)), "p10": float(np.percentile(lengths, 10)),
                          "p90": float(np.percentile(lengths, 90)), "max": int(lengths.max())}
    fig["context_words"] = {"median": float(np.median(ctx)) if len(ctx) else 0.0,
                            "p90": float(np.percentile(ctx, 90)) if len(ctx) else 0.0}
    vocab = Counter(w for r in everything for w in re.findall(r"[a-z']+", r.text.lower()))
    fig["vocabulary_size"] = len(vocab)
    years = Counter(r.extra.get("year") for r in everything if r.extra.get("year"))
    fig["years"] = dict(sorted(years.items()))
    fig["topics"] = dict(Counter(r.extra.get("topic") for r in everything if r.extra.get("topic")).most_common(40))
    return fig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", nargs="?", default=str(DEFAULT_DIR))
    parser.add_argument("--json", default="", help="also write the figures here")
    args = parser.parse_args(argv)
    try:
        splits = load_splits(Path(args.directory))
    except DataError as exc:
        print(f"schema error: {exc}", file=sys.stderr)
        return 1
    problems = duplicate_problems(splits)
    for held in ("dev", "test"):
        for a, b, s in near_duplicates(splits["train"], splits[held]):
            problems.append(f"near duplicate: {held} {a} ~ train {b} (similarity {s:.2f})")
    fig = figures(splits)
    fig["baseline_macro_f1"] = baseline_macro_f1(splits["train"], splits["test"])
    print(json.dumps(fig, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(fig, indent=2))
    stance_baseline = [fig["baseline_macro_f1"][d] for d in PROJECT_DYADS]
    if max(stance_baseline) > BASELINE_CEILING:
        problems.append(f"TF-IDF baseline macro-F1 {max(stance_baseline):.3f} > {BASELINE_CEILING}: data too easy")
    for p in problems:
        print(f"PROBLEM: {p}", file=sys.stderr)
    print(f"{len(problems)} problems", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
