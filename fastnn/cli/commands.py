"""The other commands, each with its parser function: ``fastnn evaluate`` (or ``report``),
``predict``, ``export`` and ``compat-measure``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

from .. import data, inputs, metrics
from .._io import atomic_write_text
from ..compat.network import measure
from ..data.download import cache_dir
from ..data.images import pillow
from ..export import input_shape_of, to_onnx
from ..model import Sequential
from ..serialization import load_model as load
from .options import new_file
from .results import count, result_plots


def add_evaluate_parser(sub: argparse._SubParsersAction) -> None:
    """``fastnn evaluate MODEL`` (or ``fastnn report MODEL``)."""
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


def cmd_evaluate(args: argparse.Namespace) -> int:
    json_out = new_file(args.json) if args.json else None
    model = load(args.model)
    x_test, y_test = data.test_split(model.metadata, args.data, model.class_names)
    loss, acc = model.evaluate(x_test, y_test)
    names = model.class_names or [str(i) for i in range(int(y_test.max()) + 1)]
    result = metrics.classification_report(y_test, model.predict_labels(x_test), names)
    title = data.data_name(model.metadata)
    print(f"{args.model} on {count(len(y_test), 'test image')} of {title}: test loss "
          f"{loss:.4f}, test accuracy {acc:.2%}\n")
    print(metrics.format_report(result))
    if json_out:
        atomic_write_text(json_out, json.dumps(
            {"model": str(args.model), "data": title, "loss": loss} | result, indent=2))
        print(f"\nwrote {json_out}")
    if args.plots:
        for p in result_plots(result, names, args.plots, title):
            print(f"wrote {p}")
    return 0


PREDICT_SUFFIXES = data.IMAGE_SUFFIXES | {".npy"}


def read_image(path: Path, shape: tuple[int, int], mode: str = "gray") -> np.ndarray:
    """A .npy array or an image file (Pillow) as float32 (M, C, H, W) in [0, 1]: one image, or
    the M images of a (M, C, H, W) array. Errors name the file."""
    if path.suffix.lower() == ".npy":
        try:
            a = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise ValueError(f"{path}: not a readable .npy array ({e})") from None
        if a.ndim not in (2, 3, 4) or a.size == 0:
            raise ValueError(f"{path}: expected an image array (H, W), (C, H, W) or "
                             f"(M, C, H, W), got {a.dtype} {a.shape}")
        a = inputs.float_array(a, np.dtype(np.float32), str(path))  # floats, finite: no guess
        if a.shape[-2:] != shape:
            raise ValueError(f"{path}: array is {a.shape[-2]}x{a.shape[-1]}, the model takes "
                             f"{shape[0]}x{shape[1]}")
        return a.reshape(-1, 1 if a.ndim == 2 else a.shape[-3], *shape)
    try:
        return data.read_image(path, shape, mode)[None]
    except (OSError, pillow().DecompressionBombError) as e:
        raise ValueError(f"{path}: not a readable image ({e})") from None


def _image_paths(items: list[str]) -> list[Path]:
    """Files as given; folders become their images and .npy files, sorted, recursively."""
    paths = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            found = sorted(q for q in p.rglob("*") if q.is_file() and not q.name.startswith(".")
                           and q.suffix.lower() in PREDICT_SUFFIXES)
            if not found:
                raise ValueError(f"{p}: no images or .npy files in this folder")
            paths += found
        elif p.is_file():
            paths.append(p)
        else:
            raise FileNotFoundError(f"{p}: no such file or folder")
    return paths


def add_predict_parser(sub: argparse._SubParsersAction) -> None:
    """``fastnn predict MODEL IMAGE...``."""
    predict = sub.add_parser("predict", help="classify images (PNG, JPEG... or .npy) or the "
                             "images in folders")
    predict.add_argument("model")
    predict.add_argument("images", nargs="+", metavar="IMAGE", help="image files, .npy arrays "
                         "or folders (their images, recursively)")
    predict.add_argument("--top-k", type=int, default=1, metavar="K",
                         help="show the K likeliest classes (default 1)")
    predict.add_argument("--invert", action="store_true", help="invert the images first "
                         "(1 - x for pixels in [0, 1]): dark digits on a light background for "
                         "a model trained on light on dark")
    predict.set_defaults(func=cmd_predict)


def cmd_predict(args: argparse.Namespace) -> int:
    if args.top_k < 1:
        raise ValueError(f"--top-k must be at least 1, got {args.top_k}")
    paths = _image_paths(args.images)
    model = load(args.model)
    spec = model.metadata.get("data", {}).get("input", {"size": [28, 28], "mode": "gray"})
    shape, mode = tuple(spec["size"]), spec["mode"]
    failed = 0
    chunk: list[tuple[str, np.ndarray]] = []
    width = min(max(len(str(p)) for p in paths), 60)
    many = len(paths) > 1

    def flush() -> None:
        probs = model.predict(np.concatenate([x for _, x in chunk]))
        names = model.class_names or [str(i) for i in range(probs.shape[1])]
        k = min(args.top_k, probs.shape[1])
        for (label, _), p in zip(chunk, probs):
            best = np.argsort(-p, kind="stable")[:k]
            text = ", ".join(f"{names[i]}: {p[i]:.1%}" for i in best)
            print(f"{label:<{width}}  {text}" if many else text)
        chunk.clear()

    for path in paths:
        try:
            x = read_image(path, shape, mode)
            model.check_shape(x.shape[1:])
            if args.invert:
                x = inputs.invert(x, model.input_stats)
        except ValueError as e:  # the others still get their prediction
            print(f"fastnn: error: {path}: {e}" if str(path) not in str(e)
                  else f"fastnn: error: {e}", file=sys.stderr)
            failed += 1
            continue
        many = many or len(x) > 1
        for i, xi in enumerate(x):
            chunk.append((f"{path}[{i}]" if len(x) > 1 else str(path), xi[None]))
        if len(chunk) >= 256:
            flush()
    if chunk:
        flush()
    return 1 if failed else 0


def add_export_parser(sub: argparse._SubParsersAction) -> None:
    """``fastnn export MODEL OUT.onnx``."""
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


def cmd_export(args: argparse.Namespace) -> int:
    out = Path(args.output)
    if out.resolve() == Path(args.model).resolve():
        raise ValueError(f"{out}: the ONNX file would replace the model it is exported from")
    if out.exists() and not args.force:
        raise ValueError(f"{out} exists; give --force to replace it")
    model = load(args.model)
    shape = None
    if args.input_shape:
        try:
            shape = tuple(int(d) for d in args.input_shape.split(","))
        except ValueError:
            raise ValueError(f"--input-shape {args.input_shape!r}: give integers, e.g. 1,28,28"
                             ) from None
    path = to_onnx(model, out, shape, args.probabilities, args.opset, args.dtype)
    outputs = "logits and probabilities" if args.probabilities else "logits"
    print(f"wrote {path} ({path.stat().st_size:,} bytes, opset {args.opset}): input (N, "
          f"{', '.join(map(str, shape or _input_shape(model)))}) -> {outputs}")
    return 0


def _input_shape(model: Sequential) -> tuple:
    return input_shape_of(model)


def add_compat_measure_parser(sub: argparse._SubParsersAction) -> None:
    """``fastnn compat-measure PARAMS.pkl``."""
    measure = sub.add_parser(
        "compat-measure", help="accuracy of a fastnn.compat / Numpy-CNN params.pkl",
        description="Accuracy and per-digit recall of a [params, cost] pickle written by "
        "fastnn.compat.network.train (or the original). Unpickling runs code: only use it "
        "on files you trust.")
    measure.add_argument("params", help="the pickle of [params, cost]")
    measure.add_argument("--data", help="directory with t10k-*.gz (default: $FASTNN_DATA/mnist, "
                         "the working directory or the download cache, the first that has them)")
    measure.set_defaults(func=cmd_compat_measure)


MEASURE_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def _measure_data(given: str | None) -> str:
    """The folder with MNIST's test files: --data (or its mnist/), else $FASTNN_DATA/mnist,
    the working directory (where the original script looks) or fastnn's download cache."""
    if given is not None:
        places = [Path(given), Path(given) / "mnist"]
    else:
        places = [Path(os.environ["FASTNN_DATA"]) / "mnist"] if os.environ.get(
            "FASTNN_DATA") else []
        places += [Path.cwd(), cache_dir("mnist")]
    for place in places:
        if all((place / name).is_file() for name in MEASURE_FILES):
            return str(place)
    raise FileNotFoundError(f"compat-measure needs {' and '.join(MEASURE_FILES)}, not found in "
                            f"{', '.join(map(str, places))}: give --data DIR (the folder that "
                            f"holds them) or set FASTNN_DATA to the folder that holds mnist/")


def cmd_compat_measure(args: argparse.Namespace) -> int:
    accuracy, recall = measure(args.params, _measure_data(args.data))
    print(f"Overall Accuracy: {accuracy * 100:.2f}%")
    for digit, r in enumerate(recall):
        print(f"Digit {digit} Recall: {r * 100:.2f}%")
    return 0
