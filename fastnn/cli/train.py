"""``fastnn train``: its options, and the run as a pipeline of steps: complete the options,
prepare the run folder, load the data (:mod:`fastnn.data`), set up the model and optimizer (or
resume them), announce the plan, train with the run's callbacks, then test, save and plot."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import backend, data, losses, metrics, plots
from .. import init as init_mod
from .._io import atomic_write_text, lock_folder, probe_writable
from .._malloc import retain_freed_memory
from ..augment import Augment
from ..callbacks import EarlyStopping, HistoryLogger, LambdaCallback, ModelCheckpoint, ProgressBar
from ..model import Sequential
from ..models import ACTIVATIONS, mlp, mnist_cnn, simple_vgg
from ..optim import SGD, Adam, Optimizer
from ..schedules import cosine
from ..serialization import Checkpoint, load_checkpoint
from ..training import TrainingInterrupted
from .options import batch_size_or_full, integer, number, positive_int, widths
from .results import count, result_plots

DEFAULTS = {  # per data set: what a bare `fastnn train mnist` / `train folder DIR` uses
    "mnist": dict(epochs=2, batch_size="32", optimizer="adam", schedule="cosine"),
    "folder": dict(epochs=100, batch_size="full", optimizer="sgd", schedule="constant"),
    "mat": dict(epochs=100, batch_size="full", optimizer="sgd", schedule="constant"),
}
DEFAULT_LR = {"adam": 2e-3, "sgd": 0.05}
MODEL_DEFAULTS = {  # the Keras tutorial's recipe for SimpleVGGNet
    "vgg": dict(epochs=75, batch_size="32", optimizer="sgd", schedule="constant", lr=0.01),
}
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


def add_parser(sub: argparse._SubParsersAction) -> None:
    """``fastnn train DATASET [DIR] [options]``."""
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
    train.add_argument("--hidden", type=widths, help="mlp hidden widths (default 20,7,5)")
    train.add_argument("--activation", choices=list(ACTIVATIONS), help="mlp (default relu)")
    train.add_argument("--init", choices=list(init_mod.INITIALIZERS), help="mlp weights "
                       "(default scaled_normal: std 1/sqrt(fan-in))")
    train.add_argument("--dropout", type=number(0, 1), help="mlp: after each hidden layer")
    train.add_argument("--loss", choices=["auto", *losses.LOSSES],
                       help="auto: one sigmoid output for two classes with mlp, else softmax")
    train.add_argument("--l2", type=number(0),
                       help="L2 lambda: lambda/(2m) sum w^2")
    train.add_argument("--size", type=positive_int, help="folder: images resized to NxN "
                       "(default 64)")
    train.add_argument("--mode", choices=["rgb", "gray"], help="folder (default rgb)")
    train.add_argument("--test-fraction", type=number(0, 1, low_open=True),
                       help="folder, mat: the share of each class held out (default 0.2)")
    train.add_argument("--epochs", type=positive_int)
    train.add_argument("--batch-size", type=batch_size_or_full,
                       help="an integer, or 'full' for batch gradient descent")
    train.add_argument("--lr", type=number(0, low_open=True), default=None,
                       help="learning rate (default 2e-3 for adam, 0.05 for sgd)")
    train.add_argument("--optimizer", choices=["adam", "sgd"])
    train.add_argument("--momentum", type=number(0, 1), help="sgd (default 0)")
    train.add_argument("--schedule", choices=["cosine", "constant"])
    train.add_argument("--seed", type=integer(0), help="(default 0)")
    train.add_argument("--backend", choices=list(backend.BACKENDS), default="numba")
    train.add_argument("--data", help="mnist: directory with the four MNIST files, or its "
                       "parent (else $FASTNN_DATA/mnist or the download cache)")
    train.add_argument("--out", help="the run folder for the model, checkpoint, history and "
                       "report (default: a new runs/DATASET/N)")
    train.add_argument("--overwrite", action="store_true", help="let --out replace a trained "
                       "model already there")
    train.add_argument("--resume", metavar="RUN", help="carry on from a run folder's "
                       "checkpoint.npz (or a checkpoint file) with the run's options, to its "
                       "planned epochs or --epochs in total (constant schedule only)")
    train.add_argument("--patience", type=integer(0), help="stop early when --monitor has not "
                       "improved for this many epochs (and keep the best weights)")
    train.add_argument("--save-best", action="store_true", default=None,
                       help="also keep best.npz, the checkpoint of the best epoch by --monitor")
    train.add_argument("--monitor", choices=["val_loss", "val_accuracy",
                       "loss", "accuracy"], help="the metric --patience and --save-best "
                       "watch (default val_loss; val_ is the test split)")
    train.add_argument("--plots", help="write curves.png, recall.png, confusion.png here")
    train.add_argument("--limit", type=positive_int,
                       help="train on the first N training images only")
    train.add_argument("--augment", action="store_true", default=None,
                       help="images: random rotation 30 degrees, shifts 0.1, shear 0.2, "
                       "zoom 0.2 and flips per batch (fn.Augment, Keras's ImageDataGenerator "
                       "settings of the tutorial)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=cmd_train)


@dataclass
class _Training:
    """What a run trains and how, as :func:`_set_up` builds it from the options and the data."""

    model: Sequential
    optimizer: Optimizer
    lr: float
    checkpoint: Checkpoint | None  # the one to resume from
    schedule: object
    augment: Augment | None
    batch_size: int


def cmd_train(args: argparse.Namespace) -> int:
    retain_freed_memory()  # glibc keeps freed activations: 10-25% faster steps
    backend.set_backend(args.backend)
    if args.resume:
        _resumed_options(args, _resume_path(args))
    _complete_options(args)
    name = f"{args.dataset}_{args.model}"
    with _prepare_output(args, name) as folder:
        load_start = time.perf_counter()
        loaded = _load_data(args)
        training = _set_up(args, loaded)
        _announce(args, loaded, training, time.perf_counter() - load_start)
        metadata = {"data": loaded.description, "options": _recorded_options(args)}
        out = folder.create()
        callbacks = _callbacks(args, out, metadata)
        try:
            history, wall, first_batch = _fit(args, loaded, training, callbacks)
        except TrainingInterrupted as stop:
            return _save_interrupted(args, stop, training, out, name, metadata)
        except OSError as e:  # a per-epoch write failed: a full disk, a file-size limit
            return _save_after_write_error(e, training, callbacks, out, name, metadata)
        summary = _evaluate(args, loaded, training, history, wall, first_batch)
        _save_run(training.model, out, name, metadata, summary)
        if args.plots:
            _plot(args, history, summary["report"], loaded.class_names, metadata)
        print(f"run written to {out}")
        return 0


RECORDED = ("model", "hidden", "activation", "init", "dropout", "loss", "l2", "size", "mode",
            "label_pattern", "test_fraction", "class_names", "keys", "shape", "order", "limit",
            "batch_size", "lr", "optimizer", "momentum", "schedule", "seed", "augment",
            "patience", "monitor")
"""The options that decide a run's numbers: kept in its checkpoints (``metadata["options"]``,
with the data set, its folder or file, and the planned epochs) and used again by --resume."""


def _recorded_options(args: argparse.Namespace) -> dict:
    """The run's options as its checkpoints keep them (those that apply to this run)."""
    options = {k: getattr(args, k) for k in RECORDED
               if k not in SCOPE or getattr(args, SCOPE[k][0]) in SCOPE[k][1]}
    source = str(Path(args.dir).resolve()) if args.dir else None
    return options | {"dataset": args.dataset, "dir": source, "epochs": args.epochs}


