"""The model-zoo benchmark: each network's training step through ``fit`` and its inference,
fastnn against the same network in PyTorch, timed side by side in one process.

Ratios are fastnn's time over PyTorch's (lower is better). Arithmetic is counted as the
multiply-adds of the convolutions and dense layers (2 FLOPs each, "direct" counting, whatever
algorithm runs them): forward once, backward twice (input and weight gradients; the first layer
has no input gradient). Achieved GFLOP/s are compared with the machine's measured float32 matmul
peak (NumPy's BLAS on the same threads).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import benchmarks, models
from .layers import (
    AvgPool2D,
    BatchNorm1D,
    BatchNorm2D,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    GlobalAvgPool2D,
    MaxPool2D,
    ReLU,
    Sigmoid,
    Tanh,
)
from .model import Sequential
from .optim import Adam
from .progress import Progress
from .summary import flops


@dataclass(frozen=True)
class Net:
    name: str
    build: Callable[[], Sequential]
    input_shape: tuple[int, int, int]
    classes: int


ZOO = [
    Net("mnist-cnn", lambda: models.mnist_cnn(0), (1, 28, 28), 10),
    Net("lenet5", lambda: models.lenet5(0), (1, 28, 28), 10),
    Net("cifar-cnn", lambda: models.cifar_cnn(0), (3, 32, 32), 10),
    Net("simple-vgg", lambda: models.simple_vgg(3, seed=0), (3, 64, 64), 3),
]


def layer_flops(model: Sequential, sample_shape: tuple[int, ...]) -> list[int]:
    """Forward FLOPs per sample of each layer, counting the multiply-adds of Conv2D and Dense
    only (the arithmetic that dominates; the summary's count of the rest is left out)."""
    counts, shape = [], tuple(sample_shape)
    for layer in model.layers:
        out = layer.output_shape(shape)
        counts.append(flops(layer, shape, out) if isinstance(layer, Conv2D | Dense) else 0)
        shape = out
    return counts


def train_flops(model: Sequential, sample_shape: tuple[int, ...]) -> int:
    """FLOPs per sample of a training step: forward, input gradients and weight gradients."""
    per_layer = layer_flops(model, sample_shape)
    first = next(i for i, f in enumerate(per_layer) if f)
    return 3 * sum(per_layer) - per_layer[first]


def matmul_peak(n: int = 2048, repeats: int = 5) -> float:
    """The float32 matmul rate of NumPy's BLAS in GFLOP/s, best of ``repeats``."""
    rng = np.random.default_rng(0)
    a, b = rng.random((n, n), dtype=np.float32), rng.random((n, n), dtype=np.float32)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def to_torch(model: Sequential):
    """The same network in PyTorch, with the same weights (and running statistics)."""
    import torch
    from torch import nn

    def convert(layer):
        p = {k: torch.from_numpy(v.copy()) for k, v in (layer.params | layer.buffers).items()}
        if isinstance(layer, Conv2D):
            m = nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size,
                          layer.stride, layer.padding)
            m.weight.data, m.bias.data = p["w"], p["b"]
        elif isinstance(layer, Dense):
            m = nn.Linear(layer.in_features, layer.out_features)
            m.weight.data, m.bias.data = p["w"], p["b"]
        elif isinstance(layer, BatchNorm1D | BatchNorm2D):
            cls = nn.BatchNorm2d if isinstance(layer, BatchNorm2D) else nn.BatchNorm1d
            m = cls(layer.channels, eps=layer.eps, momentum=layer.momentum)
            m.weight.data, m.bias.data = p["gamma"], p["beta"]
            m.running_mean.data, m.running_var.data = p["running_mean"], p["running_var"]
        elif isinstance(layer, MaxPool2D | AvgPool2D):
            cls = nn.MaxPool2d if isinstance(layer, MaxPool2D) else nn.AvgPool2d
            m = cls(layer.size, layer.stride)
        elif isinstance(layer, GlobalAvgPool2D):
            m = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        elif isinstance(layer, Dropout):
            m = nn.Dropout(layer.p)
        else:
            m = {ReLU: nn.ReLU, Sigmoid: nn.Sigmoid, Tanh: nn.Tanh, Flatten: nn.Flatten}[
                type(layer)]()
        return m

    return nn.Sequential(*[convert(layer) for layer in model.layers])


