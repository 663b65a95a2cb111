"""Callbacks: early stopping, checkpoints, history logs, learning-rate schedules, progress bar."""

import csv
import json
import math

import numpy as np
import pytest
from conftest import blobs

import fastnn as fn
from fastnn import callbacks as cb


def mlp(seed=0):
    return fn.Sequential([fn.Dense(4, 16), fn.ReLU(), fn.Dense(16, 3)], seed=seed)


class Recorder(cb.Callback):
    def __init__(self):
        self.events, self.lrs = [], []

    def on_train_begin(self, logs):
        self.events.append("train_begin")

    def on_epoch_begin(self, epoch, logs):
        self.events.append(f"epoch_begin {epoch}")

    def on_batch_end(self, batch, logs):
        self.lrs.append(self.optimizer.current_lr)
        assert logs["loss"] > 0 and logs["size"] > 0

    def on_epoch_end(self, epoch, logs):
        self.events.append(f"epoch_end {epoch}")
        assert set(logs) == set(self.trainer.metric_names)
        assert {"loss", "accuracy", "lr", "seconds"} <= set(logs)

    def on_train_end(self, logs):
        self.events.append("train_end")


def test_hooks_run_in_order_and_lr_follows_the_schedule():
    x, y = blobs(64)
    rec = Recorder()
    mlp().fit(x, y, optimizer=fn.SGD(0.1), epochs=2, batch_size=16, validation_split=0.25,
              callbacks=[rec, cb.StepDecay(every=1, gamma=0.5)], progress=False)
    assert rec.events == ["train_begin", "epoch_begin 0", "epoch_end 0", "epoch_begin 1",
                          "epoch_end 1", "train_end"]
    assert rec.lrs == [0.1] * 3 + [0.05] * 3  # 48 training samples, batch 16


def test_old_cosine_schedule_still_works_and_is_a_callback():
    schedule = fn.cosine(warmup=0.5)
    assert isinstance(schedule, cb.CosineDecay)
    assert schedule(0.0) == pytest.approx(1e-3 / 0.5) and schedule(1.0) == pytest.approx(0.0)
    x, y = blobs(64)
    rec = Recorder()
    history = mlp().fit(x, y, optimizer=fn.Adam(1e-2), epochs=2, batch_size=16,
                        schedule=schedule, callbacks=[rec], progress=False)
    assert rec.lrs[0] < rec.lrs[3] and rec.lrs[-1] < rec.lrs[3]  # up, then down
    assert history["lr"][-1] == pytest.approx(rec.lrs[-1])


@pytest.mark.parametrize("schedule,expected", [
    (cb.ExponentialDecay(0.5), [1, 1, 0.5, 0.5, 0.25, 0.25]),
    (cb.StepDecay(2, 0.1), [1, 1, 1, 1, 0.1, 0.1]),
])
def test_epoch_schedules(schedule, expected):
    x, y = blobs(32)
    rec = Recorder()
    mlp().fit(x, y, optimizer=fn.SGD(1.0), epochs=3, batch_size=16,
              callbacks=[rec, schedule], progress=False)
    np.testing.assert_allclose(rec.lrs, expected)


def test_one_cycle_rises_then_falls_far():
    x, y = blobs(160)
    rec = Recorder()
    mlp().fit(x, y, optimizer=fn.SGD(0.1), epochs=2, batch_size=16,
              callbacks=[rec, cb.OneCycle(warmup=0.3)], progress=False)
    peak = int(np.argmax(rec.lrs))
    assert rec.lrs[0] == pytest.approx(0.1 / 25) and 4 <= peak <= 7
    assert rec.lrs[peak] == pytest.approx(0.1, rel=0.05) and rec.lrs[-1] < 0.1 / 25


def test_reduce_on_plateau_cuts_the_rate_and_combines_with_other_schedules():
    x, y = blobs(32)
    rec = Recorder()
    plateau = cb.ReduceLROnPlateau("loss", factor=0.5, patience=0, min_delta=10.0)
    mlp().fit(x, y, optimizer=fn.SGD(0.1), epochs=3, batch_size=32,
              callbacks=[rec, plateau, cb.StepDecay(1, 0.1)], progress=False)
    # never "improves" by 10: halved from epoch 3 on; StepDecay multiplies in
    np.testing.assert_allclose(rec.lrs, [0.1, 0.1 * 0.1, 0.1 * 0.5 * 0.01])


def test_early_stopping_stops_and_restores_the_best_weights():
    x, y = blobs(64)
    model = mlp()
    snapshots = []

    class Snap(cb.Callback):
        def on_epoch_end(self, epoch, logs):
            snapshots.append(model.layers[0].params["w"].copy())

    stop = cb.EarlyStopping("loss", patience=1, restore_best=True, min_delta=1e9)
    history = model.fit(x, y, optimizer=fn.SGD(0.1), epochs=10, batch_size=16,
                        callbacks=[Snap(), stop], progress=False)
    assert len(history["loss"]) == 2 and stop.stopped_epoch == 1 and stop.best_epoch == 0
    np.testing.assert_array_equal(model.layers[0].params["w"], snapshots[0])


