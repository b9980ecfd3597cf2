"""Several action servers share one Elasticsearch index and rebuild it at the same moment when they
start (the replicas' layout): whichever finishes last, the alias points at a full version and every
one of them answers. Before, each dropped every version but its own, and the alias was left
pointing nowhere (every search 404, every question out of scope)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from knowledge_base.schema import Guide
from knowledge_base.search.elastic import ElasticBackend
from tests.knowledge_base.conftest import segmenter_for

pytestmark = pytest.mark.elasticsearch


def test_concurrent_rebuilds_of_one_alias_leave_it_answering(osmem_search_url: str,
                                                              fixture_guides: list[Guide]) -> None:
    alias = f"xs-race-{uuid.uuid4().hex[:8]}"
    backends = [ElasticBackend(osmem_search_url, alias=alias, plain_json=True,
                               segmenter=segmenter_for(fixture_guides)) for _ in range(4)]
    try:
        for _ in range(3):  # several rounds: the interleavings differ
            with ThreadPoolExecutor(len(backends)) as pool:
                list(pool.map(lambda b: b.index(fixture_guides), backends))
            for backend in backends:
                assert backend.count() == len(fixture_guides)
                hits = backend.search(fixture_guides[0].title, 3)
                assert hits and hits[0].service_id == fixture_guides[0].id
            live = backends[0]._current()
            assert len(live) == 1 and live[0] in backends[0]._versions()
    finally:
        backends[0]._client.indices.delete(index=f"{alias}-v*", allow_no_indices=True)
        for backend in backends:
            backend.close()
