"""The layer API: gradients, backends, shapes, dropout, reproducibility, saving."""

import os
import zipfile

import numpy as np
import pytest
from conftest import blobs

import fastnn as fn


def small_cnn(seed=0, dtype="float32", loss="cross_entropy"):
    return fn.Sequential([
        fn.Conv2D(2, 3, 3, padding=1), fn.ReLU(), fn.Conv2D(3, 4, 3, stride=2), fn.Tanh(),
        fn.MaxPool2D(2), fn.Flatten(), fn.Dense(4 * 1 * 1, 5), fn.Sigmoid(), fn.Dense(5, 3),
    ], seed=seed, dtype=dtype, loss=loss)


@pytest.mark.parametrize("loss", ["cross_entropy", "hinge", "binary_cross_entropy"])
def test_model_gradients_match_finite_differences(backend, loss):
    rng = np.random.default_rng(0)
    model = small_cnn(dtype="float64", loss=loss)
    x = rng.standard_normal((4, 2, 6, 6))
    y = np.array([0, 1, 2, 1])
    model.loss_and_grads(x, y)
    for key, p, g in model.parameters():
        numeric = fn.numeric_gradient(lambda: float(model.loss(model.forward(x), y)[0]), p)
        np.testing.assert_allclose(g, numeric, rtol=1e-5, atol=1e-7, err_msg=key)


def test_first_layer_skips_its_input_gradient():
    model = small_cnn()
    assert [layer.input_grad for layer in model.layers[:2]] == [False, True]


def test_same_seed_same_result_on_both_backends():
    rng = np.random.default_rng(1)
    x = rng.random((24, 2, 6, 6)).astype(np.float32)
    y = rng.integers(0, 3, 24)
    results = {}
    for name in ("numba", "reference"):
        with fn.use_backend(name):
            model = small_cnn(seed=3)
            history = model.fit(x, y, optimizer=fn.Adam(1e-2), epochs=2, batch_size=8, seed=5,
                                progress=False)
            results[name] = (history["loss"], [p.copy() for _, p, _ in model.parameters()])
    np.testing.assert_allclose(results["numba"][0], results["reference"][0], rtol=1e-4)
    for a, b in zip(results["numba"][1], results["reference"][1]):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)


def test_seeded_runs_are_reproducible():
    x, y = blobs()
    runs = []
    for _ in range(2):
        model = fn.Sequential([fn.Dense(4, 16), fn.ReLU(), fn.Dropout(0.3), fn.Dense(16, 3)],
                              seed=7)
        model.fit(x, y, optimizer=fn.SGD(0.1, momentum=0.9), epochs=3, seed=11, progress=False)
        runs.append(np.concatenate([p.ravel() for _, p, _ in model.parameters()]))
    np.testing.assert_array_equal(runs[0], runs[1])


@pytest.mark.parametrize("make_optimizer", [lambda: fn.SGD(0.1),
                                            lambda: fn.SGD(0.05, momentum=0.9),
                                            lambda: fn.Adam(1e-2)],
                         ids=["sgd", "momentum", "adam"])
@pytest.mark.parametrize("loss", ["cross_entropy", "hinge"])
def test_fit_learns_separable_data(make_optimizer, loss):
    x, y = blobs(300)
    model = fn.Sequential([fn.Dense(4, 16), fn.ReLU(), fn.Dense(16, 3)], loss=loss)
    optimizer = make_optimizer()  # a fresh one per case: no moments or step count carried over
    history = model.fit(x, y, optimizer=optimizer, epochs=10, batch_size=16, progress=False,
                        validation_data=(x, y))
    assert history["loss"][-1] < history["loss"][0]
    # accuracy counted here from the logits, not by evaluate (which fit's validation uses)
    accuracy = float(np.mean(np.argmax(model(x), axis=1) == y))
    assert accuracy > 0.95
    assert history["val_accuracy"][-1] == pytest.approx(accuracy, abs=1e-12)
    assert model.evaluate(x, y)[1] == pytest.approx(accuracy, abs=1e-12)
    probs = model.predict(x)
    assert probs.shape == (300, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-5)


def test_binary_classifier_with_one_sigmoid_output():
    x, y = blobs(200, k=2)
    model = fn.Sequential([fn.Dense(4, 8), fn.ReLU(), fn.Dense(8, 1)], loss="binary_cross_entropy")
    model.fit(x, y, optimizer=fn.Adam(1e-2), epochs=10, progress=False)
    assert model.evaluate(x, y)[1] > 0.95
    assert model.predict(x).shape == (200, 2)


def test_shape_mismatch_names_the_layer_and_both_shapes():
    model = fn.Sequential([fn.Conv2D(1, 8, 5), fn.ReLU(), fn.Flatten(), fn.Dense(800, 10)])
    with pytest.raises(fn.ShapeError, match=r"layer 3 Dense\(in_features=800.*expects input of "
                       r"shape \(N, 800\), got \(N, 4608\)"):
        model(np.zeros((2, 1, 28, 28), np.float32))
    with pytest.raises(fn.ShapeError, match=r"layer 0 Conv2D.*\(N, 1, H, W\), got \(N, 3, 28, 28"):
        model(np.zeros((2, 3, 28, 28), np.float32))


