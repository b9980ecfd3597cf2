"""A real valkey/Redis server for tests that need one without the whole stack."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import redis

from tools.stack import free_port, redis_server_binary


class RedisServer:
    """A valkey-server on a free port, keeping its files in `data`; it can be stopped and started
    again on the same port (with `appendonly`, it keeps its data across a restart)."""

    def __init__(self, data: Path, appendonly: bool = False) -> None:
        self.port, self.data, self.appendonly = free_port(), data, appendonly
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, attempts: int = 200) -> None:
        """Start the server and wait until it answers PING (up to `attempts` tries 50 ms apart)."""
        self.proc = subprocess.Popen(
            [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.data),
             "--appendonly", "yes" if self.appendonly else "no", "--save", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        for _ in range(attempts):
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis did not start")

    def stop(self) -> None:
        """Terminate the server (if running) and wait for it to exit."""
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None
