"""The action server's knowledge base, created on first use (no I/O at import time).

At start-up it holds the YAML guides with the editors' overlay from Redis applied
(knowledge_base.overlay); `start_live_updates()` then keeps it in step with every later write.
"""

from __future__ import annotations

import logging
import os
import threading

from knowledge_base.engine import KnowledgeBase
from knowledge_base.factory import kb_from_env
from knowledge_base.live import LiveUpdates, initial_guides
from knowledge_base.store import load_guides

log = logging.getLogger(__name__)
_lock = threading.Lock()
_kb: KnowledgeBase | None = None
_live: LiveUpdates | None = None


def _redis_url() -> str | None:
    return os.environ.get("REDIS_URL") or None


def get_kb() -> KnowledgeBase:
    """The shared, loaded KnowledgeBase (files ⊕ editors' overlay)."""
    global _kb, _live
    with _lock:
        if _kb is None:
            kb = kb_from_env()
            result = load_guides(kb.guides_dir)  # logs each refused guide
            files = {g.id: g for g in result.guides}
            guides, version = initial_guides(_redis_url(), files)
            kb.replace_all(list(guides.values()))
            log.info("knowledge base loaded: %d guides (overlay version %d)", len(kb), version)
            url = _redis_url()
            _live = LiveUpdates(kb, url, files, version) if url else None
            _kb = kb
        return _kb


def live_updates() -> LiveUpdates | None:
    """The overlay listener (None without REDIS_URL or before get_kb())."""
    return _live


def start_live_updates() -> None:
    """Load the knowledge base if needed and start following the editors' changes."""
    get_kb()
    if _live is not None:
        _live.start()


def stop_live_updates() -> None:
    if _live is not None:
        _live.stop()
