"""The ``stance`` command: one entry point, one sub-command per job.

Each sub-command imports its own package lazily, so ``stance score`` does not
load the training stack and ``stance train`` does not load the server.
"""

from __future__ import annotations

import sys

USAGE = """usage: stance COMMAND [ARGS]

commands:
  train    fine-tune a model on labelled quotes and register it in the model store
  eval     re-score a labelled file with a stored model and print the report
  score    label every quote (or article, --articles) of a JSONL/CSV/Parquet file
  bench    measure scoring speed against same-run baselines
  serve    build the default model if the store has none, then start the HTTP service
"""


class UserError(Exception):
    """A problem the user can fix; printed without a traceback, exit 2."""


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    try:
        if command == "train":
            from training.cli import train_main

            return train_main(rest)
        if command == "eval":
            from training.cli import eval_main

            return eval_main(rest)
        if command == "score":
            from service.batch_scoring import score_main

            return score_main(rest)
        if command == "bench":
            from service.bench import bench_main

            return bench_main(rest)
        if command == "serve":
            from service.bootstrap import serve_main

            return serve_main(rest)
    except KeyboardInterrupt:
        print("interrupted; re-run the same command to resume", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - turn known user errors into a message
        from models.label_schema import SchemaError
        from models.model_store import ModelNotFound
        from models.network import ModelLoadError

        known: tuple[type[BaseException], ...] = (SchemaError, ModelNotFound, ModelLoadError, UserError)
        try:
            from training.data import DataError

            known = known + (DataError,)
        except ImportError:
            pass
        if isinstance(exc, known) or type(exc).__name__ in {"DataError", "InputError"}:
            print(f"stance {command}: error: {exc}", file=sys.stderr)
            return 2
        raise
    print(f"stance: unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
