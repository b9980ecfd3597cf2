"""Accounts, password hashing and bearer tokens, all in Redis.

Passwords are hashed with scrypt (stdlib). Tokens are opaque random strings stored in Redis with
a TTL, so logging out (or removing a user) revokes them at once and every gateway process agrees.
Keys: `xs:user:{name}` (hash), `xs:users` (set of names), `xs:token:{token}` (JSON, TTL),
`xs:user:{name}:tokens` (set, for revocation), `xs:login:fail:{name}` (failed-attempt counter).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import sys
from dataclasses import dataclass, field
from typing import Final, Literal

import redis.asyncio as aioredis

from connectors.gateway.redis_types import hash_mapping, optional_text, text_list, text_map

log = logging.getLogger("xiaoshen.auth")

# `reviewer` publishes guides (PUT/DELETE of the editors' API); `supervisor` sees the service
# figures (/api/stats, /dashboard) and changes nothing; `admin` holds every role.
Role = Literal["admin", "editor", "reviewer", "agent", "supervisor"]
ROLES: Final[tuple[Role, ...]] = ("admin", "editor", "reviewer", "agent", "supervisor")
_SCRYPT_N: Final = 2**14
_SCRYPT_R: Final = 8
_SCRYPT_P: Final = 1
MAX_FAILED_LOGINS: Final = 10
FAILED_LOGIN_WINDOW_S: Final = 900
USERNAME_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_.-")


def hash_password(password: str) -> str:
    """A self-describing scrypt hash: scrypt$n$r$p$salt$digest (base64)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """True when password matches the stored hash (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r),
                             p=int(p), dklen=len(base64.b64decode(digest)))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, base64.b64decode(digest))


# Checked against for unknown names, so a login costs one scrypt whether the name exists or not.
_DUMMY_HASH: Final = hash_password(secrets.token_urlsafe(16))


def token_key(token: str) -> str:
    """Where a bearer token's session lives: only its SHA-256 is stored, never the token."""
    return "xs:token:" + hashlib.sha256(token.encode()).hexdigest()


def valid_username(name: str) -> bool:
    return 1 <= len(name) <= 64 and set(name) <= USERNAME_CHARS


@dataclass(frozen=True)
class Principal:
    """The user behind a token."""

    username: str
    roles: frozenset[str] = field(default_factory=frozenset)
    display_name: str = ""
    max_concurrent: int | None = None

    def has(self, role: str) -> bool:
        """Holds the role (an admin holds every role, also ones added later)."""
        return role in self.roles or "admin" in self.roles

    @property
    def label(self) -> str:
        return self.display_name or self.username


class LoginThrottled(Exception):
    """Too many failed logins for this user name recently."""


