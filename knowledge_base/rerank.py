"""The learned re-ranker: a guide classifier, candidate features and a confidence calibrator.

- GuideClassifier: TF-IDF over our own tokens (words + bigrams) and character trigrams, with a
  multinomial logistic regression trained on each guide's title, aliases and sample questions,
  plus nearest-example cosine similarity. Retrains from scratch in well under a second.
- candidate_features(): per candidate guide, classifier probability and margin, BM25 score
  relative to the best hit and to the strongest rival, nearest-example similarity and margin,
  idf-weighted query coverage (names, whole guide) and the query's information content.
- Calibrator: monotone gradient-boosted trees over those features, fitted on held-out sample
  questions (k-fold), out-of-scope questions and ambiguous probes (knowledge_base.calibration),
  so its output estimates P(this guide is the one the user means).
"""

from __future__ import annotations

import functools
import heapq
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize
from threadpoolctl import ThreadpoolController

from knowledge_base.normalize import Segmenter, generic_words, is_cjk
from knowledge_base.question import question_clauses
from knowledge_base.search.base import Hit


@functools.lru_cache(maxsize=1)
def _controller() -> ThreadpoolController:
    return ThreadpoolController()


def _one_thread() -> Any:
    """Native thread pools held to one thread for a fit or a prediction (the action server answers
    many conversations at once): one controller for the process, as scanning the loaded libraries on
    every call (threadpool_limits) cost ~1.3 ms a turn."""
    return _controller().limit(limits=1)


FEATURE_NAMES: Final[tuple[str, ...]] = (
    "p_classifier",
    "p_margin",
    "bm25_ratio",
    "bm25_top",
    "bm25_rival",
    "nearest_sim",
    "nearest_margin",
    "coverage",
    "name_coverage",
    "name_coverage_margin",
    "query_info",
    "foreign_share",
    "foreign_max",
    "unnamed_words",
)
MONOTONIC: Final[tuple[int, ...]] = (1, 1, 1, 1, -1, 1, 1, 1, 1, 1, 0, -1, -1, -1)
"""Confidence grows with each piece of evidence, falls with the rival's BM25 strength and with
words of the question that other guides have and this one lacks (出版物 / 药品 经营许可证 next to
our 食品经营许可证: the object asked about is another guide's word, or nobody's) — and with the
words of the question's asking clauses that are not how people ask (generic_words) and that the
guide never uses (夜间 施工许可, 补充 住房公积金, 共有产权 保障房: a neighbour of ours)."""
MAX_UNNAMED: Final[int] = 3
COMMON_SHARE: Final[float] = 0.2
"""A word that at least this share of the guides use is ordinary government language (申请, 窗口),
not the name of what is asked about."""
DEFAULT_COEFFICIENTS: Final[tuple[float, ...]] = (
    3.0, 2.0, 1.5, 0.5, -1.0, 3.0, 2.0, 1.0, 1.0, 2.0, 0.0, -1.0, -1.0, -0.5)
DEFAULT_INTERCEPT: Final[float] = -6.0
"""A fixed logistic model, used only when there are too few sample questions to calibrate."""

CLASSIFIER_C: Final[float] = 20.0
MAX_LOGISTIC_GUIDES: Final[int] = 1_000
"""Above this many guides the classifier is nearest-centroid, not logistic regression: the
multinomial fit holds a dense examples × guides probability matrix (~15 GB at 10,000 guides with
their ~19 questions each) and took 206 s already at 1,000 guides."""
CENTROID_SHARPNESS: Final[float] = 30.0
"""Softmax temperature of the nearest-centroid classifier's cosine similarities."""


def analyse(text: str, segmenter: Segmenter) -> list[str]:
    """Classifier features: search tokens plus character trigrams of the content runs."""
    features = segmenter.tokenize(text)
    for run in segmenter.content_runs(text):
        features.extend("3:" + run[i : i + 3] for i in range(len(run) - 2))
    return features


@dataclass(frozen=True)
class Example:
    text: str
    label: str


