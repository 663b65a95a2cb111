"""Peak resident memory of training a zoo network, fastnn against PyTorch, each in its own
process: 8 training steps at batch 32 (fit / a plain PyTorch loop, SGD with momentum), then
inference of 256 images in batches of 32. Needs PyTorch.

    python bench/zoo_memory.py                    # SimpleVGGNet with batch norm
    python bench/zoo_memory.py --network cifar-cnn
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from fastnn import zoo
from fastnn.benchmark import child


def run_child(folder: Path, spec: dict) -> tuple[dict, float]:
    """Runs the bench's own child (the code `fastnn bench` times) in a process of its own;
    its result and peak resident memory in MB."""
    path = folder / f"{spec['job']}-{spec.get('framework', '')}.json"
    path.write_text(json.dumps(spec))
    proc = subprocess.Popen([sys.executable, child.__file__, str(path), f"{path}.out"])
    _, status, usage = os.wait4(proc.pid, 0)
    if status:
        raise SystemExit(f"the {spec.get('framework', 'export')} process failed")
    return json.loads(Path(f"{path}.out").read_text()), usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", default="simple-vgg-bn", choices=[n.name for n in zoo.ZOO])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = {"weights": f"{tmp}/model.npz", "onnx": f"{tmp}/model.onnx",
                 "probe": f"{tmp}/probe.npy", "expected": f"{tmp}/expected.npy"}
        net = zoo.get(args.network)
        export, _ = run_child(folder, {"job": "export", "network": net.name, "size": net.size,
                                       "files": files})
        peak = {}
        for side in ("fastnn", "pytorch"):
            _, peak[side] = run_child(folder, {
                "job": "time", "framework": side, "threads": os.cpu_count(), "files": files,
                "input_shape": export["input_shape"], "classes": export["classes"],
                "cases": [{"task": "infer", "batch": 32},
                          {"task": "train", "batch": 32, "steps": 8}],
                "optimizer": "sgd", "budget": 0.0})
    print(f"{args.network}, batch 32, peak resident memory: fastnn {peak['fastnn']:,.0f} MB, "
          f"PyTorch {peak['pytorch']:,.0f} MB, fastnn/PyTorch "
          f"{peak['fastnn'] / peak['pytorch']:.2f}")


if __name__ == "__main__":
    main()
