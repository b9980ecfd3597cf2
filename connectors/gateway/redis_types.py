"""Narrow redis-py replies to the types the gateway's clients actually return.

Every gateway client is created with `decode_responses=True` (state.py), so Redis replies are
`str`, never `bytes`; redis-py's annotations cannot know that and say `bytes | str`. These helpers
are the one place that narrows (and checks) replies, so the code using them is typed precisely
without casts. A reply of an unexpected type means a client without `decode_responses=True` or a
changed Lua script: a programming error, reported as TypeError rather than silently stringified.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from redis.typing import EncodableT, FieldT


def _unexpected(what: str, value: object) -> TypeError:
    return TypeError(f"unexpected Redis reply for {what}: {type(value).__name__} "
                     "(is the client created with decode_responses=True?)")


def text(value: bytes | str | None) -> str:
    """A string reply (GET, HGET, LINDEX, a Lua string) that must be present."""
    if isinstance(value, str):
        return value
    raise _unexpected("a string", value)


def optional_text(value: bytes | str | None) -> str | None:
    """A string reply that may be nil (GET or HGET of a missing key or field)."""
    return None if value is None else text(value)


def text_list(values: Iterable[object]) -> list[str]:
    """The members of a list or set reply (ZRANGE without scores, SMEMBERS, LRANGE), in order."""
    out = []
    for value in values:
        if not isinstance(value, str):
            raise _unexpected("a member", value)
        out.append(value)
    return out


def text_map(reply: Mapping[bytes | str, bytes | str]) -> dict[str, str]:
    """A hash reply (HGETALL); empty when the key does not exist."""
    return {text(name): text(value) for name, value in reply.items()}


def scored(reply: Iterable[object]) -> list[tuple[str, float]]:
    """A sorted-set reply WITHSCORES: (member, score) pairs in order."""
    out = []
    for pair in reply:
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise _unexpected("a (member, score) pair", pair)
        member, score = pair
        if not isinstance(member, str) or isinstance(score, bool) or not isinstance(score, (int, float)):
            raise _unexpected("a (member, score) pair", pair)
        out.append((member, score))
    return out


def optional_int(value: int | list[Any] | None) -> int | None:
    """An integer reply that may be nil (ZRANK without WITHSCORE)."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise _unexpected("an integer", value)


def hash_mapping(data: Mapping[str, str]) -> dict[FieldT, EncodableT]:
    """A str → str mapping as HSET's `mapping=` argument (redis-py types its keys invariantly)."""
    return {name: value for name, value in data.items()}


def _array(reply: object, size: int) -> list[Any]:
    if not isinstance(reply, list) or len(reply) != size:
        raise _unexpected(f"a Lua array of {size}", reply)
    return reply


def _flag(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise _unexpected("a Lua integer", value)


def script_pair(reply: object) -> tuple[int, str]:
    """A Lua script's `{integer, string}` reply."""
    flag, first = _array(reply, 2)
    return _flag(flag), text(first)


def script_triple(reply: object) -> tuple[int, str, str]:
    """A Lua script's `{integer, string, string}` reply."""
    flag, first, second = _array(reply, 3)
    return _flag(flag), text(first), text(second)
