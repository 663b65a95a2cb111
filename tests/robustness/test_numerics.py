"""Numerics: Winograd is never less finite than the direct kernel, a NaN is never hidden by a
ReLU or a max (every kernel and its reference agree), batch norm refuses a batch of one,
divergence that stays finite is caught and described, and schedules cannot raise the rate."""

import numpy as np
import pytest

import fastnn as fn
from fastnn.kernels import numba as nk
from fastnn.kernels import reference as rk
from fastnn.kernels.numba import conv as nconv
from fastnn.kernels.numba.conv import wide, winograd


def huge_inputs(seed=0):
    """float32 inputs of +-1e37 (finite) and small weights: direct's sums stay near 4e36,
    Winograd's tiles (sums of up to 10 products) overflow."""
    rng = np.random.default_rng(seed)
    x = (rng.choice([-1, 1], (2, 16, 8, 8)) * 1e37).astype(np.float32)
    w = (rng.standard_normal((16, 16, 3, 3)) * 0.01).astype(np.float32)
    return x, w, np.zeros(16, np.float32)


def test_winograd_alone_overflows_on_these_inputs():
    """Why the fallback exists: Winograd's own core turns finite inputs into inf and NaN."""
    x, w, b = huge_inputs()
    raw = nconv.Algorithm(winograd.forward, winograd.backward)
    assert not np.isfinite(wide.conv_forward(raw, x, w, b, 1, False)).any()


def test_winograd_stays_finite_where_direct_does():
    x, w, b = huge_inputs()
    assert nconv.conv2d_algorithm(x.shape, w.shape, 1, 1) == ("winograd", "winograd")
    direct, wino = ("direct", "direct"), ("winograd", "winograd")
    for relu in (False, True):
        y = nconv.conv2d_forward(x, w, b, 1, 1, relu=relu, algorithm=wino)
        assert np.isfinite(y).all()
        np.testing.assert_array_equal(y, nconv.conv2d_forward(x, w, b, 1, 1, relu=relu,
                                                              algorithm=direct))
    y, argmax = nconv.conv2d_relu_maxpool_forward(x, w, b, 1, 1, algorithm=wino)
    assert np.isfinite(y).all() and y.max() > 1e35
    dy = (np.random.default_rng(1).standard_normal((2, 16, 8, 8)) * 0.01).astype(np.float32)
    grads = nconv.conv2d_backward(dy, x, w, 1, 1, algorithm=wino)
    assert all(np.isfinite(g).all() for g in grads)
    for got, want in zip(grads, nconv.conv2d_backward(dy, x, w, 1, 1, algorithm=direct)):
        np.testing.assert_array_equal(got, want)


def test_predict_on_huge_finite_inputs_is_not_uniform():
    """The issue's case: a 3x3 layer that runs by Winograd, a fused ReLU, predict."""
    x, w, b = huge_inputs()
    model = fn.Sequential([fn.Conv2D(16, 16, 3, padding=1), fn.ReLU(), fn.Flatten(),
                           fn.Dense(16 * 64, 3)], seed=0)
    model.layers[0].params["w"][...] = w
    model.layers[3].params["w"] *= np.float32(1e-36)
    probs = model.predict(x)
    assert "winograd" in str(model.plan)
    assert np.isfinite(probs).all() and not np.allclose(probs, 1 / 3)


def nan_at(shape, where, seed=0):
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    x[where] = np.nan
    return x


@pytest.mark.parametrize("kernels", [nk, rk], ids=["numba", "reference"])
def test_relu_and_maxpool_pass_a_nan(kernels):
    x = nan_at((2, 3, 4, 4), (1, 2, 0, 3))
    x[0, 0, 0, 0] = -1.0
    y = kernels.relu_forward(x)
    assert np.isnan(y[1, 2, 0, 3]) and np.isnan(y).sum() == 1 and y[0, 0, 0, 0] == 0
    pooled, argmax = kernels.maxpool2d_forward(x, 2, 2)
    assert np.isnan(pooled[1, 2, 0, 1]) and argmax[1, 2, 0, 1] == 3
    assert np.isnan(pooled).sum() == 1


@pytest.mark.parametrize("algorithm", ["direct", "gemm", "winograd", "im2col"])
def test_fused_relu_and_pool_pass_a_nan_in_every_conv_algorithm(algorithm):
    """A NaN in the input reaches the output through conv + ReLU (+ max-pool), as in the
    reference, whichever algorithm runs: never a 0 that looks like a number."""
    x = nan_at((2, 16, 8, 8), (1, 5, 3, 4))
    w = np.random.default_rng(1).standard_normal((16, 16, 3, 3)).astype(np.float32)
    b = np.zeros(16, np.float32)
    alg = (algorithm, algorithm)
    y = nk.conv2d_forward(x, w, b, 1, 1, relu=True, algorithm=alg)
    want = rk.conv2d_forward(x, w, b, 1, 1, relu=True)
    np.testing.assert_array_equal(np.isnan(y), np.isnan(want))
    assert np.isnan(y[1]).any() and not np.isnan(y[0]).any()
    pooled, _ = nk.conv2d_relu_maxpool_forward(x, w, b, 1, 1, 2, 2, algorithm=alg)
    want_pooled, _ = rk.conv2d_relu_maxpool_forward(x, w, b, 1, 1, 2, 2)
    np.testing.assert_array_equal(np.isnan(pooled), np.isnan(want_pooled))
    assert np.isnan(pooled[1]).any()


