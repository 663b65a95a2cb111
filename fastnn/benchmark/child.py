"""One timed process of the bench: one framework, one network, one thread count.

    python child.py SPEC.json RESULT.json

Run by path, not as ``python -m fastnn...``, so that importing it imports nothing but the
standard library and NumPy: the onnxruntime process never loads Numba, and the PyTorch and Keras
processes load fastnn only to read the model file and build the same network (they never run a
fastnn kernel, so no Numba thread pool exists there). The Keras process may run another Python
(``--keras-python``: a virtual environment with TensorFlow, Keras and fastnn). Each job imports
its own framework inside its function for that reason. The parent
(:mod:`fastnn.benchmark.runner`) sets the thread counts in the environment before the process
starts.

Jobs (``spec["job"]``):

- ``export``: build a zoo network (seed 0), save it, export it to ONNX, and write a probe batch
  with fastnn's probabilities for the others to check against;
- ``time``: load that model in ``spec["framework"]``, check its probabilities on the probe,
  then time each case: ``infer`` (one predict of ``batch`` images) or ``train`` (``steps``
  optimizer steps at ``batch``);
- ``kernels``: time the kernel cases in one implementation (numba, reference, numpy-im2col);
- ``peak``: NumPy's float32 matmul rate.

The result is written atomically: a killed child leaves no result file.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

if __name__ == "__main__" and sys.path and Path(sys.path[0]).resolve() == Path(__file__).parent:
    del sys.path[0]  # run by path: this folder's modules must not shadow top-level packages

import numpy as np  # noqa: E402

MIN_SAMPLE = 0.005  # seconds: shorter calls are averaged over a loop this long


def time_call(fn: Callable[[], object], budget: float = 0.3, min_repeats: int = 3,
              max_repeats: int = 30) -> list[float]:
    """Seconds per call of ``fn``, one figure per repeat, after one untimed warm-up call.
    Calls shorter than 5 ms are looped and averaged within a repeat; repeats go on until
    ``budget`` seconds have passed and there are at least ``min_repeats``."""
    fn()
    t0 = time.perf_counter()
    fn()
    once = max(time.perf_counter() - t0, 1e-7)
    loops = max(1, int(MIN_SAMPLE / once))
    samples = [once] if loops == 1 else []
    start = time.perf_counter()
    while len(samples) < max_repeats and (len(samples) < min_repeats
                                           or time.perf_counter() - start < budget):
        t0 = time.perf_counter()
        for _ in range(loops):
            fn()
        samples.append((time.perf_counter() - t0) / loops)
    return samples


def batch_data(shape: list[int], classes: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The same ``n`` random images and labels in every process (seed 0)."""
    rng = np.random.default_rng(0)
    return rng.random((n, *shape), dtype=np.float32), rng.integers(0, classes, n)


def _max_diff(got: np.ndarray, spec: dict) -> float:
    """Largest difference from fastnn's probabilities on the probe; an error past 1e-3."""
    expected = np.load(spec["files"]["expected"])
    diff = float(np.max(np.abs(np.asarray(got, dtype=np.float64) - expected)))
    if not diff <= 1e-3:
        raise SystemExit(f"{spec['framework']} gives other probabilities than fastnn on the "
                         f"same weights (largest difference {diff:.3g}): not the same network")
    return diff


def export(spec: dict) -> dict:
    import fastnn as fn
    from fastnn import zoo

    net = zoo.get(spec["network"])
    model = net.build(spec["size"])
    shape = net.input_shape(spec["size"])
    probe = np.random.default_rng(1).random((4, *shape), dtype=np.float32)
    files = spec["files"]
    np.save(files["probe"], probe)
    np.save(files["expected"], model.predict(probe))
    model.save(files["weights"])
    out = {"input_shape": list(shape), "classes": net.classes,
           "train_flops": zoo.train_flops(model, shape),
           "infer_flops": sum(zoo.layer_flops(model, shape))}
    try:
        fn.export.to_onnx(model, files["onnx"], probabilities=True)
    except ImportError as e:  # no onnx: the onnxruntime side says why
        out["onnx_error"] = str(e)
    return out


