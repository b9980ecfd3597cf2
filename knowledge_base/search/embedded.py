"""The embedded default backend: an in-memory inverted index scored like Lucene's BM25.

Each field is scored on its own with BM25 (k1=1.2, b=0.75, Lucene's idf) and the field scores are
summed with the shared boosts: the same arithmetic as the Elasticsearch backend's `most_fields`
multi_match, so both backends rank alike. Postings are dictionaries (cheap upsert and delete);
each term's postings are turned into numpy arrays on first use and cached until the term changes.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext

import numpy as np
import numpy.typing as npt

from knowledge_base.normalize import Segmenter
from knowledge_base.schema import Guide
from knowledge_base.search.base import (
    BM25_B,
    BM25_K1,
    FIELD_BOOSTS,
    FIELDS,
    Hit,
    field_tokens,
    query_terms,
)

_Array = npt.NDArray[np.float64]

_LUCENE_FREE_VALUES = 24


def lucene_length(length: int) -> int:
    """A field length as Lucene stores it in its one-byte norm (SmallFloat.intToByte4 and back).

    Exact below 24 terms, then 4 significant bits: Elasticsearch scores with this value, so we do.
    """
    if length < _LUCENE_FREE_VALUES:
        return length
    value = length - _LUCENE_FREE_VALUES
    bits = value.bit_length()
    if bits >= 4:
        shift = bits - 4
        value = ((value >> shift) | 0x08) << shift  # keep the 4 most significant bits
    return _LUCENE_FREE_VALUES + value


class _FieldIndex:
    """Postings and length statistics of one field."""

    def __init__(self) -> None:
        self.postings: dict[str, dict[int, int]] = {}
        self.lengths: _Array = np.zeros(64)
        self.doc_count = 0
        self.total_length = 0
        self._arrays: dict[str, tuple[npt.NDArray[np.int64], _Array]] = {}

    def add(self, slot: int, counts: Counter[str]) -> None:
        if slot >= len(self.lengths):
            self.lengths = np.concatenate([self.lengths, np.zeros(len(self.lengths))])
        length = sum(counts.values())
        self.lengths[slot] = lucene_length(length)
        if length:
            self.doc_count += 1
            self.total_length += length
        for term, tf in counts.items():
            self.postings.setdefault(term, {})[slot] = tf
            self._arrays.pop(term, None)

    def remove(self, slot: int, counts: Counter[str]) -> None:
        length = sum(counts.values())
        if length:
            self.doc_count -= 1
            self.total_length -= length
        self.lengths[slot] = 0
        for term in counts:
            docs = self.postings.get(term)
            if docs is not None:
                docs.pop(slot, None)
                if not docs:
                    del self.postings[term]
            self._arrays.pop(term, None)

    def score(self, terms: list[str], boost: float, out: _Array) -> None:
        """Add this field's boosted BM25 score of every document to `out`."""
        if not self.doc_count:
            return
        avgdl = self.total_length / self.doc_count
        for term in terms:
            arrays = self._postings_arrays(term)
            if arrays is None:
                continue
            slots, tfs = arrays
            idf = math.log(1.0 + (self.doc_count - len(slots) + 0.5) / (len(slots) + 0.5))
            norm = BM25_K1 * (1.0 - BM25_B + BM25_B * self.lengths[slots] / avgdl)
            out[slots] += boost * idf * tfs / (tfs + norm)

    def _postings_arrays(self, term: str) -> tuple[npt.NDArray[np.int64], _Array] | None:
        arrays = self._arrays.get(term)
        if arrays is None:
            docs = self.postings.get(term)
            if not docs:
                return None
            arrays = (
                np.fromiter(docs.keys(), dtype=np.int64, count=len(docs)),
                np.fromiter(docs.values(), dtype=np.float64, count=len(docs)),
            )
            self._arrays[term] = arrays
        return arrays


class _Index:
    """One generation of the index; a rebuild builds a new one and swaps it in."""

    def __init__(self, segmenter: Segmenter) -> None:
        self.segmenter = segmenter
        self.fields = {name: _FieldIndex() for name in FIELDS}
        self.slots: dict[str, int] = {}
        self.docs: list[tuple[str, str, dict[str, Counter[str]]] | None] = []

    def add(self, guide: Guide) -> None:
        self.remove(guide.id)
        slot = len(self.docs)
        counts = {name: Counter(tokens) for name, tokens in field_tokens(guide, self.segmenter).items()}
        for name, field in self.fields.items():
            field.add(slot, counts[name])
        self.docs.append((guide.id, guide.title, counts))
        self.slots[guide.id] = slot

    def remove(self, guide_id: str) -> None:
        slot = self.slots.pop(guide_id, None)
        if slot is None:
            return
        doc = self.docs[slot]
        assert doc is not None
        for name, field in self.fields.items():
            field.remove(slot, doc[2][name])
        self.docs[slot] = None

    def search(self, terms: list[str], k: int) -> list[Hit]:
        scores = np.zeros(len(self.docs))
        for name, field in self.fields.items():
            field.score(terms, FIELD_BOOSTS[name], scores)
        matched = np.flatnonzero(scores > 0)
        if not len(matched):
            return []
        # Best score first; ties keep indexing order, as Lucene does with doc ids.
        order = matched[np.lexsort((matched, -scores[matched]))][:k]
        hits = []
        for slot in order:
            doc = self.docs[int(slot)]
            assert doc is not None
            hits.append(Hit(service_id=doc[0], score=float(scores[slot]), title=doc[1]))
        return hits


class EmbeddedBackend:
    """Thread-safe in-memory BM25 search; no service to run, the default for one process."""

    kind = "embedded"

    def __init__(self, segmenter: Segmenter | None = None) -> None:
        """Tokenise with `segmenter` (a knowledge base passes its own; default a new one)."""
        self.segmenter = segmenter if segmenter is not None else Segmenter()
        self._lock = threading.RLock()
        self._index = _Index(self.segmenter)

    def scratch(self) -> AbstractContextManager[EmbeddedBackend]:
        return nullcontext(EmbeddedBackend(self.segmenter))

    def index(self, guides: Sequence[Guide]) -> None:
        fresh = _Index(self.segmenter)
        for guide in guides:
            fresh.add(guide)
        with self._lock:
            self._index = fresh

    def upsert(self, guide: Guide) -> None:
        field_tokens(guide, self.segmenter)  # tokenise outside the lock (the result is cached)
        with self._lock:
            self._index.add(guide)

    def delete(self, guide_id: str) -> None:
        with self._lock:
            self._index.remove(guide_id)

    def search(self, query: str, k: int = 10) -> list[Hit]:
        terms = query_terms(query, self.segmenter)
        if not terms or k <= 0:
            return []
        with self._lock:
            return self._index.search(terms, k)

    def count(self) -> int:
        with self._lock:
            return len(self._index.slots)

    def health(self) -> bool:
        return True
