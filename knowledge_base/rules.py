"""Editors' search rules, applied at once: term equivalences and questions marked out of scope.

The lexicon's synonyms (knowledge_base/lexicon/synonyms.yaml) are part of indexing and need a
rebuild. The editors' workspace adds rules that must work the moment they are saved, with no
reindex, on every backend:

- a **synonym group** (沪牌 = 非营业性客车额度 = 沪牌额度) expands the *question*: when one term of a
  group occurs in it, every other term is appended, so a guide written with any of them matches;
- a question an editor **marked out of scope** (an inbox group) is answered with "not a service of
  ours" when a new question has nearly the same search tokens (Jaccard ≥ OUT_OF_SCOPE_SIMILAR).

The rules travel from the database of record to the action servers through the overlay
(`xs:kb:rules`, knowledge_base.overlay) as the JSON of `Rules.as_dict()`. They are built for one
knowledge base: its Segmenter keeps their terms whole and tokenises the marked questions.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from knowledge_base.normalize import Segmenter, fold_text

OUT_OF_SCOPE_SIMILAR: Final = 0.6
MAX_TERMS: Final = 20
MAX_TERM_CHARS: Final = 30
MAX_GROUPS: Final = 2000
MAX_MARKED: Final = 5000


def rules_json(synonyms: Iterable[Sequence[str]], out_of_scope: Iterable[str]) -> str:
    """The overlay's form of the rules (the same input always gives the same text)."""
    return json.dumps({"synonyms": [list(g) for g in synonyms], "out_of_scope": list(out_of_scope)},
                      ensure_ascii=False, sort_keys=True)


def jaccard(a: frozenset[str] | set[str], b: frozenset[str] | set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


@dataclass(frozen=True)
class Rules:
    """Synonym groups (folded terms) and the questions marked out of scope (with their tokens)."""

    synonyms: tuple[tuple[str, ...], ...] = ()
    out_of_scope: tuple[str, ...] = ()
    _marked: tuple[frozenset[str], ...] = field(default=(), compare=False, repr=False)
    segmenter: Segmenter | None = field(default=None, compare=False, repr=False)
    """The knowledge base's segmenter they were built with (None: no rules, nothing to tokenise)."""

    @classmethod
    def build(
        cls, synonyms: Iterable[Sequence[str]] = (), out_of_scope: Iterable[str] = (), *, segmenter: Segmenter
    ) -> Rules:
        """Rules from raw terms and questions: folded, deduplicated, bounded; for the knowledge base
        whose `segmenter` this is (it keeps the terms whole from now on)."""
        groups: list[tuple[str, ...]] = []
        for terms in list(synonyms)[:MAX_GROUPS]:
            folded = tuple(dict.fromkeys(t for t in (fold_text(str(x))[:MAX_TERM_CHARS] for x in terms) if t))
            if len(folded) >= 2:
                groups.append(folded[:MAX_TERMS])
        questions = tuple(dict.fromkeys(q for q in (" ".join(str(x).split()) for x in out_of_scope) if q))
        questions = questions[:MAX_MARKED]
        segmenter.add_words(t for g in groups for t in g)  # keep the new terms whole when segmenting
        marked = tuple(frozenset(segmenter.tokenize(q)) for q in questions)
        return cls(tuple(groups), questions, marked, segmenter)

    @classmethod
    def parse(cls, raw: str | bytes | None, *, segmenter: Segmenter) -> Rules:
        """From the overlay's JSON (empty rules for nothing or garbage), as build()."""
        if not raw:
            return cls()
        try:
            data = json.loads(raw)
            return cls.build(data.get("synonyms") or [], data.get("out_of_scope") or [], segmenter=segmenter)
        except (ValueError, AttributeError, TypeError):
            return cls()

    def as_dict(self) -> dict[str, Any]:
        return {"synonyms": [list(g) for g in self.synonyms], "out_of_scope": list(self.out_of_scope)}

    def to_json(self) -> str:
        return rules_json(self.synonyms, self.out_of_scope)

    def expand(self, text: str) -> str:
        """The question with the other terms of every synonym group it mentions appended."""
        if not self.synonyms:
            return text
        folded = fold_text(text)
        added: list[str] = []
        for group in self.synonyms:
            if any(term in folded for term in group):
                added.extend(t for t in group if t not in folded and t not in added)
        return " ".join([text, *added]) if added else text

    def marked_out_of_scope(self, text: str) -> str | None:
        """The marked question this one is nearly the same as, or None."""
        if not self._marked or self.segmenter is None:
            return None
        tokens = frozenset(self.segmenter.tokenize(text))
        if not tokens:
            return None
        best, best_score = None, 0.0
        for question, marked in zip(self.out_of_scope, self._marked, strict=True):
            score = jaccard(tokens, marked)
            if score > best_score:
                best, best_score = question, score
        return best if best_score >= OUT_OF_SCOPE_SIMILAR else None
