"""Inputs that are not what training expects: non-finite numbers, wrong types and scales, empty
and bad counts."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastnn as fn


def cnn():
    return fn.Sequential([fn.Conv2D(1, 4, 3), fn.ReLU(), fn.MaxPool2D(2), fn.Flatten(),
                          fn.Dense(4 * 3 * 3, 3)], seed=0)


def images(n=16, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 1, 8, 8), dtype=np.float32), rng.integers(0, 3, n)


@pytest.mark.parametrize("call", ["fit", "evaluate", "predict"])
def test_one_nan_pixel_is_refused_with_count_and_first_index(call):
    """The fused ReLU would turn it into 0 and the loss would never show it."""
    x, y = images()
    x[5, 0, 2, 3] = np.nan
    x[9, 0, 0, 0] = np.inf
    model = cnn()
    args = {"fit": (x, y), "evaluate": (x, y), "predict": (x,)}[call]
    with pytest.raises(ValueError, match=r"x has 2 non-finite values \(NaN or inf\); the first "
                       r"at index \(5, 0, 2, 3\)"):
        getattr(model, call)(*args, **({"progress": False} if call == "fit" else {}))


def test_non_finite_validation_data_is_named():
    x, y = images()
    xv = x.copy()
    xv[1, 0, 1, 1] = -np.inf
    with pytest.raises(ValueError, match=r"validation x has 1 non-finite .* \(1, 0, 1, 1\)"):
        cnn().fit(x, y, validation_data=(xv, y), progress=False)


@pytest.mark.parametrize("scale,lr,what", [
    (1e20, 1e30, "the weights overflowed"),  # finite gradients, an update that overflows
    (1e37, 1e-3, "the weights grew to"),  # finite, but past any sane size
])
def test_divergence_stops_and_keeps_finite_weights(tmp_path, scale, lr, what):
    x, y = images(64)
    model = cnn()
    with pytest.raises(FloatingPointError, match=f"{what}.* at epoch 1, batch \\d+: training "
                       r"diverged \(.*inputs up to .*\): scale the inputs"):
        model.fit(x * scale, y, optimizer=fn.SGD(lr), epochs=3, batch_size=8, progress=False)
    assert all(np.isfinite(p).all() for _, p, _ in model.parameters())
    model.save(tmp_path / "kept.npz")  # finite, so it can be saved


@pytest.mark.parametrize("dtype", [np.uint8, np.int64, np.bool_])
def test_integer_pixels_are_refused_not_guessed(dtype):
    x, y = images()
    with pytest.raises(ValueError, match=f"x is {np.dtype(dtype)}: fastnn trains on floats"):
        cnn().fit((x * 255).astype(dtype), y, progress=False)


def test_uint8_gets_the_scaling_hint():
    with pytest.raises(ValueError, match=r"x.astype\(np.float32\) / 255"):
        cnn().predict(np.zeros((2, 1, 8, 8), np.uint8))


def test_numpy_integers_work_wherever_python_ints_do():
    x, y = images()
    model = cnn()
    model.fit(x, y, epochs=np.int64(1), batch_size=np.int64(8), progress=False)
    assert model.predict(x, batch_size=np.int32(5)).shape == (16, 3)
    assert model.evaluate(x, y, batch_size=np.uint8(4))[1] >= 0


def test_zero_samples():
    model = cnn()
    empty = np.zeros((0, 1, 8, 8), np.float32)
    out = model.predict(empty)
    assert out.shape == (0, 3) and out.dtype == np.float32
    assert model.predict_labels(empty).shape == (0,)
    with pytest.raises(ValueError, match="fit needs at least one sample"):
        model.fit(empty, np.zeros(0, int), progress=False)
    with pytest.raises(ValueError, match="evaluate needs at least one sample"):
        model.evaluate(empty, np.zeros(0, int))


@pytest.mark.parametrize("bad", [0, -1, 2.5, "32", True])
def test_bad_batch_sizes_are_errors_everywhere(bad):
    x, y = images()
    model = cnn()
    for call in (lambda: model.fit(x, y, batch_size=bad, progress=False),
                 lambda: model.evaluate(x, y, batch_size=bad),
                 lambda: model.predict(x, batch_size=bad)):
        with pytest.raises(ValueError, match="batch_size must be"):
            call()


@settings(max_examples=60, deadline=None)
@given(shape=st.lists(st.integers(0, 9), min_size=1, max_size=5),
       dtype=st.sampled_from(["float32", "float64", "float16", "int32", "uint8", "complex64",
                              "bool"]),
       fill=st.sampled_from([0.0, 1.0, np.nan, np.inf, -1e30]))
def test_any_array_either_works_or_gets_a_named_value_error(shape, dtype, fill):
    with np.errstate(all="ignore"):
        x = np.full(shape, fill).astype(dtype) if dtype != "bool" else np.zeros(shape, bool)
    try:
        out = cnn().predict(x)
    except ValueError as e:  # ShapeError is a ValueError
        assert str(e)
        return
    assert out.shape == (shape[0], 3) and np.isfinite(out).all()