def _data(net: Net, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return (rng.random((n,) + net.input_shape, dtype=np.float32),
            rng.integers(0, net.classes, n))


def _fastnn_calls(net: Net, batch: int, steps: int, infer: int):
    model = net.build()
    x, y = _data(net, batch * steps)
    opt = Adam(1e-3)

    def train():
        model.fit(x, y, optimizer=opt, epochs=1, batch_size=batch, progress=False)

    def predict():
        model.predict(x[:infer], batch_size=batch)

    return model, train, predict


def _torch_calls(model: Sequential, net: Net, batch: int, steps: int, infer: int):
    import torch

    tmodel = to_torch(model)
    x, y = _data(net, batch * steps)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    tmodel.eval()
    with torch.no_grad():  # the same network: same logits on the same weights
        np.testing.assert_allclose(tmodel(xt[:4]).numpy(), model(x[:4]), rtol=1e-3, atol=1e-3)
    opt = torch.optim.Adam(tmodel.parameters(), 1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(0)

    def train():
        tmodel.train()
        order = torch.randperm(len(xt), generator=gen)
        for i in range(steps):
            idx = order[i * batch : (i + 1) * batch]
            opt.zero_grad(set_to_none=True)
            loss_fn(tmodel(xt[idx]), yt[idx]).backward()
            opt.step()

    def predict():
        tmodel.eval()
        with torch.no_grad():
            torch.cat([torch.softmax(tmodel(xt[i : i + batch]), 1)
                       for i in range(0, infer, batch)])

    return train, predict


def zoo_table(batch: int = 32, steps: int = 8, infer: int = 256, budget: float = 2.0,
              names: list[str] | None = None, peak: float | None = None) -> list[dict]:
    """Per network: seconds per training step (through fit) and per inference of ``infer``
    images in batches of ``batch``, fastnn and PyTorch side by side, with GFLOP/s."""
    import numba

    peak = peak or matmul_peak()
    have_torch = benchmarks.torch_available()
    if have_torch:
        import torch

        torch.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        torch.manual_seed(0)
    rows = []
    nets = [net for net in ZOO if not names or net.name in names]
    bar = Progress(len(nets), "model zoo", unit="net", leave=False)
    for net in nets:
        bar.update()
        model, train, predict = _fastnn_calls(net, batch, steps, infer)
        calls = {"fastnn": train, "fastnn-infer": predict}
        if have_torch:
            calls["pytorch"], calls["pytorch-infer"] = _torch_calls(model, net, batch, steps,
                                                                    infer)
        best = benchmarks.interleaved(calls, budget)
        gflop = train_flops(model, net.input_shape) * batch / 1e9
        row = {"network": net.name, "train fastnn": best["fastnn"] / steps,
               "infer fastnn": best["fastnn-infer"], "GFLOP/step": gflop}
        row["train GFLOP/s"] = gflop / row["train fastnn"]
        row["train % of peak"] = 100 * row["train GFLOP/s"] / peak
        if have_torch:
            row["train pytorch"] = best["pytorch"] / steps
            row["infer pytorch"] = best["pytorch-infer"]
            row["train fastnn/pytorch"] = row["train fastnn"] / row["train pytorch"]
            row["infer fastnn/pytorch"] = row["infer fastnn"] / row["infer pytorch"]
            row["pytorch % of peak"] = 100 * gflop / row["train pytorch"] / peak
        rows.append(row)
    bar.close()
    return rows


ZOO_COLUMNS = ["network", "train fastnn", "train pytorch", "train fastnn/pytorch",
               "infer fastnn", "infer pytorch", "infer fastnn/pytorch", "GFLOP/step",
               "train GFLOP/s", "train % of peak", "pytorch % of peak"]