def _resumed_options(args: argparse.Namespace, path: Path) -> None:
    """--resume: the options not given come from the checkpoint; one given with another value
    than the run's is refused (it would not carry on the same run). --epochs may differ from
    the planned total only with the constant schedule (then the run equals one planned with
    the new total from the start); a cosine schedule is spread over the planned epochs."""
    recorded = load_checkpoint(path).model.metadata.get("options")
    if not isinstance(recorded, dict):
        return  # written before the options were recorded: the options given are used
    where = f"--resume {args.resume}"
    if recorded.get("dataset") != args.dataset:
        raise ValueError(f"{where}: the run trained on {recorded.get('dataset')}, not on "
                         f"{args.dataset}")
    if args.dir and recorded.get("dir") and str(Path(args.dir).resolve()) != recorded["dir"]:
        raise ValueError(f"{where}: the run trained on {recorded['dir']}, not on "
                         f"{Path(args.dir).resolve()}")
    args.dir = args.dir or recorded.get("dir")
    for option in RECORDED:
        given, kept = getattr(args, option), recorded.get(option)
        if option not in recorded:
            continue
        if given is None:
            setattr(args, option, kept)
        elif given != kept:
            flag = "--" + option.replace("_", "-")
            raise ValueError(f"{where}: {flag} {given} differs from the run's {kept}; a "
                             f"resumed run keeps its options (leave {flag} out, or start a "
                             f"new run)")
    planned = recorded.get("epochs")
    if args.epochs is None:
        args.epochs = planned
    elif args.epochs != planned and args.schedule == "cosine":
        raise ValueError(f"{where}: --epochs {args.epochs} differs from the run's planned "
                         f"{planned}, and its cosine schedule is spread over those; leave "
                         f"--epochs out to finish the run, or start a new one")


