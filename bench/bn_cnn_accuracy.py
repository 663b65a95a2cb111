"""The BatchNorm + dropout CNN (fastnn.models.mnist_bn_cnn) trained with the Keras tutorial's
recipe (SGD lr 0.01, batch 32) by fastnn and by PyTorch from the same initial weights:
test accuracy after one epoch on the first N MNIST training images, for a few seeds.

    python bench/bn_cnn_accuracy.py --data ../shared/data/mnist [--train 10000] [--seeds 3]

tests/test_vgg.py holds fastnn to the PyTorch accuracies this prints.
"""

import argparse

import numpy as np

import fastnn as fn
from fastnn.zoo import to_torch


def fastnn_accuracy(x, y, xt, yt, seed: int) -> float:
    model = fn.models.mnist_bn_cnn(seed)
    model.fit(x, y, optimizer=fn.SGD(0.01), epochs=1, batch_size=32, seed=seed, progress=False)
    return model.evaluate(xt, yt)[1]


def torch_accuracy(x, y, xt, yt, seed: int) -> float:
    import torch

    torch.manual_seed(seed)
    model = to_torch(fn.models.mnist_bn_cnn(seed))  # the same initial weights
    opt = torch.optim.SGD(model.parameters(), 0.01)
    loss_fn = torch.nn.CrossEntropyLoss()
    xt_, yt_ = torch.from_numpy(xt), torch.from_numpy(yt)
    x_, y_ = torch.from_numpy(x), torch.from_numpy(y)
    order = torch.from_numpy(np.random.default_rng(seed).permutation(len(x)))
    model.train()
    for i in range(0, len(x), 32):
        idx = order[i : i + 32]
        opt.zero_grad()
        loss_fn(model(x_[idx]), y_[idx]).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        return float((model(xt_).argmax(1) == yt_).float().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="the folder with the MNIST files")
    parser.add_argument("--train", type=int, default=10000)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    (x, y), (xt, yt) = fn.datasets.mnist(args.data, download=False)
    x, y = x[: args.train], y[: args.train]
    for seed in range(args.seeds):
        a, b = fastnn_accuracy(x, y, xt, yt, seed), torch_accuracy(x, y, xt, yt, seed)
        print(f"seed {seed}: fastnn {a:.2%}, pytorch {b:.2%}")


if __name__ == "__main__":
    main()
