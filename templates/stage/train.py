"""Stage `{name}`: fit a model and write it to the stage's declared output.

Keep training deterministic (fixed seeds) so `mlgit reproduce --rerun` can prove the bytes match.
"""

import pickle
from pathlib import Path

import yaml

params = yaml.safe_load(Path("params.yaml").read_text()) or {{}}

model = {{"params": params}}  # TODO: train a real model here
Path("models").mkdir(exist_ok=True)
with open("models/{name}.pkl", "wb") as f:
    pickle.dump(model, f, protocol=4)
print("stage {name}: done")
