"""Local stand-ins for the services a channel talks to, and a second gateway to point at them.

- FakeWeChatApi: WeChat's server API (token, custom/send, custom/typing); records every call and
  can refuse sends with an error code (45015, 45047).
- SlowRasa: a Rasa REST channel that answers after a delay.
- extra_gateway(): one more gateway process using the session stack's Rasa/Redis (or another
  Rasa) with its own environment (WeChat secrets, API base).
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx

from tools.stack import APP_VENV, ROOT, Stack, _env, free_port


class _Server:
    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.owner = self  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> Any:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _reply(handler: BaseHTTPRequestHandler, body: Any) -> None:
    data = json.dumps(body, ensure_ascii=False).encode()
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class FakeWeChatApi(_Server):
    """Records {"path", "token", "body", "errcode"} for every send/typing call."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.token_requests = 0
        self.refuse: list[int] = []  # errcodes for the next custom/send calls, in order
        self.lock = threading.Lock()
        super().__init__(_WeChatHandler)

    def sends(self, openid: str) -> list[str]:
        with self.lock:
            return [
                c["body"]["text"]["content"]
                for c in self.calls
                if c["path"].endswith("/custom/send")
                and c["body"].get("touser") == openid
                and c["errcode"] == 0
            ]

    def typings(self, openid: str) -> int:
        with self.lock:
            return sum(
                1
                for c in self.calls
                if c["path"].endswith("/custom/typing") and c["body"].get("touser") == openid
            )

    def wait_sends(self, openid: str, count: int, timeout_s: float = 30) -> list[str]:
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            sent = self.sends(openid)
            if len(sent) >= count:
                return sent
            time.sleep(0.1)
        raise AssertionError(f"expected {count} messages to {openid}, got {self.sends(openid)}")


class _WeChatHandler(BaseHTTPRequestHandler):
    def log_message(self, *_: object) -> None:
        pass

    @property
    def api(self) -> FakeWeChatApi:
        return self.server.owner  # type: ignore[attr-defined, no-any-return]

    def do_GET(self) -> None:
        url = urlparse(self.path)
        if url.path == "/cgi-bin/token":
            with self.api.lock:
                self.api.token_requests += 1
                n = self.api.token_requests
            _reply(self, {"access_token": f"TOKEN-{n}", "expires_in": 7200})
        else:
            _reply(self, {"errcode": 404, "errmsg": "not found"})

    def do_POST(self) -> None:
        url = urlparse(self.path)
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        token = parse_qs(url.query).get("access_token", [""])[0]
        errcode = 0
        with self.api.lock:
            if not token.startswith("TOKEN-"):
                errcode = 40001
            elif url.path.endswith("/custom/send") and self.api.refuse:
                errcode = self.api.refuse.pop(0)
            self.api.calls.append({"path": url.path, "token": token, "body": body, "errcode": errcode})
        _reply(self, {"errcode": errcode, "errmsg": "ok" if errcode == 0 else "refused"})


class SlowRasa(_Server):
    """Answers every turn after `delay_s` with one text."""

    def __init__(self, delay_s: float, text: str) -> None:
        self.delay_s = delay_s
        self.text = text
        self.calls = 0  # turns asked for, counted as they arrive
        super().__init__(_SlowRasaHandler)


class _SlowRasaHandler(BaseHTTPRequestHandler):
    def log_message(self, *_: object) -> None:
        pass

    def do_GET(self) -> None:
        _reply(self, {"latest_message": {}, "slots": {}, "model_file": "slow.tar.gz"})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        rasa: SlowRasa = self.server.owner  # type: ignore[attr-defined]
        rasa.calls += 1
        time.sleep(rasa.delay_s)
        _reply(self, [{"recipient_id": "x", "text": rasa.text}])


GATEWAYS: dict[str, subprocess.Popen[bytes]] = {}  # an extra gateway's process by its URL (fault tests)


@contextmanager
def extra_gateway(stack: Stack, log_dir: Path, **env: str) -> Iterator[str]:
    """Another gateway process on a free port, sharing the stack's Redis; env overrides settings.
    Its process is GATEWAYS[url] while it runs."""
    port = free_port()
    defaults = {
        "GATEWAY_PORT": str(port),
        "REDIS_URL": stack.effective_redis_url,
        "RASA_URL": f"http://127.0.0.1:{stack.ports.rasa}",
        "RASA_TOKEN": stack.rasa_token,
        "ACTIONS_URL": f"http://127.0.0.1:{stack.ports.actions}",
    }
    full_env = _env(**{**defaults, **env})
    log_dir.mkdir(parents=True, exist_ok=True)
    out = (log_dir / f"gateway-{port}.log").open("ab")
    proc = subprocess.Popen(
        [
            str(APP_VENV / "bin" / "python"),
            "-m",
            "uvicorn",
            "connectors.gateway.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--ws",
            "wsproto",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=full_env,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    GATEWAYS[url] = proc
    try:
        _wait(lambda: httpx.get(url + "/widget/xiaoshen.js", timeout=2).status_code == 200, proc, 30)
        yield url
    finally:
        GATEWAYS.pop(url, None)
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        out.close()


def _wait(check: Callable[[], bool], proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the extra gateway exited with {proc.returncode}")
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the extra gateway did not start")
