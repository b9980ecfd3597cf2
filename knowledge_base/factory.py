"""Which search backend a process uses: one settings class read from the environment, shared by
the action server (ActionSettings extends it) and the indexing command."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from knowledge_base.engine import KnowledgeBase
from knowledge_base.normalize import Segmenter
from knowledge_base.search import SearchBackend, create_backend


class SearchSettings(BaseSettings):
    """`XS_SEARCH_BACKEND`: embedded (default) or elasticsearch, at `ES_URL`;
    `XS_ES_PLAIN_JSON=1` sends plain JSON media types to ES-API-compatible servers that refuse
    Elasticsearch's vendor type."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    xs_search_backend: str = "embedded"
    es_url: str = ""
    xs_es_plain_json: bool = False

    def backend(self, segmenter: Segmenter | None = None) -> SearchBackend:
        """The configured backend, tokenising with `segmenter` (default a new one)."""
        return create_backend(
            self.xs_search_backend, self.es_url or None, plain_json=self.xs_es_plain_json, segmenter=segmenter
        )

    def knowledge_base(self) -> KnowledgeBase:
        """A KnowledgeBase on this backend, with a segmenter of its own (not loaded yet)."""
        segmenter = Segmenter()
        return KnowledgeBase(self.backend(segmenter), segmenter=segmenter)