def test_dropout_is_active_in_fit_only():
    layer = fn.Dropout(0.5)
    x = np.ones((1000, 10), np.float32)
    y = layer.forward(x, training=True)
    assert 0.4 < np.mean(y == 0) < 0.6 and set(np.unique(y)) == {0.0, 2.0}

    xb, yb = blobs(64, d=10)
    model = fn.Sequential([fn.Dense(10, 32), fn.Dropout(0.5), fn.Dense(32, 3)], seed=2)
    (w1, b1), (w2, b2) = [(layer.params["w"], layer.params["b"]) for layer in model.layers[::2]]
    plain = (xb @ w1.T + b1) @ w2.T + b2  # the model's logits without dropout, in NumPy
    np.testing.assert_allclose(model(xb), plain, rtol=1e-5, atol=1e-5)  # predict: off
    e = np.exp(plain - plain.max(axis=1, keepdims=True))
    plain_loss = float(np.mean(-np.log(e[np.arange(64), yb] / e.sum(axis=1))))
    assert model.evaluate(xb, yb)[0] == pytest.approx(plain_loss, rel=1e-5)  # evaluate: off

    # fit: on. A rate so small that no weight moves, so fit's loss (the running mean of its
    # training-mode batches) differs from the same weights' loss only by dropout.
    before = [p.copy() for _, p, _ in model.parameters()]
    history = model.fit(xb, yb, optimizer=fn.SGD(1e-30), epochs=1, batch_size=64,
                        progress=False)
    for (_, p, _), q in zip(model.parameters(), before):
        np.testing.assert_allclose(p, q, rtol=1e-6, atol=1e-20)
    assert abs(history["loss"][0] - plain_loss) > 0.01 * plain_loss
    again = model.fit(xb, yb, optimizer=fn.SGD(1e-30), epochs=1, batch_size=64,
                      progress=False, seed=1)  # another seed drops other units
    assert again["loss"][0] != history["loss"][0]


@pytest.mark.parametrize("bad,match", [
    (dict(y=np.zeros(3, int)), r"labels must have shape \(8,\)"),
    (dict(y=np.full(8, 0.5)), "labels must be integer"),
    (dict(y=np.full(8, 7)), r"labels must be in \[0, 2\] for 3 classes, got 7"),
    (dict(batch_size=0), "batch_size must be >= 1, got 0"),
])
def test_fit_rejects_bad_input(bad, match):
    args = dict(x=np.zeros((8, 4), np.float32), y=np.zeros(8, int), progress=False) | bad
    with pytest.raises(ValueError, match=match):
        fn.Sequential([fn.Dense(4, 3)]).fit(**args)


def test_diverging_training_stops_with_a_clear_error():
    x, y = blobs()
    model = fn.Sequential([fn.Dense(4, 16), fn.ReLU(), fn.Dense(16, 3)])
    with pytest.raises(FloatingPointError, match=r"training diverged \(.*\): scale the inputs .*; "
                                                "try a smaller learning rate"):
        model.fit(x * 1e30, y, optimizer=fn.SGD(1e10), epochs=3, progress=False)


# --- saving and loading -------------------------------------------------------------------------


def test_save_load_round_trip(tmp_path):
    model = small_cnn(seed=4)
    model.class_names = ["a", "b", "c"]
    x = np.random.default_rng(0).random((5, 2, 6, 6)).astype(np.float32)
    path = model.save(tmp_path / "m.npz", metadata={"note": "hi"})
    loaded = fn.load(path)
    np.testing.assert_array_equal(loaded(x), model(x))
    assert repr(loaded) == repr(model)
    assert loaded.class_names == ["a", "b", "c"] and loaded.metadata == {"note": "hi"}
    with np.load(path, allow_pickle=False) as data:  # plain arrays, no pickles
        assert "architecture" in data.files


def test_interrupted_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    old = small_cnn(seed=1)
    old.save(path)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        small_cnn(seed=2).save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.npz"]  # no temporary file left behind


def test_loading_bad_files_raises_a_clear_error(tmp_path):
    good = small_cnn().save(tmp_path / "good.npz")
    data = good.read_bytes()
    (tmp_path / "truncated.npz").write_bytes(data[: len(data) // 2])
    (tmp_path / "garbage.npz").write_bytes(b"not a model at all")
    np.savez(tmp_path / "foreign.npz", weights=np.zeros(3))
    np.save(tmp_path / "pickle.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(tmp_path / "pickled.npz", "w") as z:
        z.write(tmp_path / "pickle.npy", "architecture.npy")
    for name in ("truncated", "garbage", "foreign", "pickled"):
        with pytest.raises(fn.ModelFileError, match=name):
            fn.load(tmp_path / f"{name}.npz")
    with pytest.raises(FileNotFoundError, match="no model file"):
        fn.load(tmp_path / "missing.npz")


def test_set_backend_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown backend 'cuda'"):
        fn.set_backend("cuda")
    assert fn.get_backend() == "numba"
