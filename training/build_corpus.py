"""Build the training corpus from passages: ``python -m training.build_corpus``.

Every record is a gold quote *in a passage*: the written articles
(``data/articles``), the loose quotes re-cut as short passages
(``data/recut``, labels from ``data/loose``), and the targeted snippets
(``data/targeted``).  Each record's context is cut by the serving
extractor's own function (:func:`models.quotes.context.quote_context` over the
same sentence segmentation), so the model trains on exactly the shape of
input ``/analyze`` hands it.  The seed article's quotes are cut the same way
into ``seeds/quotes.jsonl``.

Splits go by passage: every quote of an article (both halves of a minimal
pair) lands in one split.  Output is sorted and deterministic; a test
rebuilds a sample and checks it is unchanged.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Iterable

from models.label_schema import PROJECT_DYADS
from training.articles import Article, load_articles, load_recuts
from training.corpus_splits import article_split
from training.data import load_records

DATA = Path(__file__).resolve().parent / "data"
ROOT = DATA.parents[1]
SEED_ARTICLE = ROOT / "seeds" / "article.jsonl"
SEED_QUOTES = ROOT / "seeds" / "quotes.jsonl"
SPLITS = ("train", "dev", "test")


def passages(data: Path = DATA) -> list[tuple[str, Article]]:
    """(source, passage) for every passage of the corpus, in a fixed order."""
    out: list[tuple[str, Article]] = []
    out += [("article", a) for a in load_articles(data / "articles")]
    loose = load_records(data / "loose")
    for path in sorted((data / "recut").glob("*.jsonl")):
        out += [("loose", a) for a in load_recuts(path, loose)]
    if (data / "targeted").is_dir() and any((data / "targeted").glob("*.jsonl")):
        out += [("targeted", a) for a in load_articles(data / "targeted")]
    return out


def records_of(article: Article, source: str, split: str) -> list[dict[str, Any]]:
    """The article's gold quotes as training records, each with the context the extractor would cut."""
    from models.quote_extraction import article_sentences, quote_context

    sentences = article_sentences(article.text)
    rows = []
    for k, quote in enumerate(article.quotes, start=1):
        record_id = article.extra.get("record_id") if source == "loose" else f"{article.id}#{k}"
        row = {
            "id": record_id,
            "text": quote.text_in(article.text),
            "speaker": quote.speaker,
            "speaker_actor": quote.speaker_actor,
            "context": quote_context(article.text, sentences, quote.spans),
            "labels": dict(quote.labels),
            "sentiment": quote.sentiment,
            "source": source,
            "passage": article.id,
            "style": article.style,
            "kind": quote.kind,
            "partial": quote.partial,
            "split": split,
        }
        for key in ("year", "topic", "pair"):
            if key in article.extra or (key == "year" and article.year is not None):
                row[key] = article.year if key == "year" and article.year is not None else article.extra[key]
        rows.append(row)
    return rows


def assign_splits(items: list[tuple[str, Article]]) -> dict[str, str]:
    """Passage id -> split: by id (``article_split``), then near-duplicate passages pulled together.

    A passage whose quote is a near copy of another passage's quote joins that
    passage's split, so no held-out quote has a twin in train; a passage with a
    fixed split (a re-cut loose quote) wins, else the smallest passage id.
    """
    from training.similarity import groups

    base = {a.id: article_split(a) for _, a in items}
    fixed = {a.id for _, a in items if getattr(a, "split", "")}
    texts, owners = [], []
    for _, a in items:
        for q in a.quotes:
            texts.append(q.text_in(a.text))
            owners.append(a.id)
    # Passages sharing a near-duplicate quote form one cluster (union-find over passages).
    parent = {a.id: a.id for _, a in items}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    first_owner: dict[int, str] = {}
    for owner, g in zip(owners, groups(texts)):
        if g in first_owner:
            parent[find(owner)] = find(first_owner[g])
        else:
            first_owner[g] = owner
    clusters: dict[str, list[str]] = {}
    for pid in parent:
        clusters.setdefault(find(pid), []).append(pid)
    out = dict(base)
    for ids in clusters.values():
        if len(ids) < 2 or len({base[i] for i in ids}) < 2:
            continue
        leader = min(ids, key=lambda i: (i not in fixed, i))
        for i in ids:
            if i not in fixed:
                out[i] = base[leader]
    return out


ADJUDICATIONS = DATA / "second_reading" / "adjudications.jsonl"
# The label audit's verdicts (``stance audit``): a blind reader and a model agreeing against a training label.
AUDIT_VERDICTS = DATA / "audit" / "verdicts.jsonl"
AUDIT_SPLITS = ("train",)


def adjudicated(*paths: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """(record id, head) -> the adjudication that changes its label (second reading, then the label audit)."""
    out = {}
    for path in paths or (ADJUDICATIONS, AUDIT_VERDICTS):
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                a = json.loads(line)
                if a.get("applied", True) and a["final"] != a["corpus"]:
                    out[(a["id"], a["head"])] = a
    return out


def apply_adjudications(row: dict[str, Any], verdicts: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    for (rid, head), a in verdicts.items():
        if rid != row["id"]:
            continue
        if head == "sentiment":
            row["sentiment"] = a["final"]
        else:
            row["labels"][head] = a["final"]
        row.setdefault("adjudicated", {})[head] = a["rule"]
    return row


def build(data: Path = DATA, limit: int = 0) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {name: [] for name in SPLITS}
    items = passages(data)
    if limit:
        items = items[:limit]
    splits = assign_splits(items)
    verdicts = adjudicated()
    by_id: dict[str, list[tuple[str, str]]] = {}
    for rid, head in verdicts:
        by_id.setdefault(rid, []).append((rid, head))
    for source, article in items:
        split = splits[article.id]
        if split not in out:
            raise ValueError(f"passage {article.id!r} has split {split!r}, not one of {SPLITS}")
        for row in records_of(article, source, split):
            keys = by_id.get(row["id"], [])
            audited = [k for k in keys if verdicts[k].get("rule") == "AUDIT"]
            if audited and split not in AUDIT_SPLITS:
                # A model took part in the audit's verdict: held-out labels are never changed by it.
                raise ValueError(f"label audit verdict for {row['id']!r} ({audited[0][1]}) targets the {split} split")
            out[split].append(apply_adjudications(row, {k: verdicts[k] for k in keys}) if keys else row)
    for rows in out.values():
        rows.sort(key=lambda r: r["id"])
    return out


def seed_records() -> list[dict[str, Any]]:
    (article,) = load_articles(SEED_ARTICLE)
    rows = records_of(article, "seed", "seed")
    for row, quote in zip(rows, json.loads(SEED_ARTICLE.read_text(encoding="utf-8"))["quotes"]):
        row["id"] = quote.get("id", row["id"])
    return rows


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(DATA / "corpus"), help="where train/dev/test.jsonl go")
    args = parser.parse_args(argv)
    corpus = build()
    for name, rows in corpus.items():
        write_jsonl(Path(args.out) / f"{name}.jsonl", rows)
        both = sum(all(r["labels"][d] != "none" for d in PROJECT_DYADS) for r in rows)
        print(f"{name}: {len(rows)} quotes from {len({r['passage'] for r in rows})} passages; stance on both: {both}")
    write_jsonl(SEED_QUOTES, seed_records())
    print(f"seed: {SEED_QUOTES}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
