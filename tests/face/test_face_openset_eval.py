"""`kiosk eval open-set` and `kiosk eval strangers` on ../shared data, and 1,000 people enrolled in a real store.

Needs ../shared (the `shared_dir` fixture) and the installed models.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kiosk.cli import main
from kiosk.config import load_config
from kiosk.config.recognition import SecurityLevel
from kiosk.face.choice import AUTO, choose_embedder
from kiosk.face.evaluation import embed_images
from kiosk.face.openset_eval import in_fit_half, split_open_set
from kiosk.face.pinned_scores import pinned_stranger_scores
from kiosk.recognition.matching import Matcher
from kiosk.store import Store, init_keys

pytestmark = pytest.mark.shared

CONSENT = {"given_by": "Ann Example", "given_at": "2026-01-05T09:30:00+01:00", "notice_version": "v1",
           "method": "signed paper form", "scope": ["local"]}


def _link(target: Path, folders: list[Path]) -> Path:
    target.mkdir(parents=True)
    for folder in folders:
        (target / folder.name).symlink_to(folder)
    return target


@pytest.fixture(scope="module")
def faces(shared_dir: Path) -> Path:
    return shared_dir / "data" / "faces"


def test_split_keeps_the_fit_half_out_of_the_strangers(faces, tmp_path):
    fillers = _link(tmp_path / "fillers", sorted((faces / "lfw_strangers" / "images").iterdir())[:40])
    split = split_open_set(faces / "lfw_dev" / "images", [faces / "lfw_dev" / "distractors"], fillers, 25)
    enrolled_fillers = [k for k in split.enrolled if (fillers / k).exists()]
    fit = [k for k in (p.name for p in fillers.iterdir()) if in_fit_half(k)]
    assert len(split.enrolled) == 52 + 25 and len(enrolled_fillers) == 25
    assert set(fit) <= set(enrolled_fillers) or set(enrolled_fillers) <= set(fit)   # fit half fills first
    stranger_ids = {p.parent.name for p in split.strangers}
    assert not stranger_ids & set(fit) and not stranger_ids & set(split.enrolled)
    assert len(stranger_ids) == 100 + split.description["stranger_identities_from_fillers"]
    assert split.description["fillers_left_out_fit_half"] == max(len(fit) - 25, 0)


def test_eval_open_set_writes_the_report_and_plot(faces, tmp_path, pinned_models):
    enrolled = _link(tmp_path / "enrolled", sorted((faces / "lfw_dev" / "images").iterdir())[:12])
    strangers = _link(tmp_path / "strangers", sorted((faces / "lfw_dev" / "distractors").iterdir())[:30])
    fillers = _link(tmp_path / "fillers", sorted((faces / "lfw_strangers" / "images").iterdir())[:40])
    out = tmp_path / "report"
    code = main(["eval", "open-set", "--enrolled", str(enrolled), "--strangers", str(strangers), "--fillers",
                 str(fillers), "--n-fillers", "20", "--models", str(pinned_models), "--out", str(out),
                 "--no-progress", "--level", "low"])
    assert code == 0
    (report_path,) = out.glob("open_set_*.json")        # named after the embedder in force
    report = json.loads(report_path.read_text())
    level = report["at_security_level"]
    assert set(level) >= {"level", "threshold", "n_enrolled", "fpir", "fnir"}
    assert level["level"] == "low" and level["n_enrolled"] == 32 and 0 <= level["fpir"] <= 1 and 0 <= level["fnir"] <= 1
    assert level["expected_fpir"] == pytest.approx(1e-2, rel=1e-6) and level["threshold"] > 0
    rows = {(r["n_enrolled"], r["fpir_target"]): r for r in report["fnir_at_fpir"]}
    assert {(10, 1e-2), (10, 1e-3), (32, 1e-2), (32, 1e-3)} <= set(rows)
    assert rows[(10, 1e-2)]["galleries"] == 1 and rows[(10, 1e-3)]["estimable"] is False
    assert [r["n_enrolled"] for r in report["not_evaluated"]] == [100, 1000]
    assert report["split"]["enrolled"] == 32 and report["split"]["genuine_probes"] > 0
    assert report["split"]["stranger_probes"] == 30 + report["split"]["stranger_identities_from_fillers"]
    assert report_path.with_name(report_path.stem + "_det.png").stat().st_size > 10_000


@pytest.mark.slow
def test_eval_strangers_reproduces_the_pinned_scores(faces, tmp_path, pinned_models):
    """The pinned numbers (kiosk/data/stranger_scores) come from this command, for the embedder in force; after a
    change to detection, landmarks or a model this fails until they are re-measured."""
    models = _link(tmp_path / "models", sorted(pinned_models.iterdir()))
    for spec in models.glob("*.json"):          # real files: --write-spec must not reach the fixture's
        spec.unlink()
        spec.write_text((pinned_models / spec.name).read_text())
    code = main(["eval", "strangers", str(faces / "lfw_strangers" / "images"), "--genuine",
                 str(faces / "lfw_dev" / "pairs_dev.tsv"), "--models", str(models), "--write-spec", "--no-progress"])
    assert code == 0
    embedder = choose_embedder(AUTO, models).model_id
    measured = json.loads((models / f"{embedder}.json").read_text())["stranger_scores"]
    pinned = pinned_stranger_scores(embedder)
    assert measured["impostor_pairs"] == pinned.impostor_pairs
    assert np.allclose(np.array(measured["fmr"]), np.array(pinned.fmr), atol=1e-4)
    assert measured["tail"]["scale"] == pytest.approx(pinned.tail.scale, abs=1e-3)
    assert np.allclose(np.array(measured["genuine"]), np.array(pinned.genuine), atol=1e-4)


@pytest.mark.slow
def test_a_stranger_is_denied_with_1000_people_enrolled(faces, tmp_path, dlib, pinned_models):
    """1,000 people in a real SQLite store: the 782 LFW faces of ../shared that are not strangers here, and 218 more
    drawn from a normal fit to their embeddings. The 100 lfw_dev distractors walk up; at the normal level none is
    accepted, although a per-comparison threshold (the levels before FPIR) would have let some in."""
    people = sorted((faces / "lfw_strangers" / "images").glob("*/*.jpg"))
    people += [sorted(folder.glob("*.jpg"))[0] for folder in sorted((faces / "lfw_dev" / "images").iterdir())]
    walkups = sorted((faces / "lfw_dev" / "distractors").glob("*/*.jpg"))
    embedded = embed_images(dlib, people + walkups, progress=False)
    real = np.stack([embedded.vectors[p] for p in people if p in embedded.vectors])
    rng = np.random.default_rng(11)
    drawn = rng.multivariate_normal(real.mean(axis=0), np.cov(real, rowvar=False), 1000 - len(real))
    gallery = np.concatenate([real, drawn]).astype(np.float32)

    init_keys(tmp_path / "state" / "keys")
    (tmp_path / "kiosk.toml").write_text(f'[device]\nstate_dir = "{tmp_path / "state"}"\n'
                                         f'[face]\nmodels_dir = "{pinned_models}"\n')
    config = load_config(tmp_path / "kiosk.toml")
    with Store.open(config) as store:
        for i, vector in enumerate(gallery):
            person = store.add_person(employee_no=f"E{i:05d}", name=f"Person {i}", role="staff")
            store.enroll(person.person_id, [vector], model_id=dlib.model_id, consent=CONSENT)
        matcher = Matcher.from_store(store, dlib.model_id, metric=str(dlib.metric))
    assert len(matcher) == matcher.person_count == 1000

    point = dlib.operating_point(config.recognition, len(matcher))
    assert config.recognition.security_level == SecurityLevel.normal and point.gallery_size == 1000
    per_comparison = dlib.threshold(SecurityLevel.normal)
    best = [matcher.search(embedded.vectors[p], point.threshold) for p in walkups if p in embedded.vectors]
    assert len(best) >= 95
    assert all(result.person_id is None for result in best)
    assert sum(result.distance <= per_comparison for result in best) >= 1


def test_eval_open_set_without_genuine_probes_says_so(faces, tmp_path, pinned_models, capsys):
    one_image = sorted((faces / "lfw_dev" / "distractors").iterdir())
    enrolled, strangers = _link(tmp_path / "enrolled", one_image[:3]), _link(tmp_path / "strangers", one_image[3:5])
    code = main(["eval", "open-set", "--enrolled", str(enrolled), "--strangers", str(strangers), "--models",
                 str(pinned_models), "--out", str(tmp_path / "out"), "--no-progress"])
    assert code == 1
    assert "not both stranger probes and genuine probes" in capsys.readouterr().err
