"""``stance score INPUT OUTPUT``: label every row of a JSONL, CSV or Parquet file.

Nothing done is lost.  Rows are scored in fixed chunks; each finished chunk is
written atomically (temp file + rename) into ``OUTPUT.parts/`` next to a
manifest naming the input's hash, the model and the options.  Re-running the
same command after a crash, ``kill -9`` or Ctrl-C skips the finished chunks,
and the final file is assembled (again via temp file + rename) only when all
are done, so it equals an uninterrupted run's output byte for byte.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator

from models.errors import StanceError
from models.input_encoding import QuoteInput
from models.table_io import FORMATS, TableError, chunked, file_sha256, iter_rows, quote_row_problem as row_problem
from models.predictor import DEFAULT_BATCH_SIZE, Predictor, QuotePrediction

MANIFEST = "manifest.json"
# What --articles adds per found quote (as quote_<field> columns), in this order.
QUOTE_FIELDS = ("text", "speaker", "speaker_role", "speaker_affiliation", "speaker_actor", "context", "kind",
                "partial", "start", "end")


class InputError(StanceError, ValueError):
    """A malformed input row or a bad option; the message names the line and field."""


@dataclass(frozen=True)
class ScoreOptions:
    input_sha256: str
    model: str
    articles: bool
    dyads: tuple[str, ...] | None
    chunk_size: int
    on_error: str
    text_column: str
    include_indirect: bool = False


# ------------------------------------------------------------------ input
def read_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    """(line or row number, row dict or None, error) for every input row, in order."""
    try:
        for row in iter_rows(path):
            yield row.number, row.data, row.error
    except TableError as exc:
        raise InputError(str(exc)) from None


# ----------------------------------------------------------------- output
def prediction_columns(pred: QuotePrediction) -> dict[str, Any]:
    cols: dict[str, Any] = {}
    for dyad, s in pred.stance.items():
        cols[f"{dyad}_label"] = s.label
        for label, p in sorted(s.scores.items()):
            cols[f"{dyad}_p_{label}"] = p
        cols[f"{dyad}_trained"] = s.trained
    cols["sentiment_label"] = pred.sentiment.label
    for label, p in sorted(pred.sentiment.scores.items()):
        cols[f"sentiment_p_{label}"] = p
    cols["model"] = pred.model
    return cols


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def assemble(parts_dir: Path, n_parts: int, output: Path) -> int:
    rows: list[dict[str, Any]] = []
    for k in range(n_parts):
        with (parts_dir / f"part-{k:06d}.jsonl").open(encoding="utf-8") as fh:
            rows.extend(json.loads(line) for line in fh)
    tmp = output.with_name(output.name + ".tmp")
    suffix = output.suffix.lower()
    if suffix == ".jsonl":
        with tmp.open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    else:
        import pandas as pd

        frame = pd.DataFrame(rows)
        if suffix == ".csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False)
    os.replace(tmp, output)
    return len(rows)


# -------------------------------------------------------------------- run
def _chunks(path: Path, size: int) -> Iterator[list[tuple[int, dict[str, Any] | None, str]]]:
    return chunked(read_rows(path), size)


def score_chunk(
    predictor: Predictor,
    chunk: list[tuple[int, dict[str, Any] | None, str]],
    opts: ScoreOptions,
    input_name: str,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(output rows, rejected rows) for one chunk; raises InputError in stop mode."""
    from models.quote_extraction import extract_quotes

    good: list[tuple[int, dict[str, Any]]] = []
    rejects: list[dict[str, Any]] = []
    for number, row, error in chunk:
        problem = error or row_problem(row or {}, opts.text_column)
        if problem:
            if opts.on_error == "stop":
                raise InputError(
                    f"{input_name} line {number}: {problem}; fix the row or re-run with --on-error skip"
                )
            rejects.append({"line": number, "error": problem})
            continue
        good.append((number, row or {}))
    out: list[dict[str, Any]] = []
    dyads = list(opts.dyads) if opts.dyads else None
    if opts.articles:
        units: list[tuple[dict[str, Any], Any]] = []
        for _, row in good:
            found = extract_quotes(row[opts.text_column], include_indirect=opts.include_indirect)
            if not found:
                units.append((row, None))
            for k, q in enumerate(found):
                units.append((row, (k, q)))
        quoted = [(i, u[1][1]) for i, u in enumerate(units) if u[1] is not None]
        preds = predictor.predict([QuoteInput(q.text, q.speaker, q.context, q.speaker_actor) for _, q in quoted], dyads)
        by_unit = {i: p for (i, _), p in zip(quoted, preds)}
        for i, (row, item) in enumerate(units):
            base = {k: v for k, v in row.items()}
            if item is None:
                out.append({**base, **{f"quote_{f}": None for f in QUOTE_FIELDS}, "quote_index": None})
                continue
            k, q = item
            out.append({**base, "quote_index": k, **{f"quote_{f}": getattr(q, f) for f in QUOTE_FIELDS},
                        **prediction_columns(by_unit[i])})
    else:
        inputs = [
            QuoteInput(row[opts.text_column], row.get("speaker") or "", row.get("context") or "",
                       row.get("speaker_actor") or "")
            for _, row in good
        ]
        preds = predictor.predict(inputs, dyads)
        for (_, row), pred in zip(good, preds):
            out.append({**row, **prediction_columns(pred)})
    return out, rejects


