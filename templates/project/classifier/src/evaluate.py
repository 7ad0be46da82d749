"""Score models/model.pkl on the held-out rows -> metrics.json and plots/confusion.csv."""

import csv
import json
import pickle
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, log_loss

data = np.loadtxt("data/prepared/test.csv", delimiter=",", skiprows=1)
X, y = data[:, :-1], data[:, -1].astype(int)
with open("models/model.pkl", "rb") as f:
    model = pickle.load(f)

pred = model.predict(X)
proba = model.predict_proba(X)
metrics = {
    "accuracy": round(float(accuracy_score(y, pred)), 6),
    "f1_macro": round(float(f1_score(y, pred, average="macro")), 6),
    "log_loss": round(float(log_loss(y, proba, labels=model.classes_)), 6),
}
Path("metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
Path("plots").mkdir(exist_ok=True)
with open("plots/confusion.csv", "w", newline="") as f:
    writer = csv.writer(f, lineterminator="\n")
    writer.writerow(["actual", "predicted"])
    writer.writerows(zip(y.tolist(), pred.tolist(), strict=True))
print(json.dumps(metrics))
