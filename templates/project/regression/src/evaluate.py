"""Score models/model.pkl on the held-out rows -> metrics.json."""

import json
import pickle
from pathlib import Path

import numpy as np
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

data = np.loadtxt("data/prepared/test.csv", delimiter=",", skiprows=1)
X, y = data[:, :-1], data[:, -1]
with open("models/model.pkl", "rb") as f:
    model = pickle.load(f)
pred = model.predict(X)
metrics = {
    "rmse": round(float(np.sqrt(mean_squared_error(y, pred))), 6),
    "mae": round(float(mean_absolute_error(y, pred)), 6),
    "r2": round(float(r2_score(y, pred)), 6),
}
Path("metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
print(json.dumps(metrics))
