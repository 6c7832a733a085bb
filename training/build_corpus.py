"""Assemble the corpus from its hand-written slices: ``python -m training.build_corpus SLICES_DIR``.

Validates every record, drops exact duplicate texts (reporting each), groups
near-duplicates (character n-gram cosine > 0.8) so a group never straddles
splits, and writes a stratified 70/15/15 split to ``training/data/``.
Deterministic: the split depends only on ids, labels and the seed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

from models.label_schema import PROJECT_DYADS
from training.corpus_report import NEAR_DUPLICATE_THRESHOLD
from training.data import DataError, parse_record

OUT_DIR = Path(__file__).resolve().parent / "data"


def _groups(texts: list[str]) -> list[int]:
    """Union-find over near-duplicate pairs; returns a group id per text."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    parent = list(range(len(texts)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    m = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True).fit_transform(texts)
    sims = (m @ m.T).tocoo()
    for i, j, s in zip(sims.row, sims.col, sims.data):
        if i < j and s > NEAR_DUPLICATE_THRESHOLD - 0.05:  # a margin, so held-out sets stay clear of 0.8
            parent[find(i)] = find(j)
    return [find(i) for i in range(len(texts))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("slices", help="directory of *.jsonl slice (or split) files")
    parser.add_argument("--out", default=str(OUT_DIR))
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args(argv)
    records, raw_rows, seen_text = [], [], {}
    dropped = 0
    for path in sorted(Path(args.slices).glob("*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            where = f"{path.name} line {number}"
            try:
                obj = json.loads(line)
                rec = parse_record(obj, where)
                missing = [d for d in PROJECT_DYADS if d not in rec.labels]
                if missing:
                    raise DataError(f"{where}: labels lack project dyads {missing}")
                if not rec.sentiment:
                    raise DataError(f"{where}: field 'sentiment' is missing")
            except (ValueError, DataError) as exc:
                print(f"dropped: {exc}", file=sys.stderr)
                dropped += 1
                continue
            key = re.sub(r"\W+", " ", rec.text.lower()).strip()
            if key in seen_text:
                print(f"dropped: {where}: same text as {seen_text[key]}", file=sys.stderr)
                dropped += 1
                continue
            seen_text[key] = rec.id
            obj["source"] = obj.get("source") or "synthetic"
            records.append(rec)
            raw_rows.append(obj)
    groups = _groups([r.text for r in records])
    members: dict[int, list[int]] = defaultdict(list)
    for i, g in enumerate(groups):
        members[g].append(i)
    strata: dict[str, list[int]] = defaultdict(list)
    for g, idx in members.items():
        first = records[idx[0]]
        strata["|".join(first.labels.get(d, "?") for d in PROJECT_DYADS)].append(g)
    split_of: dict[int, str] = {}
    for key in sorted(strata):
        gs = sorted(strata[key], key=lambda g: hashlib.sha256(f"{args.seed}:{records[members[g][0]].id}".encode()).hexdigest())
        n = len(gs)
        for k, g in enumerate(gs):
            split_of[g] = "test" if k < round(n * 0.15) else "dev" if k < round(n * 0.30) else "train"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in ("train", "dev", "test"):
        rows = [raw_rows[i] for i in range(len(records)) if split_of[groups[i]] == name]
        rows.sort(key=lambda r: r["id"])
        (out / f"{name}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        print(f"{name}: {len(rows)}")
    print(f"kept {len(records)}, dropped {dropped}, near-duplicate groups of 2+: {sum(len(v) > 1 for v in members.values())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
