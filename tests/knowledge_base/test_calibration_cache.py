"""The calibrator is refitted whenever what it was fitted from changes, and only then."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import knowledge_base.calibration_cache as cache
from knowledge_base.calibration import fit_calibrator
from knowledge_base.rerank import MONOTONIC
from knowledge_base.schema import Guide


@pytest.fixture
def fits(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[int]:
    monkeypatch.setenv("XS_CACHE_DIR", str(tmp_path))
    calls: list[int] = []

    def counting(guides: list[Guide]) -> object:
        calls.append(len(guides))
        return fit_calibrator(guides)

    monkeypatch.setattr(cache, "fit_calibrator", counting)
    return calls


def test_the_same_guides_are_fitted_once_and_give_the_same_confidences(
        fits: list[int], fixture_guides: list[Guide]) -> None:
    first, report = cache.fit_calibrator_cached(fixture_guides)
    again, report_again = cache.fit_calibrator_cached(list(reversed(fixture_guides)))
    assert fits == [len(fixture_guides)] and report_again == report
    row = np.full((1, len(MONOTONIC)), 0.5)
    assert first.probabilities(row).tolist() == again.probabilities(row).tolist()


def test_a_changed_guide_is_fitted_again(fits: list[int], fixture_guides: list[Guide]) -> None:
    cache.fit_calibrator_cached(fixture_guides)
    changed = fixture_guides[0].model_copy(update={"sample_questions": [*fixture_guides[0].sample_questions,
                                                                         "新加的一句示例问题"]})
    cache.fit_calibrator_cached([changed, *fixture_guides[1:]])
    assert len(fits) == 2


def test_a_damaged_file_is_refitted_and_caching_can_be_turned_off(
        fits: list[int], fixture_guides: list[Guide], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    cache.fit_calibrator_cached(fixture_guides)
    [stored] = (tmp_path / "calibration").glob("*.pickle")
    stored.write_bytes(b"not a pickle")
    cache.fit_calibrator_cached(fixture_guides)
    assert len(fits) == 2 and stored.stat().st_size > 100
    monkeypatch.setenv("XS_CACHE_DIR", "")
    cache.fit_calibrator_cached(fixture_guides)
    assert len(fits) == 3
