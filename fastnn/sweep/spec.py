"""A sweep's spec file (TOML), read and checked before any trial runs, and the ``fastnn train``
options of each trial.

    [train]                      # fixed options, as fastnn train takes them (- or _)
    dataset = "mnist"            # mnist, folder or mat (then dir = "DIR" or "FILE.mat")
    model = "mlp"
    epochs = 2
    patience = 1                 # early stopping per trial (optional)

    [search]
    method = "grid"              # grid (every point), random or tpe (Optuna)
    trials = 8                   # random and tpe; grid runs every point
    metric = "val_accuracy"      # val_accuracy, val_loss, accuracy or loss
    direction = "maximize"       # default: maximize accuracies, minimize losses
    seed = 0                     # the sampler's

    [space]
    lr = [1e-3, 3e-3]                            # choices
    dropout = {low = 0.0, high = 0.5}            # a range (random and tpe)
    hidden = [[64], [128, 64]]                   # lists of widths
    # lr = {low = 1e-4, high = 1e-1, log = true} # a log range

Every value is parsed by ``fastnn train``'s own parser, so a spec accepts what the command
line accepts and its errors name the same problems, in one line that names the file.
"""

from __future__ import annotations

import argparse
import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path

from ..cli.train import _complete_options
from ..cli.train import add_parser as add_train_parser

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the sweep extra installs tomli
    try:
        import tomli as tomllib
    except ModuleNotFoundError:
        tomllib = None

METHODS = ("grid", "random", "tpe")
METRICS = {"val_accuracy": "maximize", "accuracy": "maximize", "val_loss": "minimize",
           "loss": "minimize"}
NOT_IN_A_SWEEP = {"out", "overwrite", "resume", "plots", "quiet", "save_best", "func"}
"""fastnn train's options that a sweep sets itself (the folder, the files, the output)."""
SEARCH_KEYS = {"method", "trials", "metric", "direction", "seed"}


class SpecError(ValueError):
    """A spec that cannot run; the message is one line that names the file and the key."""


class _Raising(argparse.ArgumentParser):
    def error(self, message: str):
        raise SpecError(message)


def _train_parser() -> argparse.ArgumentParser:
    parser = _Raising(prog="fastnn")
    add_train_parser(parser.add_subparsers(dest="command", parser_class=_Raising))
    return parser


_PARSER = _train_parser()
_ACTIONS = {a.dest: a for a in _PARSER._subparsers._group_actions[0].choices["train"]._actions}
OPTIONS = sorted(set(_ACTIONS) - NOT_IN_A_SWEEP - {"help", "dataset", "dir"})
"""The fastnn train options a spec may fix or search."""


@dataclass
class Range:
    """A numeric range: floats unless both ends are integers; ``log`` samples log-uniformly."""

    low: float
    high: float
    log: bool = False

    @property
    def integer(self) -> bool:
        return isinstance(self.low, int) and isinstance(self.high, int)


@dataclass
class Spec:
    """A checked spec: the fixed train options, the search and the space (choices or Range)."""

    train: dict
    space: dict
    method: str = "grid"
    trials: int | None = None
    metric: str = "val_accuracy"
    direction: str = "maximize"
    seed: int = 0
    source: str = "spec"
    raw: dict = field(default_factory=dict)

    def grid(self) -> list[dict]:
        """Every point of a grid, in the order of the space's keys (the last varies fastest)."""
        keys = list(self.space)
        points = [dict(zip(keys, values))
                  for values in itertools.product(*(self.space[k] for k in keys))]
        return points[: self.trials] if self.trials else points

    def total(self) -> int:
        """How many trials the sweep runs."""
        return len(self.grid()) if self.method == "grid" else int(self.trials)

    def options(self, params: dict) -> dict:
        """A trial's fastnn train options: the fixed ones, its parameters, and --monitor set to
        the metric unless the spec sets it."""
        return {"monitor": self.metric} | self.train | params


def _argv(options: dict) -> list[str]:
    """fastnn train's command line for these options (lists become comma lists)."""
    argv = ["train", str(options.get("dataset"))]
    if options.get("dir") is not None:
        argv.append(str(options["dir"]))
    for key, value in options.items():
        if key in ("dataset", "dir"):
            continue
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            if _ACTIONS[key].nargs == 0:
                argv += [flag] if value else []
                continue
            raise SpecError(f"{key} = {str(value).lower()}: --{flag[2:]} takes a value")
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)
        elif not isinstance(value, int | float | str):
            raise SpecError(f"{key} = {value!r}: give a number, a string or a list")
        if _ACTIONS[key].nargs == 0:
            raise SpecError(f"{key} = {value!r}: a switch, give true or false")
        argv += [flag, str(value)]
    return argv


def parse_options(options: dict) -> argparse.Namespace:
    """The Namespace fastnn train would build from these options, completed with its defaults
    (:func:`fastnn.cli.train._complete_options`); SpecError names what is wrong."""
    try:
        args = _PARSER.parse_args(_argv(options))
        args.quiet, args.resume, args.plots, args.out = True, None, None, None
        _complete_options(args)
    except SpecError:
        raise
    except ValueError as e:
        raise SpecError(str(e)) from None
    return args


def _key(key: str) -> str:
    return key.replace("-", "_")


