r"""The ``fastnn`` command line.

    fastnn train mnist [--model cnn|mlp] [--epochs 2 --batch-size 32 --lr 2e-3 ...]
    fastnn train folder DIR --model mlp --hidden 20,7,5 --size 128 --mode rgb [--plots DIR]
    fastnn train folder DIR --label-pattern '_(\d+)\.jpg$' --class-names 零,一,二,...
    fastnn train mat FILE.mat --keys X,y,Xtest,ytest --shape 64,64 --order F
    fastnn evaluate MODEL [--json FILE --plots DIR]   (fastnn report is the same)
    fastnn predict MODEL IMAGE_OR_FOLDER... [--top-k K] | fastnn export MODEL OUT.onnx
    fastnn bench [--quick] [--plot] | fastnn bench show|compare RESULT.json [NEW.json]
    fastnn sweep SPEC.toml [--workers N --threads T | --scheduler tcp://HOST:PORT]
    fastnn compat-measure PARAMS.pkl | fastnn --version

The commands and their parser functions live in :mod:`fastnn.cli.train`,
:mod:`fastnn.cli.commands`, :mod:`fastnn.cli.bench` and :mod:`fastnn.cli.sweep`, the option types in
:mod:`fastnn.cli.options`; this module assembles the parser and holds :func:`main`.
"""

from __future__ import annotations

import argparse
import sys
import warnings

import numpy as np

from .._version import __version__
from . import bench, commands, sweep, train
from .bench import cmd_bench, cmd_bench_compare, cmd_bench_show
from .commands import (
    PREDICT_SUFFIXES,
    cmd_compat_measure,
    cmd_evaluate,
    cmd_export,
    cmd_predict,
    read_image,
)
from .train import (
    DEFAULT_LR,
    DEFAULTS,
    MODEL_DEFAULTS,
    SCOPE,
    cmd_train,
    next_run_folder,
    process_seconds,
)

__all__ = ["build_parser", "main", "cmd_train", "cmd_evaluate", "cmd_predict", "cmd_export",
           "cmd_bench", "cmd_bench_compare", "cmd_bench_show", "cmd_compat_measure",
           "next_run_folder", "process_seconds", "read_image", "DEFAULTS", "DEFAULT_LR",
           "MODEL_DEFAULTS", "SCOPE", "PREDICT_SUFFIXES"]


class _Parser(argparse.ArgumentParser):
    """Errors in one line, ``fastnn: error: ...``, exit status 2 (no usage dump)."""

    def error(self, message: str):
        self.exit(2, f"fastnn: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The ``fastnn`` parser: each subcommand's parser comes from the module of its command
    (the subparsers are _Parser too, so their errors are one line as well)."""
    parser = _Parser(prog="fastnn", description="fastnn: neural nets in Numba")
    parser.add_argument("--version", action="version", version=_versions())
    sub = parser.add_subparsers(dest="command", required=True)
    train.add_parser(sub)
    commands.add_evaluate_parser(sub)
    commands.add_predict_parser(sub)
    commands.add_export_parser(sub)
    bench.add_parser(sub)
    sweep.add_parser(sub)
    commands.add_compat_measure_parser(sub)
    return parser


def _versions() -> str:
    import platform

    import numba

    return (f"fastnn {__version__} (numpy {np.__version__}, numba {numba.__version__}, "
            f"python {platform.python_version()})")


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    """A warning as one ``fastnn: warning: ...`` line, without the source file and line (a
    list in the message joins the line)."""
    text = " ".join(part.strip() for part in str(message).splitlines())
    return f"fastnn: warning: {text}\n"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    formatted = warnings.formatwarning  # how warnings print (recording them is unchanged)
    warnings.formatwarning = _one_line_warning
    try:
        return args.func(args)
    except (ValueError, OSError, ImportError, ArithmeticError) as e:  # they name the problem
        print(f"fastnn: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # training handles its own Ctrl-C; this is loading, evaluating...
        print("fastnn: interrupted", file=sys.stderr)
        return 130
    finally:
        warnings.formatwarning = formatted
