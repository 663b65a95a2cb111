r"""The ``fastnn`` command line.

    fastnn train mnist [--model cnn|mlp] [--epochs 2 --batch-size 32 --lr 2e-3 ...]
    fastnn train folder DIR --model mlp --hidden 20,7,5 --size 128 --mode rgb [--plots DIR]
    fastnn train folder DIR --label-pattern '_(\d+)\.jpg$' --class-names 零,一,二,...
    fastnn train mat FILE.mat --keys X,y,Xtest,ytest --shape 64,64 --order F
    fastnn evaluate MODEL [--json FILE --plots DIR]   (fastnn report is the same)
    fastnn predict MODEL IMAGE_OR_FOLDER... [--top-k K] | fastnn export MODEL OUT.onnx
    fastnn bench [--quick] [--plot] | fastnn compat-measure PARAMS.pkl | fastnn --version
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from . import backend, datasets, losses, metrics
from . import init as init_mod
from ._io import atomic_write_text
from .datasets_files import stratified_split
from .model import Sequential, load
from .models import ACTIVATIONS, mlp, mnist_cnn
from .optim import SGD, Adam, constant, cosine

DEFAULTS = {  # per data set: what a bare `fastnn train mnist` / `train folder DIR` uses
    "mnist": dict(epochs=2, batch_size="32", optimizer="adam", schedule="cosine"),
    "folder": dict(epochs=100, batch_size="full", optimizer="sgd", schedule="constant"),
    "mat": dict(epochs=100, batch_size="full", optimizer="sgd", schedule="constant"),
}
DEFAULT_LR = {"adam": 2e-3, "sgd": 0.05}


def _load_data(args: argparse.Namespace):
    """(x_train, y_train), (x_test, y_test), class names and the metadata to find them again."""
    if args.dataset == "mnist":
        (xtr, ytr), (xte, yte) = datasets.mnist(args.data)
        info = {"kind": "mnist", "input": {"size": [28, 28], "mode": "gray"}}
        names = [str(d) for d in range(10)]
    elif args.dataset == "mat" or args.label_pattern:
        (xtr, ytr), (xte, yte), names, info = _load_tutorial_data(args)
    else:
        if not args.dir:
            raise SystemExit("fastnn train folder needs the folder: fastnn train folder DIR")
        size = (args.size, args.size)
        (xtr, ytr), (xte, yte), names = datasets.image_folder(
            args.dir, size, args.mode, args.test_fraction, args.seed)
        if args.class_names:
            names = _renamed(names, args.class_names)
        info = {"kind": "folder", "root": str(Path(args.dir).resolve()),
                "input": {"size": list(size), "mode": args.mode},
                "test_fraction": args.test_fraction, "seed": args.seed}
    if args.limit:
        xtr, ytr = xtr[: args.limit], ytr[: args.limit]
    return (xtr, ytr), (xte, yte), names, info


def _renamed(names: list[str], spec: str) -> list[str]:
    new = datasets.read_class_names(spec)
    if len(new) != len(names):
        raise ValueError(f"--class-names gives {len(new)} names for {len(names)} classes "
                         f"({', '.join(names)})")
    return new


def _mat_keys(keys: str) -> list[str]:
    parts = [k.strip() for k in keys.split(",")]
    if len(parts) not in (2, 4) or not all(parts):
        raise ValueError(f"--keys {keys!r}: give X,y or X,y,Xtest,ytest (the variable names)")
    return parts


def _load_tutorial_data(args: argparse.Namespace):
    """Files labelled by name (--label-pattern) or a .mat file: the data, names and metadata."""
    if not args.dir:
        raise SystemExit(f"fastnn train {args.dataset} needs the "
                         f"{'folder' if args.dataset == 'folder' else '.mat file'}")
    root = str(Path(args.dir).resolve())
    if args.dataset == "folder":
        size = (args.size, args.size)
        (xtr, ytr), (xte, yte), names = datasets.image_files(
            args.dir, args.label_pattern, size, args.mode, args.test_fraction, args.seed,
            args.class_names)
        info = {"kind": "files", "root": root, "label_pattern": args.label_pattern,
                "input": {"size": list(size), "mode": args.mode},
                "test_fraction": args.test_fraction, "seed": args.seed, "class_names": names}
        return (xtr, ytr), (xte, yte), names, info
    keys = _mat_keys(args.keys)
    try:
        shape = [int(d) for d in args.shape.split(",")] if args.shape else None
    except ValueError:
        shape = []
    if shape is not None and len(shape) not in (2, 3):
        raise ValueError(f"--shape {args.shape!r}: give H,W or C,H,W (integers)")
    if len(keys) == 4:
        (xtr, ytr), (xte, yte) = datasets.from_mat(args.dir, *keys, shape=shape, order=args.order)
    else:
        x, y = datasets.from_mat(args.dir, *keys, shape=shape, order=args.order)
        (xtr, ytr), (xte, yte) = stratified_split(
            x, y, int(y.max()) + 1, args.test_fraction, args.seed)
    k = int(max(ytr.max(), yte.max() if len(yte) else 0)) + 1
    names = [str(i) for i in range(k)]
    if args.class_names:
        names = _renamed(names, args.class_names)
    info = {"kind": "mat", "root": root, "keys": keys, "shape": shape, "order": args.order,
            "test_fraction": args.test_fraction, "seed": args.seed}
    if shape is not None:
        info["input"] = {"size": shape[-2:], "mode": "gray" if len(shape) == 2 or shape[0] == 1
                         else "rgb"}
    return (xtr, ytr), (xte, yte), names, info


def _build_model(args: argparse.Namespace, sample_shape, names: list[str]) -> Sequential:
    k = len(names)
    loss = args.loss
    if loss == "auto":
        loss = "binary_cross_entropy" if k == 2 and args.model == "mlp" else "cross_entropy"
    outputs = 1 if loss == "binary_cross_entropy" and k == 2 else k
    loss_obj = losses.get(loss)
    loss_obj.l2 = args.l2
    if args.model == "cnn":
        if tuple(sample_shape) != (1, 28, 28):
            raise SystemExit(f"--model cnn is the MNIST CNN for 1x28x28 images; these are "
                             f"{sample_shape}: use --model mlp")
        model = mnist_cnn(args.seed)
        model.loss = loss_obj
        return model
    hidden = [int(h) for h in args.hidden.split(",") if h.strip()]
    return mlp(int(np.prod(sample_shape)), hidden, outputs, args.activation, args.init or
               "scaled_normal", args.dropout, args.seed, loss_obj, names)


def cmd_train(args: argparse.Namespace) -> int:
    backend.set_backend(args.backend)
    for key, value in DEFAULTS[args.dataset].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.model is None:
        args.model = "cnn" if args.dataset == "mnist" else "mlp"
    load_start = time.perf_counter()
    (x_train, y_train), (x_test, y_test), names, info = _load_data(args)
    model = _build_model(args, x_train.shape[1:], names)
    lr = args.lr or DEFAULT_LR[args.optimizer]
    optimizer = Adam(lr) if args.optimizer == "adam" else SGD(lr, momentum=args.momentum)
    schedule = cosine(warmup=0.02) if args.schedule == "cosine" else constant
    batch_size = len(x_train) if args.batch_size == "full" else int(args.batch_size)
    print(f"{args.dataset}: {len(x_train):,} training, {len(x_test):,} test images of "
          f"{x_train.shape[1:]}, {len(names)} classes (loaded in "
          f"{time.perf_counter() - load_start:.1f}s); backend {args.backend}")
    print(model.summary())
    print(f"{args.optimizer} lr {lr:g}, {args.schedule} schedule, batch {batch_size}, "
          f"{_count(args.epochs, 'epoch')}, loss {model.loss.name} (l2 {model.loss.l2:g}), "
          f"seed {args.seed}")

    every = max(1, args.epochs // 20)

    def report(epoch: int, history: dict) -> None:
        if (epoch + 1) % every == 0 or epoch + 1 == args.epochs:
            print(f"epoch {epoch + 1}: train loss {history['loss'][-1]:.4f}, test accuracy "
                  f"{history['val_accuracy'][-1]:.2%} ({history['seconds'][-1]:.1f}s)")

    start = time.perf_counter()
    age_at_start = process_seconds()
    history = model.fit(x_train, y_train, optimizer=optimizer, epochs=args.epochs,
                        batch_size=batch_size, validation_data=(x_test, y_test),
                        seed=args.seed, progress=not args.quiet, schedule=schedule,
                        on_epoch_end=report)
    wall = time.perf_counter() - start
    first_batch = age_at_start + history.get("first_batch_seconds", 0.0)
    print(f"first batch finished {first_batch:.1f}s after the process started "
          f"(imports, data, Numba compile or cache load)")
    pred = model.predict_labels(x_test)
    result = metrics.classification_report(y_test, pred, names)
    recall = [c["recall"] for c in result["classes"]]
    label = "digit" if args.dataset == "mnist" else "class"
    print(f"per-{label} recall: " + "  ".join(f"{n}: {r:.1%}" for n, r in zip(names, recall)))
    print(f"test accuracy {result['accuracy']:.2%}; training wall time {wall:.1f}s")
    out = Path(args.out or f"runs/{args.dataset}")
    summary = {
        "test_accuracy": result["accuracy"], "per_class_recall": recall,
        "wall_seconds": wall, "first_batch_after_start_seconds": first_batch,
        "history": history, "backend": args.backend, "optimizer": optimizer.config(),
        "schedule": args.schedule, "batch_size": batch_size, "epochs": args.epochs,
        "seed": args.seed, "report": result,
    }
    name = f"{args.dataset}_{args.model}"
    path = model.save(out / f"{name}.npz", metadata={"data": info, "summary": summary})
    atomic_write_text(out / "report.json", json.dumps(summary, indent=2))
    print(f"saved {path} and {out / 'report.json'}")
    if args.plots:
        from . import plots

        data = _data_label(info)
        for p in (plots.training_curves(history, Path(args.plots) / "curves.png",
                                        f"{args.model} training", data),
                  plots.recall_bars(recall, names, Path(args.plots) / "recall.png",
                                    dataset=data),
                  plots.confusion_matrix(np.array(result["confusion_matrix"]), names,
                                         Path(args.plots) / "confusion.png", dataset=data)):
            print(f"wrote {p}")
    return 0


def _test_split(model: Sequential, data_dir: str | None):
    """The test images a saved model was evaluated on (its metadata says where they came from)."""
    info = model.metadata.get("data", {"kind": "mnist"})
    if info["kind"] == "mnist":
        return datasets.mnist(data_dir)[1]
    if info["kind"] in ("files", "mat"):
        args = argparse.Namespace(
            dataset="folder" if info["kind"] == "files" else "mat", dir=data_dir or info["root"],
            label_pattern=info.get("label_pattern"), class_names=model.class_names,
            size=(info.get("input") or {"size": [0]})["size"][0],
            mode=(info.get("input") or {}).get("mode"), test_fraction=info["test_fraction"],
            seed=info["seed"], keys=",".join(info.get("keys", [])),
            shape=",".join(map(str, info["shape"])) if info.get("shape") else None,
            order=info.get("order", "C"))
        return _load_tutorial_data(args)[1]
    root = data_dir or info["root"]
    _, test, names = datasets.image_folder(root, tuple(info["input"]["size"]),
                                           info["input"]["mode"], info["test_fraction"],
                                           info["seed"])
    if model.class_names and names != model.class_names:
        raise SystemExit(f"{root} has classes {names}, the model was trained on "
                         f"{model.class_names}")
    return test


def _count(n: int, word: str) -> str:
    """ "1 epoch", "2 epochs"."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _data_label(info: dict) -> str:
    """The data set's name for titles: MNIST, or the folder or file it came from."""
    if info.get("kind", "mnist") == "mnist":
        return "MNIST"
    return Path(info.get("root", "")).name or info.get("kind", "data")


