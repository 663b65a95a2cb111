"""Predict from one thread while another runs fit does not disturb fit."""

import threading

import numpy as np

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
