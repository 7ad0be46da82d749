"""Small datasets that need no download: scikit-learn's bundled files, or generated.

`python -m mlgit.datasets NAME PATH` writes one; the repo's own example pipeline uses that as
its first stage, so `dvc repro` works in a fresh clone with no remote.
"""

from __future__ import annotations

import gzip
import importlib.util
import random
import sys
from pathlib import Path

from mlgit.errors import MlgitError

_WINE_FEATURES = [
    "alcohol", "malic_acid", "ash", "alcalinity_of_ash", "magnesium", "total_phenols",
    "flavanoids", "nonflavanoid_phenols", "proanthocyanins", "color_intensity", "hue",
    "od280_od315", "proline",
]
_DIABETES_FEATURES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
DATASETS = ("sklearn-wine", "sklearn-diabetes", "synthetic")


def _sklearn_data_dir() -> Path:
    # find the files without importing scikit-learn (its import costs seconds)
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise MlgitError("this template needs scikit-learn, which is not installed",
                         hint="pip install scikit-learn, or use --template minimal")
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"


def dataset_text(kind: str) -> str:
    """The CSV text (header = feature names + `target`) of a named dataset."""
    if kind == "sklearn-wine":
        lines = (_sklearn_data_dir() / "wine_data.csv").read_text().splitlines()[1:]
        return ",".join([*_WINE_FEATURES, "target"]) + "\n" + "\n".join(lines) + "\n"
    if kind == "sklearn-diabetes":
        d = _sklearn_data_dir()
        x = gzip.decompress((d / "diabetes_data_raw.csv.gz").read_bytes()).decode().splitlines()
        y = gzip.decompress((d / "diabetes_target.csv.gz").read_bytes()).decode().splitlines()
        rows = [",".join(a.split()) + "," + b.strip() for a, b in zip(x, y, strict=True)]
        return ",".join([*_DIABETES_FEATURES, "target"]) + "\n" + "\n".join(rows) + "\n"
    if kind == "synthetic":
        rng = random.Random(0)
        out = []
        for _ in range(400):
            label = rng.random() < 0.5
            feats = [rng.gauss(0.8 if label else -0.8, 1.0) for _ in range(4)]
            out.append(",".join(f"{v:.6f}" for v in feats) + f",{int(label)}")
        return "x1,x2,x3,x4,target\n" + "\n".join(out) + "\n"
    raise MlgitError(f"unknown dataset '{kind}'", hint="choose one of: " + ", ".join(DATASETS))


def write_dataset(kind: str, dest: Path) -> None:
    dest.write_text(dataset_text(kind))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m mlgit.datasets NAME PATH")
    target = Path(sys.argv[2])
    target.parent.mkdir(parents=True, exist_ok=True)
    write_dataset(sys.argv[1], target)
