"""ONNX export: onnxruntime gives what fastnn gives, for every layer; clear errors."""

import json
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastnn as fn
from fastnn.cli import main
from fastnn.export import to_onnx, to_onnx_model

onnx = pytest.importorskip("onnx", reason="pip install -e '.[dev]' installs onnx")
ort = pytest.importorskip("onnxruntime", reason="pip install -e '.[dev]' installs onnxruntime")

F32 = dict(rtol=1e-4, atol=1e-5)


def session(source):
    data = source.SerializeToString() if hasattr(source, "SerializeToString") else str(source)
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"])


def run(model, x, **kwargs):
    return session(to_onnx_model(model, **kwargs)).run(None, {"input": x})


def randomize_batchnorm(model, seed=0):
    """Running statistics and scales far from the initial 0 and 1, so they are tested."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if "running_var" in layer.buffers:
            c = layer.channels
            layer.buffers["running_mean"][...] = rng.standard_normal(c)
            layer.buffers["running_var"][...] = rng.random(c) + 0.2
            layer.params["gamma"][...] = rng.random(c) + 0.5
            layer.params["beta"][...] = rng.standard_normal(c)


def test_mnist_cnn_on_real_digits(mnist_data):
    x = mnist_data[1][0][:200]
    model = fn.models.mnist_cnn(seed=0)
    logits, probs = run(model, x, probabilities=True)
    np.testing.assert_allclose(logits, model(x), **F32)
    np.testing.assert_allclose(probs, model.predict(x), **F32)
    np.testing.assert_array_equal(probs.argmax(1), model.predict_labels(x))


def every_layer_model(dtype="float32"):
    model = fn.Sequential([
        fn.Conv2D(3, 4, 3, padding="same"), fn.BatchNorm2D(4), fn.ReLU(), fn.AvgPool2D(2),
        fn.Conv2D(4, 6, 3, stride=2, padding=1), fn.BatchNorm2D(6), fn.Tanh(),
        fn.MaxPool2D(2, stride=1), fn.Conv2D(6, 5, 1), fn.GlobalAvgPool2D(), fn.Dense(5, 8),
        fn.BatchNorm1D(8), fn.Sigmoid(), fn.Dropout(0.3), fn.Flatten(), fn.Dense(8, 3),
    ], seed=1, dtype=dtype)
    randomize_batchnorm(model)
    return model


def test_every_layer_with_batchnorm():
    model = every_layer_model()
    x = np.random.default_rng(2).random((9, 3, 16, 16), dtype=np.float32)
    logits, probs = run(model, x, probabilities=True)
    np.testing.assert_allclose(logits, model(x), **F32)
    np.testing.assert_allclose(probs, model.predict(x), **F32)


def test_float64_models():
    """onnxruntime has float64 dense layers but no float64 convolution: a float64 CNN goes
    out as float32."""
    mlp = fn.models.mlp(6, [5], 3, activation="tanh", seed=2)
    mlp64 = fn.Sequential(mlp.layers, dtype="float64")
    for layer, src in zip(mlp64.layers, mlp.layers):
        layer.params = {k: v.astype(np.float64) for k, v in src.params.items()}
    x = np.random.default_rng(2).random((4, 6))
    logits, probs = run(mlp64, x, probabilities=True)
    assert logits.dtype == np.float64
    np.testing.assert_allclose(logits, mlp64(x), rtol=1e-12)
    np.testing.assert_allclose(probs, mlp64.predict(x), rtol=1e-12)
    cnn64 = every_layer_model("float64")
    x = np.random.default_rng(2).random((3, 3, 16, 16))
    logits, = run(cnn64, x.astype(np.float32), dtype="float32")
    np.testing.assert_allclose(logits, cnn64(x), **F32)


def test_any_batch_size_and_named_image_dimensions():
    model = every_layer_model()
    proto = to_onnx_model(model)  # no image size known: H and W stay named
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["N", 3, "H", "W"]
    s = session(proto)
    for shape in [(1, 3, 16, 16), (33, 3, 16, 16), (2, 3, 20, 24)]:
        x = np.random.default_rng(3).random(shape, dtype=np.float32)
        np.testing.assert_allclose(s.run(None, {"input": x})[0], model(x), **F32)


def test_mlp_with_sigmoid_and_one_binary_output():
    """The from-scratch classic: sigmoid hidden layers, one sigmoid output (P(cat)); the
    probabilities are the two columns predict gives."""
    model = fn.models.mlp(12, [7, 5], 1, activation="sigmoid", loss="binary_cross_entropy",
                          class_names=["other", "cat"], seed=3)
    x = np.random.default_rng(4).random((6, 3, 2, 2), dtype=np.float32)
    logits, probs = run(model, x, input_shape=(3, 2, 2), probabilities=True)
    np.testing.assert_allclose(logits, model(x), **F32)
    np.testing.assert_allclose(probs, model.predict(x), **F32)
    assert probs.shape == (6, 2)


def test_per_class_sigmoid_outputs():
    model = fn.models.mlp(10, [6], 4, activation="tanh", loss="binary_cross_entropy", seed=5)
    x = np.random.default_rng(5).random((3, 10), dtype=np.float32)
    logits, probs = run(model, x, probabilities=True)  # Flatten, Dense(10): input (N, 10)
    np.testing.assert_allclose(probs, model.predict(x), **F32)


@settings(max_examples=25, deadline=None)
@given(c=st.integers(1, 3), f=st.integers(1, 4), size=st.integers(5, 12),
       k=st.integers(1, 5), stride=st.integers(1, 3), padding=st.integers(0, 2),
       pool=st.sampled_from([fn.MaxPool2D, fn.AvgPool2D]), pool_size=st.integers(1, 3),
       pool_stride=st.integers(1, 3), seed=st.integers(0, 1000))
def test_conv_and_pool_geometries(c, f, size, k, stride, padding, pool, pool_size,
                                  pool_stride, seed):
    conv = fn.Conv2D(c, f, k, stride=stride, padding=padding)
    try:
        _, oh, ow = conv.output_shape((c, size, size))
    except ValueError:
        return
    if min(oh, ow) < pool_size:
        return
    model = fn.Sequential([conv, fn.ReLU(), pool(pool_size, pool_stride), fn.Flatten()],
                          seed=seed)
    x = np.random.default_rng(seed).standard_normal((2, c, size, size)).astype(np.float32)
    np.testing.assert_allclose(run(model, x)[0], model(x), **F32)


def test_class_names_and_metadata_travel_in_the_file(tmp_path):
    model = fn.models.mnist_cnn(0)
    model.metadata = {"data": {"kind": "mnist", "input": {"size": [28, 28], "mode": "gray"}}}
    path = to_onnx(model, tmp_path / "m.onnx")
    proto = onnx.load(str(path))
    props = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(props["class_names"]) == [str(d) for d in range(10)]
    assert json.loads(props["fastnn_metadata"])["data"]["kind"] == "mnist"
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["N", 1, 28, 28]
    assert proto.producer_name == "fastnn"


class Square(fn.Layer):
    def forward(self, x, training=False):
        return x * x


def test_unsupported_layers_are_named(tmp_path):
    model = fn.Sequential([fn.Flatten(), fn.Dense(4, 3), Square(), fn.Dense(3, 2)])
    target = tmp_path / "m.onnx"
    target.write_bytes(b"an older export")
    with pytest.raises(ValueError, match="layer 2 Square cannot be exported to ONNX; supported "
                                         "layers: Dense, Conv2D"):
        to_onnx(model, target)
    assert target.read_bytes() == b"an older export"  # a failed export touches nothing


def test_input_shape_errors():
    model = fn.Sequential([fn.ReLU(), fn.Flatten(), fn.Dense(4, 2)])
    with pytest.raises(ValueError, match="give input_shape"):
        to_onnx_model(model)
    with pytest.raises(fn.ShapeError, match=r"layer 2 Dense.*expects input of shape \(N, 4\)"):
        to_onnx_model(model, input_shape=(5,))
    with pytest.raises(ValueError, match="opset must be an integer from 13 to"):
        to_onnx_model(fn.models.mnist_cnn(), opset=9)


def test_missing_onnx_names_the_extra(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'fastnn\[onnx\]'"):
        to_onnx_model(fn.models.mnist_cnn())
    model_path = fn.models.mnist_cnn().save(tmp_path / "m.npz")
    assert main(["export", str(model_path), str(tmp_path / "m.onnx")]) == 1
    assert "fastnn[onnx]" in capsys.readouterr().err
    assert not (tmp_path / "m.onnx").exists()


def test_cli_export(tmp_path, capsys):
    model = every_layer_model()
    model.metadata = {"data": {"input": {"size": [16, 16], "mode": "rgb"}}}
    src = model.save(tmp_path / "m.npz", metadata=model.metadata)
    out = tmp_path / "m.onnx"
    assert main(["export", str(src), str(out), "--probabilities"]) == 0
    assert "input (N, 3, 16, 16) -> logits and probabilities" in capsys.readouterr().out
    x = np.random.default_rng(6).random((4, 3, 16, 16), dtype=np.float32)
    logits, probs = session(out).run(None, {"input": x})
    np.testing.assert_allclose(probs, fn.load(src).predict(x), **F32)
    before = out.read_bytes()
    assert main(["export", str(src), str(out)]) == 1
    assert "exists; give --force to replace it" in capsys.readouterr().err
    assert out.read_bytes() == before
    assert main(["export", str(src), str(out), "--force"]) == 0
    assert main(["export", str(src), str(src), "--force"]) == 1
    assert "would replace the model" in capsys.readouterr().err
    assert main(["export", str(src), str(tmp_path / "x.onnx"), "--input-shape", "3,a"]) == 1
    assert "--input-shape '3,a': give integers" in capsys.readouterr().err
