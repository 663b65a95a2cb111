"""The fusion table: which layers run as one step, that fused steps compute what the
layers compute one after another, and patterns a user registers."""

import numpy as np
import pytest

import fastnn as fn
from fastnn import fusion
from fastnn.fusion import (
    ConvReLU,
    ConvReLUBatchNorm,
    ConvReLUBatchNormMaxPool,
    ConvReLUMaxPool,
    DenseReLU,
    Single,
    Step,
)


def net(conv_stride=1, padding=1):
    """Every pattern once: Conv+ReLU+MaxPool, Conv+ReLU+BatchNorm, Conv+ReLU,
    Conv+ReLU+BatchNorm+MaxPool, Dense+ReLU."""
    return [
        fn.Conv2D(2, 4, 3, padding=padding), fn.ReLU(), fn.MaxPool2D(2),
        fn.Conv2D(4, 5, 3, stride=conv_stride, padding=1), fn.ReLU(), fn.BatchNorm2D(5),
        fn.Conv2D(5, 3, 3, padding="same"), fn.ReLU(),
        fn.Conv2D(3, 4, 3, padding=1), fn.ReLU(), fn.BatchNorm2D(4), fn.MaxPool2D(2),
        fn.Flatten(), fn.Dense(4 * 2 * 2 // conv_stride**2, 6), fn.ReLU(), fn.Dense(6, 3),
    ]


def test_the_plan_follows_the_table_and_prints():
    model = fn.Sequential(net())
    assert [type(s) for s in model.plan] == [ConvReLUMaxPool, ConvReLUBatchNorm, ConvReLU,
                                             ConvReLUBatchNormMaxPool, Single, DenseReLU,
                                             Single]
    assert model.plan.first_index == [0, 3, 6, 8, 12, 13, 15]
    text = str(model.plan)
    assert "3-5  Conv2D + ReLU + BatchNorm2D" in text and "conv2d_relu_batchnorm" in text
    assert "8-11  Conv2D + ReLU + BatchNorm2D + MaxPool2D" in text
    assert "conv2d_relu_batchnorm_maxpool" in text
    assert "conv2d_relu_batchnorm" in model.summary()  # the kernel column
    unfused = fn.Sequential(net(), fuse=False)
    assert all(isinstance(s, Single) for s in unfused.plan) and len(unfused.plan) == 16


def test_layers_carry_no_fusion_arguments():
    import inspect
    for cls in (fn.Conv2D, fn.Dense, fn.ReLU, fn.MaxPool2D, fn.BatchNorm2D):
        for method in (cls.forward, cls.backward):
            assert set(inspect.signature(method).parameters) <= {"self", "x", "training", "dy"}


@pytest.mark.parametrize("dtype,tol", [("float64", 1e-10), ("float32", 2e-4)])
@pytest.mark.parametrize("conv_stride", [1, 2])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("gamma_sign", [1, -1])  # -1: one negative scale, no pool-first
def test_fused_steps_give_the_numbers_of_the_layers_apart(dtype, tol, conv_stride, training,
                                                          gamma_sign):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 2, 8, 8)).astype(dtype)
    y = rng.integers(0, 3, 5)
    fused = fn.Sequential(net(conv_stride), seed=3, dtype=dtype)
    apart = fn.Sequential(net(conv_stride), seed=3, dtype=dtype, fuse=False)
    fused(x[:1])  # allocate the parameters
    apart(x[:1])
    for i in (5, 10):
        bn_f, bn_a = fused.layers[i], apart.layers[i]
        f = bn_f.params["gamma"].size
        bn_f.buffers["running_mean"][:] = rng.random(f)  # statistics other than the first
        bn_f.buffers["running_var"][:] = 1 + rng.random(f)
        bn_f.params["gamma"][:] = 0.5 + rng.random(f)
        bn_f.params["gamma"][0] *= gamma_sign
        bn_a.buffers = {k: v.copy() for k, v in bn_f.buffers.items()}
        bn_a.params["gamma"][:] = bn_f.params["gamma"]
    if not training:
        np.testing.assert_allclose(fused(x), apart(x), rtol=tol, atol=tol)
        return
    loss_f, logits_f = fused.loss_and_grads(x, y)
    loss_a, logits_a = apart.loss_and_grads(x, y)
    np.testing.assert_allclose(logits_f, logits_a, rtol=tol, atol=tol)
    for (key, _, gf), (_, _, ga) in zip(fused.parameters(), apart.parameters()):
        np.testing.assert_allclose(gf, ga, rtol=tol, atol=tol, err_msg=key)
    for i in (5, 10):  # both updated the running statistics alike
        for name in fused.layers[i].buffers:
            np.testing.assert_allclose(fused.layers[i].buffers[name],
                                       apart.layers[i].buffers[name], rtol=tol)


