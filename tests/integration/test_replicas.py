"""Two gateways, two Rasa servers and two action servers behind haproxy work as one 小申.

They share one Redis (conversations, Rasa's tracker and lock stores, handoff, socket.io rooms),
one PostgreSQL database of record and the knowledge base. The stack is started the way
`make replicas` starts it; the fault test kills one replica of each kind with SIGKILL, as a crash
would, in the middle of conversations, a declaration and a handoff, and checks what the users and
the 店小二 see and that no message is lost or doubled.
"""

from __future__ import annotations

import asyncio
import copy
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import redis
import redis.asyncio as aioredis

from connectors.gateway.auth import Accounts
from tests.bot.rasa_cli import current_model
from tests.conftest import TEST_ADMIN, _keep_logs, postgres_url
from tests.socketio_client import Widget
from tools.chat_client import with_tokens
from tools.osmem import start_osmem
from tools.stack import Ports, Stack

pytestmark = pytest.mark.stack
AGENT = ("replica-agent", "replica-agent-pass")
ELDER = ("王建国", "310101195205121074")  # fictional, in declarations/citizen_data/citizens.yaml


@dataclass
class Search:
    """The one search backend the action servers share: osmem-server, spoken to as Elasticsearch."""

    proc: subprocess.Popen[str]
    url: str

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)


@pytest.fixture(scope="module")
def search() -> Iterator[Search]:
    proc, url = start_osmem()
    backend = Search(proc, url)
    yield backend
    backend.kill()


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory, postgres_server: Any,
             search: Search) -> Iterator[Stack]:
    """The replica layout on free ports: PostgreSQL as the one database of record, osmem-server as
    the one search backend (over the Elasticsearch API)."""
    model = current_model()
    run_dir = tmp_path_factory.mktemp("replicas")
    stack = Stack(Ports.free(), run_dir, log_to_files=True, replicas=2, extra_env={
        "XS_ADMIN_USER": TEST_ADMIN[0], "XS_ADMIN_PASSWORD": TEST_ADMIN[1],
        "XS_DATABASE_URL": postgres_url(postgres_server),
        # osmem-server refuses elasticsearch-py's vendor media types (406): plain JSON for it
        "XS_SEARCH_BACKEND": "elasticsearch", "ES_URL": search.url, "XS_ES_PLAIN_JSON": "1"})
    try:
        stack.start(model, timeout_s=300)

        async def add_agent() -> None:
            client = aioredis.Redis.from_url(stack.effective_redis_url, decode_responses=True)
            await Accounts(client, 3600).create_user(AGENT[0], AGENT[1], ["agent"], display_name="小钱")
            await client.aclose()

        asyncio.run(add_agent())
        redis.Redis.from_url(stack.effective_redis_url).set("xs:ho:hours_override", "open")
        yield stack
    finally:
        stack.stop()
        for log in run_dir.glob("*.log"):
            log.rename(log.with_name(f"replicas-{log.name}"))
        _keep_logs(run_dir)


@pytest.fixture
def client(replicas: Stack) -> Iterator[httpx.Client]:
    """A client of the balancer that keeps no cookie, so its requests go to both gateways."""
    with with_tokens(httpx.Client(base_url=replicas.gateway_url, timeout=60)) as c:
        yield c


