"""The action server: rasa_sdk's app plus a readiness check that covers the knowledge base."""

from __future__ import annotations

import logging
import os

from rasa_sdk.endpoint import create_app
from sanic import Sanic, response
from sanic.request import Request

from actions.kb import get_kb, live_updates, start_live_updates, stop_live_updates

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
        body: dict[str, object] = {"status": "ok" if ok else "error", "guides": len(kb)}
        live = live_updates()
        if live is not None:  # informative only: answering from the files still works without it
            body["overlay"] = {"connected": live.connected, "version": live.version}
        return response.json(body, status=200 if ok else 503)

    @app.before_server_start
    async def warm_up(_app: Sanic, _loop: object) -> None:
        start_live_updates()  # loads files ⊕ editors' overlay, then follows every write

    @app.after_server_stop
    async def stop_live(_app: Sanic, _loop: object) -> None:
        stop_live_updates()

    return app


def main() -> None:
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    host = os.environ.get("ACTIONS_HOST", "127.0.0.1")
    port = int(os.environ.get("ACTIONS_PORT", "5055"))
    build_app().run(host, port, workers=1, access_log=False)


if __name__ == "__main__":
    main()
