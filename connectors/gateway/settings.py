"""Gateway settings, read from the environment (see README for every variable)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from records.db import DatabaseSettings


class Settings(BaseSettings):
    """One settings object for the gateway, injected so tests can override it."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8000
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_token: str = ""
    actions_url: str = "http://127.0.0.1:5055"
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Rasa runs a DIET model and the action server searches the knowledge base; a turn that takes
    # longer than this is reported as an outage rather than left hanging.
    rasa_timeout_s: float = 30.0
    health_timeout_s: float = 2.0
    max_message_chars: int = 2000
    # Turns under way in one gateway process before new ones get 503 overloaded (chat.py).
    max_turns_in_flight: int = Field(default=64, ge=1)
    # The database of record (declarations; records/db.py): SQLite file by default, PostgreSQL by URL.
    xs_database_url: str = DatabaseSettings().database_url
    max_body_bytes: int = Field(default=64 * 1024, description="larger request bodies get 413")
    log_level: str = "INFO"
    # /docs, /redoc and /openapi.json: XS_API_DOCS=false in production hides the API's map.
    xs_api_docs: bool = True
    # Channels (connectors/gateway/channels/): the web widget over socket.io and WeChat.
    # Comma-separated origins allowed to embed the widget; the gateway's own origin always is.
    cors_allowed_origins: str = ""
    widget_redis_manager: bool = False  # share socket.io rooms through Redis (several gateway processes)
    wechat_token: SecretStr = SecretStr("")
    wechat_aes_key: SecretStr = SecretStr("")
    wechat_appid: str = ""
    wechat_secret: SecretStr = SecretStr("")
    wechat_api_base: str = "https://api.weixin.qq.com"
    wechat_api_timeout_s: float = 10.0
    # An accepted push that no gateway has answered within this long (its gateway died) is taken
    # over by another (wechat/service.py: the Redis stream of accepted pushes).
    wechat_reclaim_idle_s: float = Field(default=30.0, gt=0)
    # Accounts and human handoff (connectors/gateway/auth.py, connectors/gateway/handoff/).
    xs_admin_user: str = ""
    xs_admin_password: SecretStr = SecretStr("")
    token_ttl_s: int = 12 * 3600
    handoff_max_concurrent: int = Field(default=5, ge=1, description="conversations one agent may hold")
    handoff_default_handle_s: float = 240.0
    service_hours_file: str = "config/service_hours.yaml"
    canned_replies_file: str = "config/canned_replies.yaml"
    # Knowledge editors (routes/kb.py): a guide may hold ~100 KB of text, an import all of them.
    kb_max_body_bytes: int = Field(default=4 * 1024 * 1024, description="body limit under /api/kb/")
    kb_apply_wait_s: float = Field(default=3.0, ge=0, description="how long a write waits for chat to use it")
    inbox_low_confidence: float = Field(
        default=0.5, ge=0, le=1, description="an answer below this confidence goes to the editors' inbox")
    kb_sync_interval_s: float = Field(
        default=30.0, ge=0, description="how often scheduled guide versions are published and the live "
        "channel checked against the database (0: never)")
    # Rate limits (ratelimit.py), in `limits` notation; XS_RATE_LIMITS=off turns all of them off.
    # Per address limits are generous: a government office or a school shares one address.
    xs_rate_limits: str = "on"
    xs_rate_turn_sender: str = "30/minute;300/hour"
    xs_rate_turn_ip: str = "600/minute"
    xs_rate_session_ip: str = "300/minute"
    xs_rate_queue_sender: str = "6/hour"
    xs_rate_queue_ip: str = "120/hour"
    xs_rate_ticket_ip: str = "30/hour"
    xs_rate_rating_ip: str = "120/hour"
    xs_rate_login_ip: str = "30/minute"


@lru_cache
def get_settings() -> Settings:
    """Settings from the environment, read once."""
    return Settings()
