"""Split data/raw.csv into data/prepared/{train,test}.csv, reproducibly (stdlib only: fast)."""

import csv
import random
from pathlib import Path

import yaml

params = yaml.safe_load(Path("params.yaml").read_text())["prepare"]
with open("data/raw.csv", newline="") as f:
    reader = csv.reader(f)
    header = next(reader)
    rows = list(reader)

random.Random(params["seed"]).shuffle(rows)
n_test = int(round(len(rows) * float(params["test_size"])))
out = Path("data/prepared")
out.mkdir(parents=True, exist_ok=True)
for name, part in (("test.csv", rows[:n_test]), ("train.csv", rows[n_test:])):
    with open(out / name, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(part)
print(f"prepared {len(rows) - n_test} training and {n_test} test rows")
