"""EarlyStopping follows Keras's rule: checked against a transcription of Keras 3's
``keras/src/callbacks/early_stopping.py`` on fixed sequences of the monitored value."""

import math
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import blobs

import fastnn as fn
from fastnn import callbacks as cb


def keras_early_stopping(values, patience=0, min_delta=0.0, mode="min", baseline=None,
                         restore_best_weights=False, start_from_epoch=0):
    """Keras 3's EarlyStopping, transcribed (``ops.less``/``greater`` as ``<``/``>``): returns
    (epochs run, stopped_epoch or None, the epoch whose weights are restored or None)."""
    less = mode == "min"
    min_delta = abs(min_delta) * (-1 if less else 1)
    best = math.inf if less else -math.inf

    def is_improvement(value, reference):
        return (value - min_delta < reference) if less else (value - min_delta > reference)

    wait, stopped_epoch, best_weights, best_epoch = 0, 0, None, 0
    epochs_run = 0
    for epoch, current in enumerate(values):
        epochs_run = epoch + 1
        if current is None or epoch < start_from_epoch:
            continue
        if restore_best_weights and best_weights is None:
            best_weights, best_epoch = epoch, epoch
        wait += 1
        if is_improvement(current, best):
            best, best_epoch = current, epoch
            if restore_best_weights:
                best_weights = epoch
            if baseline is None or is_improvement(current, baseline):
                wait = 0
            continue
        if wait >= patience and epoch > 0:
            stopped_epoch = epoch
            break
    restored = best_epoch if restore_best_weights and best_weights is not None else None
    return epochs_run, (stopped_epoch or None), restored


class _Layer:
    def __init__(self):
        self.params, self.buffers = {"w": np.zeros(1)}, {}


def run_fastnn(values, **options):
    """Drives fastnn's EarlyStopping epoch by epoch, the weights set to the epoch number, as
    the training loop would; returns what :func:`keras_early_stopping` returns."""
    layer = _Layer()
    trainer = SimpleNamespace(model=SimpleNamespace(layers=[layer]), metric_names=["val_loss"],
                              initial_epoch=0, stop_training=False, completed_epochs=0)
    stop = cb.EarlyStopping("val_loss", verbose=0, **options)
    stop.set_trainer(trainer)
    stop.on_train_begin({})
    for epoch, value in enumerate(values):
        layer.params["w"][...] = epoch
        trainer.completed_epochs = epoch + 1
        stop.on_epoch_end(epoch, {} if value is None else {"val_loss": value})
        if trainer.stop_training:
            break
    stop.on_train_end({})
    restored = int(layer.params["w"][0]) if stop.restore_best else None
    return trainer.completed_epochs, stop.stopped_epoch, restored


PLATEAU = [1.0, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8]
CASES = [
    ([1.0, 0.9, 0.8, 0.7, 0.6], dict(patience=0)),                      # never stops
    ([1.0, 1.1, 1.2, 0.5], dict(patience=0)),                           # stops at once
    ([1.0, 1.1, 1.2, 0.5, 0.4], dict(patience=2)),                      # stops at patience
    ([1.0, 1.1, 0.9, 1.2, 1.3, 0.1], dict(patience=2)),                 # the wait restarts
    (PLATEAU, dict(patience=3)),                                        # a plateau is no gain
    ([1.0, 0.99, 0.98, 0.97, 0.96, 0.95], dict(patience=2, min_delta=0.015)),
    ([1.0, 0.98, 0.96, 0.959, 0.958, 0.957], dict(patience=1, min_delta=0.015)),
    ([0.5, 0.6, 0.55, 0.7, 0.65, 0.64], dict(patience=1, mode="max")),  # accuracies
    ([0.5, 0.6, 0.55, 0.7, 0.65, 0.64], dict(patience=2, mode="max", min_delta=0.06)),
    ([1.0, 0.5, 0.7, 0.8, 0.9, 0.2], dict(patience=2, restore_best_weights=True)),
    ([1.0, 0.5, 0.4, 0.3], dict(patience=2, restore_best_weights=True)),  # the last is best
    ([0.3, 0.5, 0.7, 0.8, 0.9, 0.2], dict(patience=1, restore_best=True)),
    ([5.0, 4.0, 6.0, 3.0, 7.0, 8.0, 9.0], dict(patience=1, start_from_epoch=2)),
    ([5.0, 4.0, 3.0, 2.0, 2.5, 2.4], dict(patience=2, baseline=2.2)),   # baseline not beaten
    ([5.0, 2.0, 1.9, 2.5, 2.4], dict(patience=1, baseline=2.2, restore_best=True)),
    ([1.0, float("nan"), 1.2, 0.9], dict(patience=2)),                  # NaN is no gain
    ([1.0, None, 1.1, 1.2], dict(patience=1)),                          # a missing value
]


@pytest.mark.parametrize("values, options", CASES)
def test_early_stopping_is_keras_rule(values, options):
    keras_options = dict(options)
    if "restore_best" in keras_options:
        keras_options["restore_best_weights"] = keras_options.pop("restore_best")
    assert run_fastnn(values, **options) == keras_early_stopping(values, **keras_options)


def test_the_transcription_itself_matches_keras_documented_behaviour():
    # Keras's docstring: patience=3 on a loss that never improves stops after 4 epochs
    assert keras_early_stopping([1.0] * 10, patience=3)[0] == 4
    assert run_fastnn([1.0] * 10, patience=3)[0] == 4


def test_fit_stops_as_keras_would_and_says_so(capsys):
    """A real run: its val_loss sequence, fed to the transcription, stops at the same epoch,
    and one line says when it stopped and which weights it restored."""
    x, y = blobs(96)
    model = fn.Sequential([fn.Dense(4, 16), fn.ReLU(), fn.Dense(16, 3)], seed=1)
    stop = cb.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    history = model.fit(x[:64], y[:64], optimizer=fn.SGD(1.5), epochs=40, batch_size=8,
                        validation_data=(x[64:], y[64:]), callbacks=[stop], verbose=0)
    epochs, stopped, restored = keras_early_stopping(history["val_loss"] + [math.inf] * 40,
                                                     patience=2, restore_best_weights=True)
    assert stopped is not None and len(history["loss"]) == epochs == stopped + 1
    assert stop.stopped_epoch == stopped and stop.best_epoch == restored
    out = capsys.readouterr().out
    assert f"early stopping after epoch {stopped + 1}: val_loss has not improved for 2" in out
    assert f"restored the weights of epoch {restored + 1}" in out
    assert model.evaluate(x[64:], y[64:])[0] == pytest.approx(min(history["val_loss"]),
                                                              rel=1e-5)


def test_restore_best_and_restore_best_weights_are_one_option():
    assert cb.EarlyStopping(restore_best_weights=True).restore_best
    assert cb.EarlyStopping(restore_best=True).restore_best_weights
    with pytest.raises(ValueError, match="restore_best or restore_best_weights"):
        cb.EarlyStopping(restore_best=True, restore_best_weights=False)
    with pytest.raises(ValueError, match="start_from_epoch must be an integer >= 0"):
        cb.EarlyStopping(start_from_epoch=-1)
    with pytest.raises(ValueError, match="baseline must be a finite number"):
        cb.EarlyStopping(baseline=float("nan"))