def _complete_options(args: argparse.Namespace) -> None:
    """The defaults of the data set and model for the options not given; then the check that
    each given option applies (:func:`_scoped_options`)."""
    if args.model is None:
        args.model = "cnn" if args.dataset == "mnist" else "mlp"
    for key, value in (DEFAULTS[args.dataset] | MODEL_DEFAULTS.get(args.model, {})).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    for key, value in (("loss", "auto"), ("l2", 0.0), ("seed", 0), ("monitor", "val_loss"),
                       ("augment", False), ("save_best", False)):
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.lr = args.lr or DEFAULT_LR[args.optimizer]
    if args.dataset == "mat" and args.test_fraction is not None and \
            len(_mat_keys(args.keys or SCOPE["keys"][2])) == 4:
        raise ValueError(f"--test-fraction applies to --keys X,y (one array to split); with "
                         f"--keys {args.keys or SCOPE['keys'][2]} the file's own test split is "
                         f"used")
    _scoped_options(args)


def _load_data(args: argparse.Namespace) -> data.Splits:
    """The data set the options name, with its description for the saved model's metadata."""
    if args.dataset == "mnist":
        loaded = data.load_mnist(args.data)
    elif args.dataset == "mat":
        loaded = data.load_mat(_source(args), _mat_keys(args.keys), _mat_shape(args.shape),
                               args.order, args.test_fraction, args.seed)
        loaded = _renamed(loaded, args.class_names)
    elif args.label_pattern:
        loaded = data.load_files(_source(args), args.label_pattern, args.size, args.mode,
                                 args.test_fraction, args.seed, args.class_names)
    else:
        loaded = _renamed(data.load_folder(_source(args), args.size, args.mode,
                                           args.test_fraction, args.seed), args.class_names)
    return loaded.first(args.limit) if args.limit else loaded


def _source(args: argparse.Namespace) -> str:
    """The folder (of class folders, or of files labelled by name), or the .mat file."""
    if not args.dir:
        raise ValueError(f"fastnn train {args.dataset} needs the "
                         f"{'folder' if args.dataset == 'folder' else '.mat file'}: fastnn "
                         f"train {args.dataset} {'DIR' if args.dataset == 'folder' else 'FILE'}")
    return args.dir


def _renamed(loaded: data.Splits, spec: str | None) -> data.Splits:
    """The data with the classes named by --class-names, if given."""
    if not spec:
        return loaded
    new = data.read_class_names(spec)
    if len(new) != len(loaded.class_names):
        raise ValueError(f"--class-names gives {len(new)} names for {len(loaded.class_names)} "
                         f"classes ({', '.join(loaded.class_names)})")
    return loaded.renamed(new)


def _mat_keys(keys: str) -> list[str]:
    parts = [k.strip() for k in keys.split(",")]
    if len(parts) not in (2, 4) or not all(parts):
        raise ValueError(f"--keys {keys!r}: give X,y or X,y,Xtest,ytest (the variable names)")
    return parts


def _mat_shape(text: str | None) -> list[int] | None:
    try:
        shape = [int(d) for d in text.split(",")] if text else None
    except ValueError:
        shape = []
    if shape is not None and len(shape) not in (2, 3):
        raise ValueError(f"--shape {text!r}: give H,W or C,H,W (integers)")
    return shape


