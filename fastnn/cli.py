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
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from . import backend, datasets, losses, metrics, zoo
from . import init as init_mod
from ._io import atomic_write_text
from ._malloc import retain_freed_memory
from .augment import Augment
from .callbacks import EarlyStopping, HistoryLogger, LambdaCallback, ModelCheckpoint, ProgressBar
from .datasets_files import stratified_split
from .model import Sequential
from .models import ACTIVATIONS, mlp, mnist_cnn, simple_vgg
from .optim import SGD, Adam, cosine
from .serialization import load_checkpoint, save_checkpoint
from .serialization import load_model as load
from .training import TrainingInterrupted

DEFAULTS = {  # per data set: what a bare `fastnn train mnist` / `train folder DIR` uses
    "mnist": dict(epochs=2, batch_size="32", optimizer="adam", schedule="cosine"),
    "folder": dict(epochs=100, batch_size="full", optimizer="sgd", schedule="constant"),
    "mat": dict(epochs=100, batch_size="full", optimizer="sgd", schedule="constant"),
}
DEFAULT_LR = {"adam": 2e-3, "sgd": 0.05}
SCOPE = {  # train options that apply only to some data sets, models or optimizers: default
    "hidden": ("model", ("mlp",), "20,7,5"), "activation": ("model", ("mlp",), "relu"),
    "init": ("model", ("mlp",), None), "dropout": ("model", ("mlp",), 0.0),
    "size": ("dataset", ("folder",), 64), "mode": ("dataset", ("folder",), "rgb"),
    "label_pattern": ("dataset", ("folder",), None),
    "test_fraction": ("dataset", ("folder", "mat"), 0.2),
    "class_names": ("dataset", ("folder", "mat"), None),
    "keys": ("dataset", ("mat",), "X,y,Xtest,ytest"), "shape": ("dataset", ("mat",), None),
    "order": ("dataset", ("mat",), "C"), "data": ("dataset", ("mnist",), None),
    "momentum": ("optimizer", ("sgd",), 0.0),
}


def _scoped_options(args: argparse.Namespace) -> None:
    """An option given where it does not apply is an error; the others get their defaults."""
    if args.dataset == "mnist" and args.dir:
        raise ValueError(f"fastnn train mnist takes no folder ({args.dir!r}); the MNIST files "
                         f"go with --data DIR")
    for option, (what, where, default) in SCOPE.items():
        value = getattr(args, option)
        if value is None:
            setattr(args, option, default)
        elif getattr(args, what) not in where:
            raise ValueError(f"--{option.replace('_', '-')} applies to {what} "
                             f"{' or '.join(where)}, not to {what} {getattr(args, what)}")


MODEL_DEFAULTS = {  # the Keras tutorial's recipe for SimpleVGGNet
    "vgg": dict(epochs=75, batch_size="32", optimizer="sgd", schedule="constant", lr=0.01),
}


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
    if args.model == "vgg":
        model = simple_vgg(outputs, sample_shape, args.seed, class_names=names)
        model.loss = loss_obj
        return model
    hidden = [int(h) for h in args.hidden.split(",") if h.strip()]
    return mlp(int(np.prod(sample_shape)), hidden, outputs, args.activation, args.init or
               "scaled_normal", args.dropout, args.seed, loss_obj, names)


def next_run_folder(parent: Path) -> Path:
    """``parent/N`` for the first N after every numbered run already there (1 if none)."""
    taken = [int(p.name) for p in parent.glob("*") if p.name.isdigit()] if parent.is_dir() else []
    return parent / str(max(taken, default=0) + 1)


def _prepare_output(args: argparse.Namespace, name: str) -> Path:
    """The run folder, created and checked writable before any training; never an earlier
    run's trained model unless --overwrite or --resume says so."""
    if args.resume:
        resume = Path(args.resume)
        out = Path(args.out) if args.out else (resume if resume.is_dir() else resume.parent)
    elif args.out:
        out = Path(args.out)
        if (out / f"{name}.npz").exists() and not args.overwrite:
            raise ValueError(f"{out / (name + '.npz')} already holds a trained model; choose "
                             f"another --out, or add --overwrite to replace it")
    else:
        out = next_run_folder(Path("runs") / args.dataset)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".fastnn-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise ValueError(f"cannot write the run to {out} ({e.strerror}); choose another --out"
                         ) from None
    if args.plots:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise ValueError("--plots needs matplotlib: pip install 'fastnn[plots]'") from None
    return out


