"""The action server: rasa_sdk's app plus a readiness check that covers the knowledge base."""

from __future__ import annotations

import logging
import os

from sanic import Sanic, response
from sanic.request import Request

from rasa_sdk.endpoint import create_app

from actions.kb import get_kb

log = logging.getLogger("actions")


def build_app() -> Sanic:
    """The Sanic app serving /webhook, /actions, /health and /health/kb."""
    app = create_app("actions.actions", cors_origins=None)

    @app.get("/health/kb")
    async def kb_health(_: Request) -> response.HTTPResponse:
        try:
            kb = get_kb()
            ok = kb.backend.health() and len(kb) > 0
        except Exception as exc:  # readiness must answer, whatever broke
            log.warning("knowledge base unhealthy: %s", exc)
            return response.json({"status": "error", "error": str(exc)}, status=503)
        body = {"status": "ok" if ok else "error", "guides": len(kb)}
        return response.json(body, status=200 if ok else 503)

    @app.before_server_start
    async def warm_up(_app: Sanic, _loop: object) -> None:
        get_kb()

    return app


def main() -> None:
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    host = os.environ.get("ACTIONS_HOST", "127.0.0.1")
    port = int(os.environ.get("ACTIONS_PORT", "5055"))
    build_app().run(host, port, workers=1, access_log=False)


if __name__ == "__main__":
    main()
