"""Score models/model.pkl on data/prepared/test.csv -> metrics.json."""

import csv
import json
import math
import pickle
from pathlib import Path

with open("models/model.pkl", "rb") as f:
    model = pickle.load(f)
with open("data/prepared/test.csv", newline="") as f:
    reader = csv.reader(f)
    next(reader)
    rows = [[float(v) for v in r] for r in reader]

correct, loss = 0, 0.0
for r in rows:
    z = sum(a * c for a, c in zip(model["weights"], r[:-1], strict=True)) + model["bias"]
    p = min(max(1 / (1 + math.exp(-max(-30.0, min(30.0, z)))), 1e-12), 1 - 1e-12)
    correct += int((p >= 0.5) == (r[-1] == 1.0))
    loss -= math.log(p) if r[-1] == 1.0 else math.log(1 - p)
metrics = {"accuracy": round(correct / len(rows), 6), "loss": round(loss / len(rows), 6)}
Path("metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
print(json.dumps(metrics))
