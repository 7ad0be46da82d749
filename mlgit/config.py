"""mlgit's few settings: an optional committed `mlgit.yaml`, else inferred from the repo."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mlgit.errors import MlgitError
from mlgit.yamlio import load_yaml

CONFIG_FILE = "mlgit.yaml"
DEFAULT_PREFIX = "exp/"
_MIN_WORDS = ("loss", "error", "mse", "rmse", "mae", "mape", "logloss", "perplexity", "wer", "cer")
_KEYS = {"metric", "direction", "exp_prefix", "base_branch", "model", "stages"}


@dataclass(frozen=True)
class Config:
    metric: str | None = None  # primary metric (flattened name, e.g. "accuracy" or "eval.acc")
    direction: str | None = None  # "max" or "min"; None = infer from the name
    exp_prefix: str = DEFAULT_PREFIX
    base_branch: str | None = None  # None = main, master or the remote's HEAD
    model: str | None = None  # model artifact name; None = the first declared artifact
    stages: tuple[str, ...] = field(default_factory=tuple)  # allowed registry stages (empty: any)
    source: str | None = None  # where it was read from, for messages

    def direction_of(self, metric: str) -> str:
        if self.direction and metric == self.metric:
            return self.direction
        return infer_direction(metric)


def infer_direction(metric: str) -> str:
    """'min' for loss-like names (loss, error, mse, ...), else 'max'."""
    words = re.split(r"[^a-z0-9]+", metric.lower())
    return "min" if any(w in _MIN_WORDS or w.endswith("loss") for w in words) else "max"


def parse_config(text: str | bytes, source: str = CONFIG_FILE) -> Config:
    data = load_yaml(text, source) or {}
    if not isinstance(data, dict):
        raise MlgitError(f"{source}: expected a mapping at the top level")
    unknown = set(data) - _KEYS
    if unknown:
        raise MlgitError(
            f"{source}: unknown key {sorted(unknown)[0]!r}",
            hint=f"allowed keys: {', '.join(sorted(_KEYS))}",
        )
    values: dict[str, Any] = {}
    for key in ("metric", "exp_prefix", "base_branch", "model"):
        if key in data and data[key] is not None:
            if not isinstance(data[key], str) or not data[key]:
                raise MlgitError(f"{source}: {key}: expected a non-empty string")
            values[key] = data[key]
    if "direction" in data and data["direction"] is not None:
        if data["direction"] not in ("max", "min"):
            raise MlgitError(f"{source}: direction: expected 'max' or 'min'")
        values["direction"] = data["direction"]
    if "stages" in data and data["stages"] is not None:
        stages = data["stages"]
        if not isinstance(stages, list) or not all(isinstance(s, str) for s in stages):
            raise MlgitError(f"{source}: stages: expected a list of names")
        values["stages"] = tuple(stages)
    prefix = values.get("exp_prefix", DEFAULT_PREFIX)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*/", prefix):
        raise MlgitError(f"{source}: exp_prefix: expected a name ending in '/', like 'exp/'")
    return Config(**values, source=source)


def load_config(root: Path) -> Config:
    path = root / CONFIG_FILE
    if not path.is_file():
        return Config()
    return parse_config(path.read_text(encoding="utf-8"), str(CONFIG_FILE))


def dump_config(config: Config) -> str:
    lines = ["# mlgit settings (https://example.invalid/mlgit). Every key is optional."]
    for key in ("metric", "direction", "exp_prefix", "base_branch", "model"):
        value = getattr(config, key)
        if value is not None:
            lines.append(f"{key}: {value}")
    if config.stages:
        lines.append("stages: [" + ", ".join(config.stages) + "]")
    return "\n".join(lines) + "\n"


def with_defaults(config: Config, **kwargs: Any) -> Config:
    return replace(config, **{k: v for k, v in kwargs.items() if v is not None})
