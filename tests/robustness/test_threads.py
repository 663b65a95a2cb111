"""Predict from one thread while another runs fit does not disturb fit."""

import threading

import numpy as np
import pytest

import fastnn as fn


def model():
    return fn.Sequential([fn.Conv2D(1, 4, 3, padding="same"), fn.ReLU(), fn.BatchNorm2D(4),
                          fn.MaxPool2D(2), fn.Flatten(), fn.Dense(4 * 4 * 4, 16), fn.ReLU(),
                          fn.Dropout(0.2), fn.Dense(16, 3)], seed=0)


def test_predict_during_fit_leaves_training_exactly_as_without_it():
    rng = np.random.default_rng(0)
    x, y = rng.random((256, 1, 8, 8), dtype=np.float32), rng.integers(0, 3, 256)
    alone = model()
    alone.fit(x, y, epochs=3, batch_size=8, progress=False, seed=1)

    busy = model()
    done = threading.Event()
    predictions = []

    def predict_all_the_time():
        while not done.is_set():
            predictions.append(busy.predict(x[:32]))

    thread = threading.Thread(target=predict_all_the_time)
    thread.start()
    try:
        busy.fit(x, y, epochs=3, batch_size=8, progress=False, seed=1)
    finally:
        done.set()
        thread.join(timeout=60)
    assert len(predictions) > 3  # the other thread really ran alongside
    assert all(np.isfinite(p).all() and p.shape == (32, 3) for p in predictions)
    for (key, a, _), (_, b, _) in zip(alone.parameters(), busy.parameters()):
        np.testing.assert_array_equal(a, b, err_msg=key)
    np.testing.assert_array_equal(alone.layers[2].buffers["running_mean"],
                                  busy.layers[2].buffers["running_mean"])


def test_save_during_fit_writes_the_weights_between_two_steps(tmp_path):
    """Every file saved from another thread while fit runs holds the weights the model had
    after one of its steps (or before the first): never a mix of two."""
    rng = np.random.default_rng(0)
    x, y = rng.random((256, 64), dtype=np.float32), rng.integers(0, 3, 256)
    busy = fn.Sequential([fn.Dense(64, 256), fn.ReLU(), fn.Dense(256, 256), fn.ReLU(),
                          fn.Dense(256, 3)])  # arrays big enough that a save takes a while
    states = [[p.copy() for _, p, _ in busy.parameters()]]
    record = fn.callbacks.LambdaCallback(on_batch_end=lambda batch, logs: states.append(
        [p.copy() for _, p, _ in busy.parameters()]))
    done = threading.Event()
    saved = []

    def save_all_the_time():
        while not done.is_set():
            saved.append(busy.save(tmp_path / f"{len(saved)}.npz"))

    thread = threading.Thread(target=save_all_the_time)
    thread.start()
    try:
        busy.fit(x, y, epochs=2, batch_size=4, progress=False, seed=1, callbacks=[record])
    finally:
        done.set()
        thread.join(timeout=60)
    assert len(saved) > 3
    for path in saved:
        weights = [p for _, p, _ in fn.load(path).parameters()]
        assert any(all(np.array_equal(a, b) for a, b in zip(weights, state))
                   for state in states), f"{path.name} mixes the weights of two steps"


def test_a_second_fit_on_the_same_model_is_refused():
    rng = np.random.default_rng(0)
    x, y = rng.random((32, 1, 8, 8), dtype=np.float32), rng.integers(0, 3, 32)
    busy = model()
    started, go_on = threading.Event(), threading.Event()

    def wait_in_the_first_batch(batch, logs):
        started.set()
        go_on.wait(timeout=60)

    first = threading.Thread(target=busy.fit, args=(x, y), kwargs=dict(
        epochs=1, progress=False, callbacks=[fn.callbacks.LambdaCallback(
            on_batch_begin=wait_in_the_first_batch)]))
    first.start()
    try:
        assert started.wait(timeout=60)
        with pytest.raises(RuntimeError, match="being trained by another fit"):
            busy.fit(x, y, epochs=1, progress=False)
    finally:
        go_on.set()
        first.join(timeout=60)
    busy.fit(x, y, epochs=1, progress=False)  # once the first is done, fit works again