def run_scoring(
    predictor: Predictor,
    input_path: Path,
    output_path: Path,
    *,
    articles: bool = False,
    dyads: list[str] | None = None,
    chunk_size: int = 1024,
    on_error: str = "stop",
    text_column: str | None = None,
    progress: bool = True,
    include_indirect: bool = False,
) -> dict[str, Any]:
    """Score ``input_path`` into ``output_path``, resuming a previous partial run if any."""
    if dyads:
        predictor.resolve_dyads(dyads)  # validates names before any work
    opts, parts = prepare_job(input_path, output_path, predictor.model_tag, articles=articles, dyads=dyads,
                              chunk_size=chunk_size, on_error=on_error, text_column=text_column,
                              include_indirect=include_indirect)

    total = sum(1 for _ in read_rows(input_path))
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, unit="row", desc="scoring", dynamic_ncols=True, file=sys.stderr)
    resumed = 0
    n_parts = 0
    rejected = 0
    for k, chunk in enumerate(_chunks(input_path, chunk_size)):
        n_parts = k + 1
        part = parts / f"part-{k:06d}.jsonl"
        reject_part = parts / f"rejects-{k:06d}.jsonl"
        if part.exists():
            resumed += len(chunk)
            if reject_part.exists():
                rejected += sum(1 for _ in reject_part.open())
            if bar:
                bar.update(len(chunk))
            continue
        rows, rejects = score_chunk(predictor, chunk, opts, str(input_path))
        if rejects:
            _atomic_write_text(reject_part, "".join(json.dumps(r) + "\n" for r in rejects))
            rejected += len(rejects)
        _atomic_write_text(part, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        if bar:
            bar.update(len(chunk))
    if bar:
        bar.close()
    return finish_job(parts, n_parts, output_path, total=total, rejected=rejected, resumed=resumed)


def prepare_job(input_path: Path, output_path: Path, model_tag: str, *, articles: bool, dyads: list[str] | None,
                chunk_size: int, on_error: str, text_column: str | None, include_indirect: bool
                ) -> tuple[ScoreOptions, Path]:
    """Check the job's options, then open (or, if input, model or options changed, restart) its parts folder.

    Shared by every engine: a job interrupted under one resumes under the other.
    """
    if output_path.suffix.lower() not in FORMATS:
        raise InputError(f"OUTPUT {output_path}: unsupported type {output_path.suffix!r}; use one of {FORMATS}")
    if input_path.suffix.lower() not in FORMATS:
        raise InputError(f"INPUT {input_path}: unsupported type {input_path.suffix!r}; use one of {FORMATS}")
    if not input_path.is_file():
        raise InputError(f"INPUT {input_path}: no such file")
    if on_error not in ("stop", "skip"):
        raise InputError(f"--on-error must be 'stop' or 'skip', got {on_error!r}")
    if chunk_size < 1:
        raise InputError(f"--chunk-size must be >= 1, got {chunk_size}")
    opts = ScoreOptions(
        input_sha256=file_sha256(input_path),
        model=model_tag,
        articles=articles,
        dyads=tuple(dyads) if dyads else None,
        chunk_size=chunk_size,
        on_error=on_error,
        text_column=text_column or ("article" if articles else "text"),
        include_indirect=include_indirect,
    )
    parts = output_path.with_name(output_path.name + ".parts")
    manifest_path = parts / MANIFEST
    if parts.exists():
        try:
            previous = json.loads(manifest_path.read_text())
        except (OSError, ValueError):
            previous = None
        if previous != json.loads(json.dumps(asdict(opts))):
            shutil.rmtree(parts)  # another input, model or options: start over
    parts.mkdir(parents=True, exist_ok=True)
    _atomic_write_text(manifest_path, json.dumps(asdict(opts)))
    return opts, parts


def finish_job(parts: Path, n_parts: int, output_path: Path, *, total: int, rejected: int, resumed: int) -> dict[str, Any]:
    """Assemble the final file (and the rejects file) from the parts, then drop the parts."""
    written = assemble(parts, n_parts, output_path)
    reject_file = output_path.with_name(output_path.name + ".rejects.jsonl")
    if rejected:
        with reject_file.open("w", encoding="utf-8") as fh:
            for k in range(n_parts):
                rp = parts / f"rejects-{k:06d}.jsonl"
                if rp.exists():
                    fh.write(rp.read_text())
    elif reject_file.exists():
        reject_file.unlink()
    shutil.rmtree(parts)
    return {"rows_in": total, "rows_out": written, "rejected": rejected, "resumed_rows": resumed,
            "reject_file": str(reject_file) if rejected else None}


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("score", help="label every quote (or article, --articles) of a JSONL/CSV/Parquet file",
                            description=__doc__.split("\n\n")[0])
    parser.add_argument("input", help="JSONL, CSV or Parquet file of quotes (column 'text') or articles")
    parser.add_argument("output", help="output file; its extension (.jsonl/.csv/.parquet) sets the format")
    parser.add_argument("--model", default=None, help="model tag (default: STANCE_MODEL_TAG, else the promoted model)")
    parser.add_argument("--articles", action="store_true", help="rows are articles (column 'article'): extract quotes first")
    parser.add_argument("--indirect", action="store_true", help="with --articles: also reported speech (kind 'indirect')")
    parser.add_argument("--dyads", default="", help="comma-separated dyads (default: the model's default dyads)")
    parser.add_argument("--text-column", default=None, help="column holding the text (default: text / article)")
    parser.add_argument("--on-error", default="stop", choices=["stop", "skip"],
                        help="malformed row: stop the job (default) or skip it into OUTPUT.rejects.jsonl")
    parser.add_argument("--chunk-size", type=int, default=1024, help="rows per checkpointed chunk")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="quotes per forward pass")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16"], help="bf16: bfloat16 weights")
    parser.add_argument("--engine", default="local", choices=["local", "ray"],
                        help="local (default) or ray: the same predictor in Ray Data actors (pip install -e '.[ray]')")
    parser.add_argument("--ray-address", default=None, help="with --engine ray: an existing cluster (default: a local one)")
    parser.add_argument("--no-progress", action="store_true")
    parser.set_defaults(func=score_main)


def score_main(args: argparse.Namespace) -> int:
    from models import model_store

    if args.indirect and not args.articles:
        raise InputError("--indirect needs --articles (reported speech is found in articles)")
    tag, path = model_store.resolve(args.model)
    dyads = [d.strip() for d in args.dyads.split(",") if d.strip()] or None
    if args.engine == "ray":
        from service.ray_engine import run_ray_scoring

        summary = run_ray_scoring(path, tag, Path(args.input), Path(args.output), args, dyads)
    else:
        predictor = Predictor.from_directory(path, tag, device=args.device, precision=args.precision,
                                             batch_size=args.batch_size)
        summary = run_scoring(
            predictor,
            Path(args.input),
            Path(args.output),
            articles=args.articles,
            dyads=dyads,
            chunk_size=args.chunk_size,
            on_error=args.on_error,
            text_column=args.text_column,
            progress=not args.no_progress,
            include_indirect=args.indirect,
        )
    print(json.dumps({"model": tag, "output": args.output, **summary}))
    return 0