class GuideClassifier:
    """Which guide does a question ask about? Trained on the guides' own names and questions."""

    def __init__(
        self,
        examples: Sequence[Example],
        segmenter: Segmenter,
        previous: GuideClassifier | None = None,
        newton_steps: int | None = None,
    ) -> None:
        """Train on `examples`, tokenised by `segmenter` (the knowledge base's). With `previous`
        (the model before one guide changed), training starts from its weights: the loss is
        strictly convex (L2), so it reaches the same optimum (to the solver's tolerance) in 1–3
        Newton steps instead of ~10 (0.4–0.7 s instead of ~1.5 s for 60 guides). `newton_steps`
        stops earlier (one step: ~0.3 s), for a model that a full fit replaces soon after."""
        self.labels: list[str] = sorted({e.label for e in examples})
        analyser = functools.partial(analyse, segmenter=segmenter)
        self._position = {label: i for i, label in enumerate(self.labels)}
        self._model: LogisticRegression | None = None
        self._vectorizer: TfidfVectorizer
        if not examples:
            return
        targets = np.asarray([self._position[e.label] for e in examples], dtype=np.int64)
        warm = previous if previous is not None and previous._model is not None \
            and len(previous.labels) > 2 and len(self.labels) > 2 else None
        vocabulary = None
        if warm is not None:
            # The old features keep their columns (so their weights still apply); new ones follow.
            old = warm._vectorizer.vocabulary_
            extra = sorted({f for e in examples for f in analyser(e.text)} - old.keys())
            vocabulary = {**old, **{f: len(old) + i for i, f in enumerate(extra)}}
        self._vectorizer = TfidfVectorizer(
            analyzer=analyser, sublinear_tf=True, lowercase=False, dtype=np.float64, vocabulary=vocabulary
        )
        matrix = self._vectorizer.fit_transform([e.text for e in examples])
        ordered = matrix[np.argsort(targets, kind="stable")]
        # By column: a question touches only its own features' postings (a whole-matrix product
        # visits every example, ~190,000 at 10,000 guides).
        self._examples = ordered.tocsc()
        counts = np.bincount(targets, minlength=len(self.labels))
        self._starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        self._centroids: Any = None
        if len(self.labels) > MAX_LOGISTIC_GUIDES:
            self._centroids = normalize(_row_sums(ordered, self._starts)).tocsc()
        elif len(self.labels) >= 2:
            self._model = self._logistic(matrix, targets, warm, newton_steps)

    def _logistic(self, matrix: Any, targets: npt.NDArray[np.int64], warm: GuideClassifier | None,
                  newton_steps: int | None) -> LogisticRegression:
        # newton-cg on one thread: deterministic.
        model = LogisticRegression(C=CLASSIFIER_C, max_iter=newton_steps or 300, solver="newton-cg",
                                   warm_start=warm is not None)
        if warm is not None and warm._model is not None:
            rows = {label: i for i, label in enumerate(warm.labels)}
            before, bias = warm._model.coef_, warm._model.intercept_
            coef = np.zeros((len(self.labels), matrix.shape[1]))
            intercept = np.zeros(len(self.labels))
            for r, label in enumerate(self.labels):
                if label in rows:
                    coef[r, : before.shape[1]] = before[rows[label]]
                    intercept[r] = bias[rows[label]]
            model.coef_, model.intercept_ = coef, intercept
        with _one_thread(), warnings.catch_warnings():
            if newton_steps:  # stopping early is the point, not a failure to converge
                warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(matrix, targets)
        return model

    def scores(self, query: str) -> tuple[dict[str, float], dict[str, float]]:
        """(class probability, nearest-example cosine similarity) for every guide."""
        table = self.table(query)
        return (dict(zip(self.labels, table.probability.tolist(), strict=True)),
                dict(zip(self.labels, table.nearest.tolist(), strict=True)))

    def table(self, query: str) -> ScoreTable:
        """scores() as arrays over the guides (no dictionaries of thousands of guides per turn)."""
        if not self.labels:
            return ScoreTable([], {}, np.zeros(0), np.zeros(0))
        vector = self._vectorizer.transform([query])
        if vector.nnz == 0:
            zeros = np.zeros(len(self.labels))
            return ScoreTable(self.labels, self._position, zeros, zeros)
        sims = self._examples[:, vector.indices] @ vector.data
        nearest = np.maximum.reduceat(sims, self._starts)
        if self._centroids is not None:
            probs = _softmax(CENTROID_SHARPNESS * (self._centroids[:, vector.indices] @ vector.data))
        elif self._model is None:
            probs = np.ones(1)
        elif len(self.labels) > 2:
            # predict_proba's softmax over only the query's own features: sklearn multiplies the
            # whole coefficient matrix (a copy of it per question, ~50 ms at 1,000 guides).
            probs = _softmax(self._model.coef_[:, vector.indices] @ vector.data + self._model.intercept_)
        else:
            probs = self._model.predict_proba(vector)[0]
        return ScoreTable(self.labels, self._position, probs, nearest)


