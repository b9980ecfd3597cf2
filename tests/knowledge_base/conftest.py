"""Fixtures of the knowledge-base tests: guides, and every search backend behind one fixture."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from knowledge_base.constants import GUIDES_DIR
from knowledge_base.normalize import Segmenter
from knowledge_base.schema import Guide
from knowledge_base.search.base import SearchBackend
from knowledge_base.search.elastic import ElasticBackend
from knowledge_base.search.embedded import EmbeddedBackend
from knowledge_base.store import load_guides

FIXTURES = Path(__file__).resolve().parent / "fixtures"
MIN_REAL_GUIDES = 30


@pytest.fixture(scope="session")
def fixture_guides() -> list[Guide]:
    """Six small guides written for these tests."""
    result = load_guides(FIXTURES / "guides")
    assert not result.errors, result.errors
    return result.guides


@pytest.fixture(scope="session")
def extra_guide() -> Guide:
    """A guide that is not in fixture_guides, for upserts."""
    result = load_guides(FIXTURES / "extra")
    assert not result.errors, result.errors
    return result.guides[0]


@pytest.fixture(scope="session")
def real_guides() -> list[Guide]:
    """The project's own guides (skips when the knowledge base is not written yet)."""
    result = load_guides(GUIDES_DIR)
    if len(result.guides) < MIN_REAL_GUIDES:
        pytest.skip(f"only {len(result.guides)} real guides in {GUIDES_DIR}")
    return result.guides


def segmenter_for(guides: list[Guide]) -> Segmenter:
    """A segmenter keeping these guides' names whole, as their knowledge base's would."""
    segmenter = Segmenter()
    segmenter.add_guides(guides)
    return segmenter


def _wait_until_answering(url: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer within {timeout_s} s")
        time.sleep(0.1)


@pytest.fixture(scope="session")
def osmem_search_url() -> Iterator[str]:
    """An osmem-server (in-memory, Elasticsearch/OpenSearch API) on a free port, for the session."""
    from osmem_server import resolve_binary

    # Port 0: the server binds a free port itself and prints {"url": ...} (no race for the port).
    proc = subprocess.Popen(
        [resolve_binary(), "--addr", "127.0.0.1:0", "--no-stdin-watch"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = str(json.loads(proc.stdout.readline())["url"])
        _wait_until_answering(url)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


BACKEND_KINDS = [
    pytest.param("embedded"),
    pytest.param("osmem", marks=pytest.mark.elasticsearch),
    *([pytest.param("elasticsearch", marks=pytest.mark.elasticsearch)] if os.environ.get("ES_URL") else []),
]


def make_backend(kind: str, request: pytest.FixtureRequest, segmenter: Segmenter) -> Iterator[SearchBackend]:
    """A fresh, empty backend of one kind; Elasticsearch ones get their own alias and cleanup."""
    if kind == "embedded":
        yield EmbeddedBackend(segmenter)
        return
    if kind == "osmem":
        url, plain = request.getfixturevalue("osmem_search_url"), True
    else:
        url, plain = os.environ["ES_URL"], False
    alias = f"xs-test-{uuid.uuid4().hex[:10]}"
    backend = ElasticBackend(url, alias=alias, plain_json=plain, segmenter=segmenter)
    try:
        yield backend
    finally:
        client = backend._client
        client.indices.delete(index=f"{backend.alias}-v*", allow_no_indices=True)
        backend.close()


@pytest.fixture(params=BACKEND_KINDS)
def backend(request: pytest.FixtureRequest, fixture_guides: list[Guide]) -> Iterator[SearchBackend]:
    """Every search backend in turn: embedded, osmem over HTTP, and a real cluster if ES_URL."""
    yield from make_backend(request.param, request, segmenter_for(fixture_guides))
