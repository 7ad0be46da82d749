"""Logistic regression by batch gradient descent, standard library only -> models/model.pkl."""

import csv
import math
import pickle
import random
from pathlib import Path

import yaml

params = yaml.safe_load(Path("params.yaml").read_text())["train"]
with open("data/prepared/train.csv", newline="") as f:
    reader = csv.reader(f)
    next(reader)
    rows = [[float(v) for v in r] for r in reader]

X = [r[:-1] for r in rows]
y = [r[-1] for r in rows]
rng = random.Random(params["seed"])
w = [rng.uniform(-0.01, 0.01) for _ in X[0]]
b = 0.0
lr = float(params["lr"])
for _ in range(int(params["epochs"])):
    gw, gb = [0.0] * len(w), 0.0
    for xi, yi in zip(X, y, strict=True):
        z = max(-30.0, min(30.0, sum(a * c for a, c in zip(w, xi, strict=True)) + b))
        err = 1 / (1 + math.exp(-z)) - yi
        gw = [g + err * c for g, c in zip(gw, xi, strict=True)]
        gb += err
    w = [a - lr * g / len(X) for a, g in zip(w, gw, strict=True)]
    b -= lr * gb / len(X)

Path("models").mkdir(exist_ok=True)
with open("models/model.pkl", "wb") as f:
    pickle.dump({"weights": [round(v, 12) for v in w], "bias": round(b, 12)}, f, protocol=4)
print(f"trained on {len(X)} rows")