@dataclass(frozen=True)
class ScoreTable:
    """Each guide's class probability and nearest-example similarity for one question."""

    labels: Sequence[str]
    position: Mapping[str, int]
    probability: npt.NDArray[np.float64]
    nearest: npt.NDArray[np.float64]

    def value(self, values: npt.NDArray[np.float64], label: str) -> float:
        i = self.position.get(label)
        return 0.0 if i is None else float(values[i])

    def best(self, values: npt.NDArray[np.float64], n: int) -> list[str]:
        """The n guides of highest positive value, ties to the earlier guide (as a stable sort)."""
        if not len(values) or n <= 0:
            return []
        if len(values) > n:
            threshold = max(np.partition(values, len(values) - n)[len(values) - n], np.nextafter(0, 1))
            chosen = np.flatnonzero(values >= threshold)
        else:
            chosen = np.arange(len(values))
        ordered = sorted(chosen.tolist(), key=lambda i: (-values[i], i))[:n]
        return [self.labels[i] for i in ordered if values[i] > 0]

    def rivals(self, values: npt.NDArray[np.float64]) -> _Rivals:
        """_Rivals of one of the arrays, from its two best entries."""
        if not len(values):
            return _Rivals("", 0.0, 0.0)
        first = int(np.argmax(values))
        second = float(np.max(np.delete(values, first))) if len(values) > 1 else 0.0
        return _Rivals(self.labels[first], float(values[first]), second)


