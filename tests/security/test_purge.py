"""Retention: the purge command removes old conversations entirely — our transcript, handoff
state, notes, ratings and Rasa's tracker — and old 留言 tickets, and leaves recent ones alone."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

import httpx
import redis

from tools.chat_client import with_tokens
from tools.purge import RASA_TRACKER_PREFIX
from tools.stack import ROOT, Stack


def run_purge(stack: Stack, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "tools.purge", "--redis-url", stack.effective_redis_url, *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


def test_old_conversations_and_tickets_are_purged_and_recent_ones_kept(stack: Stack) -> None:
    old, recent = f"old-{uuid.uuid4().hex[:8]}", f"new-{uuid.uuid4().hex[:8]}"
    with with_tokens(httpx.Client(base_url=stack.gateway_url, timeout=60)) as http:
        for sender in (old, recent):
            turn = http.post("/api/chat", json={"sender_id": sender, "message": "开公司要带什么材料？"})
            assert turn.status_code == 200
        sync = redis.Redis.from_url(stack.effective_redis_url, decode_responses=True)
        assert sync.exists(RASA_TRACKER_PREFIX + old), "Rasa keeps its tracker in our Redis"
        long_ago = str(time.time() - 40 * 86400)
        sync.hset(f"xs:conv:{old}:meta", mapping={"last_seen": long_ago, "created": long_ago})
        sync.rpush(f"xs:ho:notes:{old}", '{"text": "备注"}')
        sync.hset("xs:ho:ticket:T-old-1", mapping={"sender_id": old, "text": "留言", "created": long_ago})
        sync.zadd("xs:ho:tickets:open", {"T-old-1": float(long_ago)})

        assert "purged conversations=" in run_purge(stack, "--days", "30", "--dry-run")
        assert sync.exists(f"xs:conv:{old}:log"), "a dry run deletes nothing"
        out = run_purge(stack, "--days", "30")
        assert "tickets=1" in out
        for key in (f"xs:conv:{old}:log", f"xs:conv:{old}:meta", f"xs:ho:notes:{old}",
                    RASA_TRACKER_PREFIX + old, "xs:ho:ticket:T-old-1"):
            assert not sync.exists(key), key
        assert sync.zscore("xs:ho:tickets:open", "T-old-1") is None
        # The old conversation is gone for good: its token no longer opens anything.
        assert http.get(f"/api/chat/{old}/messages").status_code == 403
        kept = http.get(f"/api/chat/{recent}/messages")
        assert kept.status_code == 200 and len(kept.json()["messages"]) == 2
        # A citizen asks to be forgotten now.
        run_purge(stack, "--sender", recent)
        assert not sync.exists(f"xs:conv:{recent}:log") and not sync.exists(RASA_TRACKER_PREFIX + recent)
