"""mlgit: Git-native data and model versioning on top of DVC.

Experiments are Git branches, the model registry is GTO-compatible annotated tags, and every
read (compare, diff, lineage) comes straight from Git objects.
"""

__version__ = "0.1.0"

__all__ = ["MlgitError", "__version__"]

from mlgit.errors import MlgitError
