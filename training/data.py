"""Loading, validating and splitting annotated quotes.

Bad data is an error, never a silent drop: every message names the file, the
line (JSONL) or row (CSV/Parquet), the field and the bad value.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from models.errors import StanceError
from models.label_schema import (
    SENTIMENT2ID,
    STANCE2ID,
    UNKNOWN_LABEL_ID,
    QuoteRecord,
    SchemaError,
    canonical_dyad,
    check_actor,
    check_sentiment,
    check_stance,
    split_dyad,
)

SUPPORTED_SUFFIXES = (".jsonl", ".csv", ".parquet")
LABEL_COLUMN_PREFIX = "label_"
SPLIT_NAMES = ("train", "dev", "test")
_CORE_FIELDS = {"id", "text", "speaker", "context", "labels", "sentiment", "source", "speaker_actor"}


class DataError(StanceError, ValueError):
    """Invalid training data; the message says where and what."""


@dataclass
class Splits:
    train: list[QuoteRecord]
    dev: list[QuoteRecord]
    test: list[QuoteRecord]

    def items(self) -> Iterable[tuple[str, list[QuoteRecord]]]:
        return (("train", self.train), ("dev", self.dev), ("test", self.test))


# ------------------------------------------------------------------ reading
def _raw_rows(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """(location, raw dict) per row, location like 'file.jsonl line 7'; the first bad row is an error."""
    from models.table_io import TableError, iter_rows

    rows = []
    tabular = path.suffix.lower() in (".csv", ".parquet")
    try:
        for row in iter_rows(path):
            where = row.where(path)
            if row.data is None:
                raise DataError(f"{where}: {row.error}")
            rows.append((where, _tabular_to_record_dict(row.data) if tabular else row.data))
    except TableError as exc:
        raise DataError(str(exc)) from None
    return rows


def _is_blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip() == ""


def _tabular_to_record_dict(row: dict[str, Any]) -> dict[str, Any]:
    """CSV/Parquet row -> record dict: ``label_<dyad>`` columns become ``labels``; blank = unknown."""
    out: dict[str, Any] = {"labels": {}}
    for key, value in row.items():
        if key.startswith(LABEL_COLUMN_PREFIX):
            if not _is_blank(value):
                out["labels"][key[len(LABEL_COLUMN_PREFIX):]] = value
        elif not _is_blank(value):
            out[key] = value
    return out


def _text_field(obj: dict[str, Any], name: str, where: str, required: bool) -> str:
    value = obj.get(name)
    if value is None:
        if required:
            raise DataError(f"{where}: field '{name}' is missing")
        return ""
    if not isinstance(value, str):
        raise DataError(f"{where}: field '{name}' must be a string, got {type(value).__name__} {value!r}")
    if required and not value.strip():
        raise DataError(f"{where}: field '{name}' is empty")
    return value.strip()


def parse_record(obj: dict[str, Any], where: str) -> QuoteRecord:
    record_id = obj.get("id")
    if isinstance(record_id, (int,)) and not isinstance(record_id, bool):
        record_id = str(record_id)
    if not isinstance(record_id, str) or not record_id.strip():
        raise DataError(f"{where}: field 'id' must be a non-empty string, got {record_id!r}")
    text = _text_field(obj, "text", where, required=True)
    speaker = _text_field(obj, "speaker", where, required=False)
    context = _text_field(obj, "context", where, required=False)
    labels_raw = obj.get("labels")
    if not isinstance(labels_raw, dict):
        raise DataError(f"{where}: field 'labels' must be an object of dyad -> stance, got {labels_raw!r}")
    labels: dict[str, str] = {}
    seen_keys: dict[frozenset[str], str] = {}
    for dyad, stance in labels_raw.items():
        try:
            actors = split_dyad(dyad)
            check_stance(stance, f"labels[{dyad!r}]")
        except SchemaError as exc:
            raise DataError(f"{where}: field 'labels': {exc}") from exc
        key = frozenset(actors)
        if key in seen_keys:
            raise DataError(f"{where}: field 'labels' names dyad {dyad!r} twice (also as {seen_keys[key]!r})")
        seen_keys[key] = dyad
        labels[f"{actors[0]}-{actors[1]}"] = stance
    if not labels:
        raise DataError(f"{where}: field 'labels' is empty; label at least one dyad")
    sentiment = obj.get("sentiment")
    if sentiment is not None:
        try:
            check_sentiment(sentiment, "field 'sentiment'")
        except SchemaError as exc:
            raise DataError(f"{where}: {exc}") from exc
    speaker_actor = _text_field(obj, "speaker_actor", where, required=False).lower()
    if speaker_actor:
        try:
            check_actor(speaker_actor)
        except SchemaError:
            raise DataError(f"{where}: field 'speaker_actor' {speaker_actor!r} is not a lower-case actor name") from None
    extra = {k: v for k, v in obj.items() if k not in _CORE_FIELDS}
    source = obj.get("source") or ""
    return QuoteRecord(
        id=record_id.strip(),
        text=text,
        speaker=speaker,
        context=context,
        labels=labels,
        sentiment=sentiment or "",
        source=str(source),
        speaker_actor=speaker_actor,
        extra=extra,
    )


def _files_in(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in SUPPORTED_SUFFIXES)
        if not files:
            raise DataError(f"{path}: directory holds no {', '.join(SUPPORTED_SUFFIXES)} files")
        return files
    if not path.exists():
        raise DataError(f"{path}: no such file or directory")
    return [path]


def load_records(path: str | Path) -> list[QuoteRecord]:
    """All records of a file or of every data file in a directory, validated."""
    records: list[QuoteRecord] = []
    first_seen: dict[str, str] = {}
    for file in _files_in(Path(path)):
        rows = _raw_rows(file)
        if not rows:
            raise DataError(f"{file}: file holds no records")
        for where, obj in rows:
            record = parse_record(obj, where)
            if record.id in first_seen:
                raise DataError(f"{where}: duplicate id {record.id!r} (first at {first_seen[record.id]})")
            first_seen[record.id] = where
            if Path(path).is_dir() and "split" not in record.extra and file.stem in SPLIT_NAMES:
                record = QuoteRecord(**{**record.__dict__, "extra": {**record.extra, "split": file.stem}})
            records.append(record)
    return records


def data_hash(path: str | Path) -> str:
    """sha256 over the data files' names and bytes: which data built a model."""
    digest = hashlib.sha256()
    for file in _files_in(Path(path)):
        digest.update(file.name.encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


# --------------------------------------------------------------- splitting
def stable_rank(seed: int, record_id: str) -> str:
    return hashlib.sha256(f"{seed}:{record_id}".encode()).hexdigest()


def stratum(record: QuoteRecord, dyads: Sequence[str]) -> str:
    return "|".join(record.labels.get(d, "?") for d in dyads)


def split_records(
    records: Sequence[QuoteRecord],
    dyads: Sequence[str],
    dev_fraction: float = 0.15,
    test_fraction: float = 0.15,
    seed: int = 42,
) -> Splits:
    """Use the records' own ``split`` when all have one, else a stratified, order-free split.

    Order-free: the split depends only on ids, labels and seed, so shuffling
    the input file gives the same three sets.
    """
    given = [r.extra.get("split") for r in records]
    if all(s in SPLIT_NAMES for s in given):
        grouped: dict[str, list[QuoteRecord]] = defaultdict(list)
        for record, name in zip(records, given):
            grouped[name].append(record)
        return Splits(grouped["train"], grouped["dev"], grouped["test"])
    if any(s is not None for s in given):
        bad = next((r, s) for r, s in zip(records, given) if s not in SPLIT_NAMES)
        raise DataError(
            f"record {bad[0].id!r}: field 'split' is {bad[1]!r}; either every record has one of "
            f"{SPLIT_NAMES} or none has"
        )
    counts = Counter(stratum(r, dyads) for r in records)
    strata: dict[str, list[QuoteRecord]] = defaultdict(list)
    for record in records:
        key = stratum(record, dyads)
        strata[key if counts[key] >= 3 else "rare"].append(record)
    out = Splits([], [], [])
    for key in sorted(strata):
        members = sorted(strata[key], key=lambda r: stable_rank(seed, r.id))
        n = len(members)
        n_test = round(n * test_fraction)
        n_dev = round(n * dev_fraction)
        out.test.extend(members[:n_test])
        out.dev.extend(members[n_test : n_test + n_dev])
        out.train.extend(members[n_test + n_dev :])
    return out


# ------------------------------------------------------- dyads and tensors
def dyad_counts(records: Iterable[QuoteRecord]) -> Counter[str]:
    return Counter(d for r in records for d in r.labels)


def choose_default_dyads(records: Sequence[QuoteRecord], min_fraction: float = 0.5) -> list[str]:
    """Dyads labelled on at least ``min_fraction`` of records: what a request gets by default."""
    counts = dyad_counts(records)
    chosen = [d for d, c in counts.most_common() if c >= min_fraction * len(records)]
    return chosen or [counts.most_common(1)[0][0]]


def without_dyad(records: Sequence[QuoteRecord], dyad: str) -> list[QuoteRecord]:
    """Records with one dyad's labels removed (records left with none are dropped)."""
    key = frozenset(split_dyad(dyad))
    out = []
    for r in records:
        labels = {d: v for d, v in r.labels.items() if frozenset(split_dyad(d)) != key}
        if labels:
            out.append(QuoteRecord(**{**r.__dict__, "labels": labels}))
    return out


def label_matrix(records: Sequence[QuoteRecord], dyads: Sequence[str]) -> list[list[int]]:
    rows = []
    for r in records:
        by_key = {frozenset(split_dyad(d)): v for d, v in r.labels.items()}
        rows.append(
            [STANCE2ID[by_key[frozenset(split_dyad(d))]] if frozenset(split_dyad(d)) in by_key else UNKNOWN_LABEL_ID for d in dyads]
        )
    return rows


def sentiment_ids(records: Sequence[QuoteRecord]) -> list[int]:
    return [SENTIMENT2ID[r.sentiment] if r.sentiment else UNKNOWN_LABEL_ID for r in records]


def normalise_dyad_names(records: Sequence[QuoteRecord], known: Sequence[str]) -> list[QuoteRecord]:
    """Respell 'israel-russia' as the known 'russia-israel' so one dyad has one name."""
    out = []
    for r in records:
        labels = {canonical_dyad(d, known): v for d, v in r.labels.items()}
        out.append(QuoteRecord(**{**r.__dict__, "labels": labels}))
    return out
