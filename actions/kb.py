"""The action server's knowledge base, created on first use (no I/O at import time)."""

from __future__ import annotations

import logging
import threading

from knowledge_base.engine import KnowledgeBase

log = logging.getLogger(__name__)
_lock = threading.Lock()
_kb: KnowledgeBase | None = None


def get_kb() -> KnowledgeBase:
    """The shared, loaded KnowledgeBase."""
    global _kb
    with _lock:
        if _kb is None:
            kb = KnowledgeBase.from_env()
            kb.load()
            log.info("knowledge base loaded: %d guides", len(kb.guides))
            _kb = kb
        return _kb
