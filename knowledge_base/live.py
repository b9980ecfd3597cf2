"""Keeping a process's KnowledgeBase in step with the editors' overlay, live.

`LiveUpdates` runs in a background thread of the action server: it subscribes to the overlay's
channel, then reads the whole overlay and reconciles the KnowledgeBase with files ⊕ overlay (so a
change made while it was not listening is never lost), then applies each event as it comes. A gap
in the versions, a bulk import or a reconnection after a Redis restart trigger a full reconcile.
Each applied version is written to `xs:kb:applied`, which lets the gateway tell an editor that the
chat already answers with the change.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Mapping
from typing import Final

import redis
from redis.exceptions import RedisError

from knowledge_base.engine import KnowledgeBase
from knowledge_base.overlay import CHANNEL, KEY_DELETED, KEY_GUIDES, KEY_VERSION, Event, Snapshot, SyncOverlay
from knowledge_base.rules import Rules
from knowledge_base.schema import Guide

log = logging.getLogger(__name__)

BULK_THRESHOLD: Final[int] = 8
"""Above this many changed guides one rebuild (~8 s) beats one upsert (~0.5 s) each."""
MAX_BACKOFF_S: Final[float] = 5.0


def connect(redis_url: str) -> redis.Redis:
    """A blocking client with short timeouts and pub/sub health checks."""
    return redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=10,
                                health_check_interval=15, decode_responses=True)


def reconcile(kb: KnowledgeBase, desired: Mapping[str, Guide]) -> int:
    """Make kb hold exactly `desired`; returns how many guides changed."""
    changed = [g for gid, g in desired.items() if kb.get(gid) != g]
    removed = [gid for gid in kb.ids() if gid not in desired]
    if len(changed) + len(removed) > BULK_THRESHOLD:
        kb.replace_all(list(desired.values()))
    else:
        for guide in changed:
            kb.upsert(guide)
        for gid in removed:
            kb.delete(gid)
    return len(changed) + len(removed)


def initial_guides(redis_url: str | None, files: Mapping[str, Guide]) -> tuple[dict[str, Guide], int]:
    """files ⊕ overlay for start-up, and the overlay version; the files alone if Redis is down."""
    if not redis_url:
        return dict(files), 0
    client = connect(redis_url)
    try:
        snap = SyncOverlay(client).snapshot()
    except RedisError as exc:
        log.warning("editors' overlay unavailable at start-up (answering from files): %s", exc)
        return dict(files), 0
    finally:
        client.close()
    return snap.guides_view(files), snap.version


class LiveUpdates:
    """The background thread applying the overlay's events to a KnowledgeBase."""

    def __init__(self, kb: KnowledgeBase, redis_url: str, files: Mapping[str, Guide],
                 version: int = 0) -> None:
        self.kb = kb
        self.redis_url = redis_url
        self.files = dict(files)
        self.version = version
        self.connected = False
        self._rules_raw = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="kb-live", daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        backoff = 0.2
        while not self._stop.is_set():
            try:
                self._listen()
                backoff = 0.2
            except (RedisError, OSError) as exc:
                if self.connected:
                    log.warning("editors' overlay: lost Redis (%s); reconnecting", exc)
                self.connected = False
                self._stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
            except Exception:  # a bad event must not end live updates for good
                log.exception("editors' overlay: applying a change failed; resynchronising")
                self.connected = False
                self._stop.wait(1.0)

    def _listen(self) -> None:
        client = connect(self.redis_url)
        overlay = SyncOverlay(client)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(CHANNEL)
            # Subscribed first, then read everything: nothing written in between is missed.
            while pubsub.get_message(timeout=0) is not None:
                pass
            self._resync(overlay)
            if not self.connected:
                log.info("editors' overlay: listening (version %d)", self.version)
            self.connected = True
            while not self._stop.is_set():
                message = pubsub.get_message(timeout=1.0)
                if message is None or message.get("type") != "message":
                    continue
                self._handle(overlay, Event.parse(message["data"]))
        finally:
            pubsub.close()
            client.close()

    def _handle(self, overlay: SyncOverlay, event: Event) -> None:
        if event.version <= self.version:
            # Normally an event older than the snapshot just read; but if the counter went back,
            # Redis lost its data (flushed, or a new instance): start again from what it holds.
            if int(overlay.redis.get(KEY_VERSION) or 0) < self.version:
                self._resync(overlay)
            return
        started = time.perf_counter()
        if event.op == "reindex":
            self._rebuild(overlay, event)
        elif event.op == "bulk" or event.version != self.version + 1:
            self._resync(overlay)
        elif event.op == "rules":
            self._apply_rules(overlay.rules())
            self.version = event.version
            overlay.set_applied(self.version)
        else:
            self._apply_one(overlay, event.id)
            self.version = event.version
            overlay.set_applied(self.version)
        log.info("editors' overlay: applied %s %s (version %d) in %.0f ms", event.op, event.id,
                 event.version, (time.perf_counter() - started) * 1000)

    def _apply_one(self, overlay: SyncOverlay, guide_id: str) -> None:
        # The stored state is the truth (a later write to the same id may already be there).
        with overlay.redis.pipeline(transaction=True) as pipe:
            pipe.hget(KEY_GUIDES, guide_id)
            pipe.sismember(KEY_DELETED, guide_id)
            raw, deleted = pipe.execute()
        if raw is not None:
            guide: Guide | None = Guide.model_validate_json(raw)
        elif deleted:
            guide = None
        else:
            guide = self.files.get(guide_id)
        if guide is None:
            self.kb.delete(guide_id)
        elif self.kb.get(guide_id) != guide:
            self.kb.upsert(guide)

    def _rebuild(self, overlay: SyncOverlay, event: Event) -> None:
        """A full rebuild of the index and the re-ranker from files ⊕ overlay, asked for by an
        editor; its progress is reported stage by stage for the workspace to show."""
        node = f"{socket.gethostname()}:{os.getpid()}"
        begun = time.time()

        def progress(stage: str, done: int, total: int) -> None:
            overlay.report_reindex(node, {"version": event.version, "by": event.id, "stage": stage,
                                          "done": done, "total": total, "started_at": begun,
                                          "finished_at": time.time() if stage == "done" else None})

        snap = overlay.snapshot()
        self._apply_rules(snap.rules)
        try:
            self.kb.replace_all(list(snap.guides_view(self.files).values()), progress=progress)
        except Exception as exc:
            progress("failed", 0, 0)
            raise RuntimeError("reindex failed") from exc
        self.version = snap.version
        overlay.set_applied(self.version)

    def _apply_rules(self, raw: str) -> None:
        if raw != self._rules_raw:
            self.kb.set_rules(Rules.parse(raw, segmenter=self.kb.segmenter))
            self._rules_raw = raw

    def _resync(self, overlay: SyncOverlay) -> None:
        snap: Snapshot = overlay.snapshot()
        self._apply_rules(snap.rules)
        changed = reconcile(self.kb, snap.guides_view(self.files))
        if changed:
            log.info("editors' overlay: resynchronised %d guides (version %d)", changed, snap.version)
        self.version = snap.version
        overlay.set_applied(self.version)
