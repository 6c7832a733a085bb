"""How well the extractor finds quotes and names their speakers, on the corpus's gold articles.

``stance eval-extraction [--split dev|test|all|seed]`` prints quote
precision / recall / F1 under GenderGapTracker's overlap rule (a predicted
span matches a gold quote when it covers more than a threshold share of the
gold quote's characters; each gold quote takes its best unmatched
prediction), at the thresholds 0.3 and 0.8, and speaker accuracy over the
matched quotes: strict (the full name, or the institution, as the gold gives
it) and lenient (the same surname).  The extractor is tuned on the dev split
only; the test split is never looked at while tuning.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from training.articles import Article, GoldQuote, load_articles

ROOT = Path(__file__).resolve().parents[1]
ARTICLES = ROOT / "training" / "data" / "articles"
SEED_ARTICLE = ROOT / "seeds" / "article.jsonl"
THRESHOLDS = (0.3, 0.8)
_TITLES = re.compile(
    r"^(?:the |a |an )?(?:(?:mr|mrs|ms|dr|prof|gen|lt|col|maj|adm|sen|rep|brig|capt)\.? )+", re.IGNORECASE
)


def normalise_speaker(name: str) -> str:
    name = unicodedata.normalize("NFKC", name).replace("’", "'").strip().lower()
    name = re.sub(r"'s$", "", name)
    name = _TITLES.sub("", name)
    return re.sub(r"\s+", " ", name).strip(" .,")


def same_speaker(gold: str, predicted: str, lenient: bool = False) -> bool:
    g, p = normalise_speaker(gold), normalise_speaker(predicted)
    if not p:
        return False
    if g == p or g.removeprefix("the ") == p.removeprefix("the "):
        return True
    if lenient:
        return g.split()[-1] == p.split()[-1]
    return False


def _chars(spans: Sequence[tuple[int, int]]) -> set[int]:
    return {i for a, b in spans for i in range(a, b)}


@dataclass
class Tally:
    gold: int = 0
    predicted: int = 0
    matched: dict[float, int] = field(default_factory=lambda: {t: 0 for t in THRESHOLDS})
    speaker_strict: int = 0
    speaker_lenient: int = 0
    actor_right: int = 0
    actor_known: int = 0
    partial_right: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def add(self, other: "Tally") -> None:
        self.gold += other.gold
        self.predicted += other.predicted
        for t in THRESHOLDS:
            self.matched[t] += other.matched[t]
        self.speaker_strict += other.speaker_strict
        self.speaker_lenient += other.speaker_lenient
        self.actor_right += other.actor_right
        self.actor_known += other.actor_known
        self.partial_right += other.partial_right
        self.errors.extend(other.errors)

    def scores(self) -> dict[str, Any]:
        out: dict[str, Any] = {"gold_quotes": self.gold, "predicted_quotes": self.predicted}
        for t in THRESHOLDS:
            tp = self.matched[t]
            p = tp / self.predicted if self.predicted else 0.0
            r = tp / self.gold if self.gold else 0.0
            out[f"@{t}"] = {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0, "matched": tp}
        m = self.matched[THRESHOLDS[0]] or 1
        out["speaker_accuracy"] = self.speaker_strict / m
        out["speaker_accuracy_surname"] = self.speaker_lenient / m
        out["speaker_actor_accuracy"] = self.actor_right / (self.actor_known or 1)
        out["partial_flag_accuracy"] = self.partial_right / m
        return out


def _match(gold: list[GoldQuote], predicted: list[Any], threshold: float) -> list[tuple[GoldQuote, Any]]:
    remaining = list(predicted)
    pairs = []
    for g in gold:
        g_chars = _chars(g.spans)
        best, best_score = None, threshold
        for p in remaining:
            score = len(g_chars & _chars(p.spans)) / len(g_chars) if g_chars else 0.0
            if score > best_score:
                best, best_score = p, score
        if best is not None:
            remaining.remove(best)
            pairs.append((g, best))
    return pairs


def evaluate_article(article: Article, kind: str = "direct") -> Tally:
    from models.quote_extraction import extract_quotes

    predicted = [q for q in extract_quotes(article.text, include_indirect=kind == "indirect") if q.kind == kind]
    gold = [q for q in article.quotes if q.kind == kind]
    tally = Tally(gold=len(gold), predicted=len(predicted))
    for t in THRESHOLDS:
        tally.matched[t] = len(_match(gold, predicted, t))
    pairs = _match(gold, predicted, THRESHOLDS[0])
    for g, p in pairs:
        strict = same_speaker(g.speaker, p.speaker)
        tally.speaker_strict += strict
        tally.speaker_lenient += same_speaker(g.speaker, p.speaker, lenient=True)
        tally.partial_right += g.partial == p.partial
        if g.speaker_actor:
            tally.actor_known += 1
            tally.actor_right += g.speaker_actor == p.speaker_actor
        if not strict:
            tally.errors.append({"article": article.id, "type": "speaker", "quote": p.text[:80],
                                 "gold": g.speaker, "predicted": p.speaker})
    matched_gold = {id(g) for g, _ in pairs}
    matched_pred = {id(p) for _, p in pairs}
    for g in gold:
        if id(g) not in matched_gold:
            tally.errors.append({"article": article.id, "type": "missed", "quote": g.text_in(article.text)[:80],
                                 "gold": g.speaker})
    for p in predicted:
        if id(p) not in matched_pred:
            tally.errors.append({"article": article.id, "type": "spurious", "quote": p.text[:80],
                                 "predicted": p.speaker})
    return tally


def select(split: str) -> list[Article]:
    """The written articles of one corpus split (the same split the classifier's records of them are in)."""
    if split == "seed":
        return load_articles(SEED_ARTICLE)
    from training.build_corpus import assign_splits, passages

    items = passages()
    splits = assign_splits(items)
    articles = [a for source, a in items if source == "article"]
    return articles if split == "all" else [a for a in articles if splits[a.id] == split]


def relay(text: str, layout: str) -> str:
    """The same article laid out another way, every character at its offset (gold spans stay valid):
    ``single-newline`` puts one line break between paragraphs, ``wrapped`` breaks lines at 72 columns."""
    if layout == "as-written":
        return text
    if layout == "single-newline":
        return text.replace("\n\n", " \n")
    if layout == "wrapped":
        out, column = list(text), 0
        for i, ch in enumerate(text):
            column = 0 if ch == "\n" else column + 1
            if ch == " " and column > 72:
                out[i], column = "\n", 0
        return "".join(out)
    raise ValueError(f"layout must be as-written, single-newline or wrapped, got {layout!r}")


def run(split: str, kind: str = "direct", layout: str = "as-written") -> tuple[dict[str, Any], Tally, dict[str, Tally], float]:
    articles = [dataclasses.replace(a, text=relay(a.text, layout)) for a in select(split)]
    from models.quotes.language import load_pipeline

    load_pipeline()  # model loading is not extraction time
    total = Tally()
    by_style: dict[str, Tally] = defaultdict(Tally)
    started = time.perf_counter()
    for article in articles:
        tally = evaluate_article(article, kind)
        total.add(tally)
        by_style[article.style].add(tally)
    seconds = time.perf_counter() - started
    scores = total.scores()
    scores["articles"] = len(articles)
    scores["seconds"] = round(seconds, 2)
    return scores, total, by_style, seconds


def format_scores(name: str, s: dict[str, Any]) -> str:
    lo, hi = (s[f"@{t}"] for t in THRESHOLDS)
    return (
        f"{name:<12} n={s['gold_quotes']:>4}  P {lo['precision']:.3f}  R {lo['recall']:.3f}  F1 {lo['f1']:.3f}"
        f"  (@0.8: F1 {hi['f1']:.3f})  speaker {s['speaker_accuracy']:.3f} (surname {s['speaker_accuracy_surname']:.3f})"
        f"  actor {s['speaker_actor_accuracy']:.3f}  partial {s['partial_flag_accuracy']:.3f}"
    )


def run_cli(args: Any) -> int:
    """``stance eval-extraction``: print the scores (arguments declared in ``training.cli``)."""
    scores, total, by_style, _ = run(args.split, args.kind, args.layout)
    print(f"{args.kind} quotes, {args.split} split ({args.layout}), {scores['articles']} articles, {scores['seconds']} s")
    print(format_scores("all", scores))
    for style, tally in sorted(by_style.items()):
        print(format_scores(style, tally.scores()))
    kinds = Counter(e["type"] for e in total.errors)
    print(f"errors: {dict(kinds)}")
    for e in total.errors[: args.errors]:
        print("  ", json.dumps(e, ensure_ascii=False))
    if args.json:
        Path(args.json).write_text(json.dumps(scores, indent=2))
    return 0


if __name__ == "__main__":
    import sys

    from service.cli import main

    sys.exit(main(["eval-extraction", *sys.argv[1:]]))
