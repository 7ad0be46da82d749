"""Train a gradient-boosted regressor on data/prepared/train.csv -> models/model.pkl."""

import pickle
from pathlib import Path

import numpy as np
import yaml
from sklearn.ensemble import GradientBoostingRegressor

params = yaml.safe_load(Path("params.yaml").read_text())["train"]
data = np.loadtxt("data/prepared/train.csv", delimiter=",", skiprows=1)
X, y = data[:, :-1], data[:, -1]

model = GradientBoostingRegressor(
    learning_rate=float(params["lr"]),
    n_estimators=int(params["n_estimators"]),
    max_depth=int(params["max_depth"]),
    random_state=int(params["seed"]),
)
model.fit(X, y)
Path("models").mkdir(exist_ok=True)
with open("models/model.pkl", "wb") as f:
    pickle.dump(model, f, protocol=4)
print(f"trained on {len(y)} rows")
