"""Gateway settings, read from the environment (see README for every variable)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    max_body_bytes: int = Field(default=64 * 1024, description="larger request bodies get 413")
    log_level: str = "INFO"


@lru_cache
def get_settings() -> Settings:
    """Settings from the environment, read once."""
    return Settings()
