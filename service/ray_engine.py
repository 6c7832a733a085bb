"""``stance score --engine ray``: the same predictor in Ray Data actors, the same bytes out.

The driver reads INPUT with the project's own reader (so rows, line numbers
and bad-row messages are the default engine's) and cuts it into the same
chunks.  Ray Data runs the chunks through :func:`service.batch_scoring.score_chunk`
in a pool of actors, each of which loads the model once; finished chunks come
back as the default engine's part files (``OUTPUT.parts/``, the same
manifest), and the final file is assembled by the same writer.  Hence:

- the output is byte for byte the default engine's for the same input, options and model;
- a run interrupted under either engine resumes under either;
- ``--on-error stop`` stops at the same row with the same message, after the
  chunks before it are saved, exactly as the default engine does.

Without ``--ray-address`` a local cluster is started for the run (one actor
per CPU) and shut down after it.  With an address (``ray://head:10001`` or
``auto``), the model's files and this project's ``models`` and ``service``
packages travel with the job, so the cluster's nodes need only the
dependencies (``pip install -e '.[ray]'``), not the model store or INPUT.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from models.errors import StanceError
from service import batch_scoring as bs

log = logging.getLogger(__name__)

# Rows handed to Ray at a time: bounds the driver's memory on a large archive (each window
# starts a fresh actor pool, a model load per actor: noise next to a window's scoring).
WINDOW_ROWS = 1 << 18


class RayEngineError(StanceError, RuntimeError):
    """Ray is missing, or the cluster cannot be reached; the message says which."""


# ---------------------------------------------------------------- actors
class ChunkScorer:
    """A Ray Data actor: loads the predictor once, then scores whole chunks as the default engine does."""

    def __init__(self, model_dir: str, tag: str, device: str, precision: str, batch_size: int,
                 opts: dict[str, Any], input_name: str, model_files: list[Any] | None = None,
                 threads: int = 1) -> None:
        import torch

        from models.predictor import Predictor

        torch.set_num_threads(max(1, threads))
        if model_files:  # a remote cluster: the model's files came through the object store
            import ray
            import tempfile

            files = ray.get(model_files[0])
            target = Path(tempfile.mkdtemp(prefix="stance-model-"))
            for rel, data in files.items():
                (target / rel).parent.mkdir(parents=True, exist_ok=True)
                (target / rel).write_bytes(data)
            model_dir = str(target)
        self.predictor = Predictor.from_directory(model_dir, tag, device=device, precision=precision,
                                                  batch_size=batch_size)
        self.opts = bs.ScoreOptions(**{**opts, "dyads": tuple(opts["dyads"]) if opts["dyads"] else None})
        self.input_name = input_name

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        results = []
        for index, blob in zip(batch["index"], batch["chunk"]):
            chunk = json.loads(blob)
            rows, rejects = bs.score_chunk(self.predictor, chunk, self.opts, self.input_name)
            part = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
            reject_text = "".join(json.dumps(r) + "\n" for r in rejects)
            results.append(json.dumps([int(index), part, reject_text, len(rejects), len(chunk)]))
        return {"result": np.array(results, dtype=object)}


# ----------------------------------------------------------------- cluster
def _model_files(model_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(model_dir)): p.read_bytes() for p in sorted(model_dir.rglob("*")) if p.is_file()}


def _start_ray(address: str | None) -> bool:
    """Connect (or start a local cluster); True when this call started Ray and must shut it down."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise RayEngineError("--engine ray needs Ray Data: pip install -e '.[ray]' (ray[data]>=2.30)") from None
    if ray.is_initialized():
        return False
    common = {"logging_level": logging.WARNING, "log_to_driver": False, "include_dashboard": False}
    try:
        if address:
            root = Path(__file__).resolve().parents[1]
            ray.init(address=address, runtime_env={"py_modules": [str(root / "models"), str(root / "service")]},
                     **common)
        else:
            ray.init(address="local", num_cpus=os.cpu_count() or 1, **common)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address}" if address else "a local Ray cluster"
        raise RayEngineError(f"cannot start or reach {where}: {exc}") from None
    return True


def _quiet(record: logging.LogRecord) -> bool:
    """Drop Ray Data's note that its progress bars are off (we turned them off for our own)."""
    return not record.getMessage().startswith("Progress bars disabled")


def _pool(device: str) -> tuple[int, dict[str, float], int]:
    """(actors, resources per actor, torch threads per actor): one actor per GPU, else per CPU."""
    import ray

    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    cpus = max(1, int(resources.get("CPU", 1)))
    if device == "cuda" or (device == "auto" and gpus):
        return max(1, gpus), {"num_gpus": 1, "num_cpus": 1}, 1
    return cpus, {"num_cpus": 1}, 1