def _new_file(path: str) -> Path:
    """An output path that holds nothing yet: results are never silently replaced."""
    out = Path(path)
    if out.exists():
        raise ValueError(f"{out} exists; give another name or remove it first")
    return out


def cmd_evaluate(args: argparse.Namespace) -> int:
    json_out = _new_file(args.json) if args.json else None
    model = load(args.model)
    x_test, y_test = _test_split(model, args.data)
    loss, acc = model.evaluate(x_test, y_test)
    names = model.class_names or [str(i) for i in range(int(y_test.max()) + 1)]
    result = metrics.classification_report(y_test, model.predict_labels(x_test), names)
    data = _data_label(model.metadata.get("data", {"kind": "mnist"}))
    print(f"{args.model} on {_count(len(y_test), 'test image')} of {data}: test loss "
          f"{loss:.4f}, test accuracy {acc:.2%}\n")
    print(metrics.format_report(result))
    if json_out:
        atomic_write_text(json_out, json.dumps(
            {"model": str(args.model), "data": data, "loss": loss} | result, indent=2))
        print(f"\nwrote {json_out}")
    if args.plots:
        from . import plots

        recall = [c["recall"] for c in result["classes"]]
        for p in (plots.recall_bars(recall, names, Path(args.plots) / "recall.png",
                                    dataset=data),
                  plots.confusion_matrix(np.array(result["confusion_matrix"]), names,
                                         Path(args.plots) / "confusion.png", dataset=data)):
            print(f"wrote {p}")
    return 0