def test_model_checkpoint_best_only_and_every_epoch(tmp_path):
    x, y = blobs(64)
    every = cb.ModelCheckpoint(tmp_path / "every" / "e{epoch:02d}.npz")
    best = cb.ModelCheckpoint(tmp_path / "best.npz", monitor="val_accuracy", save_best_only=True)
    model = mlp()
    history = model.fit(x, y, optimizer=fn.Adam(1e-2), epochs=3, batch_size=16,
                        validation_data=(x, y), callbacks=[every, best], progress=False)
    assert [p.name for p in every.saved] == ["e01.npz", "e02.npz", "e03.npz"]
    ckpt = fn.load_checkpoint(tmp_path / "every" / "e03.npz")
    assert ckpt.epoch == 3 and ckpt.history["loss"] == pytest.approx(history["loss"])
    np.testing.assert_array_equal(ckpt.model.predict(x), model.predict(x))
    assert best.best == max(history["val_accuracy"])
    assert fn.load(tmp_path / "best.npz").predict(x).shape == (64, 3)  # a checkpoint is a model


def test_history_logger_writes_csv_and_json(tmp_path):
    x, y = blobs(64)
    for name in ("h.csv", "h.json"):
        mlp().fit(x, y, optimizer=fn.SGD(0.1), epochs=2, batch_size=16, validation_split=0.25,
                  callbacks=[cb.HistoryLogger(tmp_path / name)], progress=False)
    rows = list(csv.DictReader((tmp_path / "h.csv").open()))
    assert [r["epoch"] for r in rows] == ["1", "2"] and float(rows[1]["val_accuracy"]) >= 0
    data = json.loads((tmp_path / "h.json").read_text())
    assert [r["epoch"] for r in data] == [1, 2] and math.isfinite(data[0]["loss"])


# --- hostile settings ---------------------------------------------------------------------------


@pytest.mark.parametrize("make,match", [
    (lambda: cb.EarlyStopping(patience=-1), "patience must be an integer >= 0, got -1"),
    (lambda: cb.EarlyStopping(patience=1.5), "patience must be an integer"),
    (lambda: cb.EarlyStopping(monitor=3), "monitor must be a metric name"),
    (lambda: cb.EarlyStopping(mode="biggest"), "mode must be"),
    (lambda: cb.ModelCheckpoint("best.h5"), "must end in .npz"),
    (lambda: cb.ModelCheckpoint("m{step}.npz"), r"only \{epoch\}"),
    (lambda: cb.HistoryLogger("h.txt"), ".csv or .json"),
    (lambda: cb.StepDecay(0), "every must be an integer >= 1"),
    (lambda: cb.ReduceLROnPlateau(factor=2), r"factor must be in \(0, 1\)"),
    (lambda: cb.CosineDecay(warmup=1.5), "warmup"),
    (lambda: cb.OneCycle(warmup=0), "warmup"),
    (lambda: cb.LambdaCallback(on_epoch_ends=print), "unknown hook 'on_epoch_ends'"),
])
def test_bad_callback_settings_name_the_problem(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("callback,match", [
    (cb.EarlyStopping("val_acc"), r"monitor 'val_acc' is not a metric of this run; choose one of "
                                  r"loss, accuracy, lr, seconds \(val_ metrics need"),
    (cb.ModelCheckpoint("b.npz", monitor="f1", save_best_only=True), "monitor 'f1'"),
    (cb.ReduceLROnPlateau("val_loss"), "val_loss"),
])
def test_monitor_names_are_checked_before_training(callback, match):
    x, y = blobs(32)
    model = mlp()
    before = model.layers[0].params["w"].copy()
    with pytest.raises(ValueError, match=match):
        model.fit(x, y, optimizer=fn.SGD(0.1), callbacks=[callback], progress=False)
    np.testing.assert_array_equal(model.layers[0].params["w"], before)  # nothing trained


def test_checkpoint_into_a_file_or_a_folder_is_refused_before_training(tmp_path):
    x, y = blobs(32)
    (tmp_path / "taken").write_text("a file")
    (tmp_path / "folder.npz").mkdir()
    for path, match in ((tmp_path / "taken" / "best.npz", "taken is a file, not a folder"),
                        (tmp_path / "folder.npz", "is a folder")):
        with pytest.raises(ValueError, match=match):
            mlp().fit(x, y, optimizer=fn.SGD(0.1), callbacks=[cb.ModelCheckpoint(path)],
                      progress=False)


def test_schedules_need_the_number_of_batches_of_a_stream():
    x, y = blobs(32)

    def batches():
        yield from ((x[i : i + 8], y[i : i + 8]) for i in range(0, 32, 8))

    with pytest.raises(ValueError, match="CosineDecay needs the number of batches per epoch"):
        mlp().fit(batches, optimizer=fn.SGD(0.1), schedule=fn.cosine(), progress=False)
    history = mlp().fit(batches, optimizer=fn.SGD(0.1), schedule=fn.cosine(), epochs=2,
                        steps_per_epoch=4, progress=False)
    assert history["lr"][-1] < 0.1


def test_progress_bar_says_compiling_then_fits_80_columns(capsys):
    x, y = blobs(64)
    bar = cb.ProgressBar(force=True)
    mlp().fit(x, y, optimizer=fn.SGD(0.1), epochs=2, batch_size=16, validation_split=0.25,
              callbacks=[bar])
    err = capsys.readouterr().err
    assert "compiling kernels" in err
    assert "epoch 1/2: loss " in err and "val_acc" in err and "epoch 2/2: loss" in err
    for frame in err.replace("\r", "\n").split("\n"):
        assert len(frame.strip("\x1b[A")) <= 80, frame


def test_no_bar_when_stderr_is_not_a_terminal(capsys):
    x, y = blobs(32)
    mlp().fit(x, y, optimizer=fn.SGD(0.1), epochs=1)  # progress=None: auto
    assert capsys.readouterr().err == ""
