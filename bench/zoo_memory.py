"""Peak resident memory of training a zoo network, fastnn against PyTorch, each in its own
process: 8 training steps at batch 32 (fit / a plain PyTorch loop with Adam), then inference of
256 images in batches of 32. Needs PyTorch.

    python bench/zoo_memory.py                    # simple-vgg
    python bench/zoo_memory.py --network cifar-cnn
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

CHILD = """
import sys
from fastnn import zoo
import fastnn as fn
net = next(n for n in zoo.ZOO if n.name == sys.argv[1])
fn.retain_freed_memory()
if sys.argv[2] == "fastnn":
    model, train, predict = zoo._fastnn_calls(net, 32, 8, 256)
else:
    import torch
    model = net.build()
    model.predict(zoo._data(net, 1)[0])  # allocate the weights to copy
    train, predict = zoo._torch_calls(model, net, 32, 8, 256)
    del model
train()
predict()
"""


def peak_mb(network: str, side: str) -> float:
    proc = subprocess.Popen([sys.executable, "-c", CHILD, network, side])
    _, status, usage = os.wait4(proc.pid, 0)
    if status:
        raise SystemExit(f"the {side} run of {network} failed")
    return usage.ru_maxrss / 1024


def main() -> None:
    from fastnn import zoo

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", default="simple-vgg", choices=[n.name for n in zoo.ZOO])
    args = parser.parse_args()
    ours, theirs = peak_mb(args.network, "fastnn"), peak_mb(args.network, "pytorch")
    print(f"{args.network}, batch 32, peak resident memory: fastnn {ours:,.0f} MB, PyTorch "
          f"{theirs:,.0f} MB, fastnn/PyTorch {ours / theirs:.2f}")


if __name__ == "__main__":
    main()
