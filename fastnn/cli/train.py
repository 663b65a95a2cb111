"""``fastnn train``: the data (MNIST, an image folder, files labelled by name, a .mat file), the
model, the run folder (model, checkpoint, history, report), resuming, and the options that apply
only to some data sets, models or optimizers (``SCOPE``)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .. import backend, datasets, losses, metrics
from .._io import atomic_write_text
from .._malloc import retain_freed_memory
from ..augment import Augment
from ..callbacks import EarlyStopping, HistoryLogger, LambdaCallback, ModelCheckpoint, ProgressBar
from ..images import stratified_split
from ..model import Sequential
from ..models import mlp, mnist_cnn, simple_vgg
from ..optim import SGD, Adam
from ..schedules import cosine
from ..serialization import load_checkpoint, save_checkpoint
from ..training import TrainingInterrupted

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
        (xtr, ytr), (xte, yte), folders = datasets.image_folder(
            args.dir, size, args.mode, args.test_fraction, args.seed)
        names = _renamed(folders, args.class_names) if args.class_names else folders
        info = {"kind": "folder", "root": str(Path(args.dir).resolve()),
                "input": {"size": list(size), "mode": args.mode}, "folders": folders,
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
            x, y, [str(k) for k in range(int(y.max()) + 1)], args.test_fraction, args.seed,
            args.dir)
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
        from .. import plots

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


def _count(n: int, word: str) -> str:
    """ "1 epoch", "2 epochs"."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _data_label(info: dict) -> str:
    """The data set's name for titles: MNIST, or the folder or file it came from."""
    if info.get("kind", "mnist") == "mnist":
        return "MNIST"
    return Path(info.get("root", "")).name or info.get("kind", "data")


def process_seconds() -> float:
    """Seconds since this process started (Linux), else since fastnn.cli.train was imported."""
    try:
        with open("/proc/self/stat") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return time.perf_counter() - _IMPORTED


_IMPORTED = time.perf_counter()
