"""The training loop: batches, the optimizer step, metrics, validation and callbacks.

:func:`fit` is :meth:`fastnn.Sequential.fit` (the class takes it as its method): its signature
is the one place fit's options and their defaults are written. It turns them into the parts of
a run (the batches, the validation data, the callbacks) and hands those to a :class:`Trainer`,
which runs the epochs; a :class:`DivergenceGuard` keeps the weights finite.

Data is either arrays ``(x, y)`` (shuffled per epoch) or an iterable of ``(x, y)`` batches
that is iterated once per epoch (a list, a loader object whose ``__iter__`` starts over, or a
function returning a fresh iterator), so data larger than memory can stream from disk.

Each epoch draws its shuffle and dropout from ``default_rng([seed, epoch])``, so a run resumed
at ``initial_epoch`` from a checkpoint gives the same weights as one that never stopped. The
checkpoint records the settings that decide this (:attr:`Trainer.options`: seed, epochs, batch
size, shuffle), and ``fit(resume=)`` refuses others (:meth:`fastnn.Checkpoint.check`). One fit
at a time trains a model: a second, from another thread, is refused.
"""

from __future__ import annotations

import math
import numbers
import signal
import threading
import time
import warnings
from collections.abc import Callable, Sequence

import numpy as np

from . import inputs
from . import losses as losses_mod
from . import metrics as metrics_mod
from . import optim as optim_mod
from .callback_base import Callback
from .callbacks import ProgressBar
from .layers import BatchNorm1D, _BatchNorm
from .optim import SGD, Adam, Optimizer
from .progress import _in_notebook, stderr_is_terminal
from .schedules import ProgressSchedule, Schedule

Transform = Callable[[np.ndarray, np.ndarray, np.random.Generator],
                     tuple[np.ndarray, np.ndarray]]
"""A per-batch transform (augmentation): (x, y, rng) -> (x, y), applied to training batches."""