def _fastnn(spec: dict, x, y):
    import numba
    import threadpoolctl

    import fastnn as fn

    fn.retain_freed_memory()  # as the CLI does: no page faults on reused buffers
    model = fn.load(spec["files"]["weights"])
    diff = _max_diff(model.predict(np.load(spec["files"]["probe"])), spec)

    def infer(b):
        return lambda: model.predict(x[:b], batch_size=b)

    def train(b, steps):
        opt = fn.SGD(0.01, momentum=0.9) if spec["optimizer"] == "sgd" else fn.Adam(1e-3)
        return lambda: model.fit(x[: b * steps], y[: b * steps], optimizer=opt, epochs=1,
                                 batch_size=b, progress=False)

    def runtime():
        return {"fastnn": fn.__version__, "numpy": np.__version__, "numba": numba.__version__,
                "numba_threads": numba.get_num_threads(),
                "threading_layer": numba.threading_layer(),
                "blas": [{k: lib.get(k) for k in ("internal_api", "version", "architecture",
                                                  "threading_layer", "num_threads", "prefix")}
                         for lib in threadpoolctl.threadpool_info()]}

    return diff, infer, train, runtime


def _pytorch(spec: dict, x, y):
    import torch

    import fastnn as fn
    from fastnn import zoo

    torch.set_num_threads(spec["threads"])
    torch.manual_seed(0)
    tmodel = zoo.to_torch(fn.load(spec["files"]["weights"]))  # reads the file, runs no kernel
    tmodel.eval()
    with torch.inference_mode():
        diff = _max_diff(torch.softmax(tmodel(torch.from_numpy(
            np.load(spec["files"]["probe"]))), 1).numpy(), spec)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def infer(b):
        def run():
            tmodel.eval()
            with torch.inference_mode():
                torch.softmax(tmodel(xt[:b]), 1)
        return run

    def train(b, steps):
        opt = (torch.optim.SGD(tmodel.parameters(), 0.01, momentum=0.9)
               if spec["optimizer"] == "sgd" else torch.optim.Adam(tmodel.parameters(), 1e-3))
        loss_fn = torch.nn.CrossEntropyLoss()
        gen = torch.Generator().manual_seed(0)

        def run():  # what fit does: shuffle, then one step per batch
            tmodel.train()
            order = torch.randperm(b * steps, generator=gen)
            for i in range(steps):
                idx = order[i * b : (i + 1) * b]
                opt.zero_grad(set_to_none=True)
                loss_fn(tmodel(xt[idx]), yt[idx]).backward()
                opt.step()
        return run

    def runtime():
        return {"torch": torch.__version__, "torch_threads": torch.get_num_threads(),
                "parallel_info": torch.__config__.parallel_info().splitlines()[:6]}

    return diff, infer, train, runtime


