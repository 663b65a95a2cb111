"""SimpleVGGNet with batch norm (dropout off) in fastnn and in PyTorch from the same weights,
in float64: a few SGD steps side by side, printing the largest difference of the logits.

    python bench/torch_equivalence.py [--steps 6]
"""

import argparse

import numpy as np
import torch

import fastnn as fn
from fastnn.zoo import to_torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6)
    args = parser.parse_args()
    model = fn.models.simple_vgg(3, (3, 32, 32), seed=0)
    for layer in model.layers:
        if isinstance(layer, fn.Dropout):
            layer.p = 0.0  # the two frameworks draw different masks
    tmodel = to_torch(model).double()
    model.dtype = np.dtype(np.float64)  # the same weights, in float64 on both sides
    for layer in model.layers:
        layer.params = {k: v.astype(np.float64) for k, v in layer.params.items()}
        layer.buffers = {k: v.astype(np.float64) for k, v in layer.buffers.items()}
    rng = np.random.default_rng(0)
    x, y = rng.random((64, 3, 32, 32)), rng.integers(0, 3, 64)
    opt, topt = fn.SGD(0.01), torch.optim.SGD(tmodel.parameters(), 0.01)
    loss_fn = torch.nn.CrossEntropyLoss()
    tmodel.train()
    for step in range(args.steps):
        xb, yb = x[step % 2 * 32 :][:32], y[step % 2 * 32 :][:32]
        loss, logits = model.loss_and_grads(xb, yb)
        opt.step(model.parameters())
        topt.zero_grad()
        tlogits = tmodel(torch.from_numpy(xb))
        tloss = loss_fn(tlogits, torch.from_numpy(yb))
        tloss.backward()
        topt.step()
        diff = np.abs(logits - tlogits.detach().numpy()).max()
        print(f"step {step}: loss fastnn {loss:.12f}, pytorch {tloss.item():.12f}, "
              f"largest logit difference {diff:.1e}")


if __name__ == "__main__":
    main()
