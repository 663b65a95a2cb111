"""Gradient checking: backprop against central differences, for any model or function."""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np

from . import losses as losses_mod
from .layers import Dropout
from .model import Sequential


def numeric_gradient(f: Callable[[], float], a: np.ndarray, eps: float = 1e-6,
                     indices: np.ndarray | None = None) -> np.ndarray:
    """Central differences (f(a + eps) - f(a - eps)) / (2 eps) of the scalar f() with respect
    to each entry of ``a`` (changed in place and restored), or only the flat ``indices``;
    returns an array shaped like ``a`` (or like ``indices``)."""
    flat = a.reshape(-1)
    where = range(flat.size) if indices is None else indices
    grad = np.empty(len(where))
    for j, i in enumerate(where):
        old = flat[i]
        flat[i] = old + eps
        hi = f()
        flat[i] = old - eps
        lo = f()
        flat[i] = old
        grad[j] = (hi - lo) / (2 * eps)
    return grad.reshape(a.shape) if indices is None else grad


def gradcheck(model: Sequential, x: np.ndarray, y: np.ndarray,
              loss: str | losses_mod.Loss | None = None, eps: float = 1e-4,
              samples: int | None = None, seed: int = 0) -> float:
    """Relative difference ||g - n|| / (||g|| + ||n||) between the backprop gradient g of every
    parameter and the central difference n = (J(p + eps) - J(p - eps)) / (2 eps).

    Runs on a float64 copy of the model, in training mode (batch norm uses the batch's
    statistics) with dropout off and the loss's L2 penalty included, so the model itself is
    untouched. Classic reading: below about 1e-7 the gradients are right; above about 1e-5,
    look for a bug. ``samples`` checks that many randomly chosen entries instead of all of
    them, for models with millions of weights.
    """
    m = copy.deepcopy(model)
    m.dtype = np.dtype(np.float64)
    for layer in m.layers:
        layer.params = {k: v.astype(np.float64) for k, v in layer.params.items()}
        layer.buffers = {k: v.astype(np.float64) for k, v in layer.buffers.items()}
        if isinstance(layer, Dropout):
            layer.p = 0.0
    if loss is not None:
        m.loss = losses_mod.get(loss)
    x = np.asarray(x, dtype=np.float64)
    m.check_shape(x.shape[1:])
    m.loss_and_grads(x, y, training=True)
    params = [(p, layer.grads[name]) for layer in m.layers for name, p in layer.params.items()]
    total = sum(p.size for p, _ in params)
    chosen = None
    if samples is not None and samples < total:
        chosen = np.sort(np.random.default_rng(seed).choice(total, samples, replace=False))
    backprop, numeric, offset = [], [], 0
    for p, g in params:
        idx = np.arange(p.size) if chosen is None else (
            chosen[(chosen >= offset) & (chosen < offset + p.size)] - offset)
        numeric.append(numeric_gradient(lambda: m.objective(x, y, training=True), p, eps, idx))
        backprop.append(g.reshape(-1)[idx])
        offset += p.size
    g, n = np.concatenate(backprop), np.concatenate(numeric)
    denom = np.linalg.norm(g) + np.linalg.norm(n)
    return float(np.linalg.norm(g - n) / denom) if denom else 0.0
