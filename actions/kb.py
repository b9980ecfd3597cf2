"""The action server's knowledge base, created on first use (no I/O at import time)."""

from __future__ import annotations

import logging
import threading

from knowledge_base.engine import KnowledgeBase
from knowledge_base.factory import kb_from_env

log = logging.getLogger(__name__)
_lock = threading.Lock()
_kb: KnowledgeBase | None = None


def get_kb() -> KnowledgeBase:
    """The shared, loaded KnowledgeBase."""
    global _kb
    with _lock:
        if _kb is None:
            kb = kb_from_env()
            result = kb.load()
            for err in result.errors:
                log.warning("guide refused: %s", err)
            log.info("knowledge base loaded: %d guides", len(kb))
            _kb = kb
        return _kb