def test_the_plan_and_the_shape_checks_follow_changes_to_the_model():
    model = fn.Sequential([fn.Dense(4, 3), fn.ReLU(), fn.Dense(3, 2)])
    x = np.zeros((2, 4), np.float32)
    model.predict(x)
    assert len(model.plan) == 2
    model.fuse = False
    assert len(model.plan) == 3
    model.layers.insert(0, fn.Dense(5, 4))
    with pytest.raises(fn.ShapeError, match=r"layer 0 Dense\(in_features=5"):
        model.predict(x)


@pytest.mark.parametrize("gamma_sign,pooled_first", [(1, True), (-1, False)])
def test_inference_pools_before_batch_norm_only_when_every_scale_is_positive(
        monkeypatch, gamma_sign, pooled_first):
    from fastnn import fusion

    model = fn.Sequential([fn.Conv2D(2, 4, 3, padding=1), fn.ReLU(), fn.BatchNorm2D(4),
                           fn.MaxPool2D(2), fn.Flatten(), fn.Dense(16, 2)], seed=0)
    x = np.random.default_rng(0).standard_normal((3, 2, 4, 4)).astype(np.float32)
    model.predict(x)
    model.layers[2].params["gamma"][1] *= gamma_sign
    calls = []

    class Spy:
        def __getattr__(self, name):
            calls.append(name)
            return getattr(fn.backend.kernels(), name)

    model.fuse = False
    want = model.predict(x)
    model.fuse = True
    monkeypatch.setattr(fusion, "kernels", Spy)
    np.testing.assert_allclose(model.predict(x), want, rtol=1e-5, atol=1e-6)
    assert ("conv2d_relu_maxpool_forward" in calls) == pooled_first


def test_backward_after_an_inference_pass_is_a_named_error():
    model = fn.Sequential([fn.Conv2D(2, 4, 3, padding=1), fn.ReLU(), fn.BatchNorm2D(4),
                           fn.MaxPool2D(2), fn.Flatten(), fn.Dense(16, 2)], seed=0)
    out = model.forward(np.ones((2, 2, 4, 4), np.float32), training=False)
    with pytest.raises(RuntimeError, match=r"BatchNorm2D.*backward needs a forward pass in "
                                           r"training mode"):
        model.backward(np.ones_like(out))


# --- patterns a user registers ---------------------------------------------------------------


class Chain(Step):
    """A user's step: runs its layers one after another (what a fused kernel must equal)."""

    kernel = "chain"

    def forward(self, x, training):
        for layer in self.layers:
            x = layer.forward(x, training)
        return x

    def backward(self, dy):
        for layer in reversed(self.layers):
            dy = layer.backward(dy)
        return dy


@pytest.fixture
def register():
    """fusion.register, with every pattern a test adds taken out again afterwards."""
    before = fusion.patterns()
    added = []

    def add(pattern, factory):
        fusion.register(pattern, factory)
        added.append(pattern)

    yield add
    for pattern in added:
        fusion.unregister(pattern)
    assert fusion.patterns() == before


def test_a_registered_pattern_changes_the_plan_and_the_longest_match_wins(register):
    layers = [fn.Dense(4, 6), fn.Tanh(), fn.Dense(6, 5), fn.ReLU(), fn.Dense(5, 3)]
    before = fn.Sequential(layers, seed=0)
    assert [type(s) for s in before.plan] == [Single, Single, DenseReLU, Single]
    register([fn.Dense, fn.Tanh], Chain)
    register((fn.Dense, fn.ReLU, fn.Dense), Chain)  # longer than the built-in Dense + ReLU
    model = fn.Sequential(layers, seed=0)
    assert [type(s) for s in model.plan] == [Chain, Chain]
    assert model.plan.first_index == [0, 2]
    assert "2-4  Dense + ReLU + Dense" in str(model.plan) and "chain" in model.summary()
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    np.testing.assert_allclose(model.predict(x), fn.Sequential(layers, fuse=False).predict(x),
                               rtol=1e-6)


@pytest.mark.parametrize("pattern,factory,message", [
    ((fn.Conv2D, fn.ReLU), Chain, r"fusion pattern Conv2D \+ ReLU is already registered \(to "
                                  r"'ConvReLU'\); unregister it first"),
    ((), Chain, r"needs at least one layer type, got \(\)"),
    (fn.Dense, Chain, "a fusion pattern is a sequence of layer types, got <class"),
    ("Dense", Chain, "a fusion pattern is a sequence of layer types, got 'Dense'"),
    ((fn.Dense, np.ndarray), Chain, r"fusion pattern Dense \+ ndarray: ndarray is not a Layer "
                                    "subclass"),
    ((fn.Dense, fn.Tanh), "Chain", "the step factory must be callable"),
])
def test_registering_a_duplicate_or_malformed_pattern_is_a_clear_error(register, pattern,
                                                                        factory, message):
    with pytest.raises(ValueError, match=message):
        register(pattern, factory)


def test_unregistering_a_pattern_not_in_the_table_is_a_key_error():
    with pytest.raises(KeyError, match="fusion pattern Dense \\+ Tanh is not registered"):
        fusion.unregister((fn.Dense, fn.Tanh))