class Accounts:
    """Users and their tokens."""

    def __init__(self, redis: aioredis.Redis, token_ttl_s: int) -> None:
        self.redis = redis
        self.token_ttl_s = token_ttl_s
        self._bootstrapped = False

    # --- users ------------------------------------------------------------------------------
    async def create_user(self, username: str, password: str, roles: list[str], *,
                          display_name: str = "", max_concurrent: int | None = None,
                          only_if_new: bool = False) -> bool:
        """Create (or replace) a user; False when only_if_new and the name is taken."""
        key = f"xs:user:{username}"
        mapping = {
            "password": hash_password(password),
            "roles": ",".join(r for r in ROLES if r in roles),
            "display_name": display_name,
            "max_concurrent": "" if max_concurrent is None else str(max_concurrent),
        }
        if only_if_new:
            # HSETNX on one field claims the name atomically, so two processes cannot both create it.
            if not await self.redis.hsetnx(key, "password", mapping["password"]):
                return False
        else:
            await self.revoke_user_tokens(username)
        await self.redis.hset(key, mapping=hash_mapping(mapping))
        await self.redis.sadd("xs:users", username)
        return True

    async def get_user(self, username: str) -> Principal | None:
        data = text_map(await self.redis.hgetall(f"xs:user:{username}"))
        if not data:
            return None
        limit = data.get("max_concurrent") or ""
        return Principal(username, frozenset(filter(None, data.get("roles", "").split(","))),
                         data.get("display_name", ""), int(limit) if limit.isdigit() else None)

    async def list_users(self) -> list[Principal]:
        names = sorted(text_list(await self.redis.smembers("xs:users")))
        users = [await self.get_user(n) for n in names]
        return [u for u in users if u is not None]

    async def delete_user(self, username: str) -> bool:
        await self.revoke_user_tokens(username)
        await self.redis.srem("xs:users", username)
        return bool(await self.redis.delete(f"xs:user:{username}"))

    async def bootstrap(self, admin_user: str, admin_password: str) -> str | None:
        """Create the first admin at first start; the generated password when none was given.

        With XS_ADMIN_USER/XS_ADMIN_PASSWORD the admin is created if missing. Without them, and
        only when no user exists yet, `admin` gets a random password, printed once to stderr.
        """
        if self._bootstrapped:
            return None
        generated: str | None = None
        if admin_user and admin_password:
            await self.create_user(admin_user, admin_password, list(ROLES), only_if_new=True)
        elif not await self.redis.scard("xs:users"):
            password = secrets.token_urlsafe(12)
            if await self.create_user(admin_user or "admin", password, list(ROLES), only_if_new=True):
                generated = password
                print(f"[xiaoshen] created admin user {admin_user or 'admin'!r} with password {password} "
                      "(shown once; set XS_ADMIN_USER/XS_ADMIN_PASSWORD to choose it)",
                      file=sys.stderr, flush=True)
        self._bootstrapped = True
        return generated

    # --- login and tokens --------------------------------------------------------------------
    async def authenticate(self, username: str, password: str, client: str = "") -> Principal | None:
        """The user when the password is right; raises LoginThrottled after repeated failures.

        Failures are counted per name *and* client address: someone guessing from elsewhere
        cannot lock the real user out (guessing from many addresses is met by the per-address
        limit on every login, ratelimit.py)."""
        fail_key = f"xs:login:fail:{username}:{client}"
        if int(await self.redis.get(fail_key) or 0) >= MAX_FAILED_LOGINS:
            raise LoginThrottled(username)
        stored: str | None = None
        if valid_username(username):
            stored = optional_text(await self.redis.hget(f"xs:user:{username}", "password"))
        # One scrypt for unknown users too, so timing does not reveal which names exist.
        ok = verify_password(password, stored or _DUMMY_HASH) and stored is not None
        if not ok:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.incr(fail_key)
                pipe.expire(fail_key, FAILED_LOGIN_WINDOW_S)
                await pipe.execute()
            return None
        await self.redis.delete(fail_key)
        return await self.get_user(username)

    async def issue_token(self, user: Principal) -> str:
        token = secrets.token_urlsafe(32)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(token_key(token), json.dumps({"username": user.username}), ex=self.token_ttl_s)
            pipe.sadd(f"xs:user:{user.username}:tokens", token_key(token))
            pipe.expire(f"xs:user:{user.username}:tokens", self.token_ttl_s)
            await pipe.execute()
        return token

    async def principal(self, token: str) -> Principal | None:
        """The user a token belongs to, or None when it is unknown, expired or revoked."""
        if not token or len(token) > 128:
            return None
        raw = await self.redis.get(token_key(token))
        if raw is None:
            return None
        return await self.get_user(json.loads(raw)["username"])

    async def revoke(self, token: str) -> None:
        key = token_key(token)
        raw = await self.redis.get(key)
        await self.redis.delete(key)
        if raw:
            await self.redis.srem(f"xs:user:{json.loads(raw)['username']}:tokens", key)

    async def revoke_user_tokens(self, username: str) -> None:
        keys = text_list(await self.redis.smembers(f"xs:user:{username}:tokens"))  # token_key()s
        if keys:
            await self.redis.delete(*keys)
        await self.redis.delete(f"xs:user:{username}:tokens")
