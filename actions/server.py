"""The action server: rasa_sdk's app plus a readiness check that covers the knowledge base."""

from __future__ import annotations

import logging

from rasa_sdk.endpoint import create_app
from sanic import Sanic, response
from sanic.request import Request

from actions.services import ActionSettings, services
from contract.pii import MaskingFormatter

log = logging.getLogger("actions")


def build_app() -> Sanic:
    """The Sanic app serving /webhook, /actions, /health and /health/kb."""
    app = create_app("actions.actions", cors_origins=None)

    @app.get("/health/kb")
    async def kb_health(_: Request) -> response.HTTPResponse:
        try:
            kb = services().kb
            ok = kb.backend.health() and len(kb) > 0
        except Exception as exc:  # readiness must answer, whatever broke
            log.warning("knowledge base unhealthy: %s", exc)
            return response.json({"status": "error", "error": str(exc)}, status=503)
        body: dict[str, object] = {"status": "ok" if ok else "error", "guides": len(kb)}
        live = services().live
        if live is not None:  # informative only: answering from the files still works without it
            body["overlay"] = {"connected": live.connected, "version": live.version}
        return response.json(body, status=200 if ok else 503)

    @app.before_server_start
    async def warm_up(_app: Sanic, _loop: object) -> None:
        live = services().live  # loads files ⊕ editors' overlay, then follows every write
        if live is not None:
            live.start()

    @app.after_server_stop
    async def stop_live(_app: Sanic, _loop: object) -> None:
        live = services().live
        if live is not None:
            live.stop()

    return app


def main() -> None:
    settings = ActionSettings()
    logging.basicConfig(level=settings.log_level)
    for handler in logging.getLogger().handlers:  # every line masked, Sanic's and rasa_sdk's too
        handler.setFormatter(MaskingFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    for name in ("sanic.root", "sanic.error", "sanic.access", "rasa_sdk"):
        for handler in logging.getLogger(name).handlers:
            handler.setFormatter(MaskingFormatter(handler.formatter._fmt if handler.formatter else None))
    build_app().run(settings.actions_host, settings.actions_port, workers=1, access_log=False)


if __name__ == "__main__":
    main()
