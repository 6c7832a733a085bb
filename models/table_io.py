"""Reading JSONL, CSV and Parquet rows: the one reader behind training data and batch scoring.

Rows stream one at a time (a batch job over a large archive never holds the
file), each with its line (JSONL, CSV) or row (Parquet) number, and a bad
row is reported, not raised, so the caller decides: training stops at the
first one, batch scoring can skip it to a rejects file.
"""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, TypeVar

T = TypeVar("T")

from models.errors import StanceError

FORMATS = (".jsonl", ".csv", ".parquet")


class TableError(StanceError, ValueError):
    """A file that cannot be read at all (wrong type, not UTF-8 CSV)."""


@dataclass(frozen=True)
class Row:
    number: int  # 1-based line (JSONL, CSV: the physical line the row ends on) or row (Parquet)
    data: dict[str, Any] | None  # None when the row is malformed
    error: str = ""
    unit: str = "line"

    def where(self, path: Path | str) -> str:
        return f"{path} {self.unit} {self.number}"


def quote_row_problem(row: dict[str, Any], column: str = "text") -> str:
    """What makes a row unusable as a quote ('' if nothing): the text column and the optional fields' types."""
    value = row.get(column)
    if value is None:
        return f"field '{column}' is missing"
    if not isinstance(value, str):
        return f"field '{column}' must be a string, got {type(value).__name__}"
    if not value.strip():
        return f"field '{column}' is empty"
    for optional in ("speaker", "context", "speaker_actor"):
        extra = row.get(optional)
        if extra is not None and not isinstance(extra, str):
            return f"field '{optional}' must be a string, got {type(extra).__name__}"
    return ""


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of ``size`` items (the last one shorter)."""
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def file_sha256(path: str | Path) -> str:
    """Which bytes a job or a model was made from (streamed: files may be large)."""
    import hashlib

    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def iter_rows(path: str | Path) -> Iterator[Row]:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        yield from _jsonl(path)
    elif suffix == ".csv":
        yield from _csv(path)
    elif suffix == ".parquet":
        yield from _parquet(path)
    else:
        raise TableError(f"{path}: unsupported file type {suffix!r}; use one of {FORMATS}")


def _jsonl(path: Path) -> Iterator[Row]:
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                yield Row(number, None, f"not valid UTF-8 ({exc.reason})")
                continue
            except json.JSONDecodeError as exc:
                yield Row(number, None, f"not valid JSON ({exc.msg})")
                continue
            if not isinstance(obj, dict):
                yield Row(number, None, f"expected a JSON object, got {type(obj).__name__}")
                continue
            yield Row(number, obj)


def _csv(path: Path) -> Iterator[Row]:
    csv.field_size_limit(sys.maxsize)
    with path.open(newline="", encoding="utf-8", errors="strict") as fh:
        reader = csv.DictReader(fh)
        try:
            for row in reader:
                if None in row:
                    yield Row(reader.line_num, None,
                              f"row has {len(row) - 1 + len(row[None])} fields, header has {len(reader.fieldnames or [])}")
                    continue
                yield Row(reader.line_num, dict(row))
        except UnicodeDecodeError as exc:
            raise TableError(f"{path}: not valid UTF-8 ({exc.reason})") from exc
        except csv.Error as exc:
            raise TableError(f"{path} line {reader.line_num}: not valid CSV ({exc})") from exc


def _parquet(path: Path) -> Iterator[Row]:
    import pyarrow.parquet as pq

    try:
        reader = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a non-Parquet file
        raise TableError(f"{path}: cannot be read as Parquet ({exc})") from exc
    number = 0
    for batch in reader.iter_batches(batch_size=4096):
        for row in batch.to_pylist():
            number += 1
            yield Row(number, row, unit="row")
