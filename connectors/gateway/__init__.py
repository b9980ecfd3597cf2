"""The FastAPI gateway: chat API, health, and (later) widget, WeChat, agents and editors."""
