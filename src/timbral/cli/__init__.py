"""Command line: `timbral <stage> ...`. Thin: parse, validate, call the library, print.

Each stage lives in `timbral/cli/<stage>.py` with `register(subparsers)`, which adds its
sub-parser and sets `func` (taking the parsed args, returning an exit code). Heavy imports
happen inside `func`, so `timbral --help` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from timbral import __version__
from timbral.errors import TimbralError

STAGES = (
    "corpus", "manifest", "analyze", "split", "features", "train", "evaluate", "predict",
    "export", "run",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="timbral",
        description="Multilabel instrument recognition in polyphonic music.",
    )
    parser.add_argument("--version", action="version", version=f"timbral {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="show debug logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for stage in STAGES:
        try:
            module = importlib.import_module(f"timbral.cli.{stage}")
        except ModuleNotFoundError as exc:
            if exc.name == f"timbral.cli.{stage}":
                continue  # stage not available in this build
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="timbral: %(levelname)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except TimbralError as exc:
        print(f"timbral: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("timbral: interrupted (rerun the same command to resume)", file=sys.stderr)
        return 130
