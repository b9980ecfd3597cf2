"""KnowledgeBase: guides by id, a search backend, and a calibrated re-ranker on top of it.

rank() asks the backend for BM25 candidates, adds the classifier's own best guesses, describes
each candidate by a few features (knowledge_base.rerank) and turns them into a confidence with
the calibrator fitted at load time (knowledge_base.calibration). The confidence estimates the
probability that the candidate is the guide the user means; decide() turns the ranked list into
answer / clarify / out_of_scope with the thresholds below.

Each KnowledgeBase owns a Segmenter (knowledge_base.normalize): its backend, re-ranker, calibration
and rules all tokenise with it, so words one adds (guide names, editors' terms) stay its own.

Writes (load, rebuild, upsert, delete) are serialised; rank() reads an immutable snapshot of the
re-ranker, so it never waits for a retrain. A failing backend raises SearchError from rank();
the caller decides how to degrade.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final, Literal

import numpy as np

from knowledge_base.calibration import (
    SEARCH_DEPTH,
    CalibrationReport,
    token_stats,
    training_examples,
)
from knowledge_base.calibration_cache import fit_calibrator_cached
from knowledge_base.constants import GUIDES_DIR
from knowledge_base.normalize import Segmenter, fold_text
from knowledge_base.question import question_clauses
from knowledge_base.rerank import Calibrator, GuideClassifier, TokenStats, candidate_features
from knowledge_base.rules import Rules
from knowledge_base.schema import Guide
from knowledge_base.search.base import SearchBackend
from knowledge_base.search.embedded import EmbeddedBackend
from knowledge_base.store import LoadResult, load_guides

log = logging.getLogger(__name__)

ANSWER_THRESHOLD: Final[float] = 0.6
"""Answer directly only if the best candidate's confidence is at least this ..."""
CLARIFY_MARGIN: Final[float] = 0.25
"""... and the runner-up is more than this much below it; otherwise ask which one is meant."""
CLARIFY_THRESHOLD: Final[float] = 0.2
"""Below this best confidence nothing fits: out of scope (offer a person)."""
TENTATIVE_THRESHOLD: Final[float] = 0.5
"""Between this and ANSWER_THRESHOLD, with no rival above TENTATIVE_RIVAL_MAX, the one plausible
guide is answered tentatively ("您问的可能是【X】…", with the way out offered) rather than offered
alone as a clarifying choice: a question back with a single option only costs the user a click."""
TENTATIVE_RIVAL_MAX: Final[float] = 0.15
CANDIDATE_THRESHOLD: Final[float] = 0.1
"""Candidates offered in a clarifying question must reach this confidence (at most 3 shown)."""
MAX_CLARIFY_OPTIONS: Final[int] = 3
MIN_QUESTION_CHARS: Final[int] = 10
"""A long message's question clauses are ranked on their own only when they say this much ("你说怎么办啊"
alone matches anything)."""
QUICK_NEWTON_STEPS: Final[int] = 1
"""An edit that changes the guides' names is answered after one Newton step of the classifier's
warm-started fit (~0.3 s at 60 guides; its ranking of the edited guide is already right); the full
fit follows on a worker thread."""
REFIT_DELAY: Final[float] = 1.0
"""Seconds after the last edit before the full fit starts: edits in a burst (an import, an editor
publishing several guides) are not slowed by fits that the next edit makes useless."""

# The guide outcomes of contract.turn.Outcome (the knowledge base does not depend on the contract).
Outcome = Literal["answer", "clarify", "out_of_scope"]


@dataclass(frozen=True)
class Candidate:
    """A guide that may answer the question; score is a calibrated confidence in [0, 1]."""

    service_id: str
    title: str
    score: float


@dataclass(frozen=True)
class Verdict:
    """What a ranking supports: candidates are the ones to answer or offer."""

    outcome: Outcome
    candidates: list[Candidate] = field(default_factory=list)
    tentative: bool = False
    """An answer below ANSWER_THRESHOLD: the reply says it may not be what was meant."""


def decide(candidates: Sequence[Candidate]) -> Verdict:
    """answer (one confident, clear winner), clarify (plausible but close or unsure), or out_of_scope.

    A confident wrong answer is the worst outcome, so answering needs both a high confidence and a
    clear margin over the runner-up; anything plausible but unsure becomes a question — except
    one plausible guide with no rival, which is answered tentatively (Verdict.tentative).
    """
    if not candidates or candidates[0].score < CLARIFY_THRESHOLD:
        return Verdict("out_of_scope", [])
    top = candidates[0]
    runner_up = candidates[1].score if len(candidates) > 1 else 0.0
    if top.score >= ANSWER_THRESHOLD and top.score - runner_up > CLARIFY_MARGIN:
        return Verdict("answer", [top])
    if top.score >= TENTATIVE_THRESHOLD and runner_up <= TENTATIVE_RIVAL_MAX:
        return Verdict("answer", [top], tentative=True)
    options = [c for c in candidates if c.score >= CANDIDATE_THRESHOLD][:MAX_CLARIFY_OPTIONS]
    return Verdict("clarify", options)


