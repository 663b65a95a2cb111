"""The newer layers (batch norm, "same" padding, average pooling) inside models: gradients,
running statistics, saving, and errors that name the layer."""

import numpy as np
import pytest

import fastnn as fn


def bn_cnn(seed=0, dtype="float32"):
    return fn.Sequential([
        fn.Conv2D(3, 4, 3, padding="same"), fn.ReLU(), fn.BatchNorm2D(4), fn.AvgPool2D(2),
        fn.Conv2D(4, 5, 3, padding=1), fn.BatchNorm2D(5), fn.ReLU(), fn.GlobalAvgPool2D(),
        fn.Dense(5, 6), fn.BatchNorm1D(6), fn.ReLU(), fn.Dropout(0.3), fn.Dense(6, 3),
    ], seed=seed, dtype=dtype)


def data(n=8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 3, 8, 8)).astype(np.float32), rng.integers(0, 3, n)


def test_gradcheck_covers_batch_norm_and_pooling(backend):
    x, y = data(6)
    assert fn.gradcheck(bn_cnn(dtype="float64"), x, y) < 1e-7


def test_predict_uses_running_statistics_so_one_image_alone_is_as_in_a_batch():
    x, y = data(32)
    model = bn_cnn()
    model.fit(x, y, optimizer=fn.SGD(0.05), epochs=2, batch_size=8, progress=False)
    bn = model.layers[2]
    assert not np.allclose(bn.buffers["running_mean"], 0)  # fit moved them
    batch = model.predict(x)
    alone = np.concatenate([model.predict(x[i : i + 1]) for i in range(4)])
    np.testing.assert_allclose(alone, batch[:4], rtol=1e-5, atol=1e-6)


def test_running_statistics_follow_pytorchs_momentum_convention():
    bn = fn.BatchNorm2D(2, momentum=0.1)
    bn.reset(np.random.default_rng(0), np.float64)
    x = np.random.default_rng(1).standard_normal((4, 2, 3, 3)) * 2 + 5
    bn.forward(x, training=True)
    mean, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3), ddof=1)  # unbiased, as PyTorch
    np.testing.assert_allclose(bn.buffers["running_mean"], 0.1 * mean)
    np.testing.assert_allclose(bn.buffers["running_var"], 0.9 + 0.1 * var)


def test_save_and_load_keep_the_running_statistics(tmp_path):
    x, y = data(16)
    model = bn_cnn()
    model.fit(x, y, epochs=1, batch_size=8, progress=False)
    model.save(tmp_path / "m.npz")
    loaded = fn.load(tmp_path / "m.npz")
    for a, b in zip(model.layers, loaded.layers):
        for name in a.buffers:
            np.testing.assert_array_equal(a.buffers[name], b.buffers[name])
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.layers[0].config()["padding"] == "same"


@pytest.mark.parametrize("layers,message", [
    ([fn.Conv2D(3, 4, 3, padding="same"), fn.BatchNorm2D(5)],
     r"layer 1 BatchNorm2D\(channels=5, .*\) expects input of shape \(N, 5, H, W\), got "
     r"\(N, 4, 8, 8\)"),
    ([fn.Flatten(), fn.BatchNorm1D(7)], r"layer 1 BatchNorm1D.* expects input of shape \(N, 7\)"),
    ([fn.AvgPool2D(9)], r"layer 0 AvgPool2D\(size=9, stride=9\) expects input .* H, W >= 9"),
    ([fn.Flatten(), fn.GlobalAvgPool2D()], r"layer 1 GlobalAvgPool2D\(\) expects input of shape "
     r"\(N, C, H, W\), got \(N, 192\)"),
])
def test_shape_errors_name_the_layer(layers, message):
    with pytest.raises(fn.ShapeError, match=message):
        fn.Sequential(layers).predict(np.zeros((2, 3, 8, 8), np.float32))


@pytest.mark.parametrize("make,message", [
    (lambda: fn.Conv2D(1, 4, 4, padding="same"), 'Conv2D padding="same" needs an odd kernel'),
    (lambda: fn.Conv2D(1, 4, 3, stride=2, padding="same"), "needs stride 1, got 2"),
    (lambda: fn.Conv2D(1, 4, 3, padding="valid"), 'padding must be an integer or "same"'),
    (lambda: fn.Conv2D(1, 4, 2.7), "Conv2D kernel_size must be an integer, got 2.7"),
    (lambda: fn.Conv2D(1, 4, 3, stride=0), "Conv2D stride must be >= 1, got 0"),
    (lambda: fn.BatchNorm2D(0), "BatchNorm2D channels must be >= 1"),
    (lambda: fn.BatchNorm1D(4, momentum=1.5), "momentum must be in"),
    (lambda: fn.BatchNorm1D(4, eps=0), "eps must be > 0"),
    (lambda: fn.AvgPool2D(2, stride=0), "AvgPool2D stride must be >= 1"),
])
def test_bad_layer_arguments_are_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_numpy_integers_are_accepted():
    conv = fn.Conv2D(np.int64(1), np.int32(4), np.int64(3), padding=np.int64(1))
    assert conv.output_shape((1, 5, 5)) == (4, 5, 5)
