"""Editors' changes to the guides, kept in Redis as an overlay on the YAML files.

The YAML files in `guides/` are the seed. An editor's write is stored in Redis (append-only file,
so it survives restarts) and announced on a pub/sub channel; every process sees
files ⊕ overlay − tombstones:

  `xs:kb:guides`   hash  id → guide JSON (created or replaced by an editor)
  `xs:kb:deleted`  set   ids deleted by an editor (tombstones; they hide file guides too)
  `xs:kb:meta`     hash  id → {"version", "updated_at", "updated_by", "op"} of its last write
  `xs:kb:rules`    string  the editors' synonyms and out-of-scope marks (knowledge_base.rules, JSON)
  `xs:kb:version`  int   bumped by every write; events carry it so a gap is noticed
  `xs:kb:applied`  int   the version the action server answers with (set by knowledge_base.live)
  `xs:kb:reindex`  hash  node → JSON progress of the last full rebuild each action server made
  `xs:kb:events`   channel  {"op": upsert|delete|revert|bulk|rules|reindex, "id", "version"}

Each write is one Lua script: the check of an expected version (If-Match), the change, the meta,
the counter and the event happen together. The same commands run on a sync (`redis.Redis`, the
action server's thread) or an asyncio client (the gateway): `SyncOverlay` and `AsyncOverlay`.
Nothing connects at import time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import json
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import redis
import redis.asyncio as aioredis
from pydantic import ValidationError

from knowledge_base.constants import GUIDES_DIR
from knowledge_base.schema import Guide
from knowledge_base.store import load_guides

log = logging.getLogger(__name__)

KEY_GUIDES: Final = "xs:kb:guides"
KEY_DELETED: Final = "xs:kb:deleted"
KEY_META: Final = "xs:kb:meta"
KEY_VERSION: Final = "xs:kb:version"
KEY_APPLIED: Final = "xs:kb:applied"
KEY_RULES: Final = "xs:kb:rules"
KEY_REINDEX: Final = "xs:kb:reindex"
EMPTY_RULES: Final = json.dumps({"out_of_scope": [], "synonyms": []}, sort_keys=True)
CHANNEL: Final = "xs:kb:events"
KEYS: Final = (KEY_GUIDES, KEY_DELETED, KEY_META, KEY_VERSION)

Op = Literal["upsert", "delete", "revert", "bulk", "rules", "reindex"]
Origin = Literal["file", "edited"]

# ARGV: op, id, guide JSON ("" unless upsert), updated_at, updated_by, expected version ("" = any).
# Returns {version, 0} or {-1, current version} when the expected version does not match.
_WRITE: Final = """
local op, id, body, at, by, expected = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local current = 0
local meta = redis.call('HGET', KEYS[3], id)
if meta then current = tonumber(cjson.decode(meta)['version']) end
if expected ~= '' and tonumber(expected) ~= current then return {-1, current} end
local v = redis.call('INCR', KEYS[4])
if op == 'upsert' then
  redis.call('HSET', KEYS[1], id, body)
  redis.call('SREM', KEYS[2], id)
elseif op == 'delete' then
  redis.call('HDEL', KEYS[1], id)
  redis.call('SADD', KEYS[2], id)
else
  redis.call('HDEL', KEYS[1], id)
  redis.call('SREM', KEYS[2], id)
end
if op == 'revert' then
  redis.call('HDEL', KEYS[3], id)
else
  redis.call('HSET', KEYS[3], id, cjson.encode({version = v, updated_at = at, updated_by = by, op = op}))
end
redis.call('PUBLISH', '""" + CHANNEL + """', cjson.encode({op = op, id = id, version = v}))
return {v, current}
"""

# ARGV: updated_at, updated_by, n, then n (id, guide JSON) pairs, then ids to delete. One version.
_BULK: Final = """
local at, by, n = ARGV[1], ARGV[2], tonumber(ARGV[3])
local v = redis.call('INCR', KEYS[4])
for i = 0, n - 1 do
  local id, body = ARGV[4 + 2 * i], ARGV[5 + 2 * i]
  redis.call('HSET', KEYS[1], id, body)
  redis.call('SREM', KEYS[2], id)
  redis.call('HSET', KEYS[3], id,
    cjson.encode({version = v, updated_at = at, updated_by = by, op = 'upsert'}))
end
for i = 4 + 2 * n, #ARGV do
  local id = ARGV[i]
  redis.call('HDEL', KEYS[1], id)
  redis.call('SADD', KEYS[2], id)
  redis.call('HSET', KEYS[3], id,
    cjson.encode({version = v, updated_at = at, updated_by = by, op = 'delete'}))