PREDICT_SUFFIXES = datasets.IMAGE_SUFFIXES | {".npy"}


def read_image(path: Path, shape: tuple[int, int], mode: str = "gray") -> np.ndarray:
    """A .npy array or an image file (Pillow) as float32 (M, C, H, W) in [0, 1]: one image, or
    the M images of a (M, C, H, W) array. Errors name the file."""
    if path.suffix == ".npy":
        try:
            a = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise ValueError(f"{path}: not a readable .npy array ({e})") from None
        if a.dtype.kind not in "fiu" or a.ndim not in (2, 3, 4) or a.size == 0:
            raise ValueError(f"{path}: expected an image array (H, W), (C, H, W) or "
                             f"(M, C, H, W) of numbers, got {a.dtype} {a.shape}")
        a = a.astype(np.float32)
        if a.max() > 1:
            a = a / 255
        if a.shape[-2:] != shape:
            raise ValueError(f"{path}: array is {a.shape[-2]}x{a.shape[-1]}, the model takes "
                             f"{shape[0]}x{shape[1]}")
        return a.reshape(-1, 1 if a.ndim == 2 else a.shape[-3], *shape)
    try:
        return datasets.read_image(path, shape, mode)[None]
    except OSError as e:
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


def cmd_export(args: argparse.Namespace) -> int:
    from .export import to_onnx

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
    from .export import input_shape_of

    return input_shape_of(model)