def _keras(spec: dict, x, y):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    import fastnn as fn
    from fastnn import zoo

    tf.config.threading.set_intra_op_parallelism_threads(spec["threads"])
    tf.config.threading.set_inter_op_parallelism_threads(spec["threads"])
    keras.utils.set_random_seed(0)
    shape = tuple(spec["input_shape"])
    kmodel = zoo.to_keras(fn.load(spec["files"]["weights"]), shape)  # reads, runs no kernel
    probs = keras.Model(kmodel.inputs, keras.layers.Softmax()(kmodel.outputs[0]))

    def last(a):  # Keras is channels last: (N, C, H, W) -> (N, H, W, C), once, untimed
        return np.ascontiguousarray(a.transpose(0, 2, 3, 1)) if a.ndim == 4 else a

    diff = _max_diff(probs.predict_on_batch(last(np.load(spec["files"]["probe"]))), spec)
    xk = last(x)

    def infer(b):
        return lambda: probs.predict_on_batch(xk[:b])

    def train(b, steps):
        opt = (keras.optimizers.SGD(0.01, momentum=0.9) if spec["optimizer"] == "sgd"
               else keras.optimizers.Adam(1e-3))
        kmodel.compile(optimizer=opt,
                       loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        rng = np.random.default_rng(0)

        def run():  # what fit does: shuffle, then one step per batch
            order = rng.permutation(b * steps)
            for i in range(steps):
                idx = order[i * b : (i + 1) * b]
                kmodel.train_on_batch(xk[idx], y[idx])
        return run

    def runtime():
        return {"keras": keras.__version__, "backend": keras.backend.backend(),
                "tensorflow": tf.__version__,
                "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
                "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads()}

    return diff, infer, train, runtime


def _onnxruntime(spec: dict, x, y):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = spec["threads"]
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(spec["files"]["onnx"], opts,
                                providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    out = ["probabilities"]  # what predict returns (the graph gives the logits too)
    diff = _max_diff(sess.run(out, {name: np.load(spec["files"]["probe"])})[0], spec)

    def infer(b):
        feed = {name: np.ascontiguousarray(x[:b])}
        return lambda: sess.run(out, feed)

    def train(b, steps):
        raise SystemExit("onnxruntime times inference only")

    def runtime():
        return {"onnxruntime": ort.__version__, "providers": sess.get_providers()}

    return diff, infer, train, runtime


FRAMEWORKS = {"fastnn": _fastnn, "pytorch": _pytorch, "keras": _keras,
              "onnxruntime": _onnxruntime}


def time_cases(spec: dict) -> dict:
    cases = spec["cases"]
    n = max(c["batch"] * c.get("steps", 1) for c in cases)
    x, y = batch_data(spec["input_shape"], spec["classes"], n)
    diff, infer, train, runtime = FRAMEWORKS[spec["framework"]](spec, x, y)
    out = []
    for case in sorted(cases, key=lambda c: c["task"] != "infer"):  # train last: it moves weights
        fn = (infer(case["batch"]) if case["task"] == "infer"
              else train(case["batch"], case["steps"]))
        samples = time_call(fn, spec["budget"])
        if case["task"] == "train":
            samples = [s / case["steps"] for s in samples]  # seconds per step
        out.append({**case, "samples": samples})
    return {"max_abs_diff": diff, "cases": out, "runtime": runtime()}


def kernels(spec: dict) -> dict:
    import numba

    from fastnn.benchmark import kernels as kc

    module = kc.IMPLEMENTATIONS[spec["framework"]]
    names = spec.get("names")
    out = []
    for case in kc.KERNEL_CASES:
        if hasattr(module, case.function) and (not names or any(n in case.name for n in names)):
            fn, args = getattr(module, case.function), case.args()
            out.append({"case": case.name, "samples": time_call(lambda f=fn, a=args: f(*a),
                                                                spec["budget"])})
    return {"cases": out, "runtime": {"numba_threads": numba.get_num_threads()}}


def matmul_peak(n: int = 2048) -> float:
    """NumPy's float32 matmul rate in GFLOP/s (its BLAS on this process's threads), best of
    at least 5 repeats."""
    rng = np.random.default_rng(0)
    a, b = rng.random((n, n), dtype=np.float32), rng.random((n, n), dtype=np.float32)
    return 2 * n**3 / min(time_call(lambda: a @ b, 0.5, min_repeats=5)) / 1e9


def peak(spec: dict) -> dict:
    return {"gflops": matmul_peak()}


JOBS = {"export": export, "time": time_cases, "kernels": kernels, "peak": peak}


def main(spec_path: str, result_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    result = JOBS[spec["job"]](spec)
    tmp = Path(result_path).with_suffix(".part")
    tmp.write_text(json.dumps(result))
    os.replace(tmp, result_path)


if __name__ == "__main__":
    main(*sys.argv[1:3])
