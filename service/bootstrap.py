"""``stance serve``: make sure a model exists, then start the BentoML server.

On a fresh machine the store is empty; the default model is then trained on
the project's corpus (``training/data``) before the server starts, so the
README's one command goes from nothing to a serving endpoint.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT / "training" / "data"


def ensure_default_model(data: Path = DEFAULT_DATA, extra_train_args: list[str] | None = None) -> str:
    """The configured model's tag, training the default model first if the store has no model."""
    from models import model_store

    if os.environ.get(model_store.MODEL_TAG_ENV) or model_store.has_any():
        tag, _ = model_store.resolve()
        return tag
    print(f"no '{model_store.MODEL_NAME}' in the model store: training the default model on {data}", flush=True)
    from training.cli import train_main

    train_main(["--data", str(data), "--seed_quotes", str(ROOT / "seeds" / "quotes.jsonl"), *(extra_train_args or [])])
    tag, _ = model_store.resolve()
    return tag


def serve_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="stance serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="corpus for the default model, if one must be built")
    parser.add_argument("--no-build", action="store_true", help="fail instead of training when the store is empty")
    parser.add_argument("--keep-alive", type=int, default=int(os.environ.get("STANCE_KEEP_ALIVE_S", "75")),
                        help="seconds an idle keep-alive connection stays open; longer than clients' and "
                             "proxies' idle timeouts (uvicorn's 5 s default races them)")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from models import model_store

    if args.no_build:
        tag, _ = model_store.resolve()
    else:
        tag = ensure_default_model(Path(args.data))
    os.environ[model_store.MODEL_TAG_ENV] = tag
    print(f"serving {tag} on http://{args.host}:{args.port}", flush=True)
    cmd = [sys.executable, "-m", "bentoml", "serve", "service.service:StanceService",
           "--host", args.host, "--port", str(args.port), "--timeout-keep-alive", str(args.keep_alive)]
    return subprocess.call(cmd, cwd=str(ROOT))