class History(dict):
    """What ``fit`` returns: the per-epoch metrics by name (a dict of lists), also as
    ``.history`` (Keras's ``H.history["loss"]``)."""

    @property
    def history(self) -> History:
        return self


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped training after a finished batch; the model holds the weights trained so
    far. ``epoch`` (0-based) and ``batch`` say where, ``completed_epochs`` how many epochs are
    done, ``history`` has their metrics."""

    def __init__(self, epoch: int, batch: int, completed_epochs: int, history: dict) -> None:
        super().__init__(f"training interrupted at epoch {epoch + 1}, batch {batch}")
        self.epoch, self.batch, self.history = epoch, batch, history
        self.completed_epochs = completed_epochs


class ArrayBatches:
    """Minibatches of in-memory arrays, shuffled by the epoch's generator."""

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int, shuffle: bool,
                 drop_last: bool = False) -> None:
        self.x, self.y, self.batch_size, self.shuffle = x, y, batch_size, shuffle
        self.samples = x.shape[0]
        self.steps = -(-self.samples // batch_size)
        self.end = self.samples  # with drop_last, where the last full batch ends
        if drop_last and self.samples > batch_size:
            self.steps = self.samples // batch_size
            self.end = self.steps * batch_size

    def batches(self, rng: np.random.Generator):
        order = rng.permutation(self.samples) if self.shuffle else None
        for i in range(0, self.end, self.batch_size):
            if order is None:
                yield self.x[i : i + self.batch_size], self.y[i : i + self.batch_size]
            else:
                idx = order[i : i + self.batch_size]
                yield self.x[idx], self.y[idx]


class StreamBatches:
    """Batches from an iterable of (x, y) pairs; each batch is checked as it arrives."""

    def __init__(self, model, source, name: str, steps: int | None) -> None:
        self.model, self.source, self.name = model, source, name
        if steps is None and hasattr(source, "__len__"):
            steps = len(source)
        self.steps, self.samples, self.used = steps, None, False

    def batches(self, rng: np.random.Generator):
        it = self.source() if callable(self.source) else iter(self.source)
        if it is self.source and self.used:
            raise ValueError(f"{self.name} is a one-shot iterator, already used up by an "
                             f"earlier epoch; pass a list, a loader whose __iter__ starts over, "
                             f"or a function that returns a fresh iterator")
        self.used = True
        count = 0
        for count, item in enumerate(it, 1):
            if not (isinstance(item, tuple | list) and len(item) == 2):
                raise ValueError(f"{self.name}: batch {count} is {type(item).__name__}, not an "
                                 f"(x, y) pair")
            x = self.model._input(item[0], f"{self.name} batch {count} x")
            y = self.model._labels(item[1], x)
            yield x, y
        if count == 0:
            raise ValueError(f"{self.name} gave no batches")


def _split(x: np.ndarray, y: np.ndarray, fraction: float):
    """The last ``fraction`` of (x, y) for validation, as Keras does (before shuffling)."""
    if not (isinstance(fraction, numbers.Real) and 0 <= fraction < 1):
        raise ValueError(f"validation_split must be a fraction in [0, 1), got {fraction!r}")
    n_val = int(round(x.shape[0] * fraction))
    if fraction and not 0 < n_val < x.shape[0]:
        raise ValueError(f"validation_split={fraction} of {x.shape[0]} samples leaves "
                         f"{n_val} for validation and {x.shape[0] - n_val} for training")
    cut = x.shape[0] - n_val
    return (x[:cut], y[:cut]), ((x[cut:], y[cut:]) if n_val else None)


def fit(model, x, y=None, loss: str | losses_mod.Loss | None = None,
        optimizer: Optimizer | str | None = None, epochs: int = 1, batch_size: int = 32,
        validation_data=None, seed: int = 0, progress: bool | None = None,
        schedule: Schedule | None = None, shuffle: bool = True,
        on_epoch_end: Callable[[int, dict], None] | None = None, *,
        callbacks: Sequence | None = None, validation_split: float = 0.0,
        initial_epoch: int = 0, steps_per_epoch: int | None = None,
        resume=None, augment=None, metrics: Sequence | None = None,
        verbose: int | str = "auto", drop_last: bool = False) -> dict[str, list]:
    """Minibatch training (the loop is :class:`Trainer`, below). Returns the history:
    per-epoch ``loss``, ``accuracy`` (running means over the epoch's batches),
    ``val_loss``, ``val_accuracy``, ``lr``, ``seconds``, and ``first_batch_seconds``.

    ``x, y`` are arrays (N, ...) and (N,), or ``x`` is an iterable of (x, y) batches and
    ``y`` is None. ``validation_split`` holds out the last fraction of the arrays.
    ``callbacks`` are :mod:`fastnn.callbacks`; ``schedule`` is one of them or a function
    of progress in [0, 1]. ``progress``: None draws a bar when stderr is a terminal.
    ``resume=fn.load_checkpoint(path)`` carries on a run from its checkpoint (or give
    ``initial_epoch``; epochs counts the total). ``augment`` (an :class:`fastnn.Augment`)
    warps each training batch with the epoch's generator. ``seed`` fixes shuffling,
    dropout and augmentation, so a seeded run is reproducible. ``drop_last`` skips each
    epoch's last batch when it is smaller than ``batch_size`` (batch norm's statistics from a
    few samples are skewed: with batch norm, a last batch under a quarter of ``batch_size`` is
    a warning, and a batch of one sample for BatchNorm1D an error).

    Keras's habits: ``optimizer="adam"`` or ``"sgd"`` (default settings), Keras's loss names
    (one-hot labels (N, K) are taken), ``metrics=["top_k"]`` (more columns in the history, see
    :mod:`fastnn.metrics`; accuracy is always there); what ``model.compile`` set is the
    default. ``verbose``: 0 silent, 1 the progress bar, 2 one line per epoch (on stdout),
    "auto" the bar on a terminal and lines elsewhere (``progress=True/False`` is 1/0).
    """
    if loss is not None:
        model.loss = losses_mod.get(loss)
    if model.output_softmax and not isinstance(model.loss, losses_mod.SoftmaxCrossEntropy):
        raise ValueError(f"the model ends in a softmax, which only the cross-entropy loss "
                         f"applies (on the logits); with loss {model.loss.name!r} leave the "
                         f"softmax out")
    if optimizer is None:
        optimizer = model.optimizer
    if optimizer is not None:
        optimizer = optim_mod.get(optimizer)
    if optimizer is None and resume is None:
        optimizer = Adam()
    extra = metrics_mod.get_all(metrics) if metrics is not None else list(model.metrics)
    callbacks = list(callbacks or [])
    if schedule is not None:
        callbacks.append(schedule if isinstance(schedule, Callback)
                         else ProgressSchedule(schedule))
    if on_epoch_end is not None:
        callbacks.append(_HistoryHook(on_epoch_end))
    verbose = _verbose(verbose, progress)
    if verbose and not any(isinstance(cb, ProgressBar) for cb in callbacks):
        callbacks.insert(0, ProgressBar(force=verbose == 1, lines=verbose == 2))
    if resume is not None:
        if resume.model is not model:
            raise ValueError("resume: train the checkpoint's own model, "
                             "ckpt.model.fit(..., resume=ckpt)")
        optimizer = optimizer or resume.optimizer
        initial_epoch = initial_epoch or resume.epoch
    if optimizer is None:
        raise ValueError("fit needs an optimizer (or resume=checkpoint)")
    total = inputs.integer("epochs", epochs, 0)
    start = inputs.integer("initial_epoch", initial_epoch, 0)
    if start > total:
        raise ValueError(f"initial_epoch {initial_epoch} is past epochs {epochs}: epochs is "
                         f"the total, counting the epochs already trained")
    data, validation = _batches(model, x, y, batch_size, shuffle, validation_data,
                                validation_split, steps_per_epoch, drop_last)
    if isinstance(data, ArrayBatches):  # saved with the model, for predict's warnings
        model.input_stats = inputs.statistics(data.x)
    transform = None if augment is None else lambda xb, yb, rng: (augment(xb, rng), yb)
    trainer = Trainer(model, optimizer, data, validation, callbacks, epochs=total,
                      initial_epoch=start, seed=seed, transform=transform,
                      history=resume.history if resume is not None else None, metrics=extra)
    if resume is not None:
        resume.check(trainer)
        resume.restore(trainer.callbacks)
    return trainer.run()


def _verbose(verbose: int | str, progress: bool | None) -> int:
    """Keras's verbose as 0, 1 or 2: "auto" is the bar on a terminal (or in a notebook) and
    one line per epoch elsewhere; ``progress`` True or False (fastnn's older switch) wins."""
    if progress is not None:
        return 1 if progress else 0
    if verbose == "auto":
        return 1 if stderr_is_terminal() or _in_notebook() else 2
    if isinstance(verbose, bool) or verbose not in (0, 1, 2):
        raise ValueError(f'verbose must be 0 (silent), 1 (progress bar), 2 (one line per '
                         f'epoch) or "auto", got {verbose!r}')
    return int(verbose)


def _batches(model, x, y, batch_size, shuffle, validation_data, validation_split,
             steps_per_epoch, drop_last=False):
    """fit's data as (training batches, validation): the batches an :class:`ArrayBatches` or a
    :class:`StreamBatches`, the validation arrays ``(x, y)``, a StreamBatches or None; every
    part checked."""
    if steps_per_epoch is not None:
        steps_per_epoch = inputs.integer("steps_per_epoch", steps_per_epoch)
    if y is None:
        if isinstance(x, np.ndarray):
            raise ValueError("fit(x) without y needs x to be an iterable of (x, y) batches")
        if validation_split:
            raise ValueError("validation_split needs arrays; with batches from an iterable "
                             "pass validation_data")
        data = StreamBatches(model, x, "the training batches", steps_per_epoch)
    else:
        batch_size = inputs.integer("batch_size", batch_size)
        x = model._input(x)
        inputs.not_empty(x, "fit")
        y = model._labels(y, x)
        (x, y), split = _split(x, y, validation_split)
        if split is not None:
            if validation_data is not None:
                raise ValueError("give validation_data or validation_split, not both")
            validation_data = split
        data = ArrayBatches(x, y, batch_size, shuffle, bool(drop_last))
        _check_batch_norm_batches(model, data)
    validation = None
    if validation_data is not None:
        if isinstance(validation_data, tuple) and len(validation_data) == 2:
            xv = model._input(validation_data[0], "validation x")
            inputs.not_empty(xv, "validation")
            validation = (xv, model._labels(validation_data[1], xv))
        else:
            validation = StreamBatches(model, validation_data, "validation_data", None)
    return data, validation


def _check_batch_norm_batches(model, data: ArrayBatches) -> None:
    """Batch norm on batches too small for its statistics: a batch of one sample for
    BatchNorm1D (a variance of 0: PyTorch refuses it too) is an error, a last batch under a
    quarter of the batch size a warning; both name drop_last."""
    norms = [type(layer).__name__ for layer in model.layers if isinstance(layer, _BatchNorm)]
    if not norms:
        return
    last = data.end - (data.steps - 1) * data.batch_size
    smallest = min(last, data.batch_size)
    if smallest == 1 and any(isinstance(layer, BatchNorm1D) for layer in model.layers):
        where = "each batch" if data.batch_size == 1 else "the last batch of each epoch"
        raise ValueError(f"{where} holds 1 sample, and BatchNorm1D cannot train on one (its "
                         f"variance is 0): use a batch_size of 2 or more"
                         f"{'' if data.batch_size == 1 else ', or drop_last=True'}")
    if last < data.batch_size / 4:
        warnings.warn(f"the last batch of each epoch holds {last} of batch_size "
                      f"{data.batch_size} samples: {norms[0]}'s running statistics from so few "
                      f"are skewed; fit(..., drop_last=True) skips it", stacklevel=4)


class _HistoryHook(Callback):
    """The old ``fit(on_epoch_end=fn)``: ``fn(epoch, history)`` after each epoch."""

    def __init__(self, fn) -> None:
        self.fn = fn

    def on_epoch_end(self, epoch, logs):
        self.fn(epoch, self.trainer.history)


class Trainer:
    """Runs ``model`` on ``data`` (:class:`ArrayBatches` or :class:`StreamBatches`) with
    ``optimizer`` and ``callbacks``, from epoch ``initial_epoch`` up to ``epochs``; it is the
    callbacks' ``trainer``. :func:`fit` makes one from its options.

    ``validation`` is arrays ``(x, y)``, a StreamBatches or None. ``transform`` (optional) maps
    each training batch ``(x, y, rng) -> (x, y)`` before the step, with the epoch's generator
    (the place for augmentation). ``history`` holds a resumed run's metrics (those of the
    epochs before ``initial_epoch`` are kept).
    """

    def __init__(self, model, optimizer: Optimizer, data: ArrayBatches | StreamBatches,
                 validation, callbacks: Sequence[Callback], *, epochs: int,
                 initial_epoch: int = 0, seed: int = 0, transform: Transform | None = None,
                 history: dict | None = None, metrics: Sequence = ()) -> None:
        self.model, self.optimizer, self.transform = model, optimizer, transform
        self.data, self.validation = data, validation
        self.epochs, self.initial_epoch, self.seed = epochs, initial_epoch, seed
        self.steps, self.samples = self.data.steps, self.data.samples
        self.metrics = list(metrics)  # besides accuracy (fastnn.metrics.Metric objects)
        scores = ["loss", "accuracy", *(m.name for m in self.metrics)]
        self.metric_names = scores + ["lr", "seconds"]
        if self.validation is not None:
            self.metric_names[len(scores):len(scores)] = [f"val_{k}" for k in scores]
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be fastnn.callbacks.Callback objects, got "
                                f"{type(cb).__name__}")
        past = history or {}
        self.history: dict[str, list] = History(
            {k: list(past.get(k, []))[: self.initial_epoch] for k in self.metric_names})
        self.epoch = self.completed_epochs = self.initial_epoch
        self.batch = 0
        self.stop_training = False
        self.interrupted = False
        self._sigint = False
        self.guard = DivergenceGuard(model, optimizer)
        self.options = {"seed": int(seed) if isinstance(seed, numbers.Integral) else None,
                        "epochs": int(epochs),
                        "batch_size": getattr(data, "batch_size", None),
                        "shuffle": getattr(data, "shuffle", None)}
        """What decides the run's numbers, recorded in its checkpoints; a resume must match."""

    # --- hooks ---------------------------------------------------------------------------------

    def _call(self, hook: str, *args) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(*args)

    # --- the loop ------------------------------------------------------------------------------

    def run(self) -> dict[str, list]:
        """Trains; returns the history (one entry per metric and epoch, plus
        ``first_batch_seconds``: the run's start to its first finished step)."""
        if not self.model.fitting.acquire(blocking=False):
            raise RuntimeError("this model is being trained by another fit (in another "
                               "thread); two at once would interleave their steps: wait for "
                               "it, or train a copy")
        try:
            return self._run()
        finally:
            self.model.fitting.release()

    def _run(self) -> dict[str, list]:
        for cb in self.callbacks:
            cb.set_trainer(self)
        self._call("on_train_begin", {})
        self._start = time.perf_counter()
        previous = self._catch_sigint()
        try:
            for epoch in range(self.initial_epoch, self.epochs):
                self.epoch = epoch
                logs = self._epoch(epoch)
                if logs is None:  # Ctrl-C in the middle of the epoch
                    break
                self.completed_epochs = epoch + 1
                for k in self.metric_names:
                    self.history[k].append(logs[k])
                self._call("on_epoch_end", epoch, logs)
                if self.stop_training or self._sigint:
                    break
        except KeyboardInterrupt:  # Ctrl-C where the handler is not ours (another thread)
            self._sigint = True
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
            self.optimizer.scale = 1.0
        self.interrupted = self._sigint
        self._call("on_train_end", {"interrupted": self.interrupted})
        if self.interrupted:
            raise TrainingInterrupted(self.epoch, self.batch, self.completed_epochs,
                                      self.history)
        return self.history

    def _catch_sigint(self):
        """Ctrl-C asks the loop to stop after the current batch; a second one stops at once."""
        if threading.current_thread() is not threading.main_thread():
            return None
        if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
            return None  # someone else handles it

        def stop(signum, frame):
            if self._sigint:
                raise KeyboardInterrupt
            self._sigint = True

        return signal.signal(signal.SIGINT, stop)

    def _epoch(self, epoch: int) -> dict | None:
        """One epoch's metrics, or None if Ctrl-C stopped it before its last batch."""
        model, optimizer = self.model, self.optimizer
        t0 = time.perf_counter()
        rng = np.random.default_rng([self.seed, epoch])
        for layer in model.layers:
            if hasattr(layer, "rng"):
                layer.rng = rng
        self._call("on_epoch_begin", epoch, {})
        self.guard.start_epoch()
        seen = total_loss = correct = 0.0
        counts = dict.fromkeys((m.name for m in self.metrics), 0.0)
        self.batch, broke = 0, False
        for batch, (xb, yb) in enumerate(self.data.batches(rng)):
            if self.transform is not None:
                xb, yb = self.transform(xb, yb, rng)
            optimizer.scale = 1.0
            self._call("on_batch_begin", batch, {"size": len(xb)})
            with model.lock:  # predict from another thread waits for the step to end
                self.guard.start_batch(xb)
                loss, logits = model.loss_and_grads(xb, yb)
                params = model.parameters()
                self.guard.before_step(loss, [g for _, _, g in params], epoch + 1, batch + 1,
                                       optimizer.current_lr)
                optimizer.step(params)
                self.guard.after_step(epoch + 1, batch + 1, optimizer.current_lr)
            if "first_batch_seconds" not in self.history:  # the JIT compile shows up here
                self.history["first_batch_seconds"] = time.perf_counter() - self._start
            seen += len(yb)
            total_loss += loss * len(yb)
            predicted = model.loss.labels(logits)
            correct += float(np.sum(predicted == yb))
            for m in self.metrics:
                counts[m.name] += m.count(logits, yb, predicted)
            self.batch = batch + 1
            self._call("on_batch_end", batch, {"loss": total_loss / seen, "size": len(yb)})
            if self._sigint or self.stop_training:
                broke = True
                break
        if self._sigint and broke and self.batch != self.steps:
            return None
        if self.samples is None and not self._sigint:
            self.samples = int(seen)  # a stream's size, known after its first epoch
        if self.steps is None and not self._sigint:
            self.steps = self.batch
        logs = {"loss": total_loss / max(seen, 1), "accuracy": correct / max(seen, 1),
                "lr": optimizer.current_lr} | {k: v / max(seen, 1) for k, v in counts.items()}
        if self.validation is not None:
            logs |= {f"val_{k}": v for k, v in self._validate().items()}
        logs["seconds"] = time.perf_counter() - t0
        return {k: logs[k] for k in self.metric_names}

    def _validate(self) -> dict[str, float]:
        """loss, accuracy and the metrics on the validation data (checked already)."""
        if isinstance(self.validation, tuple):
            return self.model._scores(*self.validation, self.metrics)
        totals, n = {}, 0
        for xb, yb in self.validation.batches(None):
            for k, v in self.model._scores(xb, yb, self.metrics).items():
                totals[k] = totals.get(k, 0.0) + v * len(yb)
            n += len(yb)
        return {k: v / n for k, v in totals.items()}


