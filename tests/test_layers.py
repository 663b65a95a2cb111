"""The newer layers (batch norm, "same" padding, average pooling) inside models: gradients,
running statistics, saving, and errors that name the layer; and the layer contract, which a
layer type of one's own declares for the summary, ONNX export and the PyTorch twin."""

import math
import sys
import types

import numpy as np
import pytest

import fastnn as fn
from fastnn import zoo


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
    (lambda: fn.Conv2D(1, 4, 3, padding="full"), 'padding must be an integer, "same" or "valid"'),
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


# --- the layer contract: a layer type of one's own ------------------------------------------


class PReLU(fn.Layer):
    """max(x, 0) + slope * min(x, 0), one learned slope per feature: a layer type that nothing
    in fastnn knows, declaring the whole contract in this one class."""

    def __init__(self, features):
        super().__init__()
        self.features = features

    def shapes(self):
        return {"slope": (self.features,)}

    def reset(self, rng, dtype):
        self.params = {"slope": rng.uniform(0.1, 0.5, self.features).astype(dtype)}

    def forward(self, x, training=False):
        self.x = x
        return np.where(x > 0, x, self.params["slope"] * x)

    def backward(self, dy):
        self.grads["slope"] = np.where(self.x > 0, 0, dy * self.x).sum(axis=0)
        return np.where(self.x > 0, dy, self.params["slope"] * dy)

    def output_shape(self, shape):
        if shape != (self.features,):
            raise fn.ShapeError(f"{self!r} expects input of shape (N, {self.features})")
        return shape

    def flops(self, in_shape, out_shape):
        return 3 * math.prod(out_shape)  # compare, multiply, select

    def onnx_nodes(self, graph, x):
        return graph.node("PRelu", [x, graph.const("slope", self.params["slope"])])

    def torch_module(self, nn, params):
        m = nn.PReLU(self.features)
        m.weight.data = params["slope"]
        return m

    def config(self):
        return {"features": self.features}


class Square(fn.Layer):
    """Declares forward and backward only."""

    def forward(self, x, training=False):
        self.x = x
        return x * x

    def backward(self, dy):
        return 2 * self.x * dy


def prelu_mlp():
    return fn.Sequential([fn.Dense(4, 5), PReLU(5), fn.Dense(5, 2)], seed=0)


def fake_torch():
    """A stand-in for torch that records what to_torch builds (torch is not installed in CI)."""

    class Module:
        def __init__(self, *args, **kwargs):
            self.args, self.kwargs = args, kwargs
            self.weight, self.bias = types.SimpleNamespace(), types.SimpleNamespace()

    nn = types.SimpleNamespace(Linear=type("Linear", (Module,), {}),
                               PReLU=type("PReLU", (Module,), {}),
                               Sequential=lambda *modules: list(modules))
    return types.SimpleNamespace(nn=nn, from_numpy=lambda a: ("tensor", a))


def test_summary_reads_the_flops_a_layer_type_declares():
    text = prelu_mlp().summary()  # the first Dense gives the input shape
    row = next(line for line in text.splitlines() if "PReLU(5)" in line).split()
    assert row[-3:] == ["5", "15", "PReLU"]  # params, FLOPs (3 * 5), kernel
    assert "FLOPs per sample, forward: 75" in text  # 2*4*5 + 15 + 2*5*2
    assert zoo.layer_flops(prelu_mlp(), (4,)) == [40, 0, 20]  # not multiply-adds


def test_a_layer_type_without_flops_shows_a_named_question_mark():
    model = fn.Sequential([fn.Dense(4, 3), Square(), fn.Dense(3, 2)])
    text = model.summary()
    row = next(line for line in text.splitlines() if "Square()" in line).split()
    assert row[-3:] == ["0", "?", "Square"]  # params, FLOPs, kernel
    assert "FLOPs per sample, forward: ? (layer 1 Square declares no flops())" in text


def test_export_writes_the_onnx_nodes_a_layer_type_declares():
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    model = prelu_mlp()
    proto = fn.export.to_onnx_model(model)
    assert [n.name for n in proto.graph.node] == ["layer0.Gemm", "layer1.PRelu", "layer2.Gemm",
                                                  "logits"]
    slope = next(t for t in proto.graph.initializer if t.name == "layer1.slope")
    np.testing.assert_array_equal(onnx.numpy_helper.to_array(slope), model.layers[1].params[
        "slope"])
    x = np.random.default_rng(1).standard_normal((7, 4)).astype(np.float32)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"input": x})[0], model(x), rtol=1e-5,
                               atol=1e-6)