@pytest.mark.parametrize("kernels", [nk, rk], ids=["numba", "reference"])
def test_fused_dense_relu_passes_a_nan(kernels):
    x = nan_at((5, 8), (2, 3))
    w = np.random.default_rng(1).standard_normal((300, 8)).astype(np.float32)
    y = kernels.dense_forward(x, w, np.zeros(300, np.float32), relu=True)
    assert np.isnan(y[2]).all() and not np.isnan(np.delete(y, 2, axis=0)).any()


def blobs(n=64, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = (rng.standard_normal((n, 4)) + 3 * np.eye(3, 4)[y]).astype(np.float32)
    return x, y


def test_a_finite_loss_blow_up_stops_training_and_says_what_was_seen():
    """SGD at lr 1e6: the loss reaches 1e31 and the weights 3e23, all finite."""
    x, y = blobs()
    model = fn.Sequential([fn.Dense(4, 16), fn.ReLU(), fn.Dense(16, 3)], seed=0)
    with pytest.raises(FloatingPointError) as info:
        model.fit(x, y, optimizer=fn.SGD(1e6), epochs=3, batch_size=16, progress=False)
    message = str(info.value)
    assert "training diverged (first loss" in message and "SGD lr 1e+06, momentum 0" in message
    assert "try a smaller learning rate (now 1e+06)" in message
    assert "scale the inputs" not in message  # inputs up to ~6: not the cause
    assert all(np.abs(p).max() < 1e8 for _, p, _ in model.parameters())


def test_divergence_names_the_inputs_scale_or_the_optimizers_settings():
    x, y = blobs()
    model = fn.Sequential([fn.Dense(4, 16), fn.ReLU(), fn.Dense(16, 3)], seed=0)
    with pytest.raises(FloatingPointError, match=r"inputs up to \d.\d+e\+06; SGD lr 0.01, "
                                                 r"momentum 0\): scale the inputs to about "
                                                 r"\[0, 1\] \(x / 255, or standardize them\)\. "
                                                 r"The model keeps"):
        model.fit(x * 1e6, y, optimizer=fn.SGD(0.01), epochs=5, batch_size=16, progress=False)
    model = fn.Sequential([fn.Dense(4, 16), fn.ReLU(), fn.Dense(16, 3)], seed=0)
    with pytest.raises(FloatingPointError, match=r"Adam lr 1000, betas \(0.9, 0.5\), eps 1e-20, "
                                                 r"step 1\): use Adam's usual betas \(0.9, "
                                                 r"0.999\) and eps \(1e-8\); try a smaller "
                                                 r"learning rate \(now 1000\)"):
        model.fit(x, y, optimizer=fn.Adam(1e3, betas=(0.9, 0.5), eps=1e-20), epochs=5,
                  batch_size=16, progress=False)


def test_a_sane_run_is_not_called_divergent():
    x, y = blobs()
    model = fn.Sequential([fn.Dense(4, 16), fn.ReLU(), fn.Dense(16, 3)], seed=0)
    history = model.fit(x, y, optimizer=fn.SGD(0.1), epochs=5, batch_size=16, progress=False)
    assert history["loss"][-1] < history["loss"][0]


def test_batch_norm_refuses_one_value_per_channel_and_warns_of_a_tiny_last_batch():
    x, y = blobs(33)

    def bn_model():
        return fn.Sequential([fn.Dense(4, 8), fn.BatchNorm1D(8), fn.ReLU(), fn.Dense(8, 3)],
                             seed=0)
    with pytest.raises(ValueError, match="each batch holds 1 sample, and BatchNorm1D cannot "
                                         "train on one .*: use a batch_size of 2 or more$"):
        bn_model().fit(x, y, batch_size=1, progress=False)
    with pytest.raises(ValueError, match="the last batch of each epoch holds 1 sample.*, or "
                                         "drop_last=True"):
        bn_model().fit(x, y, batch_size=16, progress=False)  # 33 = 16 + 16 + 1
    model = bn_model()
    history = model.fit(x, y, batch_size=16, drop_last=True, epochs=2, progress=False)
    assert len(history["loss"]) == 2 and model.layers[1].buffers["running_var"].min() > 1e-3
    with pytest.warns(UserWarning, match=r"the last batch of each epoch holds 3 of batch_size "
                                         r"30 samples: BatchNorm1D's running statistics"):
        bn_model().fit(x, y, batch_size=30, progress=False)
    with pytest.raises(ValueError, match=r"BatchNorm1D\(8\) cannot train on one value per "
                                         r"channel"):  # the layer itself, for any caller
        bn_model().fit([(x[:1], y[:1])], progress=False)


@pytest.mark.parametrize("bad", [5, -0.5, 1.5, float("nan"), "0.1", True])
def test_reduce_lr_on_plateau_never_raises_the_rate(bad):
    with pytest.raises(ValueError, match="ReduceLROnPlateau min_scale must be in \\[0, 1\\]"):
        fn.callbacks.ReduceLROnPlateau(min_scale=bad)
    assert fn.callbacks.ReduceLROnPlateau(min_scale=1).min_scale == 1.0


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_the_guard_puts_back_weights_that_became_nan_or_inf_after_a_step(bad):
    from fastnn.training import DivergenceGuard

    model = fn.Sequential([fn.Dense(3, 4), fn.ReLU(), fn.Dense(4, 2)], seed=0)
    guard = DivergenceGuard(model)
    guard.start_epoch()
    before = model.layers[2].params["w"].copy()
    model.layers[2].params["w"][1, 1] = bad  # as an overflowing update leaves it
    with pytest.raises(FloatingPointError, match="the weights overflowed"):
        guard.after_step(1, 1, 0.1)
    np.testing.assert_array_equal(model.layers[2].params["w"], before)