def _softmax(logits: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    exp = np.exp(logits - logits.max())
    return exp / exp.sum()


def _row_sums(matrix: Any, starts: npt.NDArray[np.int64]) -> Any:
    """Sum of each class's rows (rows sorted by class, classes starting at `starts`), sparse."""
    ends = np.append(starts[1:], matrix.shape[0])
    summing = sparse.csr_matrix(
        (np.ones(matrix.shape[0]), np.arange(matrix.shape[0]),
         np.concatenate([[0], ends]).astype(np.int64)),
        shape=(len(starts), matrix.shape[0]))
    return summing @ matrix


@dataclass(frozen=True)
class TokenStats:
    """Which tokens each guide contains (all fields, and names: title, aliases, questions)."""

    tokens: Mapping[str, frozenset[str]]
    names: Mapping[str, frozenset[str]]
    df: Mapping[str, int]

    @classmethod
    def build(cls, tokens: Mapping[str, frozenset[str]], names: Mapping[str, frozenset[str]]) -> TokenStats:
        df: dict[str, int] = {}
        for token_set in tokens.values():
            for token in token_set:
                df[token] = df.get(token, 0) + 1
        return cls(dict(tokens), dict(names), df)

    def idf(self, token: str) -> float:
        n = len(self.tokens)
        return math.log(1.0 + (n + 1) / (self.df.get(token, 0) + 0.5))


@dataclass(frozen=True)
class _Rivals:
    """The best value in a table other than a given label's, from the table's two best entries (one
    pass over thousands of guides, not one per candidate)."""

    label: str
    best: float
    second: float

    @classmethod
    def of(cls, table: Mapping[str, float]) -> _Rivals:
        top = heapq.nlargest(2, table.items(), key=lambda kv: kv[1])
        label, best = top[0] if top else ("", 0.0)
        return cls(label, best, top[1][1] if len(top) > 1 else 0.0)

    def best_other(self, label: str) -> float:
        return self.second if label == self.label else self.best


def _unnamed(word: str, tokens: frozenset[str]) -> bool:
    """The guide never uses this word, nor every pair of its letters (公积金提取, a dictionary word
    from another guide's alias, is still 公积金 + 提取 to a guide that has both)."""
    return word not in tokens and not all(word[i:i + 2] in tokens for i in range(len(word) - 1))


def candidate_features(
    query: str,
    hits: Sequence[Hit],
    classifier: GuideClassifier,
    stats: TokenStats,
    segmenter: Segmenter,
    extra: int = 5,
) -> dict[str, list[float]]:
    """Feature vectors (FEATURE_NAMES order) of the candidate guides for one query; `segmenter` is
    the one the classifier, the statistics and the backend's hits were made with."""
    scores = classifier.table(query)
    probs, nearest = scores.probability, scores.nearest
    candidates: dict[str, None] = dict.fromkeys(h.service_id for h in hits)
    for values in (probs, nearest):
        candidates.update(dict.fromkeys(scores.best(values, extra)))
    # The backend may know a guide the engine has just removed (or not yet added): skip it.
    labels = [label for label in candidates if label in stats.tokens]
    top_bm25 = hits[0].score if hits else 0.0
    bm25 = {h.service_id: h.score / top_bm25 for h in hits} if top_bm25 > 0 else {}
    # Sorted: float sums over these words must not depend on the process's string hashing.
    weights = {t: stats.idf(t) for t in sorted(set(segmenter.tokenize(query)))}
    info = sum(weights.values())
    total = info or 1.0
    coverage = {
        label: sum(w for t, w in weights.items() if t in stats.tokens[label]) / total for label in labels
    }
    name_coverage = {
        label: sum(w for t, w in weights.items() if t in stats.names[label]) / total for label in labels
    }
    known = {t: w for t, w in weights.items() if stats.df.get(t, 0) > 0}
    top_idf = stats.idf("") or 1.0
    foreign = {label: [w for t, w in known.items() if _unnamed(t, stats.tokens[label])] for label in labels}
    generic = generic_words()
    common = len(stats.tokens) * COMMON_SHARE
    specific = {t for t in segmenter.tokenize(question_clauses(query) or query)
                if len(t) >= 2 and t not in generic and is_cjk(t) and segmenter.is_word(t)
                and stats.df.get(t, 0) < common}
    rivals_p, rivals_near, rivals_bm25 = scores.rivals(probs), scores.rivals(nearest), _Rivals.of(bm25)
    rivals_names = _Rivals.of(name_coverage)
    rows: dict[str, list[float]] = {}
    for label in labels:
        p = scores.value(probs, label)
        near = scores.value(nearest, label)
        rows[label] = [
            p,
            p - rivals_p.best_other(label),
            bm25.get(label, 0.0),
            1.0 if hits and hits[0].service_id == label else 0.0,
            rivals_bm25.best_other(label),
            near,
            near - rivals_near.best_other(label),
            coverage[label],
            name_coverage[label],
            name_coverage[label] - rivals_names.best_other(label),
            info,
            sum(foreign[label]) / total,
            max(foreign[label], default=0.0) / top_idf,
            min(MAX_UNNAMED, sum(_unnamed(t, stats.tokens[label]) for t in specific)),
        ]
    return rows


class Calibrator:
    """Maps candidate features to P(candidate is the guide the user means).

    Fitted: gradient-boosted trees with log-loss (probabilities), monotone in the evidence
    features, so more evidence never lowers a confidence. Unfitted: a fixed logistic model.
    """

    def __init__(self, model: HistGradientBoostingClassifier | None = None) -> None:
        self._model = model

    @property
    def fitted(self) -> bool:
        return self._model is not None

    @classmethod
    def fit(
        cls,
        rows: Sequence[Sequence[float]],
        labels: Sequence[int],
        weights: Sequence[float] | None = None,
    ) -> Calibrator:
        """Fit on held-out candidates; the fixed default if the data cannot support it."""
        if len(rows) < 200 or len(set(labels)) < 2 or sum(labels) < 20:
            return cls()
        model = HistGradientBoostingClassifier(
            max_iter=150,
            learning_rate=0.1,
            max_leaf_nodes=15,
            min_samples_leaf=20,
            l2_regularization=1.0,
            monotonic_cst=list(MONOTONIC),
            early_stopping=False,
            random_state=0,
        )
        with _one_thread():
            model.fit(
                np.asarray(rows, dtype=np.float64),
                np.asarray(labels),
                sample_weight=None if weights is None else np.asarray(weights, dtype=np.float64),
            )
        return cls(model)

    def probabilities(self, rows: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """P(right guide) for each feature row."""
        if self._model is None:
            z = rows @ np.asarray(DEFAULT_COEFFICIENTS) + DEFAULT_INTERCEPT
            return 1.0 / (1.0 + np.exp(-z))
        with _one_thread():
            return self._model.predict_proba(rows)[:, 1]
