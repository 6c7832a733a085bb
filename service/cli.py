"""The ``stance`` command: one argparse dispatcher, one sub-command per job.

Each sub-command's module declares its own arguments (``register``) and
imports its heavy dependencies only when it runs, so ``stance score`` does
not load the training stack.  Every error a user can fix is a
:class:`models.errors.StanceError`: one line on stderr, exit 2.
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable

from models.errors import StanceError
from models.settings import apply_offline_env

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


def _registrars() -> list[Callable[[argparse._SubParsersAction], None]]:
    from benchmarks import bench
    from service import batch_scoring, bootstrap
    from training import cli as training_cli

    return [bootstrap.register, batch_scoring.register, training_cli.register, bench.register]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stance",
        description="Stance and sentiment of geopolitical quotes: serve, score files, train and manage models.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in _registrars():
        register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    apply_offline_env()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted; re-run the same command to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    except StanceError as exc:
        print(f"stance {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR


if __name__ == "__main__":
    sys.exit(main())