def _names(guide: Guide) -> tuple[object, ...]:
    """What the classifier and the segmentation dictionary learn from (training_examples)."""
    return guide.title, tuple(guide.aliases), tuple(guide.sample_questions)


def _restat(stats: TokenStats, guide: Guide, segmenter: Segmenter) -> TokenStats:
    """`stats` with one guide's tokens replaced: what token_stats() of all guides would give."""
    one = token_stats([guide], segmenter)
    return TokenStats.build({**stats.tokens, **one.tokens}, {**stats.names, **one.names})


@dataclass(frozen=True)
class _Ranker:
    classifier: GuideClassifier
    stats: TokenStats
    calibrator: Calibrator


Progress = Callable[[str, int, int], None]
"""(stage, guides done, guides in all) during a full rebuild."""


class KnowledgeBase:
    """The guides, their search index and the re-ranker, kept in step."""

    def __init__(
        self,
        backend: SearchBackend | None = None,
        guides_dir: Path = GUIDES_DIR,
        segmenter: Segmenter | None = None,
    ) -> None:
        """Search with `backend` (default an embedded one) and tokenise with `segmenter`: default
        the backend's if one is given, else a new one. A backend built with another segmenter is
        refused: indexing and querying would tokenise differently from the re-ranker."""
        if segmenter is None:
            segmenter = backend.segmenter if backend is not None else Segmenter()
        if backend is None:
            backend = EmbeddedBackend(segmenter)
        if backend.segmenter is not segmenter:
            raise ValueError("the search backend must use the knowledge base's segmenter")
        self.segmenter = segmenter
        self.backend: SearchBackend = backend
        self.guides_dir = guides_dir
        self._guides: dict[str, Guide] = {}
        self._write_lock = threading.RLock()
        self._refitting: threading.Timer | None = None
        self._ranker = _Ranker(GuideClassifier([], segmenter), TokenStats.build({}, {}), Calibrator())
        self.calibration: CalibrationReport | None = None
        self.rules = Rules()  # the editors' synonyms and out-of-scope marks (knowledge_base.rules)

    # -- loading ----------------------------------------------------------------------------

    def load(self) -> LoadResult:
        """Read every guide file, rebuild the index, retrain and recalibrate the re-ranker."""
        result = load_guides(self.guides_dir)
        self.replace_all(result.guides)
        return result

    def replace_all(self, guides: Sequence[Guide], progress: Progress | None = None) -> None:
        """Use exactly these guides (e.g. from an import, a reindex or a test).

        `progress(stage, done, total)` is told each stage as it starts and when all is done:
        segmentation, index (by guide), calibration, ranker, done."""
        report_to = progress or (lambda stage, done, total: None)
        with self._write_lock:
            started = time.perf_counter()
            total = len(guides)
            report_to("dictionary", 0, total)
            self.segmenter.add_guides(guides)
            self.segmenter.homophones()
            report_to("index", 0, total)
            self.backend.index(guides)
            report_to("calibration", total, total)
            calibrator, report = fit_calibrator_cached(guides, self.backend)
            report_to("ranker", total, total)
            if self._refitting is not None:
                self._refitting.cancel()
            self._guides = {g.id: g for g in guides}
            self._ranker = self._train(calibrator)
            self.calibration = report
            report_to("done", total, total)
            log.info(
                "knowledge base: %d guides indexed, calibrated=%s, held-out top-1 %.3f, %.1f s",
                len(guides),
                report.fitted,
                report.top1_accuracy,
                time.perf_counter() - started,
            )

    # -- editing ----------------------------------------------------------------------------

    def upsert(self, guide: Guide) -> None:
        """Add or replace one guide: searchable and ranked when this returns (the classifier after
        one Newton step; its full fit replaces it in the background, see settle())."""
        with self._write_lock:
            self.segmenter.add_guides([guide])
            self.segmenter.homophones()
            # Train on a copy first while rank() keeps using the current snapshot; then index and
            # swap, so answering never waits for the retrain.
            guides = {**self._guides, guide.id: guide}
            old = self._guides.get(guide.id)
            refit = not (old is not None and _names(old) == _names(guide))
            if refit:
                ranker = self._train(self._ranker.calibrator, guides, newton_steps=QUICK_NEWTON_STEPS)
            else:
                # The classifier learns only from names, so it would come out the same: keep it and
                # update the text statistics (a few ms instead of a retrain; same ranking).
                ranker = replace(self._ranker, stats=_restat(self._ranker.stats, guide, self.segmenter))
            self.backend.upsert(guide)
            self._guides, self._ranker = guides, ranker
            if refit:
                self._refit_later(guides)

    def delete(self, guide_id: str) -> bool:
        """Remove one guide; False if it was not there."""
        with self._write_lock:
            # Never answered from the moment it is gone from _guides (rank() skips unknown ids);
            # the retrained ranker follows ~0.3 s later. Copies, so a running rank() is unaffected.
            guides = {gid: g for gid, g in self._guides.items() if gid != guide_id}
            existed = len(guides) < len(self._guides)
            self._guides = guides
            self.backend.delete(guide_id)
            self._ranker = self._train(self._ranker.calibrator, guides, newton_steps=QUICK_NEWTON_STEPS)
            self._refit_later(guides)
            return existed

    def settle(self, timeout: float | None = None) -> bool:
        """Wait until the classifier's full fit after the last edit is in use; False on timeout."""
        worker = self._refitting
        if worker is not None:
            worker.join(timeout)
            return not worker.is_alive()
        return True

    def _refit_later(self, guides: dict[str, Guide]) -> None:
        """Fit the classifier fully for these guides on a worker thread, REFIT_DELAY after this
        edit, and use it unless another write came first (that write schedules its own). Called
        with the write lock held."""

        def refit() -> None:
            ranker = self._train(self._ranker.calibrator, guides)  # warm from the quick fit
            with self._write_lock:
                if self._guides is guides:
                    self._ranker = ranker

        if self._refitting is not None:
            self._refitting.cancel()  # a burst of edits is refitted once, after the last
        worker = threading.Timer(REFIT_DELAY, refit)
        worker.name, worker.daemon = "kb-refit", True
        self._refitting = worker
        worker.start()

    def get(self, guide_id: str) -> Guide | None:
        """One guide by id."""
        return self._guides.get(guide_id)

    def ids(self) -> list[str]:
        """Ids of all guides, sorted."""
        return sorted(self._guides)

    def __len__(self) -> int:
        return len(self._guides)

    def set_rules(self, rules: Rules) -> None:
        """Use these editors' rules (built with this knowledge base's segmenter) from the next
        question on (no reindex needed)."""
        if rules.segmenter is not None and rules.segmenter is not self.segmenter:
            raise ValueError("rules must be built with the knowledge base's segmenter")
        self.rules = rules

    # -- ranking ----------------------------------------------------------------------------

    def rank(self, query: str, k: int = 5) -> list[Candidate]:
        """Up to k candidate guides, most confident first; [] when nothing matches at all.

        A long message is also ranked by its asking clauses alone (knowledge_base.question): when
        both readings put the same guide first, it keeps the higher of the two confidences, so
        background and feelings do not make a clear question look unsure. A guide the clauses
        alone would put first is not taken from them: the background may be what tells it apart."""
        ranked = self._rank(query, k)
        core = question_clauses(query)
        if core is None or not ranked:
            return ranked
        asked = self._rank(core, k)
        if asked and asked[0].service_id == ranked[0].service_id and asked[0].score > ranked[0].score:
            ranked[0] = asked[0]
        elif (asked and ranked[0].score < CLARIFY_THRESHOLD and asked[0].score >= ANSWER_THRESHOLD
              and len(core) >= MIN_QUESTION_CHARS):
            # The whole message matched nothing (the story drowned the question: "…回老家参加我哥的
            # 婚礼…请问补办身份证的流程是什么？") while its question alone is clear: the question's reading.
            return asked
        elif (asked and asked[0].score > ranked[0].score and self._named(core, asked[0].service_id)
              and not self._named(core, ranked[0].service_id)):
            # The question names its guide whole and more surely than the story suggests another
            # ("…我这种情况够不够人才引进落户的条件？…孩子明年上幼儿园…"): the guide asked about.
            return asked
        return ranked

    def _named(self, text: str, guide_id: str) -> bool:
        """The text holds the guide's title or one of its aliases (three or more letters) whole."""
        guide = self._guides.get(guide_id)
        if guide is None:
            return False
        folded = fold_text(text)
        names = (fold_text(n) for n in (guide.title, *guide.aliases))
        return any(len(name) >= 3 and name in folded for name in names)

    def _rank(self, query: str, k: int) -> list[Candidate]:
        ranker = self._ranker
        guides = self._guides
        query = self.rules.expand(query)
        hits = self.backend.search(query, SEARCH_DEPTH)
        features = candidate_features(query, hits, ranker.classifier, ranker.stats, self.segmenter)
        features = {gid: row for gid, row in features.items() if gid in guides}
        if not features:
            return []
        ids = list(features)
        confidences = ranker.calibrator.probabilities(np.asarray([features[i] for i in ids]))
        ranked = sorted(zip(ids, confidences.tolist(), strict=True), key=lambda p: (-p[1], p[0]))
        return [Candidate(gid, guides[gid].title, round(score, 4)) for gid, score in ranked[:k]]

    def decide(self, query: str) -> Verdict:
        """rank() then decide()."""
        return decide(self.rank(query))

    def _train(self, calibrator: Calibrator, by_id: dict[str, Guide] | None = None,
               newton_steps: int | None = None) -> _Ranker:
        """A ranker for these guides; one guide's edit starts from the current classifier's weights
        (and may stop after `newton_steps`)."""
        guides = list((self._guides if by_id is None else by_id).values())
        previous = self._ranker.classifier if by_id is not None else None
        classifier = GuideClassifier(training_examples(guides), self.segmenter, previous, newton_steps)
        return _Ranker(classifier, token_stats(guides, self.segmenter), calibrator)