def process_seconds() -> float:
    """Seconds since this process started (Linux), else since fastnn.cli was imported."""
    try:
        with open("/proc/self/stat") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return time.perf_counter() - _IMPORTED


_IMPORTED = time.perf_counter()


def cmd_compat_measure(args: argparse.Namespace) -> int:
    from .compat.network import measure

    accuracy, recall = measure(args.params, args.data)
    print(f"Overall Accuracy: {accuracy * 100:.2f}%")
    for digit, r in enumerate(recall):
        print(f"Digit {digit} Recall: {r * 100:.2f}%")
    return 0


def _bench_json_path(requested: str | None) -> Path:
    """--json as given (never replacing a file), else a new runs/bench/fastnn-bench-<time>.json
    under the working directory: the bench never rewrites a file in the repository."""
    if requested:
        return _new_file(requested)
    stem = Path("runs/bench") / f"fastnn-bench-{time.strftime('%Y%m%d-%H%M%S')}"
    path, n = stem.with_suffix(".json"), 1
    while path.exists():
        n += 1
        path = stem.parent / f"{stem.name}-{n}.json"
    return path


def bench_ratio_rows(result: dict) -> list[tuple[str, float, float]]:
    """(case, fastnn seconds, PyTorch seconds) of every bench row that timed both."""
    # TODO(lead): read these from the model zoo's rows once benchmarks.py is rewritten
    return [(r["case"], r["fastnn"], r["pytorch"]) for r in result["models"]
            if r.get("fastnn") and r.get("pytorch")]