def _resume(args: argparse.Namespace, optimizer, x_shape):
    """The checkpoint to carry on from (--resume FILE or run folder)."""
    path = Path(args.resume)
    if path.is_dir():
        path = path / "checkpoint.npz"
    if not path.is_file():
        raise FileNotFoundError(f"--resume {args.resume}: no checkpoint at {path}")
    ckpt = load_checkpoint(path, optimizer)
    ckpt.model.check_shape(x_shape)
    if ckpt.epoch >= args.epochs:
        raise ValueError(f"--resume {path}: it has trained {ckpt.epoch} epochs already; "
                         f"--epochs is the total, so give more than {ckpt.epoch}")
    return ckpt


def _save_trained(model: Sequential, path: Path, metadata: dict) -> Path:
    """Saves a trained model; if ``path`` cannot be written any more (a full disk, a folder
    removed during training), saves it in the temporary folder and says where: trained work
    is never lost."""
    try:
        return model.save(path, metadata=metadata)
    except OSError as e:
        rescue = Path(tempfile.mkdtemp(prefix="fastnn-rescue-")) / path.name
        model.save(rescue, metadata=metadata)
        print(f"fastnn: could not write {path} ({e}); saved the trained model to {rescue} "
              f"instead", file=sys.stderr)
        return rescue


