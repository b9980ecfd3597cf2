"""One real KnowledgeBase (the shipped guides), loaded once for every action test."""

from __future__ import annotations

import pytest

from knowledge_base.engine import KnowledgeBase


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    kb = KnowledgeBase()
    result = kb.load()
    if len(kb) < 30:
        pytest.skip(f"only {len(kb)} guides loaded: {result.errors[:3]}")
    return kb
