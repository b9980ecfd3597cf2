"""Building the KnowledgeBase a process uses, from the environment."""

from __future__ import annotations

import os

from knowledge_base.engine import KnowledgeBase
from knowledge_base.search import create_backend


def backend_kind() -> str:
    """`XS_SEARCH_BACKEND`: embedded (default) or elasticsearch."""
    return os.environ.get("XS_SEARCH_BACKEND", "embedded")


def kb_from_env() -> KnowledgeBase:
    """A KnowledgeBase on the backend the environment names (not loaded yet).

    XS_SEARCH_BACKEND=elasticsearch uses ES_URL; XS_ES_PLAIN_JSON=1 sends plain JSON media types
    for ES-API-compatible servers that refuse Elasticsearch's vendor type.
    """
    plain = os.environ.get("XS_ES_PLAIN_JSON", "") in ("1", "true", "yes")
    backend = create_backend(backend_kind(), os.environ.get("ES_URL"), plain_json=plain)
    return KnowledgeBase(backend)
