"""Optimizers (in-place kernel updates) and learning-rate schedules."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .backend import ops

Named = list[tuple[str, np.ndarray, np.ndarray]]  # (key, parameter, gradient)


class Optimizer:
    def __init__(self, lr: float) -> None:
        if not lr > 0:
            raise ValueError(f"learning rate must be > 0, got {lr}")
        self.lr = float(lr)
        self.state: dict[str, tuple[np.ndarray, ...]] = {}

    def step(self, params: Named) -> None:
        """Updates every parameter in place from its gradient, in one kernel call."""
        raise NotImplementedError

    def _state(self, key: str, p: np.ndarray, count: int) -> tuple[np.ndarray, ...]:
        """The optimizer's arrays for parameter ``key``, zeros at first."""
        if key not in self.state:
            self.state[key] = tuple(np.zeros_like(p) for _ in range(count))
        return self.state[key]

    def config(self) -> dict:
        return {"name": type(self).__name__, "lr": self.lr}


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum and weight decay (L2)."""

    def __init__(self, lr: float = 0.01, momentum: float = 0.0, weight_decay: float = 0.0):
        super().__init__(lr)
        self.momentum, self.weight_decay = float(momentum), float(weight_decay)

    def step(self, params: Named) -> None:
        velocities = None
        if self.momentum:
            velocities = [self._state(key, p, 1)[0] for key, p, _ in params]
        ops.sgd_update_many([p for _, p, _ in params], [g for _, _, g in params], velocities,
                            self.lr, self.momentum, self.weight_decay)

    def config(self):
        return super().config() | {"momentum": self.momentum, "weight_decay": self.weight_decay}


class Adam(Optimizer):
    """Adam with bias correction (Kingma & Ba); weight_decay adds L2 to the gradient."""

    def __init__(self, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(lr)
        self.betas, self.eps, self.weight_decay = tuple(betas), float(eps), float(weight_decay)
        self.t = 0

    def step(self, params: Named) -> None:
        self.t += 1
        states = [self._state(key, p, 2) for key, p, _ in params]
        ops.adam_update_many([p for _, p, _ in params], [g for _, _, g in params],
                             [m for m, _ in states], [v for _, v in states], self.t, self.lr,
                             *self.betas, self.eps, self.weight_decay)

    def config(self):
        return super().config() | {"betas": list(self.betas), "eps": self.eps,
                                   "weight_decay": self.weight_decay}


OPTIMIZERS = {"sgd": SGD, "adam": Adam}

Schedule = Callable[[float], float]
"""Maps training progress in [0, 1] to a multiplier of the base learning rate."""


def constant(progress: float) -> float:
    return 1.0


def cosine(warmup: float = 0.0, final: float = 0.0) -> Schedule:
    """Linear warm-up over the first ``warmup`` fraction, then cosine decay to ``final``."""

    def schedule(progress: float) -> float:
        if progress < warmup:
            return (progress + 1e-3) / warmup
        t = (progress - warmup) / max(1.0 - warmup, 1e-12)
        return final + (1 - final) * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))

    return schedule
