"""Stage `{name}`: score the model and write a metrics file tracked by Git (cache: false)."""

import json
from pathlib import Path

metrics = {{"score": 0.0}}  # TODO: compute real metrics
Path("{name}_metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
print("stage {name}:", json.dumps(metrics))