def test_to_torch_builds_the_twin_a_layer_type_declares(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", fake_torch())
    model = prelu_mlp()
    dense, prelu, _ = zoo.to_torch(model)
    assert type(prelu).__name__ == "PReLU" and prelu.args == (5,)
    kind, slope = prelu.weight.data
    assert kind == "tensor" and slope is not model.layers[1].params["slope"]  # a copy
    np.testing.assert_array_equal(slope, model.layers[1].params["slope"])
    assert type(dense).__name__ == "Linear" and dense.args == (4, 5)


def test_to_torch_names_a_layer_type_without_a_twin(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", fake_torch())
    model = fn.Sequential([fn.Dense(4, 3), Square(), fn.Dense(3, 2)])
    with pytest.raises(ValueError, match=r"layer 1 Square has no PyTorch twin: Square declares "
                                         r"no torch_module\(nn, params\)"):
        zoo.to_torch(model)


def test_the_pytorch_twin_of_a_layer_type_of_ones_own_computes_the_same():
    torch = pytest.importorskip("torch")
    model = prelu_mlp()
    x = np.random.default_rng(2).standard_normal((6, 4)).astype(np.float32)
    with torch.no_grad():
        got = zoo.to_torch(model).eval()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, model(x), rtol=1e-5, atol=1e-6)


def fake_keras():
    """A stand-in for keras that records what to_keras builds (Keras is not installed in CI)."""

    def layer(name):
        def make(*args, **kwargs):
            return types.SimpleNamespace(kind=name, args=args, kwargs=kwargs)
        return make

    names = ("Dense", "Conv2D", "ZeroPadding2D", "MaxPooling2D", "Activation", "Permute",
             "Flatten", "Dropout", "BatchNormalization")
    return types.SimpleNamespace(
        layers=types.SimpleNamespace(**{n: layer(n) for n in names}),
        initializers=types.SimpleNamespace(Constant=lambda value: ("constant", value)),
        Input=lambda shape: ("input", shape), Sequential=lambda stack: stack)


def test_to_keras_builds_the_channels_last_twin_each_layer_type_declares(monkeypatch):
    monkeypatch.setitem(sys.modules, "keras", fake_keras())
    model = fn.Sequential([fn.Conv2D(3, 4, 3, padding="same"), fn.ReLU(), fn.MaxPool2D(2),
                           fn.Conv2D(4, 2, 3, padding=2), fn.Flatten(), fn.Dropout(0.5),
                           fn.Dense(2 * 6 * 6, 5)], seed=0)
    first, *stack = zoo.to_keras(model, (3, 8, 8))
    assert first == ("input", (8, 8, 3))
    assert [k.kind for k in stack] == ["Conv2D", "Activation", "MaxPooling2D", "ZeroPadding2D",
                                       "Conv2D", "Permute", "Flatten", "Dropout", "Dense"]
    same, pad, valid = stack[0], stack[3], stack[4]
    assert same.kwargs["padding"] == "same" and pad.args == (2,)
    assert valid.kwargs["padding"] == "valid"
    kind, kernel = same.kwargs["kernel_initializer"]
    np.testing.assert_array_equal(kernel, model.layers[0].params["w"].transpose(2, 3, 1, 0))
    assert stack[5].args == ((3, 1, 2),)  # back to (C, H, W) order before flattening
    np.testing.assert_array_equal(stack[-1].kwargs["kernel_initializer"][1],
                                  model.layers[-1].params["w"].T)


def test_to_keras_names_a_layer_type_without_a_twin(monkeypatch):
    monkeypatch.setitem(sys.modules, "keras", fake_keras())
    with pytest.raises(ValueError, match=r"layer 1 PReLU has no Keras twin: PReLU declares no "
                                         r"keras_layers\(keras, params, in_shape\)"):
        zoo.to_keras(prelu_mlp(), (4,))


def test_the_keras_twin_of_every_zoo_network_computes_the_same():
    pytest.importorskip("keras")  # not in CI; the bench checks it on every run too
    for net in zoo.ZOO:
        model, shape = net.build(net.size), net.input_shape()
        x = np.random.default_rng(1).random((3, *shape), dtype=np.float32)
        got = zoo.to_keras(model, shape).predict_on_batch(x.transpose(0, 2, 3, 1))
        np.testing.assert_allclose(np.asarray(got), model(x), rtol=1e-4, atol=1e-5)


def test_every_built_in_layer_type_declares_the_whole_contract():
    from fastnn.layers import LAYERS, declares

    for cls in LAYERS.values():
        for method in ("flops", "onnx_nodes", "torch_module", "keras_layers"):
            assert declares(cls, method), f"{cls.__name__}.{method}"
    assert fn.export.SUPPORTED == tuple(LAYERS.values())
