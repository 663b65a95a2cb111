"""Optimizer updates, in place: SGD (momentum, weight decay) and Adam."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numba import njit, prange

from .. import _checks as c
from .. import _validate as val
from ._common import FASTMATH

# Updates of large arrays run under prange: besides using both cores, the parallel loop body
# is what LLVM vectorizes here (the serial loop over four arrays stays scalar, 14x slower).
# Small arrays (biases, small filters) take the serial loop: waking a thread costs more.
PARALLEL_MIN = 16384


@njit(cache=True, inline="always", fastmath=FASTMATH)
def _sgd_at(i, p, g, v, lr, momentum, weight_decay, use_velocity):
    """Element i of an SGD step, in place (see :func:`sgd_update`).

    Arguments (positional):
    i : the flat index
    p : (M,) the parameters, updated
    g : (M,) their gradient
    v : (M,) the velocity, updated when use_velocity (else unused)
    lr, momentum, weight_decay : the step's constants, in p's dtype
    use_velocity : bool, a velocity array was given (else v is p, unused)
    """
    gi = g[i] + weight_decay * p[i]
    if use_velocity:
        v[i] = momentum * v[i] + gi
        gi = v[i]
    p[i] -= lr * gi


@njit(cache=True, inline="always", fastmath=FASTMATH)
def _adam_at(i, p, g, m, v, step, beta1, beta2, eps, weight_decay, sqrt_c2):
    """Element i of an Adam step, in place (see :func:`adam_update`). Constants arrive in
    p's dtype so the arithmetic stays in that precision.

    Arguments (positional):
    i : the flat index
    p : (M,) the parameters, updated
    g : (M,) their gradient
    m, v : (M,) the first and second moments, updated
    step : lr / (1 - beta1**t), the bias-corrected step size
    beta1, beta2, eps, weight_decay : Adam's constants
    sqrt_c2 : sqrt(1 - beta2**t), the second moment's bias correction
    """
    one = p.dtype.type(1)
    gi = g[i] + weight_decay * p[i]
    m[i] = beta1 * m[i] + (one - beta1) * gi
    v[i] = beta2 * v[i] + (one - beta2) * gi * gi
    p[i] -= step * m[i] / (np.sqrt(v[i]) / sqrt_c2 + eps)


@njit(cache=True, parallel=True, fastmath=FASTMATH)
def _sgd_parallel(p, g, v, lr, momentum, weight_decay, use_velocity):
    """_sgd_at over all of p (1-D), under prange: same arguments without i.
    """
    for i in prange(p.size):
        _sgd_at(i, p, g, v, lr, momentum, weight_decay, use_velocity)


@njit(cache=True, fastmath=FASTMATH)
def _sgd_serial(p, g, v, lr, momentum, weight_decay, use_velocity):
    """_sgd_at over all of p (1-D), one thread: same arguments without i.
    """
    for i in range(p.size):
        _sgd_at(i, p, g, v, lr, momentum, weight_decay, use_velocity)


@njit(cache=True, parallel=True, fastmath=FASTMATH)
def _adam_parallel(p, g, m, v, step, beta1, beta2, eps, weight_decay, sqrt_c2):
    """_adam_at over all of p (1-D), under prange: same arguments without i.
    """
    for i in prange(p.size):
        _adam_at(i, p, g, m, v, step, beta1, beta2, eps, weight_decay, sqrt_c2)


# error_model="numpy": no ZeroDivisionError check in the loop, so the division vectorizes.
@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _adam_serial(p, g, m, v, step, beta1, beta2, eps, weight_decay, sqrt_c2):
    """_adam_at over all of p (1-D), one thread: same arguments without i.
    """
    for i in range(p.size):
        _adam_at(i, p, g, m, v, step, beta1, beta2, eps, weight_decay, sqrt_c2)


# One call updates every array: the dispatch is paid once, not once per array. (Take the
# arrays out of the tuples one statement at a time: Numba 0.68 lost the writes to p in the
# prange loop after ``p, g, m, v = ps[k], gs[k], ms[k], vs[k]``.)


@njit(cache=True, parallel=True, fastmath=FASTMATH)
def _sgd_many(ps, gs, vs, lr, momentum, weight_decay, use_velocity):
    """One SGD step on every array: p, g and v of :func:`_sgd_at` are the k-th entries of ps,
    gs and vs (tuples of 1-D arrays); the constants are shared.
    """
    for k in range(len(ps)):
        p = ps[k]
        g = gs[k]
        v = vs[k]
        if p.size >= PARALLEL_MIN:
            for i in prange(p.size):
                _sgd_at(i, p, g, v, lr, momentum, weight_decay, use_velocity)
        else:
            for i in range(p.size):
                _sgd_at(i, p, g, v, lr, momentum, weight_decay, use_velocity)


@njit(cache=True, parallel=True, fastmath=FASTMATH, error_model="numpy")
def _adam_many(ps, gs, ms, vs, step, beta1, beta2, eps, weight_decay, sqrt_c2):
    """One Adam step on every array: p, g, m and v of :func:`_adam_at` are the k-th entries
    of ps, gs, ms and vs (tuples of 1-D arrays); the constants are shared.
    """
    for k in range(len(ps)):
        p = ps[k]
        g = gs[k]
        m = ms[k]
        v = vs[k]
        if p.size >= PARALLEL_MIN:
            for i in prange(p.size):
                _adam_at(i, p, g, m, v, step, beta1, beta2, eps, weight_decay, sqrt_c2)
        else:
            for i in range(p.size):
                _adam_at(i, p, g, m, v, step, beta1, beta2, eps, weight_decay, sqrt_c2)


def _flat(arrays) -> tuple:
    """1-D views of C-contiguous arrays, as one tuple: a single Numba argument."""
    return tuple(a.reshape(-1) for a in arrays)


def sgd_update(param: np.ndarray, grad: np.ndarray, velocity: np.ndarray | None, lr: float,
               momentum: float = 0.0, weight_decay: float = 0.0) -> None:
    """param -= lr * v with v = momentum * v + (grad + weight_decay * param), in place."""
    grad = c.update_args(param, grad, ("velocity", velocity))
    lr, momentum = val.number("lr", lr), val.number("momentum", momentum)
    weight_decay = val.number("weight_decay", weight_decay)
    if momentum and velocity is None:
        raise ValueError("sgd_update with momentum needs a velocity array")
    dt = param.dtype.type
    v = param.reshape(-1) if velocity is None else velocity.reshape(-1)
    update = _sgd_parallel if param.size >= PARALLEL_MIN else _sgd_serial
    update(param.reshape(-1), grad.reshape(-1), v, dt(lr), dt(momentum), dt(weight_decay),
           velocity is not None)


def adam_update(param: np.ndarray, grad: np.ndarray, m: np.ndarray, v: np.ndarray, t: int,
                lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                weight_decay: float = 0.0) -> None:
    """One Adam step with bias correction, in place on param, m and v; t counts from 1."""
    grad = c.update_args(param, grad, ("m", m), ("v", v))
    constants = _adam_constants(param.dtype, t, lr, beta1, beta2, eps, weight_decay)
    update = _adam_parallel if param.size >= PARALLEL_MIN else _adam_serial
    update(param.reshape(-1), grad.reshape(-1), m.reshape(-1), v.reshape(-1), *constants)


def _adam_constants(dtype, t, lr, beta1, beta2, eps, weight_decay) -> tuple:
    """The checked hyper-parameters in the kernels' order, in the parameters' dtype."""
    t = val.integer("t", t, 1)
    lr, eps = val.number("lr", lr), val.number("eps", eps)
    beta1, beta2 = val.number("beta1", beta1), val.number("beta2", beta2)
    weight_decay = val.number("weight_decay", weight_decay)
    dt = dtype.type
    return (dt(lr / (1 - beta1**t)), dt(beta1), dt(beta2), dt(eps), dt(weight_decay),
            dt(math.sqrt(1 - beta2**t)))


def sgd_update_many(params: Sequence[np.ndarray], grads: Sequence[np.ndarray],
                    velocities: Sequence[np.ndarray] | None, lr: float, momentum: float = 0.0,
                    weight_decay: float = 0.0) -> None:
    """sgd_update on every (param, grad, velocity); velocities may be None without momentum."""
    grads = c.update_many_args(params, grads, ("velocities", velocities))
    lr, momentum = val.number("lr", lr), val.number("momentum", momentum)
    weight_decay = val.number("weight_decay", weight_decay)
    if momentum and velocities is None:
        raise ValueError("sgd_update_many with momentum needs velocity arrays")
    if not len(params):
        return
    dt = params[0].dtype.type
    vs = params if velocities is None else velocities
    _sgd_many(_flat(params), _flat(grads), _flat(vs), dt(lr), dt(momentum), dt(weight_decay),
              velocities is not None)


def adam_update_many(params: Sequence[np.ndarray], grads: Sequence[np.ndarray],
                     ms: Sequence[np.ndarray], vs: Sequence[np.ndarray], t: int,
                     lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
                     eps: float = 1e-8, weight_decay: float = 0.0) -> None:
    """adam_update on every (param, grad, m, v): one optimizer step for a whole model, in one
    call (a call per array costs about 11 us of dispatch each)."""
    grads = c.update_many_args(params, grads, ("ms", ms), ("vs", vs))
    dtype = params[0].dtype if len(params) else np.dtype(np.float64)
    constants = _adam_constants(dtype, t, lr, beta1, beta2, eps, weight_decay)
    if len(params):
        _adam_many(_flat(params), _flat(grads), _flat(ms), _flat(vs), *constants)
