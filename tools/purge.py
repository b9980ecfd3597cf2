"""`make purge`: delete conversations and 留言 tickets past their retention, or one conversation now.

    python -m tools.purge [--days N] [--sender ID ...] [--dry-run]

A conversation whose last message is older than N days (default `XS_RETENTION_DAYS`, 30) goes
entirely: transcript, metadata and token, handoff state, private notes, ratings, widget resend
keys, its place in the queue and the recent list, and Rasa's tracker (`xiaoshen:tracker:<id>` in
the same Redis). Tickets created before the cut go too. `--sender` deletes the named
conversations whatever their age (a citizen's request to be forgotten). Redis comes from
`REDIS_URL`, else from the running `make run` stack (var/run/redis.url). Progress goes to
stderr; the summary line is `purged conversations=… tickets=…`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Final

import redis.asyncio as aioredis

from connectors.gateway.handoff import keys
from connectors.gateway.handoff.hook import RECENT

RASA_TRACKER_PREFIX: Final = "xiaoshen:tracker:"  # key_prefix "xiaoshen" in the tracker store config
DEFAULT_DAYS: Final = 30
# Two years and a month: a figure can be compared with the same month a year before.
DEFAULT_EVENTS_DAYS: Final = 760


def conversation_keys(sender_id: str) -> list[str]:
    return [f"xs:conv:{sender_id}:{part}" for part in ("log", "seq", "meta", "turn")] + [
        keys.conv(sender_id), keys.notes(sender_id), keys.rating(sender_id),
        RASA_TRACKER_PREFIX + sender_id]


async def forget(redis: aioredis.Redis, sender_id: str) -> None:
    """Everything stored about one conversation, in one transaction."""
    resend = [k async for k in redis.scan_iter(match=f"xs:widget:cid:{sender_id}:*", count=500)]
    async with redis.pipeline(transaction=True) as pipe:
        pipe.delete(*conversation_keys(sender_id), *resend)
        pipe.zrem(keys.QUEUE, sender_id)
        pipe.zrem(RECENT, sender_id)
        await pipe.execute()


async def stale_conversations(redis: aioredis.Redis, cutoff: float) -> list[str]:
    stale = []
    async for key in redis.scan_iter(match="xs:conv:*:meta", count=500):
        meta = await redis.hmget(key, ["last_seen", "created"])
        seen = next((float(v) for v in meta if v), 0.0)
        if seen < cutoff:
            stale.append(str(key)[len("xs:conv:"):-len(":meta")])
    return stale


async def stale_tickets(redis: aioredis.Redis, cutoff: float) -> list[str]:
    stale = []
    async for key in redis.scan_iter(match=keys.ticket("*"), count=500):
        created = await redis.hget(key, "created")
        if created is None or float(created) < cutoff:
            stale.append(str(key))
    return stale


async def purge(redis_url: str, days: float, senders: list[str], dry_run: bool) -> tuple[int, int]:
    redis = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        cutoff = time.time() - days * 86400
        doomed = list(dict.fromkeys([*senders, *(await stale_conversations(redis, cutoff))]))
        tickets = await stale_tickets(redis, cutoff)
        print(f"{len(doomed)} conversations and {len(tickets)} tickets to purge"
              f"{' (dry run)' if dry_run else ''}", file=sys.stderr)
        if dry_run:
            return len(doomed), len(tickets)
        for done, sender_id in enumerate(doomed, start=1):
            await forget(redis, sender_id)
            if done % 500 == 0 or done == len(doomed):
                print(f"  conversations {done}/{len(doomed)}", file=sys.stderr)
        for key in tickets:
            ticket_id = key.rsplit(":", 1)[-1]
            async with redis.pipeline(transaction=True) as pipe:
                pipe.delete(key)
                pipe.zrem(keys.TICKETS_OPEN, ticket_id)
                await pipe.execute()
        return len(doomed), len(tickets)
    finally:
        await redis.aclose()


def default_redis_url() -> str:
    if os.environ.get("REDIS_URL"):
        return os.environ["REDIS_URL"]
    running = Path(__file__).resolve().parents[1] / "var" / "run" / "redis.url"
    return running.read_text(encoding="utf-8").strip() if running.exists() else "redis://127.0.0.1:6379/0"


def default_database_url() -> str | None:
    if os.environ.get("XS_DATABASE_URL"):
        return os.environ["XS_DATABASE_URL"]
    running = Path(__file__).resolve().parents[1] / "var" / "run" / "xiaoshen.db"
    return f"sqlite:///{running}" if running.exists() else None


def purge_records(database_url: str | None, days: float, events_days: float,
                  dry_run: bool) -> tuple[int, int]:
    """From the database of record: unfinished declaration drafts not touched for `days` (submitted
    records are kept), and events behind the service figures older than `events_days`
    (XS_EVENTS_RETENTION_DAYS; they hold no personal data, so they are kept much longer to compare
    years). How many of each."""
    if not database_url or dry_run:
        return 0, 0
    import datetime as dt

    from records.db import Database
    from records.declarations import SqlDeclarationStore
    from records.events import SqlEvents

    db = Database(database_url)
    try:
        db.migrate()
        now = dt.datetime.now(dt.timezone.utc)
        return (SqlDeclarationStore(db).purge_before(now - dt.timedelta(days=days)),
                SqlEvents(db).purge_before(now - dt.timedelta(days=events_days)))
    finally:
        db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=float,
                        default=float(os.environ.get("XS_RETENTION_DAYS", DEFAULT_DAYS)),
                        help="retention in days (XS_RETENTION_DAYS, default 30)")
    parser.add_argument("--events-days", type=float,
                        default=float(os.environ.get("XS_EVENTS_RETENTION_DAYS", DEFAULT_EVENTS_DAYS)),
                        help=f"retention of the events behind the service figures (XS_EVENTS_RETENTION_DAYS, "
                             f"default {DEFAULT_EVENTS_DAYS})")
    parser.add_argument("--sender", action="append", default=[], help="purge this conversation now")
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--redis-url", default=default_redis_url())
    parser.add_argument("--database-url", default=default_database_url(),
                        help="the database of record (XS_DATABASE_URL): stale declaration drafts go too")
    args = parser.parse_args()
    if args.days < 0 or args.events_days < 0:
        parser.error("--days and --events-days must not be negative")
    conversations, tickets = asyncio.run(purge(args.redis_url, args.days, args.sender, args.dry_run))
    drafts, events = purge_records(args.database_url, args.days, args.events_days, args.dry_run)
    print(f"purged conversations={conversations} tickets={tickets} declaration_drafts={drafts} "
          f"events={events}")


if __name__ == "__main__":
    main()
