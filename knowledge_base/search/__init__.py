"""Search backends over guides: embedded (default) and Elasticsearch."""

from __future__ import annotations

from knowledge_base.normalize import Segmenter
from knowledge_base.search.base import FIELD_BOOSTS, Hit, SearchBackend, SearchError

BACKEND_KINDS = ("embedded", "elasticsearch")

__all__ = ["BACKEND_KINDS", "FIELD_BOOSTS", "Hit", "SearchBackend", "SearchError", "create_backend"]


def create_backend(
    kind: str, es_url: str | None, *, plain_json: bool = False, segmenter: Segmenter | None = None
) -> SearchBackend:
    """A backend by name: "embedded", or "elasticsearch" (alias "es") at es_url.

    `plain_json` makes the Elasticsearch client send plain JSON media types, for API-compatible
    servers (OpenSearch, osmem-server) that refuse Elasticsearch's vendor media type. `segmenter`:
    the knowledge base's (default a new one).
    """
    name = kind.strip().lower()
    if name == "embedded":
        from knowledge_base.search.embedded import EmbeddedBackend

        return EmbeddedBackend(segmenter)
    if name in ("elasticsearch", "es"):
        if not es_url:
            raise SearchError("the elasticsearch backend needs an ES URL")
        from knowledge_base.search.elastic import ElasticBackend

        return ElasticBackend(es_url, plain_json=plain_json, segmenter=segmenter)
    raise ValueError(f"unknown search backend {kind!r}; expected one of {BACKEND_KINDS}")
