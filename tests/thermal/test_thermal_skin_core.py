"""Skin-to-core model on the FDA facial/oral study (group 1, dev data)."""
from __future__ import annotations

import pytest

from kiosk.config.temperature import TemperatureConfig
from kiosk.thermal.skin_core import MODEL, cross_validate, fit, load_fda

pytestmark = pytest.mark.shared


@pytest.fixture(scope="module")
def fda(shared_dir):
    return load_fda(shared_dir / "data" / "thermal" / "fda_facial_oral_temperature")


def test_data_loads_both_cameras(fda):
    assert len(fda.oral) > 1000                       # 544 + 539 rows, a few incomplete ones dropped
    assert 36.5 < fda.oral.mean() < 37.5
    assert len(set(fda.subject)) < len(fda.oral)      # subjects seen by both cameras


def test_shipped_constants_are_our_fit(fda):
    fitted = fit(fda)
    for name in ("intercept", "canthus", "forehead", "ambient", "gap_intercept", "gap_ambient"):
        assert getattr(fitted, name) == pytest.approx(getattr(MODEL, name), abs=6e-4), name


def test_cross_validated_error_and_fever_screening(fda):
    threshold = TemperatureConfig().fever_threshold_c
    result = cross_validate(fda, threshold)
    print(f"MAE {result.mae_c:.3f} C, sensitivity {result.sensitivity:.3f}, specificity {result.specificity:.3f} "
          f"at {threshold} C ({result.positives} febrile of {result.rows})")
    assert result.mae_c < 0.27
    assert result.sensitivity >= 0.68
    assert result.specificity >= 0.90
    at_375 = cross_validate(fda, 37.5)
    assert at_375.sensitivity >= 0.72 and at_375.specificity >= 0.95


def test_inverse_gives_back_the_body_temperature():
    for body in (35.5, 36.8, 38.0, 40.0):
        for room in (18.0, 22.0, 30.0):
            canthus, forehead = MODEL.skin(body, room)
            assert canthus > forehead
            assert MODEL.body(canthus, forehead, room) == pytest.approx(body, abs=1e-9)
