"""A user's script written against the loop-based reference; only the imports were changed.

Usage: python user_script.py MNIST_DIR   (prints a JSON summary of what it computed)
"""

import json
import sys

from fastnn.compat.network import *  # was: from CNN.network import *
from fastnn.compat.utils import *  # was: from CNN.utils import *

data_dir = sys.argv[1]
np.random.seed(42)
X = extract_data(data_dir + "/train-images-idx3-ubyte.gz", 12, 28)
y = extract_labels(data_dir + "/train-labels-idx1-ubyte.gz", 12).reshape(12, 1)
X -= int(np.mean(X))
X /= int(np.std(X))
data = np.hstack((X, y))

f1, f2 = initializeFilter((8, 1, 5, 5)), initializeFilter((8, 8, 5, 5))
w3, w4 = initializeWeight((128, 800)), initializeWeight((10, 128))
b1, b2, b3, b4 = np.zeros((8, 1)), np.zeros((8, 1)), np.zeros((128, 1)), np.zeros((10, 1))
params = [f1, f2, w3, w4, b1, b2, b3, b4]
cost = []
for k in range(0, 12, 4):
    params, cost = adamGD(data[k : k + 4], 10, 0.01, 28, 1, 0.95, 0.99, params, cost)
label, prob = predict(X[0].reshape(1, 28, 28), *params)
print(json.dumps({"cost": [float(c) for c in cost], "label": int(label), "prob": float(prob),
                  "checksum": [float(np.sum(p)) for p in params]}))
