"""Which embedding model is in force: `face.embedder` names one, or "auto" takes the best one installed."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .spec import spec_path

AUTO = "auto"

# Best first, by measured accuracy on LFW dev (TAR at FAR 1e-3: mobilefacenet 97.2%, dlib_resnet_v1
# 91.5%). dlib_resnet_v1 always installs (PyPI); mobilefacenet only where its source could be fetched.
AUTO_ORDER: tuple[str, ...] = ("mobilefacenet", "dlib_resnet_v1")


@dataclass(frozen=True)
class EmbedderChoice:
    model_id: str
    log_line: str           # the one line the pipeline logs at start: the model in force and why


def choose_embedder(configured: str, models_dir: Path) -> EmbedderChoice:
    """The embedder id for `face.embedder`. An explicit id is taken as it is (missing = ModelError at load).

    With "auto", a model counts as installed when its spec file is there; a spec whose model file is
    missing or corrupt then stops the pipeline with the fix, rather than silently changing the model.
    """
    if configured != AUTO:
        return EmbedderChoice(configured, f"embedder {configured} (configured)")
    missing: list[str] = []
    for model_id in AUTO_ORDER:
        if spec_path(models_dir, model_id).is_file():
            if not missing:
                return EmbedderChoice(model_id, f"embedder auto: {model_id} (the most accurate model)")
            return EmbedderChoice(model_id, f"embedder auto: {', '.join(missing)} not installed "
                                            f"(run `kiosk models install --from DIR`), using {model_id}")
        missing.append(model_id)
    # Nothing installed: load the one that always installs, whose ModelError names the fix.
    return EmbedderChoice(AUTO_ORDER[-1], f"embedder auto: no embedding model installed in {models_dir}")
