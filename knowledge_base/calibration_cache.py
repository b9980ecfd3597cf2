"""The fitted calibrator, kept on disk by what it was fitted from, so a process that loads the same
guides with the same code does not refit it (a fit is ~40 s on 2 cores; a load ~0.1 s).

The key is a SHA-256 over every input of the fit: the guides (as stored), the lexicon files, the
kind of search backend whose scores it learns from (and that backend's code), the code of
calibration, re-ranking, normalisation and search, and scikit-learn's version. Anything
different is a miss and fits again. Files live in XS_CACHE_DIR (default var/cache/calibration),
are written by this process only (atomic rename) and read back with pickle, as scikit-learn
models are persisted; a file that does not load is ignored and refitted.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import sklearn

from knowledge_base.calibration import CalibrationReport, fit_calibrator
from knowledge_base.constants import LEXICON_DIR, PACKAGE_DIR
from knowledge_base.rerank import Calibrator
from knowledge_base.schema import Guide
from knowledge_base.search.base import SearchBackend

log = logging.getLogger(__name__)
CODE: Final = ("calibration.py", "rerank.py", "normalize.py", "question.py", "sections.py", "search/base.py",
               "schema.py")
BACKEND_CODE: Final[dict[str, tuple[str, ...]]] = {
    "embedded": ("search/embedded.py",),
    "elasticsearch": ("search/elastic.py", "search/es_index.json"),
}
"""The code that scores each kind of backend (a kind not listed is keyed by its name alone)."""


def cache_dir() -> Path | None:
    """Where fitted calibrators are kept; None when XS_CACHE_DIR is set to an empty string (off)."""
    configured = os.environ.get("XS_CACHE_DIR")
    if configured == "":
        return None
    base = Path(configured) if configured else PACKAGE_DIR.parent / "var" / "cache"
    return base / "calibration"


def fit_key(guides: Sequence[Guide], backend_kind: str) -> str:
    """The cache key of a fit of these guides on this kind of backend.

    The segmenter's dictionary is keyed through the lexicon and the guides' names; words it holds
    beyond those (editors' synonym terms, names of guides since removed) are history, not inputs:
    keying on them would refit at every restart that saw a different history."""
    digest = hashlib.sha256(f"sklearn {sklearn.__version__}\nbackend {backend_kind}\n".encode())
    for guide in sorted(guides, key=lambda g: g.id):
        digest.update(guide.model_dump_json().encode())
    for path in sorted(LEXICON_DIR.glob("*.yaml")):
        digest.update(path.name.encode() + path.read_bytes())
    for name in (*CODE, *BACKEND_CODE.get(backend_kind, ())):
        digest.update(name.encode() + (PACKAGE_DIR / name).read_bytes())
    return digest.hexdigest()


def fit_calibrator_cached(
    guides: Sequence[Guide], backend: SearchBackend
) -> tuple[Calibrator, CalibrationReport]:
    """fit_calibrator(guides, backend), from the cache when these inputs were fitted before."""
    directory = cache_dir()
    if directory is None:
        return fit_calibrator(guides, backend)
    path = directory / f"{fit_key(guides, backend.kind)}.pickle"
    try:
        with path.open("rb") as fh:
            calibrator, report = pickle.load(fh)  # our own file, keyed by its inputs
        if isinstance(calibrator, Calibrator) and isinstance(report, CalibrationReport):
            return calibrator, report
    except FileNotFoundError:
        pass
    except Exception as exc:  # a truncated or foreign file: fit again and replace it
        log.warning("calibration cache %s unreadable (%s); refitting", path.name, exc)
    calibrator, report = fit_calibrator(guides, backend)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("wb", dir=directory, delete=False, suffix=".tmp") as tmp:
            pickle.dump((calibrator, report), tmp)
        os.replace(tmp.name, path)
    except OSError as exc:
        log.warning("calibration not cached: %s", exc)
    return calibrator, report
