"""Hyperparameter sweeps: ``fastnn sweep SPEC.toml`` and ``fn.sweep.run(spec, client=None)``.

    from fastnn import sweep
    report = sweep.run("sweeps/mnist-lr.toml")              # a LocalCluster on this machine
    report = sweep.run("sweeps/mnist-lr.toml", workers=0)   # in this process, no Dask
    report = sweep.run(spec, client=distributed.Client("tcp://host:8786"))

The spec (:mod:`.spec`) names the data, model and fixed ``fastnn train`` options, the search
space and the search; :func:`.trial.run_trial` trains one trial (a plain function of a dict,
run by Dask workers by reference); :mod:`.runner` chooses the trials (a grid, or Optuna's
ask/tell on a journal file) and writes ``runs/sweep/N/``: trials.csv, study.journal, best.npz,
report.json (and sweep.png with ``plot``). Dask is the extra ``fastnn[dist]``, Optuna
``fastnn[sweep]``.
"""

from .runner import SweepInterrupted, check_versions, run
from .spec import Spec, SpecError, load
from .trial import run_trial

__all__ = ["Spec", "SpecError", "SweepInterrupted", "check_versions", "load", "run", "run_trial"]
