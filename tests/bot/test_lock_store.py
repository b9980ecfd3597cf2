"""The lock store the Rasa servers share (bot/atomic_lock_store.py), run inside the Rasa environment
against a real Redis: eight processes' worth of clients issuing tickets for the same conversations
at once lose none, where Rasa's own RedisLockStore loses some (two replicas would then run one
conversation's turns at the same time)."""

from __future__ import annotations

import os
import subprocess
from urllib.parse import urlparse

from tools.stack import RASA_VENV, ROOT

SCRIPT = """
import sys, threading
from rasa.core.lock_store import RedisLockStore
from rasa.utils.endpoints import EndpointConfig
from bot.atomic_lock_store import AtomicRedisLockStore

host, port, db, kind = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def store():
    if kind == "atomic":
        return AtomicRedisLockStore(EndpointConfig(url=host, port=port, db=db, key_prefix="lt", type="x"))
    return RedisLockStore(host=host, port=port, db=db, key_prefix="lt")
stores = [store() for _ in range(8)]
def issue(s):
    for j in range(40):
        s.issue_ticket(f"{kind}-{j}")
threads = [threading.Thread(target=issue, args=(s,)) for s in stores]
[t.start() for t in threads]
[t.join() for t in threads]
lost = sum(8 - len(stores[0].get_lock(f"{kind}-{j}").tickets) for j in range(40))
# Finishing every ticket from all clients at once leaves no lock behind.
def finish(i):
    for j in range(40):
        stores[i].cleanup(f"{kind}-{j}", i)
threads = [threading.Thread(target=finish, args=(i,)) for i in range(8)]
[t.start() for t in threads]
[t.join() for t in threads]
left = sum(stores[0].get_lock(f"{kind}-{j}") is not None for j in range(40))
print(lost, left)
"""


def _run(redis_url: str, kind: str) -> tuple[int, int]:
    url = urlparse(redis_url)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([str(RASA_VENV / "bin" / "python"), "-c", SCRIPT, url.hostname or "127.0.0.1",
                           str(url.port or 6379), "3", kind], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120, check=True)
    lost, left = done.stdout.split()
    return int(lost), int(left)


def test_concurrent_tickets_are_never_lost_with_the_atomic_store(redis_url: str) -> None:
    assert _run(redis_url, "atomic") == (0, 0)


def test_rasa_s_own_store_loses_tickets_under_the_same_load(redis_url: str) -> None:
    lost, _ = _run(redis_url, "rasa")
    assert lost > 0  # why bot/atomic_lock_store.py exists; if Rasa fixes this, the override can go
