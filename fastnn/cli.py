"""The ``fastnn`` command line: train, evaluate, predict, bench.

    fastnn train mnist [--epochs 2 --batch-size 32 --lr 2e-3 --optimizer adam --seed 0
                        --backend numba --data DIR --out DIR]
    fastnn evaluate MODEL [--data DIR]
    fastnn predict MODEL IMAGE
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from . import backend, datasets
from .layers import Conv2D, Dense, Flatten, MaxPool2D, ReLU
from .model import Sequential, load
from .optim import SGD, Adam, constant, cosine


def mnist_cnn(seed: int = 0) -> Sequential:
    """The classic MNIST CNN: conv 8@5x5, ReLU, conv 8@5x5, ReLU, max-pool 2, dense 128, 10."""
    return Sequential([
        Conv2D(1, 8, 5), ReLU(), Conv2D(8, 8, 5), ReLU(), MaxPool2D(2), Flatten(),
        Dense(800, 128), ReLU(), Dense(128, 10),
    ], seed=seed, class_names=[str(d) for d in range(10)])


def per_class_recall(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> list[float]:
    return [float(np.mean(y_pred[y_true == c] == c)) if np.any(y_true == c) else float("nan")
            for c in range(k)]


def _optimizer(name: str, lr: float | None):
    if name == "adam":
        return Adam(lr or 2e-3)
    if name == "sgd":
        return SGD(lr or 0.05, momentum=0.9)
    raise SystemExit(f"unknown optimizer {name!r}")


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


def cmd_train(args: argparse.Namespace) -> int:
    backend.set_backend(args.backend)
    load_start = time.perf_counter()
    (x_train, y_train), (x_test, y_test) = datasets.mnist(args.data)
    if args.limit:
        x_train, y_train = x_train[: args.limit], y_train[: args.limit]
    model = mnist_cnn(args.seed)
    optimizer = _optimizer(args.optimizer, args.lr)
    schedule = cosine(warmup=0.02) if args.schedule == "cosine" else constant
    print(f"MNIST: {len(x_train):,} training, {len(x_test):,} test images "
          f"(loaded in {time.perf_counter() - load_start:.1f}s); backend {args.backend}")
    print(model.summary())
    print(f"{args.optimizer} lr {optimizer.lr:g}, {args.schedule} schedule, batch "
          f"{args.batch_size}, {args.epochs} epochs, seed {args.seed}")

    def report(epoch: int, history: dict) -> None:
        print(f"epoch {epoch + 1}: train loss {history['loss'][-1]:.4f}, test accuracy "
              f"{history['val_accuracy'][-1]:.2%} ({history['seconds'][-1]:.1f}s)")

    start = time.perf_counter()
    age_at_start = process_seconds()
    history = model.fit(x_train, y_train, optimizer=optimizer, epochs=args.epochs,
                        batch_size=args.batch_size, validation_data=(x_test, y_test),
                        seed=args.seed, progress=not args.quiet, schedule=schedule,
                        on_epoch_end=report)
    wall = time.perf_counter() - start
    first_batch = age_at_start + history["first_batch_seconds"]
    print(f"first batch finished {first_batch:.1f}s after the process started "
          f"(imports, data, Numba compile or cache load)")
    pred = model.predict_labels(x_test)
    recall = per_class_recall(y_test, pred, 10)
    print("per-digit recall: " + "  ".join(f"{d}: {r:.1%}" for d, r in enumerate(recall)))
    print(f"test accuracy {np.mean(pred == y_test):.2%}; training wall time {wall:.1f}s")
    out = Path(args.out)
    result = {
        "test_accuracy": float(np.mean(pred == y_test)), "per_digit_recall": recall,
        "wall_seconds": wall, "first_batch_after_start_seconds": first_batch,
        "history": history, "backend": args.backend,
        "optimizer": optimizer.config(), "schedule": args.schedule,
        "batch_size": args.batch_size, "epochs": args.epochs, "seed": args.seed,
    }
    path = model.save(out / "mnist_cnn.npz", metadata={"dataset": "mnist", **result})
    (out / "report.json").write_text(json.dumps(result, indent=2))
    print(f"saved {path} and {out / 'report.json'}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    model = load(args.model)
    _, (x_test, y_test) = datasets.mnist(args.data)
    loss, acc = model.evaluate(x_test, y_test)
    recall = per_class_recall(y_test, model.predict_labels(x_test), 10)
    print(f"{args.model}: test loss {loss:.4f}, test accuracy {acc:.2%}")
    print("per-digit recall: " + "  ".join(f"{d}: {r:.1%}" for d, r in enumerate(recall)))
    return 0


def read_image(path: Path, shape: tuple[int, int]) -> np.ndarray:
    """A .npy array or an image file (Pillow) as float32 (1, C, H, W) in [0, 1]."""
    if path.suffix == ".npy":
        a = np.load(path, allow_pickle=False).astype(np.float32)
        if a.max() > 1:
            a = a / 255
    else:
        try:
            from PIL import Image
        except ImportError:
            raise SystemExit("reading images needs Pillow: pip install 'fastnn[images]'") from None
        try:
            with Image.open(path) as im:
                a = np.asarray(im.convert("L").resize(shape[::-1]), dtype=np.float32) / 255
        except OSError as e:
            raise SystemExit(f"{path}: not a readable image ({e})") from None
    if a.ndim == 2:
        a = a[None]
    if a.shape[-2:] != shape:
        raise SystemExit(f"{path}: image is {a.shape[-2]}x{a.shape[-1]}, the model takes "
                         f"{shape[0]}x{shape[1]}")
    return a.reshape(1, -1, *shape)


def cmd_predict(args: argparse.Namespace) -> int:
    model = load(args.model)
    x = read_image(Path(args.image), (28, 28))
    probs = model.predict(x)[0]
    k = int(np.argmax(probs))
    names = model.class_names or [str(i) for i in range(len(probs))]
    print(f"{names[k]}: {probs[k]:.1%}")
    return 0


def cmd_compat_measure(args: argparse.Namespace) -> int:
    from .compat.network import measure

    accuracy, recall = measure(args.params, args.data)
    print(f"Overall Accuracy: {accuracy * 100:.2f}%")
    for digit, r in enumerate(recall):
        print(f"Digit {digit} Recall: {r * 100:.2f}%")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from . import benchmarks as b

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
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2))
    print(f"\nwrote {args.json}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fastnn", description="fastnn: neural nets in Numba")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a model")
    train.add_argument("dataset", choices=["mnist"])
    train.add_argument("--epochs", type=int, default=2)
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument("--lr", type=float, default=None,
                       help="learning rate (default 2e-3 for adam, 0.05 for sgd)")
    train.add_argument("--optimizer", choices=["adam", "sgd"], default="adam")
    train.add_argument("--schedule", choices=["cosine", "constant"], default="cosine")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--backend", choices=list(backend.BACKENDS), default="numba")
    train.add_argument("--data", help="directory with the four MNIST files (else "
                       "$FASTNN_DATA/mnist or the download cache)")
    train.add_argument("--out", default="runs/mnist", help="where the model and report go")
    train.add_argument("--limit", type=int, help="train on the first N training images only")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=cmd_train)

    evaluate = sub.add_parser("evaluate", help="test accuracy of a saved MNIST model")
    evaluate.add_argument("model")
    evaluate.add_argument("--data")
    evaluate.set_defaults(func=cmd_evaluate)

    predict = sub.add_parser("predict", help="classify one image (PNG or .npy)")
    predict.add_argument("model")
    predict.add_argument("image")
    predict.set_defaults(func=cmd_predict)

    bench = sub.add_parser("bench", help="benchmark kernels, training and inference")
    bench.add_argument("--quick", action="store_true", help="a rougher run in under a minute")
    bench.add_argument("--json", default="fastnn-bench.json", help="where to write the results")
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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as e:  # our errors name the problem; no traceback
        print(f"fastnn: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