def cmd_bench(args: argparse.Namespace) -> int:
    from . import benchmarks as b

    json_path = _bench_json_path(args.json)
    plot_path = None
    if args.plot is not None:
        from . import plots

        plots._pyplot()  # no matplotlib: say so now, not after minutes of benchmarking
        if not b.torch_available():
            raise ImportError("bench --plot draws fastnn/PyTorch time ratios and needs PyTorch: "
                              "pip install torch --index-url "
                              "https://download.pytorch.org/whl/cpu")
        plot_path = _new_file(args.plot) if args.plot else json_path.with_suffix(".png")
    if not args.quick:
        print("benchmarking for a few minutes (--quick takes under one)...", file=sys.stderr)
    result = b.run_all(quick=args.quick)
    print(f"fastnn bench, {result['date']}, {result['processor']}, {result['threads']} threads, "
          f"numpy {result['numpy']}, numba {result['numba']}" + (", quick" if args.quick else ""))
    print("\nKernels (batch 32, float32, MNIST CNN shapes):\n")
    print(b.format_table(result["kernels"], b.KERNEL_COLUMNS))
    print("\nMNIST CNN: training step (forward, backward, Adam) and inference. 'reference' is "
          "fastnn's loop kernels, timed on a few steps; the epoch row extrapolates per-step times."
          + ("" if b.torch_available() else " PyTorch is not installed: its columns are empty.")
          + "\n")
    print(b.format_table(result["models"], b.MODEL_COLUMNS))
    atomic_write_text(json_path, json.dumps(result, indent=2))
    print(f"\nwrote {json_path}")
    if plot_path is not None:
        plots.bench_ratios(bench_ratio_rows(result), plot_path,
                           f"fastnn time / PyTorch time, {result['threads']} threads "
                           f"(lower is better)")
        print(f"wrote {plot_path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fastnn", description="fastnn: neural nets in Numba")
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
    train.add_argument("--keys", default="X,y,Xtest,ytest", help="mat: the variables X,y "
                       "[,Xtest,ytest] (default X,y,Xtest,ytest; with two, --test-fraction splits)")
    train.add_argument("--shape", metavar="H,W", help="mat: reshape each row to an image "
                       "H,W or C,H,W (default: keep the vectors flat)")
    train.add_argument("--order", choices=["C", "F"], default="C", help="mat: F if the images "
                       "were unrolled in Fortran/MATLAB order (default C)")
    train.add_argument("--model", choices=["cnn", "mlp"], help="cnn (MNIST) or mlp")
    train.add_argument("--hidden", default="20,7,5", help="mlp hidden widths (default 20,7,5)")
    train.add_argument("--activation", choices=list(ACTIVATIONS), default="relu")
    train.add_argument("--init", choices=list(init_mod.INITIALIZERS), help="mlp weights "
                       "(default scaled_normal: std 1/sqrt(fan-in))")
    train.add_argument("--dropout", type=float, default=0.0, help="after each hidden layer")
    train.add_argument("--loss", default="auto", choices=["auto", *losses.LOSSES],
                       help="auto: one sigmoid output for two classes with mlp, else softmax")
    train.add_argument("--l2", type=float, default=0.0, help="L2 lambda: lambda/(2m) sum w^2")
    train.add_argument("--size", type=int, default=64, help="folder: images resized to NxN")
    train.add_argument("--mode", choices=["rgb", "gray"], default="rgb")
    train.add_argument("--test-fraction", type=float, default=0.2)
    train.add_argument("--epochs", type=int)
    train.add_argument("--batch-size", help="an integer, or 'full' for batch gradient descent")
    train.add_argument("--lr", type=float, default=None,
                       help="learning rate (default 2e-3 for adam, 0.05 for sgd)")
    train.add_argument("--optimizer", choices=["adam", "sgd"])
    train.add_argument("--momentum", type=float, default=0.0, help="for sgd")
    train.add_argument("--schedule", choices=["cosine", "constant"])
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--backend", choices=list(backend.BACKENDS), default="numba")
    train.add_argument("--data", help="mnist: directory with the four MNIST files (else "
                       "$FASTNN_DATA/mnist or the download cache)")
    train.add_argument("--out", help="where the model and report go (default runs/DATASET)")
    train.add_argument("--plots", help="write curves.png, recall.png, confusion.png here")
    train.add_argument("--limit", type=int, help="train on the first N training images only")
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

    bench = sub.add_parser("bench", help="benchmark kernels, training and inference")
    bench.add_argument("--quick", action="store_true", help="a rougher run in under a minute")
    bench.add_argument("--json", metavar="FILE", help="where to write the results (a new file; "
                       "default runs/bench/fastnn-bench-DATE-TIME.json)")
    bench.add_argument("--plot", nargs="?", const="", metavar="PNG", help="also draw the "
                       "fastnn/PyTorch time ratios (default: the JSON's name, .png)")
    bench.set_defaults(func=cmd_bench)

    measure = sub.add_parser(
        "compat-measure", help="accuracy of a fastnn.compat / Numpy-CNN params.pkl",
        description="Accuracy and per-digit recall of a [params, cost] pickle written by "
        "fastnn.compat.network.train (or the original). Unpickling runs code: only use it "
        "on files you trust.")
    measure.add_argument("params", help="the pickle of [params, cost]")
    measure.add_argument("--data", help="directory with t10k-*.gz (default: working directory)")
    measure.set_defaults(func=cmd_compat_measure)
    return parser


def _versions() -> str:
    import platform

    import numba

    from . import __version__

    return (f"fastnn {__version__} (numpy {np.__version__}, numba {numba.__version__}, "
            f"python {platform.python_version()})")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, ImportError) as e:  # they name the problem
        print(f"fastnn: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
