"""The calibrator is refitted whenever what it was fitted from changes, and only then."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

import knowledge_base.calibration_cache as cache
from knowledge_base.calibration import fit_calibrator
from knowledge_base.normalize import Segmenter
from knowledge_base.rerank import MONOTONIC
from knowledge_base.schema import Guide
from knowledge_base.search.base import Hit, SearchBackend
from knowledge_base.search.elastic import ElasticBackend
from knowledge_base.search.embedded import EmbeddedBackend
from tests.knowledge_base.conftest import segmenter_for


@pytest.fixture
def fits(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[int]:
    monkeypatch.setenv("XS_CACHE_DIR", str(tmp_path))
    calls: list[int] = []

    def counting(guides: list[Guide], backend: SearchBackend) -> object:
        calls.append(len(guides))
        return fit_calibrator(guides, backend)

    monkeypatch.setattr(cache, "fit_calibrator", counting)
    return calls


@pytest.fixture
def backend(fixture_guides: list[Guide]) -> EmbeddedBackend:
    return EmbeddedBackend(segmenter_for(fixture_guides))


def test_the_same_guides_are_fitted_once_and_give_the_same_confidences(
        fits: list[int], fixture_guides: list[Guide], backend: EmbeddedBackend) -> None:
    first, report = cache.fit_calibrator_cached(fixture_guides, backend)
    again, report_again = cache.fit_calibrator_cached(list(reversed(fixture_guides)), backend)
    assert fits == [len(fixture_guides)] and report_again == report
    row = np.full((1, len(MONOTONIC)), 0.5)
    assert first.probabilities(row).tolist() == again.probabilities(row).tolist()


def test_a_changed_guide_is_fitted_again(
        fits: list[int], fixture_guides: list[Guide], backend: EmbeddedBackend) -> None:
    cache.fit_calibrator_cached(fixture_guides, backend)
    changed = fixture_guides[0].model_copy(update={"sample_questions": [*fixture_guides[0].sample_questions,
                                                                         "新加的一句示例问题"]})
    cache.fit_calibrator_cached([changed, *fixture_guides[1:]], backend)
    assert len(fits) == 2


def test_a_damaged_file_is_refitted_and_caching_can_be_turned_off(
        fits: list[int], fixture_guides: list[Guide], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, backend: EmbeddedBackend) -> None:
    cache.fit_calibrator_cached(fixture_guides, backend)
    [stored] = (tmp_path / "calibration").glob("*.pickle")
    stored.write_bytes(b"not a pickle")
    cache.fit_calibrator_cached(fixture_guides, backend)
    assert len(fits) == 2 and stored.stat().st_size > 100
    monkeypatch.setenv("XS_CACHE_DIR", "")
    cache.fit_calibrator_cached(fixture_guides, backend)
    assert len(fits) == 3


def test_the_backend_kind_is_part_of_the_key(fixture_guides: list[Guide]) -> None:
    keys = {kind: cache.fit_key(fixture_guides, kind) for kind in ("embedded", "elasticsearch")}
    assert keys["embedded"] != keys["elasticsearch"]
    assert keys["embedded"] == cache.fit_key(list(reversed(fixture_guides)), "embedded")


class _Spy(EmbeddedBackend):
    """An embedded backend whose scratch copies count the searches made through them."""

    kind = "spy"

    def __init__(self, backend: EmbeddedBackend, searches: list[str]) -> None:
        super().__init__(backend.segmenter)
        self.searches = searches
        self.open_scratches = 0

    @contextmanager
    def scratch(self) -> Iterator[EmbeddedBackend]:
        self.open_scratches += 1
        try:
            yield _Counting(self.segmenter, self.searches)
        finally:
            self.open_scratches -= 1


class _Counting(EmbeddedBackend):
    def __init__(self, segmenter: Segmenter, searches: list[str]) -> None:
        super().__init__(segmenter)
        self.searches = searches

    def search(self, query: str, k: int = 10) -> list[Hit]:
        self.searches.append(query)
        return super().search(query, k)


def test_calibration_searches_the_knowledge_bases_backend(
        fixture_guides: list[Guide], backend: EmbeddedBackend, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    monkeypatch.setenv("XS_CACHE_DIR", str(tmp_path))
    searches: list[str] = []
    spy = _Spy(backend, searches)
    _, report = cache.fit_calibrator_cached(fixture_guides, spy)
    assert report.questions > 0 and len(searches) >= report.questions
    assert spy.open_scratches == 0
    [stored] = (tmp_path / "calibration").glob("*.pickle")
    assert stored.stem == cache.fit_key(fixture_guides, "spy")


@pytest.mark.elasticsearch
def test_calibration_on_elasticsearch_leaves_no_index_behind(
        fixture_guides: list[Guide], osmem_search_url: str) -> None:
    live = ElasticBackend(osmem_search_url, alias="xs-test-calibration", plain_json=True,
                          segmenter=segmenter_for(fixture_guides))
    try:
        live.index(fixture_guides)
        _, report = fit_calibrator(fixture_guides, live)
        assert report.questions > 0
        names = sorted(live._client.indices.get(index="xs-test-calibration*").body)
        assert len(names) == 1 and names[0].startswith("xs-test-calibration-v")  # the live one only
        assert live.count() == len(fixture_guides)
    finally:
        live._client.indices.delete(index="xs-test-calibration*", allow_no_indices=True)
        live.close()
