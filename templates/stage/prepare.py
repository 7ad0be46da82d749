"""Stage `{name}`: turn raw inputs into model-ready data.

Reads its parameters from params.yaml; writes only to the outputs declared in dvc.yaml.
"""

from pathlib import Path

import yaml

params = yaml.safe_load(Path("params.yaml").read_text()) or {{}}

# TODO: read your inputs (the stage's deps) and write the declared outputs.
print("stage {name}: done")
