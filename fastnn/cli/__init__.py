r"""The ``fastnn`` command line.

    fastnn train mnist [--model cnn|mlp] [--epochs 2 --batch-size 32 --lr 2e-3 ...]
    fastnn train folder DIR --model mlp --hidden 20,7,5 --size 128 --mode rgb [--plots DIR]
    fastnn train folder DIR --label-pattern '_(\d+)\.jpg$' --class-names 零,一,二,...
    fastnn train mat FILE.mat --keys X,y,Xtest,ytest --shape 64,64 --order F
    fastnn evaluate MODEL [--json FILE --plots DIR]   (fastnn report is the same)
    fastnn predict MODEL IMAGE_OR_FOLDER... [--top-k K] | fastnn export MODEL OUT.onnx
    fastnn bench [--quick] [--plot] | fastnn bench show|compare RESULT.json [NEW.json]
    fastnn compat-measure PARAMS.pkl | fastnn --version

The commands live in :mod:`fastnn.cli.train` and :mod:`fastnn.cli.commands`; this module holds
the parser, its option types and :func:`main`.
"""

from __future__ import annotations

import argparse
import math
import sys

import numpy as np

from .. import backend, losses
from .. import init as init_mod
from ..models import ACTIVATIONS
from . import bench
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


def _integer(minimum: int):
    """An argparse type: an integer >= minimum (argparse names the option in its error)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {text!r}"
                                             ) from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {value}")
        return value

    return parse


_positive_int = _integer(1)


def _number(low: float, high: float = float("inf"), low_open: bool = False,
            high_open: bool = True):
    """An argparse type: a finite number in the interval low..high (open or closed ends)."""
    interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number in {interval}, got {text!r}"
                                             ) from None
        below = value <= low if low_open else value < low
        above = value >= high if high_open else value > high
        if not math.isfinite(value) or below or above:
            raise argparse.ArgumentTypeError(f"must be a number in {interval}, got {text}")
        return value

    return parse


def _batch_size(text: str) -> str:
    """An argparse type: an integer >= 1 or 'full'."""
    if text != "full":
        _positive_int(text)
    return text


def _widths(text: str) -> str:
    """An argparse type: comma-separated layer widths, each an integer >= 1."""
    for part in text.split(","):
        try:
            _positive_int(part.strip())
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(f"must be widths like 20,7,5 (integers >= 1), "
                                             f"got {text!r}") from None
    return text


class _Parser(argparse.ArgumentParser):
    """Errors in one line, ``fastnn: error: ...``, exit status 2 (no usage dump)."""

    def error(self, message: str):
        self.exit(2, f"fastnn: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="fastnn", description="fastnn: neural nets in Numba")
    parser.add_argument("--version", action="version", version=_versions())
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a model on MNIST or on a folder of images",
                           description="Defaults: mnist trains the CNN with Adam (lr 2e-3), a "
                           "cosine schedule, batch 32, 2 epochs; folder trains an MLP with SGD "
                           "(lr 0.05), full-batch, 100 epochs.")
    train.add_argument("dataset", choices=["mnist", "folder", "mat"])
    train.add_argument("dir", nargs="?", help="folder: one subfolder of images per class (or "
                       "labels in file names, see --label-pattern); mat: the .mat file")
    train.add_argument("--label-pattern", metavar="REGEX", help="folder: the label is this "
                       "regex's one group, searched in each file name, e.g. '_(\\d+)\\.jpg$'")
    train.add_argument("--class-names", metavar="NAMES", help="names of the classes in sorted "
                       "label order: a comma list (零,一,二) or a UTF-8 file, one per line")
    train.add_argument("--keys", help="mat: the variables X,y "
                       "[,Xtest,ytest] (default X,y,Xtest,ytest; with two, --test-fraction splits)")
    train.add_argument("--shape", metavar="H,W", help="mat: reshape each row to an image "
                       "H,W or C,H,W (default: keep the vectors flat)")
    train.add_argument("--order", choices=["C", "F"], help="mat: F if the images "
                       "were unrolled in Fortran/MATLAB order (default C)")
    train.add_argument("--model", choices=["cnn", "mlp", "vgg"], help="cnn (the MNIST CNN), "
                       "mlp, or vgg (the Keras tutorial's SimpleVGGNet: 3x3 convs with "
                       "BatchNorm and dropout; defaults SGD lr 0.01, batch 32, 75 epochs)")
    train.add_argument("--hidden", type=_widths, help="mlp hidden widths (default 20,7,5)")
    train.add_argument("--activation", choices=list(ACTIVATIONS), help="mlp (default relu)")
    train.add_argument("--init", choices=list(init_mod.INITIALIZERS), help="mlp weights "
                       "(default scaled_normal: std 1/sqrt(fan-in))")
    train.add_argument("--dropout", type=_number(0, 1), help="mlp: after each hidden layer")
    train.add_argument("--loss", default="auto", choices=["auto", *losses.LOSSES],
                       help="auto: one sigmoid output for two classes with mlp, else softmax")
    train.add_argument("--l2", type=_number(0), default=0.0,
                       help="L2 lambda: lambda/(2m) sum w^2")
    train.add_argument("--size", type=_positive_int, help="folder: images resized to NxN "
                       "(default 64)")
    train.add_argument("--mode", choices=["rgb", "gray"], help="folder (default rgb)")
    train.add_argument("--test-fraction", type=_number(0, 1, low_open=True),
                       help="folder, mat: the share of each class held out (default 0.2)")
    train.add_argument("--epochs", type=_positive_int)
    train.add_argument("--batch-size", type=_batch_size,
                       help="an integer, or 'full' for batch gradient descent")
    train.add_argument("--lr", type=_number(0, low_open=True), default=None,
                       help="learning rate (default 2e-3 for adam, 0.05 for sgd)")
    train.add_argument("--optimizer", choices=["adam", "sgd"])
    train.add_argument("--momentum", type=_number(0, 1), help="sgd (default 0)")
    train.add_argument("--schedule", choices=["cosine", "constant"])
    train.add_argument("--seed", type=_integer(0), default=0)
    train.add_argument("--backend", choices=list(backend.BACKENDS), default="numba")
    train.add_argument("--data", help="mnist: directory with the four MNIST files, or its "
                       "parent (else $FASTNN_DATA/mnist or the download cache)")
    train.add_argument("--out", help="the run folder for the model, checkpoint, history and "
                       "report (default: a new runs/DATASET/N)")
    train.add_argument("--overwrite", action="store_true", help="let --out replace a trained "
                       "model already there")
    train.add_argument("--resume", metavar="RUN", help="carry on from a run folder's "
                       "checkpoint.npz (or a checkpoint file), to --epochs in total")
    train.add_argument("--patience", type=_integer(0), help="stop early when --monitor has not "
                       "improved for this many epochs (and keep the best weights)")
    train.add_argument("--save-best", action="store_true", help="also keep best.npz, the "
                       "checkpoint of the best epoch by --monitor")
    train.add_argument("--monitor", default="val_loss", choices=["val_loss", "val_accuracy",
                       "loss", "accuracy"], help="the metric --patience and --save-best "
                       "watch (default val_loss; val_ is the test split)")
    train.add_argument("--plots", help="write curves.png, recall.png, confusion.png here")
    train.add_argument("--limit", type=_positive_int,
                       help="train on the first N training images only")
    train.add_argument("--augment", action="store_true", help="images: random rotation 30 "
                       "degrees, shifts 0.1, shear 0.2, zoom 0.2 and flips per batch "
                       "(fn.Augment, Keras's ImageDataGenerator settings of the tutorial)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=cmd_train)

    evaluate = sub.add_parser(
        "evaluate", aliases=["report"], help="a saved model on its test split: loss, "
        "accuracy, precision, recall and F1 per class",
        description="Reloads the test split the model was trained on (from its saved data "
        "description) and prints loss, accuracy and the per-class table. 'report' is the "
        "same command.")
    evaluate.add_argument("model")
    evaluate.add_argument("--data", help="the MNIST files or the image folder, if moved")
    evaluate.add_argument("--json", metavar="FILE", help="also write the numbers and the "
                          "confusion matrix as JSON (a new file)")
    evaluate.add_argument("--plots", metavar="DIR", help="write recall.png and confusion.png")
    evaluate.set_defaults(func=cmd_evaluate)

    predict = sub.add_parser("predict", help="classify images (PNG, JPEG... or .npy) or the "
                             "images in folders")
    predict.add_argument("model")
    predict.add_argument("images", nargs="+", metavar="IMAGE", help="image files, .npy arrays "
                         "or folders (their images, recursively)")
    predict.add_argument("--top-k", type=int, default=1, metavar="K",
                         help="show the K likeliest classes (default 1)")
    predict.set_defaults(func=cmd_predict)

    export = sub.add_parser(
        "export", help="write a saved model as ONNX (needs pip install 'fastnn[onnx]')",
        description="The ONNX graph takes 'input' (N, ...) with any batch size and gives "
        "'logits' (N, K); with --probabilities also 'probabilities', as fastnn predict.")
    export.add_argument("model", help="the .npz file")
    export.add_argument("output", help="the .onnx file to write")
    export.add_argument("--probabilities", action="store_true",
                        help="also output the class probabilities (softmax or sigmoid)")
    export.add_argument("--input-shape", metavar="C,H,W", help="per-sample input shape "
                        "(default: the image size saved with the model, or its first layer)")
    export.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    export.add_argument("--dtype", choices=["float32", "float64"], help="default: the model's "
                        "(onnxruntime runs float64 dense layers, but no float64 convolutions)")
    export.add_argument("--force", action="store_true", help="replace an existing output file")
    export.set_defaults(func=cmd_export)

    bench.add_parser(sub, _integer)

    measure = sub.add_parser(
        "compat-measure", help="accuracy of a fastnn.compat / Numpy-CNN params.pkl",
        description="Accuracy and per-digit recall of a [params, cost] pickle written by "
        "fastnn.compat.network.train (or the original). Unpickling runs code: only use it "
        "on files you trust.")
    measure.add_argument("params", help="the pickle of [params, cost]")
    measure.add_argument("--data", help="directory with t10k-*.gz (default: $FASTNN_DATA/mnist "
                         "if FASTNN_DATA is set, else the working directory)")
    measure.set_defaults(func=cmd_compat_measure)
    return parser


def _versions() -> str:
    import platform

    import numba

    from .. import __version__

    return (f"fastnn {__version__} (numpy {np.__version__}, numba {numba.__version__}, "
            f"python {platform.python_version()})")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, OSError, ImportError, ArithmeticError) as e:  # they name the problem
        print(f"fastnn: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # training handles its own Ctrl-C; this is loading, evaluating...
        print("fastnn: interrupted", file=sys.stderr)
        return 130
