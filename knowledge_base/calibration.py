"""Fitting the confidence calibrator on the guides themselves (k-fold over sample questions).

For each fold, the classifier and a search index are built without that fold's sample questions
(the index on a scratch copy of the knowledge base's own backend, so the BM25 features come from
the scoring live answers use); each held-out question is then ranked as a user question would be, and every
candidate's features are recorded with label 1 if it is the question's own guide, else 0.
Out-of-scope questions (knowledge_base/lexicon/out_of_scope.yaml, near_miss.yaml) add candidates
labelled 0. Every held-out and out-of-scope question is used twice, once as written and once wrapped
in background and feelings (chatter.yaml), as long chat messages are.
Ambiguous probes — a word shared by the names of 2-8 guides, asked alone (e.g. a theme) — add
each sharing guide with label 1 at weight 1/n (and 0 at weight 1-1/n): a bare "公积金" is right
for any of them with probability 1/n, which teaches the calibrator what a vague question looks like.
A logistic regression on these rows gives P(candidate is right). The held-out models are a
little weaker than the final ones (trained on every question), so the estimate errs low: the
cautious side, where a wrong answer becomes a clarifying question rather than the reverse.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import yaml

from knowledge_base.constants import LEXICON_DIR
from knowledge_base.normalize import Segmenter
from knowledge_base.rerank import (
    Calibrator,
    Example,
    GuideClassifier,
    TokenStats,
    candidate_features,
)
from knowledge_base.schema import Guide
from knowledge_base.search.base import SearchBackend, field_tokens

FOLDS: Final[int] = 5
SEARCH_DEPTH: Final[int] = 10
"""How many BM25 hits the engine considers (calibration uses the same depth)."""


@dataclass(frozen=True)
class CalibrationReport:
    """How the held-out sample questions fared during calibration."""

    questions: int
    top1_correct: int
    out_of_scope: int
    fitted: bool

    @property
    def top1_accuracy(self) -> float:
        return self.top1_correct / self.questions if self.questions else 0.0


def _lexicon_yaml(name: str) -> dict[str, list[str]]:
    path = LEXICON_DIR / name
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {str(k): [str(v) for v in vs or []] for k, vs in data.items()}


@functools.lru_cache(maxsize=1)
def out_of_scope_questions() -> tuple[str, ...]:
    """Questions that no guide answers (negative calibration examples): general chatter
    (out_of_scope.yaml) and services next to ours that we do not cover (near_miss.yaml)."""
    general = _lexicon_yaml("out_of_scope.yaml").get("questions", [])
    near = _lexicon_yaml("near_miss.yaml").get("questions", [])
    return tuple(dict.fromkeys([*general, *near]))


@functools.lru_cache(maxsize=1)
def _chatter() -> dict[str, list[str]]:
    return _lexicon_yaml("chatter.yaml")


def wrapped(question: str, i: int) -> str:
    """The question inside background and feelings, as people write (chatter.yaml), the i-th way."""
    words = _chatter()
    english = sum(ch.isascii() for ch in question) > len(question) * 0.6
    before = words.get("before_en" if english else "before", [])
    after = words.get("after_en" if english else "after", [])
    if not before or not after:
        return question
    sep = " " if english else ""
    return sep.join([before[i % len(before)], question, after[(i * 7 + 3) % len(after)]])


def training_examples(guides: Sequence[Guide], skip_fold: int | None = None) -> list[Example]:
    """Title, aliases and sample questions of every guide (minus one fold of the questions)."""
    examples = []
    for guide in guides:
        examples.append(Example(guide.title, guide.id))
        examples.extend(Example(alias, guide.id) for alias in guide.aliases)
        examples.extend(
            Example(q, guide.id)
            for i, q in enumerate(guide.sample_questions)
            if skip_fold is None or i % FOLDS != skip_fold
        )
    return examples


MAX_PROBE_GUIDES: Final[int] = 8
PROBE_WEIGHT: Final[float] = 3.0
"""Vague one-word questions are common in chat; weigh each probe like three questions."""


def ambiguous_probes(guides: Sequence[Guide], segmenter: Segmenter) -> list[tuple[str, frozenset[str]]]:
    """Words (and themes) shared by the names of several guides, with the guides sharing them."""
    owners: dict[str, set[str]] = {}
    for guide in guides:
        words = {
            t
            for name in (guide.title, *guide.aliases)
            for t in segmenter.tokenize(name)
            if len(t) > 1 and segmenter.is_word(t)
        }
        if guide.theme:
            words.add(guide.theme)
        for word in words:
            owners.setdefault(word, set()).add(guide.id)
    return [
        (word, frozenset(ids))
        for word, ids in sorted(owners.items())
        if 2 <= len(ids) <= MAX_PROBE_GUIDES and not word.isascii()
    ]


def token_stats(guides: Sequence[Guide], segmenter: Segmenter) -> TokenStats:
    """Per-guide token sets (all fields, and the name fields), for the coverage features."""
    fields = {g.id: field_tokens(g, segmenter) for g in guides}
    return TokenStats.build(
        {gid: frozenset(t for tokens in f.values() for t in tokens) for gid, f in fields.items()},
        {
            gid: frozenset(t for name in ("title", "aliases", "questions") for t in f[name])
            for gid, f in fields.items()
        },
    )


def fit_calibrator(guides: Sequence[Guide], backend: SearchBackend) -> tuple[Calibrator, CalibrationReport]:
    """Fit the calibrator by k-fold over the guides' sample questions, for a knowledge base
    searching with `backend`: the folds are indexed in `backend.scratch()` (its kind and settings)
    and everything is tokenised by `backend.segmenter`, as live answers are."""
    segmenter = backend.segmenter
    rows: list[list[float]] = []
    labels: list[int] = []
    weights: list[float] = []
    answered: list[tuple[str, dict[str, list[float]]]] = []
    negatives = out_of_scope_questions()
    probes = ambiguous_probes(guides, segmenter)
    with backend.scratch() as search:
        for fold in range(FOLDS):
            held = [(q, g.id) for g in guides for i, q in enumerate(g.sample_questions) if i % FOLDS == fold]
            if not held:
                continue
            reduced = [
                g.model_copy(
                    update={
                        "sample_questions": [q for i, q in enumerate(g.sample_questions) if i % FOLDS != fold]
                    }
                )
                for g in guides
            ]
            classifier = GuideClassifier(training_examples(guides, skip_fold=fold), segmenter)
            search.index(reduced)
            stats = token_stats(reduced, segmenter)
            queries: list[tuple[str, str | None]] = [*held]
            queries += [(q, None) for j, q in enumerate(negatives) if j % FOLDS == fold]
            # Each also wrapped in background and feelings: length and chatter alone must not move
            # the confidence either way.
            queries += [(wrapped(q, j * FOLDS + fold), truth) for j, (q, truth) in enumerate(queries)]
            for question, truth in queries:
                hits = search.search(question, SEARCH_DEPTH)
                features = candidate_features(question, hits, classifier, stats, segmenter)
                for label, vector in features.items():
                    rows.append(vector)
                    labels.append(int(label == truth))
                    weights.append(1.0)
                if truth is not None:
                    answered.append((truth, features))
            for word, owners in probes[fold::FOLDS]:
                share = PROBE_WEIGHT / len(owners)
                hits = search.search(word, SEARCH_DEPTH)
                features = candidate_features(word, hits, classifier, stats, segmenter)
                for label, vector in features.items():
                    if label in owners:
                        rows.extend([vector, vector])
                        labels.extend([1, 0])
                        weights.extend([share, PROBE_WEIGHT - share])
                    else:
                        rows.append(vector)
                        labels.append(0)
                        weights.append(PROBE_WEIGHT)
    calibrator = Calibrator.fit(rows, labels, weights)
    correct = 0
    for truth, features in answered:
        if features:
            ids = list(features)
            probs = calibrator.probabilities(np.asarray([features[i] for i in ids]))
            correct += int(ids[int(np.argmax(probs))] == truth)
    report = CalibrationReport(len(answered), correct, len(negatives), calibrator.fitted)
    return calibrator, report
