"""``stance serve``: make sure a model exists, then become the BentoML server.

On a fresh machine the store is empty; the quick default model is then
trained on the project's corpus (``training/data/corpus``) before the server
starts, so the README's one command goes from nothing to a serving endpoint.
The quick model is mpnet, briefly: half an epoch distilled from the soft labels
of three 4-epoch mpnet runs (committed under ``benchmarks/h200_trials``) beats
three epochs of MiniLM on every head in about the same 15 minutes.  Those soft
labels belong to one version of the corpus; for other data, or once the corpus
changes, the quick model is one plain epoch of mpnet instead.

The command then *replaces itself* with ``bentoml serve`` (``exec``): the
process a supervisor started, and sends SIGTERM or SIGINT to, is the server
itself, which finishes in-flight requests, stops its workers and frees the
port.  A parent that merely waited on a child (``subprocess.call``) exited on
SIGTERM and left the server running as an orphan on the port.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT / "training" / "data" / "corpus"
QUICK_MODEL_ARGS = ["--backbone", "mpnet", "--learning_rate", "3e-5", "--head_learning_rate", "1e-3",
                    "--warmup_ratio", "0.1"]
SOFT_LABELS = [ROOT / "benchmarks" / "h200_trials" / f"soft-{trial}.json.gz" for trial in ("s7", "len256s11", "s23")]


def soft_labels_fit(train: Path) -> bool:
    """Whether the committed soft labels were written for these training quotes, word for word.

    Each file holds a fingerprint of every quote the teacher read; a label correction keeps them valid (the
    student still learns the gold label from the data), an edited or added quote does not.
    """
    from training.data import DataError, load_records
    from training.distillation import distillation_records, load_soft_labels

    if not train.is_file() or not all(p.is_file() for p in SOFT_LABELS):
        return False
    records = distillation_records(load_records(train))
    try:
        for path in SOFT_LABELS:
            load_soft_labels(str(path), records)
    except DataError:
        return False
    return True


def quick_model_args(data: Path) -> list[str]:
    """Distil from the committed soft labels when they were written for this data; else one plain epoch."""
    if soft_labels_fit(Path(data) / "train.jsonl"):
        return [*QUICK_MODEL_ARGS, "--epochs", "0.5", "--teacher", ",".join(str(p) for p in SOFT_LABELS)]
    return [*QUICK_MODEL_ARGS, "--epochs", "1"]


def ensure_default_model(data: Path = DEFAULT_DATA, extra_train_args: list[str] | None = None) -> str:
    """The configured model's tag, training the quick default model first if the store has none."""
    from models import model_store

    if os.environ.get(model_store.MODEL_TAG_ENV) or model_store.has_any():
        tag, _ = model_store.resolve()
        return tag
    args = quick_model_args(data)
    how = "distilled from the committed soft labels" if "--teacher" in args else "one epoch"
    print(f"no '{model_store.MODEL_NAME}' in the model store: training the quick default model on {data} "
          f"(mpnet, {how}; see the README for the accurate one)", flush=True)
    from training.cli import run_training

    run_training(["--data", str(data), "--seed_quotes", str(ROOT / "seeds" / "quotes.jsonl"),
                  *args, *(extra_train_args or [])])
    tag, _ = model_store.resolve()
    return tag


def register(sub: argparse._SubParsersAction) -> None:
    from models.settings import settings

    parser = sub.add_parser("serve", help="build the default model if the store has none, then serve HTTP",
                            description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="corpus for the default model, if one must be built")
    parser.add_argument("--no-build", action="store_true", help="fail instead of training when the store is empty")
    parser.add_argument("--keep-alive", type=int, default=settings().keep_alive_s,
                        help="seconds an idle keep-alive connection stays open; longer than clients' and "
                             "proxies' idle timeouts (uvicorn's 5 s default races them)")
    parser.set_defaults(func=serve_main)


def serve_command(host: str, port: int, keep_alive: int) -> list[str]:
    return [sys.executable, "-m", "bentoml", "serve", "service.service:StanceService",
            "--host", host, "--port", str(port), "--timeout-keep-alive", str(keep_alive)]


def serve_main(args: argparse.Namespace) -> int:
    from models import model_store

    if args.no_build:
        tag, _ = model_store.resolve()
    else:
        tag = ensure_default_model(Path(args.data))
    os.environ[model_store.MODEL_TAG_ENV] = tag
    print(f"serving {tag} on http://{args.host}:{args.port}", flush=True)
    os.chdir(ROOT)
    cmd = serve_command(args.host, args.port, args.keep_alive)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(cmd[0], cmd)  # never returns: this process becomes the server
    return 0  # pragma: no cover