def cmd_train(args: argparse.Namespace) -> int:
    retain_freed_memory()  # glibc keeps freed activations: 10-25% faster steps
    backend.set_backend(args.backend)
    if args.model is None:
        args.model = "cnn" if args.dataset == "mnist" else "mlp"
    for key, value in (DEFAULTS[args.dataset] | MODEL_DEFAULTS.get(args.model, {})).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    _scoped_options(args)
    name = f"{args.dataset}_{args.model}"
    out = _prepare_output(args, name)
    load_start = time.perf_counter()
    (x_train, y_train), (x_test, y_test), names, info = _load_data(args)
    lr = args.lr or DEFAULT_LR[args.optimizer]
    optimizer = Adam(lr) if args.optimizer == "adam" else SGD(lr, momentum=args.momentum)
    ckpt = None
    if args.resume:
        ckpt = _resume(args, optimizer, x_train.shape[1:])
        model = ckpt.model
    else:
        model = _build_model(args, x_train.shape[1:], names)
    schedule = cosine(warmup=0.02) if args.schedule == "cosine" else None
    augment = None
    if args.augment:
        if x_train.ndim != 4:
            raise ValueError(f"--augment needs images (N, C, H, W), these are {x_train.shape}; "
                             f"give --shape for .mat files")
        augment = Augment()
    batch_size = len(x_train) if args.batch_size == "full" else int(args.batch_size)
    print(f"{args.dataset}: {len(x_train):,} training, {len(x_test):,} test images of "
          f"{x_train.shape[1:]}, {len(names)} classes (loaded in "
          f"{time.perf_counter() - load_start:.1f}s); backend {args.backend}")
    print(model.summary(x_train.shape[1:]))
    print(f"{args.optimizer} lr {lr:g}, {args.schedule} schedule, batch {batch_size}, "
          f"{_count(args.epochs, 'epoch')}, loss {model.loss.name} (l2 {model.loss.l2:g}), "
          f"seed {args.seed}"
          + (f"; resuming after epoch {ckpt.epoch} from {args.resume}" if ckpt else ""))

    every = max(1, args.epochs // 20)
    bar = ProgressBar(every=every) if not args.quiet else None
    shown = bar is not None and bar.enabled

    def report(epoch: int, logs: dict) -> None:
        if not shown and ((epoch + 1) % every == 0 or epoch + 1 == args.epochs):
            print(f"epoch {epoch + 1}: train loss {logs['loss']:.4f}, test accuracy "
                  f"{logs['val_accuracy']:.2%} ({logs['seconds']:.1f}s)", flush=True)

    metadata = {"data": info}
    callbacks = [cb for cb in (bar, LambdaCallback(on_epoch_end=report)) if cb is not None]
    callbacks += [ModelCheckpoint(out / "checkpoint.npz", metadata=metadata),
                  HistoryLogger(out / "history.csv")]
    if args.save_best:
        callbacks.append(ModelCheckpoint(out / "best.npz", monitor=args.monitor,
                                         save_best_only=True, metadata=metadata))
    if args.patience is not None:
        callbacks.append(EarlyStopping(args.monitor, args.patience, restore_best=True))
    start = time.perf_counter()
    age_at_start = process_seconds()
    try:
        history = model.fit(x_train, y_train, optimizer=optimizer, epochs=args.epochs,
                            batch_size=batch_size, validation_data=(x_test, y_test),
                            seed=args.seed, progress=False, schedule=schedule,
                            callbacks=callbacks, resume=ckpt, augment=augment)
    except TrainingInterrupted as stop:
        trained = stop.completed_epochs
        save_checkpoint(out / "checkpoint.npz", model=model, optimizer=optimizer,
                        epoch=trained, history=stop.history,
                        callbacks=callbacks, metadata=metadata, interrupted=True)
        path = _save_trained(model, out / f"{name}.npz", metadata | {"interrupted": True})
        print(f"\nfastnn: interrupted in epoch {stop.epoch + 1} (after batch {stop.batch}); "
              f"saved the model trained so far to {path} (marked interrupted; "
              f"--resume {out} carries on from epoch {trained + 1})", file=sys.stderr)
        return 130
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
    summary = {
        "test_accuracy": result["accuracy"], "per_class_recall": recall,
        "wall_seconds": wall, "first_batch_after_start_seconds": first_batch,
        "history": history, "backend": args.backend, "optimizer": optimizer.config(),
        "schedule": args.schedule, "batch_size": batch_size, "epochs": args.epochs,
        "augment": augment.config() if augment else None,
        "seed": args.seed, "report": result,
    }
    path = _save_trained(model, out / f"{name}.npz", metadata | {"summary": summary})
    atomic_write_text(out / "report.json", json.dumps(summary, indent=2))
    print(f"saved {path} and {out / 'report.json'} (checkpoint.npz resumes the run, "
          f"history.csv has the epochs)")
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
    print(f"run written to {out}")
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

    data = args.data
    if data is None and os.environ.get("FASTNN_DATA"):  # where fastnn keeps MNIST, if set
        data = str(Path(os.environ["FASTNN_DATA"]) / "mnist")
    accuracy, recall = measure(args.params, data)
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
    """(case, fastnn seconds, PyTorch seconds) of each zoo network's training step and
    inference, where PyTorch was timed too."""
    return [(f"{r['network']} {what}", r[f"{what} fastnn"], r[f"{what} pytorch"])
            for r in result["zoo"] if "train pytorch" in r for what in ("train", "infer")]


def cmd_bench(args: argparse.Namespace) -> int:
    from . import benchmarks as b

    retain_freed_memory()
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
    result = b.run_all(quick=args.quick, networks=args.networks)
    print(f"fastnn bench, {result['date']}, {result['processor']}, {result['threads']} threads, "
          f"numpy {result['numpy']}, numba {result['numba']}" + (", quick" if args.quick else ""))
    print(f"float32 matmul peak (NumPy): {result['matmul_peak_gflops']:.0f} GFLOP/s")
    print("\nKernels (batch 32, float32, MNIST CNN shapes); ratios are numba's time over the "
          "other's, lower is better:\n")
    print(b.format_table(result["kernels"], b.KERNEL_COLUMNS))
    print("\nModel zoo at batch 32: seconds per training step through fit (forward, backward, "
          "Adam) and per inference of 256 images, against the same network in PyTorch "
          f"{result['torch'] or '(not installed: its columns are empty)'}; ratios are fastnn's "
          "time over PyTorch's, lower is better:\n")
    print(b.format_table(result["zoo"], zoo.ZOO_COLUMNS))
    atomic_write_text(json_path, json.dumps(result, indent=2))
    print(f"\nwrote {json_path}")
    if plot_path is not None:
        plots.bench_ratios(bench_ratio_rows(result), plot_path,
                           f"fastnn time / PyTorch time, {result['threads']} threads "
                           f"(lower is better)")
        print(f"wrote {plot_path}")
    return 0


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

    bench = sub.add_parser("bench", help="benchmark the kernels and the model zoo (training "
                           "steps, inference) against PyTorch")
    bench.add_argument("--quick", action="store_true", help="a rougher run in under a minute")
    bench.add_argument("--networks", nargs="+", choices=[net.name for net in zoo.ZOO],
                       help="only these networks of the zoo (default: all)")
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
    measure.add_argument("--data", help="directory with t10k-*.gz (default: $FASTNN_DATA/mnist "
                         "if FASTNN_DATA is set, else the working directory)")
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
    except (ValueError, OSError, ImportError, ArithmeticError) as e:  # they name the problem
        print(f"fastnn: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # training handles its own Ctrl-C; this is loading, evaluating...
        print("fastnn: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