def _table(raw: dict, name: str, where: str) -> dict:
    value = raw.get(name, {})
    if not isinstance(value, dict):
        raise SpecError(f"{where}: [{name}] must be a table")
    return {_key(k): v for k, v in value.items()}


def _check_option(key: str, where: str) -> None:
    if key not in OPTIONS:
        raise SpecError(f"{where}: unknown parameter {key!r} (fastnn train's options: "
                        f"{', '.join(OPTIONS)})")


def _dimension(key: str, value, spec_train: dict, where: str):
    """One entry of [space]: a non-empty list of choices, or a {low, high, log} range; every
    value checked by fastnn train's parser."""
    _check_option(key, where)
    if isinstance(value, list):
        if not value:
            raise SpecError(f"{where}: [space] {key} is an empty list of choices")
        for choice in value:
            _parse_with(spec_train | {key: choice}, f"{where}: [space] {key} = {choice!r}")
        return value
    if not isinstance(value, dict):
        raise SpecError(f"{where}: [space] {key} must be a list of choices or a "
                        f"{{low, high}} range, got {value!r}")
    unknown = set(value) - {"low", "high", "log"}
    if unknown or not {"low", "high"} <= set(value):
        raise SpecError(f"{where}: [space] {key}: a range is {{low = A, high = B, log = "
                        f"false}}, got {value!r}")
    low, high, log = value["low"], value["high"], value.get("log", False)
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high)) \
            or not all(math.isfinite(v) for v in (low, high)) or not isinstance(log, bool):
        raise SpecError(f"{where}: [space] {key}: low and high must be numbers and log true "
                        f"or false, got {value!r}")
    if not low < high:
        raise SpecError(f"{where}: [space] {key}: empty range, low {low} is not below "
                        f"high {high}")
    if log and low <= 0:
        raise SpecError(f"{where}: [space] {key}: a log range needs low > 0, got {low}")
    for end in (low, high):
        _parse_with(spec_train | {key: end}, f"{where}: [space] {key} = {end!r}")
    return Range(low, high, log)


def _parse_with(options: dict, where: str) -> None:
    try:
        parse_options(options)
    except SpecError as e:
        raise SpecError(f"{where}: {e}") from None


def check(raw: dict, source: str = "spec") -> Spec:
    """A Spec from the parsed TOML (a dict); SpecError names the first problem."""
    if not isinstance(raw, dict):
        raise SpecError(f"{source}: a spec is a table, got {type(raw).__name__}")
    unknown = set(raw) - {"train", "search", "space"}
    if unknown:
        raise SpecError(f"{source}: unknown table(s) {', '.join(sorted(unknown))} (a spec has "
                        f"[train], [search] and [space])")
    train, search, space = (_table(raw, t, source) for t in ("train", "search", "space"))
    if "dataset" not in train:
        raise SpecError(f"{source}: [train] needs dataset = \"mnist\", \"folder\" or \"mat\"")
    for key in train:
        if key not in ("dataset", "dir"):
            _check_option(key, f"{source}: [train]")
    _parse_with(train, f"{source}: [train]")
    if not space:
        raise SpecError(f"{source}: [space] is empty: give at least one parameter to search")
    for key in space:
        if key in train:
            raise SpecError(f"{source}: {key} is both fixed in [train] and searched in [space]")
    dims = {key: _dimension(key, value, train, source) for key, value in space.items()}
    bad = set(search) - SEARCH_KEYS
    if bad:
        raise SpecError(f"{source}: [search] has unknown key(s) {', '.join(sorted(bad))} "
                        f"(it takes {', '.join(sorted(SEARCH_KEYS))})")
    method = search.get("method", "grid")
    if method not in METHODS:
        raise SpecError(f"{source}: [search] method {method!r}: give one of {', '.join(METHODS)}")
    metric = search.get("metric", "val_accuracy")
    if metric not in METRICS:
        raise SpecError(f"{source}: [search] unknown metric {metric!r}: give one of "
                        f"{', '.join(METRICS)}")
    direction = search.get("direction", METRICS[metric])
    if direction not in ("maximize", "minimize"):
        raise SpecError(f"{source}: [search] direction {direction!r}: maximize or minimize")
    trials, seed = search.get("trials"), search.get("seed", 0)
    for name, value, low in (("trials", trials, 1), ("seed", seed, 0)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                  or value < low):
            raise SpecError(f"{source}: [search] {name} must be an integer >= {low}, "
                            f"got {value!r}")
    if method == "grid":
        ranges = [k for k, d in dims.items() if isinstance(d, Range)]
        if ranges:
            raise SpecError(f"{source}: a grid needs lists of choices; {', '.join(ranges)} "
                            f"is a range (use method = \"random\" or \"tpe\")")
    elif trials is None:
        raise SpecError(f"{source}: [search] method {method!r} needs trials = N")
    return Spec(train, dims, method, trials, metric, direction, seed, source, raw)


def load(path: str | Path) -> Spec:
    """Reads and checks a spec file; SpecError names the file and the problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise SpecError(f"{path}: cannot read the spec ({e})") from None
    if tomllib is None:
        raise ImportError("reading a spec on Python 3.10 needs tomli: pip install "
                          "'fastnn[sweep]'")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SpecError(f"{path}: not a TOML file ({e})") from None
    return check(raw, str(path))