end
redis.call('PUBLISH', '""" + CHANNEL + """', cjson.encode({op = 'bulk', id = '', version = v}))
return {v, 0}
"""


# KEYS: rules, version. ARGV: the rules' JSON. One version, one event.
_RULES: Final = """
redis.call('SET', KEYS[1], ARGV[1])
local v = redis.call('INCR', KEYS[2])
redis.call('PUBLISH', '""" + CHANNEL + """', cjson.encode({op = 'rules', id = '', version = v}))
return v
"""


# KEYS: version, progress. ARGV: who asked. Every action server rebuilds its index from scratch.
_REINDEX: Final = """
local v = redis.call('INCR', KEYS[1])
redis.call('DEL', KEYS[2])
redis.call('PUBLISH', '""" + CHANNEL + """', cjson.encode({op = 'reindex', id = ARGV[1], version = v}))
return v
"""


class VersionConflict(Exception):
    """The guide changed since the editor read it (If-Match did not match)."""

    def __init__(self, current: int) -> None:
        super().__init__(f"current version is {current}")
        self.current = current


@dataclass(frozen=True)
class Meta:
    """Who changed a guide last, when, and at which overlay version (0: never edited)."""

    version: int = 0
    updated_at: str | None = None
    updated_by: str | None = None
    op: str | None = None


@dataclass(frozen=True)
class Event:
    """One message on the channel."""

    op: Op
    id: str
    version: int

    @classmethod
    def parse(cls, raw: str | bytes) -> Event:
        data = json.loads(raw)
        return cls(str(data["op"]), str(data.get("id") or ""), int(data["version"]))  # type: ignore[arg-type]


@dataclass(frozen=True)
class Entry:
    """A guide as everyone should see it, with where it came from."""

    guide: Guide
    origin: Origin
    meta: Meta


@dataclass
class Snapshot:
    """The whole overlay at one version (read in one MULTI, so consistent)."""

    version: int = 0
    guides: dict[str, Guide] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    meta: dict[str, Meta] = field(default_factory=dict)
    rules: str = ""  # the editors' rules as JSON (knowledge_base.rules.Rules.parse)

    @classmethod
    def parse(cls, version: Any, guides: Mapping[Any, Any], deleted: Iterable[Any],
              meta: Mapping[Any, Any], rules: Any = None) -> Snapshot:
        snap = cls(int(version or 0), {}, {_text(d) for d in deleted},
                   {_text(k): _meta(v) for k, v in meta.items()}, _text(rules) if rules else "")
        for key, raw in guides.items():
            gid = _text(key)
            try:
                snap.guides[gid] = Guide.model_validate_json(raw)
            except ValidationError as exc:  # stored under an older schema: keep the file version
                log.warning("overlay guide %s no longer valid, ignored: %s", gid, exc.error_count())
        return snap

    def merged(self, files: Mapping[str, Guide]) -> dict[str, Entry]:
        """files ⊕ overlay − tombstones, by id."""
        out = {gid: Entry(g, "file", Meta()) for gid, g in files.items() if gid not in self.deleted}
        for gid, guide in self.guides.items():
            out[gid] = Entry(guide, "edited", self.meta.get(gid, Meta()))
        return dict(sorted(out.items()))

    def guides_view(self, files: Mapping[str, Guide]) -> dict[str, Guide]:
        return {gid: e.guide for gid, e in self.merged(files).items()}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _meta(raw: Any) -> Meta:
    data = json.loads(raw)
    return Meta(int(data.get("version", 0)), data.get("updated_at"), data.get("updated_by"),
                data.get("op"))


def guide_json(guide: Guide) -> str:
    """The stored and exchanged form of a guide (the contract's JSON)."""
    return guide.model_dump_json()


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


@functools.lru_cache(maxsize=4)
def _seed(directory: str) -> dict[str, Guide]:
    result = load_guides(Path(directory))
    return {g.id: g for g in result.guides}


def seed_guides(directory: Path = GUIDES_DIR) -> dict[str, Guide]:
    """The valid guides of the YAML files, by id (read once per process and directory)."""
    return dict(_seed(str(directory)))


def _write_args(op: Op, guide_id: str, guide: Guide | None, by: str, expected: int | None) -> list[str]:
    body = guide_json(guide) if guide is not None else ""
    return [op, guide_id, body, now_iso(), by, "" if expected is None else str(expected)]


def _bulk_args(upserts: Sequence[Guide], deletes: Sequence[str], by: str) -> list[str]:
    args = [now_iso(), by, str(len(upserts))]
    for guide in upserts:
        args += [guide.id, guide_json(guide)]
    return args + list(deletes)


def _queue_snapshot(pipe: Any) -> None:
    for command, key in (("get", KEY_VERSION), ("hgetall", KEY_GUIDES), ("smembers", KEY_DELETED),
                         ("hgetall", KEY_META), ("get", KEY_RULES)):
        getattr(pipe, command)(key)


def _written(result: Sequence[Any]) -> int:
    version, current = int(result[0]), int(result[1])
    if version < 0:
        raise VersionConflict(current)
    return version


class SyncOverlay:
    """The overlay over a blocking client (the action server's thread, tools, tests)."""

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client
        self._write = client.register_script(_WRITE)
        self._bulk = client.register_script(_BULK)
        self._rules = client.register_script(_RULES)
        self._reindex = client.register_script(_REINDEX)

    def snapshot(self) -> Snapshot:
        with self.redis.pipeline(transaction=True) as pipe:
            _queue_snapshot(pipe)
            return Snapshot.parse(*pipe.execute())

    def write(self, op: Op, guide_id: str, guide: Guide | None = None, *, by: str = "system",
              expected: int | None = None) -> int:
        """Apply one change; returns the new overlay version (VersionConflict on a stale If-Match)."""
        return _written(self._write(keys=KEYS, args=_write_args(op, guide_id, guide, by, expected)))

    def bulk(self, upserts: Sequence[Guide], deletes: Sequence[str] = (), *, by: str = "system") -> int:
        return _written(self._bulk(keys=KEYS, args=_bulk_args(upserts, deletes, by)))

    def write_rules(self, rules_json: str) -> int:
        """Replace the editors' rules; returns the new overlay version."""
        return int(self._rules(keys=(KEY_RULES, KEY_VERSION), args=[rules_json]))

    def rules(self) -> str:
        return _text(self.redis.get(KEY_RULES) or "")

    def request_reindex(self, by: str) -> int:
        return int(self._reindex(keys=(KEY_VERSION, KEY_REINDEX), args=[by]))

    def report_reindex(self, node: str, progress: Mapping[str, Any]) -> None:
        """One action server's progress through a full rebuild (read by GET /api/kb/reindex)."""
        self.redis.hset(KEY_REINDEX, node, json.dumps(dict(progress), ensure_ascii=False))

    def set_applied(self, version: int) -> None:
        self.redis.set(KEY_APPLIED, version)

    def applied(self) -> int:
        return int(self.redis.get(KEY_APPLIED) or 0)

    def wait_applied(self, version: int, timeout_s: float, poll_s: float = 0.02) -> bool:
        deadline = time.monotonic() + timeout_s
        while self.applied() < version:
            if time.monotonic() > deadline:
                return False
            time.sleep(poll_s)
        return True


class AsyncOverlay:
    """The overlay over an asyncio client (the gateway)."""

    def __init__(self, client: aioredis.Redis) -> None:
        self.redis = client
        self._write = client.register_script(_WRITE)
        self._bulk = client.register_script(_BULK)
        self._rules = client.register_script(_RULES)
        self._reindex = client.register_script(_REINDEX)

    async def snapshot(self) -> Snapshot:
        async with self.redis.pipeline(transaction=True) as pipe:
            _queue_snapshot(pipe)
            return Snapshot.parse(*await pipe.execute())

    async def write(self, op: Op, guide_id: str, guide: Guide | None = None, *, by: str = "system",
                    expected: int | None = None) -> int:
        """Apply one change; returns the new overlay version (VersionConflict on a stale If-Match)."""
        args = _write_args(op, guide_id, guide, by, expected)
        return _written(await self._write(keys=KEYS, args=args))

    async def bulk(self, upserts: Sequence[Guide], deletes: Sequence[str] = (), *,
                   by: str = "system") -> int:
        return _written(await self._bulk(keys=KEYS, args=_bulk_args(upserts, deletes, by)))

    async def applied(self) -> int:
        return int(await self.redis.get(KEY_APPLIED) or 0)

    async def request_reindex(self, by: str) -> int:
        """Ask every action server to rebuild its search index from scratch; the new version."""
        return int(await self._reindex(keys=(KEY_VERSION, KEY_REINDEX), args=[by]))

    async def reindex_progress(self) -> dict[str, dict[str, Any]]:
        """Each action server's progress through the last rebuild asked for, by node."""
        raw = await self.redis.hgetall(KEY_REINDEX)
        return {_text(k): json.loads(v) for k, v in raw.items()}

    async def mirror_rules(self, rules_json: str) -> tuple[int, bool]:
        """Make the live rules exactly `rules_json`; (overlay version, whether anything was written)."""
        current = await self.redis.get(KEY_RULES)
        if (_text(current) if current else EMPTY_RULES) == rules_json:
            return int(await self.redis.get(KEY_VERSION) or 0), False
        return int(await self._rules(keys=(KEY_RULES, KEY_VERSION), args=[rules_json])), True

    async def wait_applied(self, version: int, timeout_s: float, poll_s: float = 0.02) -> bool:
        """True once the action server answers with `version` (or later); False after timeout_s."""
        deadline = time.monotonic() + timeout_s
        while await self.applied() < version:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(poll_s)
        return True

    async def mirror(self, desired: Mapping[str, Guide], *, by: str = "system") -> tuple[int, bool]:
        """Make the live view (files ⊕ overlay) exactly `desired` (the published guides of record).

        Writes only the difference: one upsert or delete for a single change, a bulk otherwise.
        Returns (overlay version, whether anything was written). Idempotent: run it after every
        publish, at start and periodically, and a missed event or a flushed Redis heals itself.
        """
        files = await asyncio.to_thread(seed_guides)
        snap = await self.snapshot()
        view = snap.merged(files)
        upserts = [g for gid, g in sorted(desired.items()) if gid not in view or view[gid].guide != g]
        deletes = sorted(gid for gid in view if gid not in desired)
        if not upserts and not deletes:
            return snap.version, False
        if len(upserts) + len(deletes) == 1:
            if upserts:
                return await self.write("upsert", upserts[0].id, upserts[0], by=by), True
            return await self.write("delete", deletes[0], by=by), True
        return await self.bulk(upserts, deletes, by=by), True