# --- the divergence guard ------------------------------------------------------------------------


def all_finite(arrays: list[np.ndarray]) -> bool:
    """Whether every array is free of NaN and inf (one sum each: NaN and inf propagate)."""
    with np.errstate(all="ignore"):
        return all(np.isfinite(np.sum(a)) for a in arrays)


LOSS_GROWTH = 1e4
"""A finite loss above this many times the first batch's (or 1, if that was smaller) is
divergence."""
WEIGHT_LIMIT = 1e8
"""A weight beyond this (or 1e4 times the largest at the start, if that is more) is
divergence, though still finite."""


class DivergenceGuard:
    """Keeps a model's weights finite and sane through training. Before each step it checks the
    loss and the gradients: a step with non-finite ones, or a loss grown :data:`LOSS_GROWTH`
    times past the first batch's, is never taken, and the batch-norm running statistics that
    its forward pass moved go back, so the model keeps the last step's state. After each step
    it checks the weights, which an overflowing update can turn infinite or huge (past
    :data:`WEIGHT_LIMIT`): then they go back to those of the epoch's start, copied once per
    epoch. The error says what was seen (the loss, the weights, the inputs' scale, the
    optimizer's settings) and what to change."""

    def __init__(self, model, optimizer: Optimizer | None = None) -> None:
        self.params = [p for _, p, _ in model.parameters()]
        self.buffers = [b for layer in model.layers for b in layer.buffers.values()]
        self.optimizer = optimizer
        self.epoch_params: list[np.ndarray] = []
        self.epoch_buffers: list[np.ndarray] = []
        self.batch_buffers: list[np.ndarray] = []
        self.first_loss: float | None = None
        self.x: np.ndarray | None = None  # this batch's inputs, for the error's "inputs up to"
        self.weight_limit = max(WEIGHT_LIMIT, 1e4 * _largest(self.params))

    def start_epoch(self) -> None:
        self.epoch_params = [p.copy() for p in self.params]
        self.epoch_buffers = [b.copy() for b in self.buffers]

    def start_batch(self, x: np.ndarray | None = None) -> None:
        self.batch_buffers = [b.copy() for b in self.buffers]  # a few KB of statistics
        self.x = x

    def before_step(self, loss: float, grads: list[np.ndarray], epoch: int, batch: int,
                    lr: float) -> None:
        finite = bool(np.isfinite(loss))
        if finite and self.first_loss is None:
            self.first_loss = float(loss)
        grown = finite and loss > LOSS_GROWTH * max(self.first_loss, 1.0)
        if finite and not grown and all_finite(grads):
            return
        _restore(self.buffers, self.batch_buffers)
        what = (f"loss became {loss}" if not finite else
                f"the loss grew to {loss:.3g}" if grown else "a gradient became non-finite")
        raise self.diverged(what, epoch, batch, lr, "the weights from before this batch")

    def after_step(self, epoch: int, batch: int, lr: float) -> None:
        largest = _largest(self.params)  # NaN or inf if any weight is (one pass)
        if math.isfinite(largest) and all_finite(self.buffers):
            if largest <= self.weight_limit:
                return
            what = f"the weights grew to {largest:.3g}"
        else:
            what = "the weights overflowed"
        _restore(self.params, self.epoch_params)
        _restore(self.buffers, self.epoch_buffers)
        raise self.diverged(what, epoch, batch, lr,
                            f"the weights it had at the start of epoch {epoch}")

    def diverged(self, what: str, epoch: int, batch: int, lr: float,
                 kept: str) -> FloatingPointError:
        """The error: what happened, what was seen, and the advice that fits it."""
        seen = []
        if self.first_loss is not None:
            seen.append(f"first loss {self.first_loss:.3g}")
        x_peak = _largest([self.x]) if self.x is not None else 0.0
        seen.append(f"inputs up to {x_peak:.3g}")
        advice = []
        if x_peak > 1e3:
            advice.append("scale the inputs to about [0, 1] (x / 255, or standardize them)")
        opt = self.optimizer
        if isinstance(opt, SGD):
            seen.append(f"SGD lr {lr:g}, momentum {opt.momentum:g}")
            if opt.momentum >= 0.99:
                advice.append(f"lower the momentum ({opt.momentum:g}: 0.9 is usual)")
        elif isinstance(opt, Adam):
            b1, b2 = opt.betas
            seen.append(f"Adam lr {lr:g}, betas ({b1:g}, {b2:g}), eps {opt.eps:g}, step {opt.t}")
            if b2 < b1 or opt.eps < 1e-12:
                advice.append("use Adam's usual betas (0.9, 0.999) and eps (1e-8)")
        else:
            seen.append(f"lr {lr:g}")
        if not advice or lr > (1e-2 if isinstance(opt, Adam) else 1.0):
            advice.append(f"try a smaller learning rate (now {lr:g})")
        return FloatingPointError(f"{what} at epoch {epoch}, batch {batch}: training diverged "
                                  f"({'; '.join(seen)}): {'; '.join(advice)}. The model keeps "
                                  f"{kept}.")


def _largest(arrays: list[np.ndarray]) -> float:
    """The largest magnitude in the arrays (0 for none); NaN if any value is NaN."""
    largest = 0.0
    for a in arrays:
        if a.size:
            m = float(max(a.max(), -a.min()))  # NumPy's max and min propagate NaN
            if m != m:
                return m
            largest = max(largest, m)
    return largest


def _restore(arrays: list[np.ndarray], saved: list[np.ndarray]) -> None:
    for a, b in zip(arrays, saved):
        a[...] = b