def _set_up(args: argparse.Namespace, loaded: data.Splits) -> _Training:
    """The optimizer, the model (new, or resumed from a checkpoint), the learning-rate
    schedule, the augmentation and the batch size."""
    x_train = loaded.train[0]
    lr = args.lr
    optimizer = Adam(lr) if args.optimizer == "adam" else SGD(lr, momentum=args.momentum)
    ckpt = None
    if args.resume:
        ckpt = _resume(args, optimizer, x_train.shape[1:], loaded.class_names)
        model = ckpt.model
    else:
        model = _build_model(args, x_train.shape[1:], loaded.class_names)
    schedule = cosine(warmup=0.02) if args.schedule == "cosine" else None
    augment = None
    if args.augment:
        if x_train.ndim != 4:
            raise ValueError(f"--augment needs images (N, C, H, W), these are {x_train.shape}; "
                             f"give --shape for .mat files")
        augment = Augment()
    size = len(x_train) if args.batch_size == "full" else int(args.batch_size)
    return _Training(model, optimizer, lr, ckpt, schedule, augment, size)


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
            raise ValueError(f"--model cnn is the MNIST CNN for 1x28x28 images; these are "
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


class RunFolder:
    """A run's folder: chosen and checked before the data is loaded, created only when
    training starts (:meth:`create`: a failed run leaves no empty folder), and locked while
    the run uses it (:func:`fastnn._io.lock_folder`: a second process gets a one-line error).
    ``path`` None means a new numbered folder under ``parent``. As a context manager it locks
    an existing folder at once, and on the way out releases the lock and removes the folders
    it created that are still empty (the run failed before writing anything)."""

    def __init__(self, path: Path | None, parent: Path) -> None:
        self.path, self.parent = path, parent
        self.created: list[Path] = []
        self._locks = contextlib.ExitStack()

    def __enter__(self) -> RunFolder:
        if self.path is not None and self.path.is_dir():
            self._lock()
        return self

    def _lock(self) -> None:
        if not self._locks._exit_callbacks:
            self._locks.enter_context(lock_folder(self.path, "a run there"))

    def create(self) -> Path:
        """The folder, made (with its parents) and locked."""
        while self.path is None:  # the next number; another run may take it first
            candidate = next_run_folder(self.parent)
            self.created = _missing_folders(candidate)
            try:
                candidate.mkdir(parents=True)
                self.path = candidate
            except FileExistsError:
                continue
        if not self.path.is_dir():
            self.created = _missing_folders(self.path)
            self.path.mkdir(parents=True, exist_ok=True)
        self._lock()
        return self.path

    def __exit__(self, kind, error, traceback) -> None:
        self._locks.close()
        for folder in reversed(self.created):
            try:
                folder.rmdir()  # only if empty (a run that failed): what a run wrote stays
            except OSError:
                break


def _missing_folders(path: Path) -> list[Path]:
    """``path`` and those of its parents that do not exist, outermost first."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    return missing[::-1]


def _check_writable(out: Path) -> None:
    """Whether ``out`` can be made and written, without leaving it behind: the folders
    made for the probe are removed again."""
    missing = _missing_folders(out)
    try:
        probe_writable(out)
    except OSError as e:
        raise ValueError(f"cannot write the run to {out} ({e.strerror}); choose another --out"
                         ) from None
    finally:
        for folder in reversed(missing):
            try:
                folder.rmdir()
            except OSError:
                break


def _prepare_output(args: argparse.Namespace, name: str) -> RunFolder:
    """The run folder, checked writable before any training (but not yet created); never an
    earlier run's trained model or checkpoint unless --overwrite says so, or --resume carries
    on that same run."""
    own = None
    if args.resume:
        resume = Path(args.resume)
        own = resume if resume.is_dir() else resume.parent
    out = Path(args.out) if args.out else own
    if out is not None and not (own is not None and out.resolve() == own.resolve()):
        for held in (out / f"{name}.npz", out / "checkpoint.npz"):
            if held.exists() and not args.overwrite:
                raise ValueError(f"{held} already holds a trained "
                                 f"{'model' if held.name == name + '.npz' else 'checkpoint'}; "
                                 f"choose another --out, or add --overwrite to replace it")
    if out is not None and out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file, not a folder")
    parent = Path("runs") / args.dataset
    _check_writable(out if out is not None else parent)
    if args.plots:
        _check_plots(Path(args.plots))
    return RunFolder(out, parent)


def _check_plots(folder: Path) -> None:
    """--plots, before any training: matplotlib is there, and the folder is one (or can be
    made) where this user can write. Nothing is created yet."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ValueError("--plots needs matplotlib: pip install 'fastnn[plots]'") from None
    for p in (folder, *folder.parents):
        if p.exists():
            if not p.is_dir():
                raise ValueError(f"--plots {folder}: {p} is a file, not a folder")
            if not os.access(p, os.W_OK | os.X_OK):
                raise ValueError(f"--plots {folder}: cannot write in {p} (permission denied)")
            return


def _resume_path(args: argparse.Namespace) -> Path:
    """The checkpoint --resume names (a run folder's checkpoint.npz, or a file)."""
    path = Path(args.resume)
    if path.is_dir():
        path = path / "checkpoint.npz"
    if not path.is_file():
        raise FileNotFoundError(f"--resume {args.resume}: no checkpoint at {path}")
    return path


def _resume(args: argparse.Namespace, optimizer, x_shape, class_names: list[str]):
    """The checkpoint to carry on from (--resume FILE or run folder), checked against the
    data."""
    path = _resume_path(args)
    ckpt = load_checkpoint(path, optimizer)
    ckpt.model.check_shape(x_shape)
    names = ckpt.model.class_names
    if names is not None and list(names) != list(class_names):
        raise ValueError(f"--resume {path}: the run's {len(names)} classes "
                         f"({', '.join(names[:5])}{'...' if len(names) > 5 else ''}) are not "
                         f"this data's {len(class_names)} "
                         f"({', '.join(class_names[:5])}{'...' if len(class_names) > 5 else ''})")
    if ckpt.epoch >= args.epochs:
        more = ("its cosine schedule has ended, so it cannot be extended"
                if args.schedule == "cosine" and ckpt.model.metadata.get("options") else
                f"--epochs is the total, so give more than {ckpt.epoch}")
        raise ValueError(f"--resume {path}: it has trained {count(ckpt.epoch, 'epoch')} "
                         f"already; {more}")
    return ckpt


def _announce(args: argparse.Namespace, loaded: data.Splits, training: _Training,
              load_seconds: float) -> None:
    """The data, the model's summary and the training settings."""
    x_train, x_test = loaded.train[0], loaded.test[0]
    model, ckpt = training.model, training.checkpoint
    print(f"{args.dataset}: {len(x_train):,} training, {len(x_test):,} test images of "
          f"{x_train.shape[1:]}, {len(loaded.class_names)} classes (loaded in "
          f"{load_seconds:.1f}s); backend {args.backend}")
    print(model.summary(x_train.shape[1:]))
    print(f"{args.optimizer} lr {training.lr:g}, {args.schedule} schedule, batch "
          f"{training.batch_size}, {count(args.epochs, 'epoch')}, loss {model.loss.name} "
          f"(l2 {model.loss.l2:g}), seed {args.seed}"
          + (f"; resuming after epoch {ckpt.epoch} from {args.resume}" if ckpt else ""))


def _callbacks(args: argparse.Namespace, out: Path, metadata: dict) -> list:
    """The progress bar (on a terminal) and a line for every epoch, the checkpoint and history
    files, and --save-best's and --patience's callbacks."""
    bar = ProgressBar() if not args.quiet else None
    shown = bar is not None and bar.enabled

    def report(epoch: int, logs: dict) -> None:
        if not shown:  # the bar prints its own line
            print(f"epoch {epoch + 1}: train loss {logs['loss']:.4f}, test accuracy "
                  f"{logs['val_accuracy']:.2%} ({logs['seconds']:.1f}s)", flush=True)

    callbacks = [cb for cb in (bar, LambdaCallback(on_epoch_end=report)) if cb is not None]
    callbacks += [ModelCheckpoint(out / "checkpoint.npz", metadata=metadata),
                  HistoryLogger(out / "history.csv")]
    if args.save_best:
        callbacks.append(ModelCheckpoint(out / "best.npz", monitor=args.monitor,
                                         save_best_only=True, metadata=metadata))
    if args.patience is not None:
        callbacks.append(EarlyStopping(args.monitor, args.patience, restore_best=True))
    return callbacks


def _fit(args: argparse.Namespace, loaded: data.Splits, training: _Training,
         callbacks: list) -> tuple[dict, float, float]:
    """Trains; returns the history, the wall time of training and the seconds from the start
    of the process to the end of the first batch (which it prints)."""
    (x_train, y_train), validation = loaded.train, loaded.test
    start = time.perf_counter()
    age_at_start = process_seconds()
    history = training.model.fit(
        x_train, y_train, optimizer=training.optimizer, epochs=args.epochs,
        batch_size=training.batch_size, validation_data=validation, seed=args.seed,
        progress=False, schedule=training.schedule, callbacks=callbacks,
        resume=training.checkpoint, augment=training.augment)
    wall = time.perf_counter() - start
    first_batch = age_at_start + history.get("first_batch_seconds", 0.0)
    print(f"first batch finished {first_batch:.1f}s after the process started "
          f"(imports, data, Numba compile or cache load)")
    return history, wall, first_batch


def _save_interrupted(args: argparse.Namespace, stop: TrainingInterrupted,
                      training: _Training, out: Path, name: str, metadata: dict) -> int:
    """After Ctrl-C: the model so far (marked interrupted). checkpoint.npz keeps the last
    finished epoch (its weights are never replaced by those of a half epoch), so a resume
    runs the interrupted epoch again from its start: the same weights as a run that never
    stopped."""
    trained = stop.completed_epochs
    path = _save_trained(training.model, out / f"{name}.npz", metadata | {"interrupted": True})
    if (out / "checkpoint.npz").is_file():
        then = f"--resume {out} carries on from epoch {trained + 1}"
    elif args.resume:
        then = f"--resume {args.resume} --out {out} --overwrite starts epoch {trained + 1} again"
    else:
        then = ("no epoch had finished, so there is no checkpoint: run again to start over"
                + (" (with --overwrite for this --out)" if args.out else ""))
    print(f"\nfastnn: interrupted in epoch {stop.epoch + 1} (after batch {stop.batch}); "
          f"saved the model trained so far to {path} (marked interrupted; {then})",
          file=sys.stderr)
    return 130


def _save_after_write_error(error: OSError, training: _Training, callbacks: list, out: Path,
                            name: str, metadata: dict) -> int:
    """A per-epoch write (checkpoint, history, best) failed: the files already there are
    whole (writes are atomic), and the model trained so far is saved like a finished one
    (in the run folder, else in the temporary folder), marked interrupted."""
    trainer = next((cb.trainer for cb in callbacks if cb.trainer is not None), None)
    done = trainer.completed_epochs if trainer is not None else 0
    path = _save_trained(training.model, out / f"{name}.npz",
                         metadata | {"interrupted": True, "epochs_trained": done})
    print(f"fastnn: error: {error} (after epoch {done}); the files already in {out} are "
          f"intact (--resume {out} carries on from its checkpoint.npz, if any); saved the "
          f"model trained so far to {path} (marked interrupted)", file=sys.stderr)
    return 1


def _evaluate(args: argparse.Namespace, loaded: data.Splits, training: _Training,
              history: dict, wall: float, first_batch: float) -> dict:
    """The trained model on the test split: prints recall per class and the accuracy; returns
    the run's summary (report.json)."""
    (x_test, y_test), names = loaded.test, loaded.class_names
    result = metrics.classification_report(y_test, training.model.predict_labels(x_test), names)
    recall = [c["recall"] for c in result["classes"]]
    label = "digit" if args.dataset == "mnist" else "class"
    print(f"per-{label} recall: " + "  ".join(f"{n}: {r:.1%}" for n, r in zip(names, recall)))
    print(f"test accuracy {result['accuracy']:.2%}; training wall time {wall:.1f}s")
    return {
        "test_accuracy": result["accuracy"], "per_class_recall": recall,
        "wall_seconds": wall, "first_batch_after_start_seconds": first_batch,
        "history": history, "backend": args.backend, "optimizer": training.optimizer.config(),
        "schedule": args.schedule, "batch_size": training.batch_size, "epochs": args.epochs,
        "augment": training.augment.config() if training.augment else None,
        "seed": args.seed, "report": result,
    }


def _save_run(model: Sequential, out: Path, name: str, metadata: dict, summary: dict) -> None:
    """The trained model (with the summary in its metadata) and report.json."""
    path = _save_trained(model, out / f"{name}.npz", metadata | {"summary": summary})
    atomic_write_text(out / "report.json", json.dumps(summary, indent=2))
    print(f"saved {path} and {out / 'report.json'} (checkpoint.npz resumes the run, "
          f"history.csv has the epochs)")


def _plot(args: argparse.Namespace, history: dict, result: dict, names: list[str],
          metadata: dict) -> None:
    """curves.png, recall.png and confusion.png in --plots."""
    title = data.data_name(metadata)
    curves = plots.training_curves(history, Path(args.plots) / "curves.png",
                                   f"{args.model} training", title)
    for p in (curves, *result_plots(result, names, args.plots, title)):
        print(f"wrote {p}")


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
