"""Gradient checking: backprop against central differences, for any model."""

from __future__ import annotations

import copy

import numpy as np

from . import losses as losses_mod
from .model import Sequential


def gradcheck(model: Sequential, x: np.ndarray, y: np.ndarray,
              loss: str | losses_mod.Loss | None = None, eps: float = 1e-4,
              samples: int | None = None, seed: int = 0) -> float:
    """Relative difference ||g - n|| / (||g|| + ||n||) between the backprop gradient g of every
    parameter and the central difference n = (J(p + eps) - J(p - eps)) / (2 eps).

    Runs on a float64 copy of the model, with dropout off and the loss's L2 penalty included,
    so the model itself is untouched. Classic reading: below about 1e-7 the gradients are right;
    above about 1e-5, look for a bug. ``samples`` checks that many randomly chosen entries
    instead of all of them, for models with millions of weights.
    """
    m = copy.deepcopy(model)
    m.dtype = np.dtype(np.float64)
    m._checked = set()
    for layer in m.layers:
        layer.params = {k: v.astype(np.float64) for k, v in layer.params.items()}
    if loss is not None:
        m.loss = losses_mod.get(loss)
    x = np.asarray(x, dtype=np.float64)
    m.check_shape(x.shape[1:])
    m.loss_and_grads(x, y, training=False)
    rng = np.random.default_rng(seed)
    backprop, numeric = [], []
    params = [(p, layer.grads[name]) for layer in m.layers for name, p in layer.params.items()]
    total = sum(p.size for p, _ in params)
    chosen = None if samples is None or samples >= total else set(
        rng.choice(total, samples, replace=False).tolist())
    offset = 0
    for p, g in params:
        flat = p.reshape(-1)
        for i in range(flat.size):
            if chosen is not None and offset + i not in chosen:
                continue
            old = flat[i]
            flat[i] = old + eps
            hi = m.objective(x, y)
            flat[i] = old - eps
            lo = m.objective(x, y)
            flat[i] = old
            numeric.append((hi - lo) / (2 * eps))
            backprop.append(g.reshape(-1)[i])
        offset += flat.size
    g, n = np.array(backprop), np.array(numeric)
    denom = np.linalg.norm(g) + np.linalg.norm(n)
    return float(np.linalg.norm(g - n) / denom) if denom else 0.0
