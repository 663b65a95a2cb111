"""Optimizer updates, in place: SGD (momentum, weight decay) and Adam, plain NumPy."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .. import _checks as c
from .. import _validate as val


def sgd_update(param: np.ndarray, grad: np.ndarray, velocity: np.ndarray | None, lr: float,
               momentum: float = 0.0, weight_decay: float = 0.0) -> None:
    """param -= lr * v with v = momentum * v + (grad + weight_decay * param), in place.

    velocity may be None when momentum is 0 (plain SGD).
    """
    grad = c.update_args(param, grad, ("velocity", velocity))
    lr, momentum = val.number("lr", lr), val.number("momentum", momentum)
    weight_decay = val.number("weight_decay", weight_decay)
    if momentum and velocity is None:
        raise ValueError("sgd_update with momentum needs a velocity array")
    g = grad + param.dtype.type(weight_decay) * param
    if velocity is not None:
        velocity *= param.dtype.type(momentum)
        velocity += g
        g = velocity
    param -= param.dtype.type(lr) * g


def adam_update(param: np.ndarray, grad: np.ndarray, m: np.ndarray, v: np.ndarray, t: int,
                lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                weight_decay: float = 0.0) -> None:
    """One Adam step with bias correction, in place on param, m and v; t counts from 1.

    weight_decay adds weight_decay * param to the gradient (L2, as in PyTorch's Adam).
    """
    grad = c.update_args(param, grad, ("m", m), ("v", v))
    t = val.integer("t", t, 1)
    lr, eps = val.number("lr", lr), val.number("eps", eps)
    beta1, beta2 = val.number("beta1", beta1), val.number("beta2", beta2)
    weight_decay = val.number("weight_decay", weight_decay)
    dt = param.dtype.type
    g = grad + dt(weight_decay) * param
    m *= dt(beta1)
    m += dt(1 - beta1) * g
    v *= dt(beta2)
    v += dt(1 - beta2) * g * g
    # PyTorch's arrangement of the bias corrections: lr/c1 * m / (sqrt(v)/sqrt(c2) + eps)
    step = dt(lr / (1 - beta1**t))
    param -= step * m / (np.sqrt(v) / dt(np.sqrt(1 - beta2**t)) + dt(eps))


def sgd_update_many(params: Sequence[np.ndarray], grads: Sequence[np.ndarray],
                    velocities: Sequence[np.ndarray] | None, lr: float, momentum: float = 0.0,
                    weight_decay: float = 0.0) -> None:
    """sgd_update on every (param, grad, velocity); velocities may be None without momentum."""
    c.update_many_args(params, grads, ("velocities", velocities))
    if momentum and velocities is None:
        raise ValueError("sgd_update_many with momentum needs velocity arrays")
    for i, (p, g) in enumerate(zip(params, grads)):
        sgd_update(p, g, None if velocities is None else velocities[i], lr, momentum,
                   weight_decay)


def adam_update_many(params: Sequence[np.ndarray], grads: Sequence[np.ndarray],
                     ms: Sequence[np.ndarray], vs: Sequence[np.ndarray], t: int,
                     lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
                     eps: float = 1e-8, weight_decay: float = 0.0) -> None:
    """adam_update on every (param, grad, m, v): one optimizer step for a whole model."""
    c.update_many_args(params, grads, ("ms", ms), ("vs", vs))
    for p, g, m, v in zip(params, grads, ms, vs):
        adam_update(p, g, m, v, t, lr, beta1, beta2, eps, weight_decay)
