"""Optimizers (in-place kernel updates) and their saved state.

L2 regularization has one home: the loss's ``l2`` (``fn.SoftmaxCrossEntropy(l2=...)``), the
classic penalty lambda/(2m) * sum(w**2) over the weight matrices, biases excluded, which is part
of the reported loss and of gradient checks. The optimizers take no ``weight_decay``.

The learning rate an optimizer applies is ``lr * scale``: ``lr`` is the rate it was given and
``scale`` is what the learning-rate schedules (:mod:`fastnn.schedules`) set before each batch.
"""

from __future__ import annotations

import math

import numpy as np

from .backend import kernels

ParamsAndGrads = list[tuple[str, np.ndarray, np.ndarray]]
"""(key, parameter, gradient) of each parameter: what ``Sequential.parameters()`` returns."""

_NO_WEIGHT_DECAY = ("{name}(weight_decay=...) is gone: L2 has one home, the loss's l2 "
                    "(lambda/(2m) * sum of squared weights), e.g. "
                    "fn.SoftmaxCrossEntropy(l2=1e-4) or fastnn train --l2")


class OptimizerStateError(ValueError):
    """Saved optimizer state does not fit the optimizer or the model."""


class Optimizer:
    def __init__(self, lr: float) -> None:
        if not (isinstance(lr, (int, float, np.floating, np.integer)) and lr > 0
                and math.isfinite(lr)):
            raise ValueError(f"learning rate must be a finite number > 0, got {lr!r}")
        self.lr = float(lr)
        self.scale = 1.0
        self.state: dict[str, tuple[np.ndarray, ...]] = {}

    @property
    def learning_rate(self) -> float:
        """Keras's name for ``lr``."""
        return self.lr

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        self.lr = Optimizer(value).lr  # checked as in the constructor

    @property
    def current_lr(self) -> float:
        """The rate the next step applies: ``lr * scale``."""
        return self.lr * self.scale

    def step(self, params: ParamsAndGrads) -> None:
        """Updates every parameter in place from its gradient, in one kernel call."""
        raise NotImplementedError

    def _state(self, key: str, p: np.ndarray, count: int) -> tuple[np.ndarray, ...]:
        """The optimizer's arrays for parameter ``key``, zeros at first."""
        if key not in self.state:
            self.state[key] = tuple(np.zeros_like(p) for _ in range(count))
        return self.state[key]

    def config(self) -> dict:
        return {"name": type(self).__name__, "lr": self.lr}

    # --- saved state ---------------------------------------------------------------------------

    slots = 0  # arrays per parameter in ``state``

    def state_dict(self) -> tuple[dict, dict[str, np.ndarray]]:
        """(JSON-able config and counters, arrays named ``"{key}/{slot}"``)."""
        arrays = {f"{key}/{j}": a for key, arrays in self.state.items()
                  for j, a in enumerate(arrays)}
        return self.config(), arrays

    def load_state(self, config: dict, arrays: dict[str, np.ndarray],
                   params: ParamsAndGrads) -> None:
        """Restores :meth:`state_dict` output for the model's ``params``; a mismatch (another
        optimizer, a parameter missing or of another shape) raises OptimizerStateError."""
        if config.get("name") != type(self).__name__:
            raise OptimizerStateError(f"the saved optimizer is {config.get('name')!r}, "
                                      f"not {type(self).__name__}")
        shapes = {key: p for key, p, _ in params}
        state: dict[str, list] = {}
        for name, a in arrays.items():
            key, _, slot = name.rpartition("/")
            if key not in shapes or not slot.isdigit() or int(slot) >= self.slots:
                raise OptimizerStateError(f"optimizer state {name!r} matches no parameter of "
                                          f"the model (parameters: {', '.join(shapes)})")
            p = shapes[key]
            if a.shape != p.shape or a.dtype != p.dtype:
                raise OptimizerStateError(
                    f"optimizer state for parameter {key} is {a.dtype}{a.shape}, the model's "
                    f"parameter is {p.dtype}{p.shape}")
            if not np.all(np.isfinite(a)):
                raise OptimizerStateError(f"optimizer state for parameter {key} holds "
                                          f"non-finite values")
            state.setdefault(key, [None] * self.slots)[int(slot)] = a.copy()
        if state and (set(state) != set(shapes) or any(a is None for s in state.values()
                                                       for a in s)):
            missing = sorted(set(shapes) - set(state))
            raise OptimizerStateError(f"optimizer state is incomplete (missing {missing})")
        self.state = {key: tuple(s) for key, s in state.items()}
        self._load_counters(config)

    def _load_counters(self, config: dict) -> None:
        pass


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum."""

    def __init__(self, lr: float = 0.01, momentum: float = 0.0, **kwargs) -> None:
        if "weight_decay" in kwargs:
            raise TypeError(_NO_WEIGHT_DECAY.format(name="SGD"))
        lr = _learning_rate("SGD", lr, 0.01, kwargs)
        if kwargs:
            raise TypeError(f"SGD got unexpected arguments {sorted(kwargs)}")
        super().__init__(lr)
        if not 0 <= momentum < 1:
            raise ValueError(f"SGD momentum must be in [0, 1), got {momentum!r}")
        self.momentum = float(momentum)

    @property
    def slots(self) -> int:
        return 1 if self.momentum else 0

    def step(self, params: ParamsAndGrads) -> None:
        velocities = None
        if self.momentum:
            velocities = [self._state(key, p, 1)[0] for key, p, _ in params]
        kernels().sgd_update_many([p for _, p, _ in params], [g for _, _, g in params], velocities,
                            self.current_lr, self.momentum, 0.0)

    def config(self):
        return super().config() | {"momentum": self.momentum}


class Adam(Optimizer):
    """Adam with bias correction (Kingma & Ba)."""

    slots = 2

    def __init__(self, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, **kwargs) -> None:
        if "weight_decay" in kwargs:
            raise TypeError(_NO_WEIGHT_DECAY.format(name="Adam"))
        lr = _learning_rate("Adam", lr, 1e-3, kwargs)
        if kwargs:
            raise TypeError(f"Adam got unexpected arguments {sorted(kwargs)}")
        super().__init__(lr)
        self.betas, self.eps = tuple(betas), float(eps)
        self.t = 0

    def step(self, params: ParamsAndGrads) -> None:
        states = [self._state(key, p, 2) for key, p, _ in params]
        kernels().adam_update_many([p for _, p, _ in params], [g for _, _, g in params],
                             [m for m, _ in states], [v for _, v in states], self.t + 1,
                             self.current_lr, *self.betas, self.eps, 0.0)
        self.t += 1

    def config(self):
        return super().config() | {"betas": list(self.betas), "eps": self.eps, "t": self.t}

    def _load_counters(self, config: dict) -> None:
        t = config.get("t", 0)
        if not (isinstance(t, int) and t >= 0) or (t == 0) != (not self.state):
            raise OptimizerStateError(f"saved Adam step count t={t!r} does not fit its state")
        self.t = t


OPTIMIZERS = {"sgd": SGD, "adam": Adam}


def _learning_rate(name: str, lr: float, default: float, kwargs: dict) -> float:
    """``lr``, or Keras's ``learning_rate=`` (taken out of ``kwargs``); not both."""
    if "learning_rate" not in kwargs:
        return lr
    if lr != default:
        raise TypeError(f"{name}: give lr or learning_rate (Keras's name), not both")
    return kwargs.pop("learning_rate")


def get(optimizer: str | Optimizer) -> Optimizer:
    """An optimizer, or a new one with its default settings from a name (Keras's strings):
    ``"adam"`` (lr 1e-3) or ``"sgd"`` (lr 0.01), in any case."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    if isinstance(optimizer, str) and optimizer.lower() in OPTIMIZERS:
        return OPTIMIZERS[optimizer.lower()]()
    if isinstance(optimizer, type) and issubclass(optimizer, Optimizer):
        return optimizer()
    raise ValueError(f"unknown optimizer {optimizer!r}; give 'adam', 'sgd' or an optimizer "
                     f"such as fn.Adam(1e-3)")


def from_config(config: dict) -> Optimizer:
    """A fresh optimizer from :meth:`Optimizer.config` (its state comes from load_state)."""
    if not isinstance(config, dict) or config.get("name") not in ("SGD", "Adam"):
        raise OptimizerStateError(f"unknown optimizer in saved state: {config!r:.80}")
    if config["name"] == "SGD":
        return SGD(config["lr"], config.get("momentum", 0.0))
    return Adam(config["lr"], tuple(config.get("betas", (0.9, 0.999))), config.get("eps", 1e-8))