def _score_window(items: list[tuple[int, list[Any]]], scorer_kwargs: dict[str, Any], actors: int,
                  resources: dict[str, float]):
    """Yield (index, part text, reject text, rejects, rows) for each chunk of the window, as they finish."""
    import ray.data

    ds = ray.data.from_items([{"index": k, "chunk": json.dumps(chunk, ensure_ascii=False)} for k, chunk in items])
    ds = ds.map_batches(
        ChunkScorer,
        batch_size=1,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=max(1, min(actors, len(items)))),
        fn_constructor_kwargs=scorer_kwargs,
        **resources,
    )
    for row in ds.iter_rows():
        yield tuple(json.loads(row["result"]))


# --------------------------------------------------------------------- run
def run_ray_scoring(model_dir: Path, tag: str, input_path: Path, output_path: Path, args: argparse.Namespace,
                    dyads: list[str] | None) -> dict[str, Any]:
    """``stance score`` through Ray Data; same checks, parts, output and summary as :func:`run_scoring`."""
    from models.label_schema import split_dyad
    from models.network import verify_model_dir

    articles = bool(getattr(args, "articles", False))
    chunk_size = int(getattr(args, "chunk_size", 1024))
    on_error = getattr(args, "on_error", "stop")
    text_column = getattr(args, "text_column", None)
    include_indirect = bool(getattr(args, "indirect", False))
    progress = not getattr(args, "no_progress", False)
    device = getattr(args, "device", "auto")

    verify_model_dir(model_dir)
    for name in dyads or ():
        split_dyad(name)  # the predictor's own check: a SchemaError naming the value
    opts, parts = bs.prepare_job(input_path, output_path, tag, articles=articles, dyads=dyads, chunk_size=chunk_size,
                                 on_error=on_error, text_column=text_column, include_indirect=include_indirect)

    total = sum(1 for _ in bs.read_rows(input_path))
    started = _start_ray(getattr(args, "ray_address", None))
    try:
        import ray

        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False  # ours counts rows; Ray's would count chunks
        logging.getLogger("ray.data").setLevel(logging.WARNING)  # not its per-run INFO lines on an existing cluster
        logging.getLogger("ray.data._internal.progress").addFilter(_quiet)
        actors, resources, threads = _pool(device)
        scorer_kwargs: dict[str, Any] = {
            "model_dir": str(model_dir), "tag": tag, "device": device,
            "precision": getattr(args, "precision", "fp32"), "batch_size": getattr(args, "batch_size", bs.DEFAULT_BATCH_SIZE),
            "opts": asdict(opts), "input_name": str(input_path), "threads": threads,
        }
        if getattr(args, "ray_address", None):
            scorer_kwargs["model_files"] = [ray.put(_model_files(Path(model_dir)))]

        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=total, unit="row", desc="scoring (ray)", dynamic_ncols=True, file=sys.stderr)
        resumed = rejected = n_parts = 0
        window = max(actors, WINDOW_ROWS // chunk_size)
        pending: list[tuple[int, list[Any]]] = []

        def flush() -> None:
            nonlocal rejected
            if not pending:
                return
            for index, part_text, reject_text, n_rejects, n_rows in _score_window(pending, scorer_kwargs, actors,
                                                                                   resources):
                # Rejects first: a part on disk means its rejects are too (what resume counts on).
                if reject_text:
                    bs._atomic_write_text(parts / f"rejects-{index:06d}.jsonl", reject_text)
                    rejected += n_rejects
                bs._atomic_write_text(parts / f"part-{index:06d}.jsonl", part_text)
                if bar:
                    bar.update(n_rows)
            pending.clear()

        for k, chunk in enumerate(bs._chunks(input_path, chunk_size)):
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
            if on_error == "stop":
                for number, row, error in chunk:
                    problem = error or bs.row_problem(row or {}, opts.text_column)
                    if problem:
                        flush()  # the chunks before this one are kept, as the default engine keeps them
                        raise bs.InputError(
                            f"{input_path} line {number}: {problem}; fix the row or re-run with --on-error skip"
                        )
            pending.append((k, chunk))
            if len(pending) >= window:
                flush()
        flush()
        if bar:
            bar.close()
    finally:
        if started:
            import ray

            ray.shutdown()

    summary = bs.finish_job(parts, n_parts, output_path, total=total, rejected=rejected, resumed=resumed)
    return {**summary, "engine": "ray", "actors": actors}

