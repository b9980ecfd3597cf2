"""The search backend interface shared by the embedded and the Elasticsearch implementation."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Final, Protocol, runtime_checkable

from knowledge_base.constants import SECTIONS
from knowledge_base.normalize import Segmenter
from knowledge_base.schema import Guide

FIELD_BOOSTS: Final[dict[str, float]] = {
    "title": 4.0,
    "aliases": 3.0,
    "questions": 1.5,
    "body": 0.5,
}
"""Per-field boosts, identical in every backend: a match in the title counts most."""

BM25_K1: Final[float] = 1.2
BM25_B: Final[float] = 0.75
"""Lucene's BM25 defaults; the embedded backend uses the same formula as Elasticsearch."""

FIELDS: Final[tuple[str, ...]] = tuple(FIELD_BOOSTS)


@dataclass(frozen=True)
class Hit:
    """One search result: a guide and its backend-specific relevance score (higher is better)."""

    service_id: str
    score: float
    title: str


class SearchError(RuntimeError):
    """The search backend failed or cannot be reached."""


@runtime_checkable
class SearchBackend(Protocol):
    """Full-text search over guides; every method may raise SearchError.

    A backend tokenises documents and queries with its `segmenter` (field_tokens, query_terms):
    a knowledge base's backend is given the knowledge base's own."""

    @property
    def kind(self) -> str:
        """Which implementation scores the hits ("embedded", "elasticsearch"): part of the
        calibrator cache's key, as calibration is fitted on this backend's scores."""

    @property
    def segmenter(self) -> Segmenter:
        """The segmenter that tokenises indexed guides and queries alike."""

    def scratch(self) -> AbstractContextManager[SearchBackend]:
        """An empty backend of the same kind, settings and segmenter, removed on exit: the
        leave-out indexes of calibration, so it learns from the scores live answers use."""

    def index(self, guides: Sequence[Guide]) -> None:
        """Replace the whole index with these guides (searches keep working meanwhile)."""

    def upsert(self, guide: Guide) -> None:
        """Add or replace one guide; it is searchable when this returns."""

    def delete(self, guide_id: str) -> None:
        """Remove one guide (no error if it is absent); gone from results when this returns."""

    def search(self, query: str, k: int = 10) -> list[Hit]:
        """Up to k guides matching the query, best first; [] when nothing matches."""

    def count(self) -> int:
        """Number of guides indexed."""

    def health(self) -> bool:
        """True when the backend answers; never raises."""


def body_text(guide: Guide) -> str:
    """The text of everything but the names: theme, sections, situations."""
    parts = [guide.theme, *(guide.section(name) for name in SECTIONS)]
    for situation in guide.situations:
        parts.extend(p for p in (situation.name, situation.materials, situation.process, situation.note) if p)
    return "\n".join(parts)


def field_tokens(guide: Guide, segmenter: Segmenter) -> dict[str, list[str]]:
    """The tokens of each indexed field of a guide (aliases and questions tokenised one by one)."""
    return {
        "title": segmenter.tokenize(guide.title),
        "aliases": _joined(guide.aliases, segmenter),
        "questions": _joined(guide.sample_questions, segmenter),
        "body": segmenter.tokenize(body_text(guide)),
    }


def query_terms(query: str, segmenter: Segmenter) -> list[str]:
    """Distinct query tokens in first-seen order (a repeated token must not count twice)."""
    return list(dict.fromkeys(segmenter.tokenize(query)))


def _joined(texts: Iterable[str], segmenter: Segmenter) -> list[str]:
    tokens: list[str] = []
    for text in texts:
        tokens.extend(segmenter.tokenize(text))
    return tokens
