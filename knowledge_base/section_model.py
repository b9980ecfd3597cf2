"""A small learned section classifier: logistic regression over character n-grams.

Trained in-process from knowledge_base/lexicon/section_questions.yaml the first time it is used
(a few hundred hand-written questions; well under a second, nothing downloaded). It sees text
folded like knowledge_base.sections.fold (width, 繁→简, lowercase, typo fixes, no synonym
expansion) with the service's names already taken out, and returns a probability per section,
including `overview` ("how to handle it in general", no particular section).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import yaml
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from knowledge_base.constants import LEXICON_DIR, SECTIONS

TRAINING_FILE: Final[Path] = LEXICON_DIR / "section_questions.yaml"
# Inverse regularisation strength; the training set is small and hand-written, so keep it modest.
C_VALUE: Final = 8.0
NGRAMS: Final = (1, 3)
_BRACED = re.compile(r"\{[^{}]*\}")


@dataclass(frozen=True)
class Example:
    """One training question (braced service names already replaced by a space) and its label."""

    text: str
    section: str


def load_examples(path: Path = TRAINING_FILE,
                  fold: Callable[[str], str] | None = None) -> list[Example]:
    """The labelled questions of a section_questions.yaml file.

    `{name}` spans become a space (the bot strips service names before reading the section).
    Questions under `no_section` (chatter, other topics) are trained as `overview`.
    Each question without a braced name is also added once behind a colloquial service mention
    from the file's `mentions` list, so the model learns that such words ask no section.
    """
    with path.open(encoding="utf-8") as fh:
        data: dict[str, Any] = yaml.safe_load(fh) or {}
    sections = data.get("sections") or {}
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        raise ValueError(f"{path.name}: unknown sections {sorted(unknown)}")
    mentions = [str(m) for m in data.get("mentions") or []]
    # Chatter and other topics ask no section: the same label as "how to handle it in general".
    no_section = [str(q) for q in data.get("no_section") or []]
    folder = fold or (lambda s: s)
    examples: list[Example] = []
    turn = 0
    for section, questions in sections.items():
        for raw in questions or []:
            question = str(raw)
            text = folder(_BRACED.sub(" ", question))
            examples.append(Example(text, section))
            if mentions and "{" not in question:
                mention = mentions[turn % len(mentions)]
                turn += 1
                examples.append(Example(folder(f"{mention}{question}"), section))
    examples.extend(Example(folder(q), "overview") for q in no_section)
    return examples


class SectionModel:
    """Probabilities of the sections for a folded, name-stripped question."""

    def __init__(self, examples: Sequence[Example]) -> None:
        if not examples:
            raise ValueError("no training examples for the section model")
        self._pipeline = Pipeline([
            ("tfidf", TfidfVectorizer(analyzer="char_wb", ngram_range=NGRAMS, sublinear_tf=True,
                                      min_df=1)),
            ("lr", LogisticRegression(C=C_VALUE, solver="newton-cg", max_iter=500,
                                       class_weight="balanced")),
        ])
        self._pipeline.fit([e.text for e in examples], [e.section for e in examples])
        self.classes: tuple[str, ...] = tuple(str(c) for c in self._pipeline.classes_)

    def probabilities(self, text: str) -> dict[str, float]:
        """Section → probability (summing to 1) for one folded text."""
        if not text.strip():
            return {c: (1.0 if c == "overview" else 0.0) for c in self.classes}
        probs: np.ndarray = self._pipeline.predict_proba([text])[0]
        return {c: float(p) for c, p in zip(self.classes, probs, strict=True)}


_lock = threading.Lock()
_model: SectionModel | None = None


def get_model(fold: Callable[[str], str]) -> SectionModel:
    """The shared model, trained on first use (thread-safe)."""
    global _model
    with _lock:
        if _model is None:
            _model = SectionModel(load_examples(TRAINING_FILE, fold))
        return _model
