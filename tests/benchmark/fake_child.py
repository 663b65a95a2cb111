"""A stand-in for fastnn/benchmark/child.py that the runner tests spawn instead: it answers
each job at once with made-up times, or misbehaves as ``BEHAVIOUR`` (a JSON file beside the
spec: {framework: "crash" | "hang" | "silent" | "once-crash"}) says.

    python fake_child.py SPEC.json RESULT.json
"""

import json
import os
import sys
import time
from pathlib import Path

TIMES = {"fastnn": 1e-3, "pytorch": 2e-3, "keras": 3e-3, "onnxruntime": 0.5e-3, "numba": 1e-5,
         "reference": 1e-3, "numpy-im2col": 1e-4}


def main(spec_path: str, result_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    folder = Path(spec_path).parent
    behaviour = json.loads((folder / "BEHAVIOUR").read_text()) if (folder / "BEHAVIOUR"
                                                                  ).exists() else {}
    what = behaviour.get(spec.get("framework", spec["job"]))
    (folder / f"pid-{os.getpid()}").write_text(json.dumps(
        {"job": spec["job"], "framework": spec.get("framework"),
         "threads": os.environ.get("NUMBA_NUM_THREADS"), "time": time.monotonic()}))
    if what == "crash" or (what == "once-crash" and not (folder / "crashed").exists()):
        (folder / "crashed").write_text("")
        print("RuntimeError: the comparator fell over", file=sys.stderr)
        sys.exit(3)
    if what == "hang":
        time.sleep(600)
    if what == "silent":
        return
    if spec["job"] == "export":
        out = {"input_shape": [1, 28, 28], "classes": 10, "train_flops": 3_000_000,
               "infer_flops": 1_000_000}
    elif spec["job"] == "peak":
        out = {"gflops": 100.0}
    elif spec["job"] == "kernels":
        out = {"cases": [{"case": "conv", "samples": [TIMES[spec["framework"]]] * 3}],
               "runtime": {}}
    else:
        base = TIMES[spec["framework"]] / spec["threads"]
        out = {"max_abs_diff": 1e-7, "runtime": {"fake": True},
               "cases": [c | {"samples": [base * c["batch"], base * c["batch"] * 1.01]}
                         for c in spec["cases"]]}
    Path(result_path).write_text(json.dumps(out))


if __name__ == "__main__":
    main(*sys.argv[1:3])
