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
        raise NotImplementedError

    def config(self) -> dict:
        return {"name": type(self).__name__, "lr": self.lr}


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum and weight decay (L2)."""

    def __init__(self, lr: float = 0.01, momentum: float = 0.0, weight_decay: float = 0.0):
        super().__init__(lr)
        self.momentum, self.weight_decay = float(momentum), float(weight_decay)

    def step(self, params: Named) -> None:
        for key, p, g in params:
            v = None
            if self.momentum:
                if key not in self.state:
                    self.state[key] = (np.zeros_like(p),)
                (v,) = self.state[key]
            ops.sgd_update(p, g, v, self.lr, self.momentum, self.weight_decay)

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
        b1, b2 = self.betas
        for key, p, g in params:
            if key not in self.state:
                self.state[key] = (np.zeros_like(p), np.zeros_like(p))
            m, v = self.state[key]
            ops.adam_update(p, g, m, v, self.t, self.lr, b1, b2, self.eps, self.weight_decay)

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