class Conversation:
    """One citizen over /api/chat through the balancer."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.sender = f"rep-{uuid.uuid4().hex[:10]}"
        self.sent: list[str] = []

    def say(self, text: str) -> dict[str, Any]:
        self.client.cookies.clear()  # a new gateway may take each turn
        resp = self.client.post("/api/chat",
                                json={"sender_id": self.sender, "message": text, "channel": "web"})
        assert resp.status_code == 200, resp.text
        self.sent.append(text)
        return resp.json()  # type: ignore[no-any-return]

    def transcript(self) -> list[dict[str, Any]]:
        resp = self.client.get(f"/api/chat/{self.sender}/messages")
        assert resp.status_code == 200, resp.text
        return list(resp.json()["messages"])


def served(stack: Stack) -> dict[str, int]:
    return {name: int(row["stot"]) for name, row in stack.balancer_stats().items()}


def kill(stack: Stack, name: str) -> None:
    """SIGKILL one replica (no restart) and wait until haproxy has taken it out of rotation."""
    proc = stack.procs.pop(name)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)
    deadline = time.monotonic() + 15
    while not stack.balancer_stats()[name]["status"].startswith("DOWN"):
        assert time.monotonic() < deadline, f"haproxy still sends to the dead {name}"
        time.sleep(0.2)


def login(client: httpx.Client, user: tuple[str, str]) -> dict[str, str]:
    resp = client.post("/api/auth/login", data={"username": user[0], "password": user[1]})
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def text(reply: dict[str, Any]) -> str:
    return "\n".join(m.get("text") or "" for m in reply["messages"])


def test_turns_are_spread_over_every_replica_and_one_conversation_keeps_its_context(
        replicas: Stack, client: httpx.Client) -> None:
    before = served(replicas)
    conv = Conversation(client)
    first = conv.say("公积金租房提取需要什么材料")
    assert first["turn"]["outcome"] == "answer" and first["turn"]["section"] == "materials"
    service = first["turn"]["service_id"]
    for follow_up, section in (("多久能到账", "time_limit"), ("在哪里办", "channel"), ("要钱吗", "fee")):
        reply = conv.say(follow_up)
        assert reply["turn"]["service_id"] == service and reply["turn"]["section"] == section, reply["turn"]
    for _ in range(6):
        assert Conversation(client).say("开公司要带什么材料")["turn"]["service_id"] == "ent-setup"
    after = served(replicas)
    for name in (*replicas.names("gateway"), *replicas.names("rasa"), *replicas.names("actions")):
        assert after[name] > before[name], f"{name} served nothing: {after}"


def test_a_publish_reaches_every_action_server(replicas: Stack, client: httpx.Client) -> None:
    headers = login(client, TEST_ADMIN)
    question = "办护照要多少钱"
    guide = client.get("/api/kb/guides/passport", headers=headers).json()
    edited = copy.deepcopy(guide)
    edited["sections"]["fee"] = "护照工本费（副本测试）：每本 88 元。"
    assert client.put("/api/kb/guides/passport", json=edited, headers=headers).status_code == 200
    try:
        versions: dict[str, object] = {}
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # every action server reports the same overlay version
            versions = {name: httpx.get(f"http://127.0.0.1:{replicas.own_port(name)}/health/kb",
                                        timeout=5).json()["overlay"]["version"]
                        for name in replicas.names("actions")}
            if len(set(versions.values())) == 1:
                break
            time.sleep(0.1)
        assert len(set(versions.values())) == 1, versions
        # Either action server may take each question: every answer has the new fee.
        for _ in range(6):
            reply = Conversation(client).say(question)
            assert reply["turn"]["service_id"] == "passport" and "88 元" in text(reply)
    finally:
        assert client.post("/api/kb/guides/passport/revert", headers=headers).status_code == 200


def test_conversations_a_declaration_and_a_handoff_survive_killing_one_replica_of_each(
        replicas: Stack, client: httpx.Client) -> None:
    agent = login(client, AGENT)
    # A guide conversation, half-way.
    guide = Conversation(client)
    first = guide.say("开公司要带什么材料")
    assert first["turn"]["service_id"] == "ent-setup"
    # A declaration, half-way through its interview.
    decl = Conversation(client)
    assert decl.say("帮我申报老年综合津贴")["turn"]["outcome"] == "declaration"
    for said in ("不同意", "子女或他人代办"):
        assert decl.say(said)["turn"]["outcome"] == "declaration"
    assert decl.say(ELDER[0])["turn"]["declaration"]["field"] == "elder_id_number"
    # A widget user on gateway-1 (one websocket) talks to a 店小二 whose replies go to gateway-2:
    # socket.io rooms are shared through Redis.
    widget = Widget(f"http://127.0.0.1:{replicas.own_port('gateway-1')}")
    session = widget.session()
    token = widget.tokens[session]
    assert widget.say("帮我转人工客服", session)["ok"] is True
    with httpx.Client(base_url=f"http://127.0.0.1:{replicas.own_port('gateway-2')}", timeout=30,
                      headers=agent) as other_gateway:
        assert other_gateway.post(f"/api/agents/conversations/{session}/claim").status_code == 200
        sent = other_gateway.post(f"/api/agents/conversations/{session}/messages",
                                  json={"text": "您好，我是小钱"})
        assert sent.status_code == 200, sent.text
    deadline = time.monotonic() + 10
    while not any(e.get("text") == "您好，我是小钱" for e in widget.entries):
        assert time.monotonic() < deadline, "the agent's reply on gateway-2 never reached gateway-1's widget"
        time.sleep(0.1)
    seen = max(e["seq"] for e in widget.entries)

    killed = ("gateway-1", "rasa-1", "actions-1")
    try:
        for name in killed:
            kill(replicas, name)
        widget.close()  # its gateway is dead; the widget reconnects through the balancer, as a browser would

        # Each conversation carries on where it was, on the surviving replicas.
        reply = guide.say("多久能办好")
        assert reply["turn"]["service_id"] == "ent-setup" and reply["turn"]["section"] == "time_limit"
        reply = decl.say(ELDER[1])
        assert reply["turn"]["declaration"]["field"] == "ethnicity"
        for said in ("汉族", "是", "上海市黄浦区顺昌路412弄17号302室", "是", "13900001001", "社保卡",
                     "王小明", "110105198001010016"):
            reply = decl.say(said)
        assert reply["turn"]["declaration"]["status"] == "confirming"
        assert "子女或他人代办" in text(reply) and "王建国" in text(reply)  # answers from before the kill
        assert decl.say("确认提交")["turn"]["declaration"]["status"] == "done"

        # While the widget was away the agent wrote again; back, it catches up exactly once.
        client.post(f"/api/agents/conversations/{session}/messages", headers=agent,
                    json={"text": "材料清单已发您"})
        back = Widget(replicas.gateway_url)
        assert back.session(session, token) == session
        missed = back.client.call("xs_history", {"after": seen}, timeout=10)["messages"]
        assert [m["text"] for m in missed if m["role"] == "agent"] == ["材料清单已发您"]
        assert back.say("好的，谢谢", session)["ok"] is True
        held = client.get(f"/api/agents/conversations/{session}", headers=agent)
        assert held.status_code == 200, held.text
        texts = [m["text"] for m in held.json()["messages"]]
        assert texts.count("好的，谢谢") == 1 and texts.count("您好，我是小钱") == 1
        back.close()
        assert client.post(f"/api/agents/conversations/{session}/close", headers=agent).status_code == 200

        # Nothing lost or doubled: every message the citizen sent is in the transcript once, in order.
        for conv in (guide, decl):
            users = [m["text"] for m in conv.transcript() if m["role"] == "user"]
            assert users == conv.sent
    finally:  # whole again for the tests after this one
        replicas.revive(*killed)


def test_rasa_s_lock_store_keeps_two_replicas_from_one_conversation_at_once(replicas: Stack) -> None:
    """Turns of one conversation sent at the same moment straight to both Rasa servers (no gateway
    lock in between) are processed one after the other: every one is in the tracker, none lost to
    a concurrent save, each followed by its own answer before the next begins."""
    from concurrent.futures import ThreadPoolExecutor

    sender = f"lock-{uuid.uuid4().hex[:10]}"
    rasas = [f"http://127.0.0.1:{replicas.own_port(name)}" for name in replicas.names("rasa")]
    questions = ["开公司要带什么材料", "公积金租房提取要什么材料", "护照怎么办", "居住证怎么办",
                 "养老金怎么领", "医保怎么转移"]

    def send(i: int) -> int:
        resp = httpx.post(f"{rasas[i % len(rasas)]}/webhooks/rest/webhook",
                          json={"sender": sender, "message": questions[i]}, timeout=60)
        return resp.status_code

    with ThreadPoolExecutor(len(questions)) as pool:
        assert list(pool.map(send, range(len(questions)))) == [200] * len(questions)
    tracker = httpx.get(f"{rasas[0]}/conversations/{sender}/tracker",
                        params={"token": replicas.rasa_token}, timeout=30).json()
    turns = [e for e in tracker["events"] if e["event"] in ("user", "bot")]
    assert sorted(e["text"] for e in turns if e["event"] == "user") == sorted(questions)
    # Rasa's Redis tracker store merges concurrent saves by appending, so a turn that ran beside
    # another shows as a message older than the answer before it. Serialised turns never do.
    stamps = [e["timestamp"] for e in turns]
    assert stamps == sorted(stamps), [(e["event"], (e.get("text") or "")[:8], e["timestamp"]) for e in turns]
    assert turns[-1]["event"] == "bot"
