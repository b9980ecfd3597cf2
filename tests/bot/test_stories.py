"""The conversation tests in bot/tests, twice: Rasa's own e2e test, and the same words through the gateway.

`rasa test core --e2e` checks NLU's intent and the predicted action for each step; it does not run
the actions. So each story is also sent through the running gateway's POST /api/chat (a fresh
conversation each), and every turn block is checked against TURNS below (the intent comes from the
story file).
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from contract.turn import LEAVE_QUEUE
from tests.bot.rasa_cli import current_model, start_rasa
from tools.stack import ROOT, Stack

STORIES_DIR = ROOT / "bot" / "tests"
RASA_TEST_TIMEOUT_S = 240


@dataclass(frozen=True)
class Expect:
    """What one turn must report (service and section are None unless the outcome is answer)."""

    outcome: str
    service_id: str | None = None
    section: str | None = None
    says: str | None = None  # a phrase one of the bot's messages must contain


SMALLTALK = Expect("smalltalk")
OFFER = "需要为您转接人工客服"
APOLOGY = "非常抱歉"

# Story name → the expected turn for each user step, in order.
TURNS: dict[str, list[Expect]] = {
    "small talk": [SMALLTALK, Expect("smalltalk", says="我是小申"), SMALLTALK, SMALLTALK],
    "asking for a person": [Expect("handoff")],
    "a guide question with follow-ups": [
        Expect("answer", "ent-setup", "materials"),
        Expect("answer", "ent-setup", "time_limit"),
        Expect("answer", "ent-setup", "fee"),
    ],
    "a complaint with a question": [
        Expect("answer", "hpf-withdraw-rent", "materials", says=APOLOGY),
    ],
    "two misses, an offer of a person, and yes": [
        Expect("out_of_scope"),
        Expect("out_of_scope", says=OFFER),
        Expect("handoff"),
    ],
    "a request for a smart declaration": [Expect("declaration", "elder-allowance", says="授权")],
    "a complaint, an offer of a person, and no": [
        Expect("out_of_scope", says=APOLOGY),
        Expect("smalltalk"),
    ],
}


@dataclass(frozen=True)
class Step:
    text: str
    intent: str


def load_stories(directory: Path = STORIES_DIR) -> dict[str, list[Step]]:
    """Each test story's user steps (text and expected intent), by story name."""
    stories: dict[str, list[Step]] = {}
    for path in sorted(directory.glob("test_*.yml")):
        for story in yaml.safe_load(path.read_text(encoding="utf-8"))["stories"]:
            stories[story["story"]] = [Step(s["user"].strip(), s["intent"])
                                       for s in story["steps"] if "user" in s]
    return stories


def turn_problems(step: Step, expect: Expect, reply: dict[str, Any]) -> list[str]:
    """How one gateway reply differs from what the story expects (empty: as expected)."""
    turn = reply["turn"]
    got = {"outcome": turn["outcome"], "service_id": turn["service_id"], "section": turn["section"],
           "intent": turn["intent"]}
    wanted = {"outcome": expect.outcome, "service_id": expect.service_id, "section": expect.section,
              "intent": step.intent}
    problems = [f"{step.text!r}: {key} is {got[key]!r}, expected {value!r}"
                for key, value in wanted.items() if got[key] != value]
    texts = [m.get("text") or "" for m in reply["messages"]]
    if expect.says and not any(expect.says in t for t in texts):
        problems.append(f"{step.text!r}: no message says {expect.says!r}: {texts}")
    return problems


def test_every_story_has_its_expected_turns() -> None:
    stories = load_stories()
    assert set(stories) == set(TURNS)
    assert {name: len(steps) for name, steps in stories.items()} == {
        name: len(turns) for name, turns in TURNS.items()}


GOOD_TURN = {"outcome": "answer", "service_id": "ent-setup", "section": "materials", "intent": "ask_guide"}
GOOD_TEXT = "【企业设立登记（开办企业）】所需材料"


@pytest.mark.parametrize(("changed", "text", "reported"), [  # the first case is right
    ({}, GOOD_TEXT, []),
    ({"section": "fee"}, GOOD_TEXT, ["section is 'fee', expected 'materials'"]),
    ({"outcome": "clarify", "service_id": None, "section": None}, GOOD_TEXT,
     ["outcome is 'clarify'", "service_id is None", "section is None"]),
    ({"intent": "nlu_fallback"}, GOOD_TEXT, ["intent is 'nlu_fallback', expected 'ask_guide'"]),
    ({}, "好的", ["no message says '所需材料'"]),
])
def test_a_wrong_turn_is_reported(changed: dict[str, Any], text: str, reported: list[str]) -> None:
    step = Step("开公司要带什么材料", "ask_guide")
    expect = Expect("answer", "ent-setup", "materials", says="所需材料")
    reply = {"turn": {**GOOD_TURN, **changed}, "messages": [{"text": text}]}
    problems = turn_problems(step, expect, reply)
    assert len(problems) == len(reported)
    assert all(want in got for want, got in zip(reported, problems, strict=True))


# --- through the gateway ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def gateway(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.gateway_url, timeout=60) as client:
        yield client


@pytest.mark.stack
@pytest.mark.parametrize("name", list(TURNS))
def test_story_through_the_gateway(gateway: httpx.Client, name: str) -> None:
    sender = f"story-{uuid.uuid4().hex[:12]}"
    headers: dict[str, str] = {}

    def send(text: str) -> dict[str, Any]:
        resp = gateway.post("/api/chat", headers=headers,
                            json={"sender_id": sender, "message": text, "channel": "web"})
        assert resp.status_code == 200, resp.text
        reply: dict[str, Any] = resp.json()
        if token := reply.get("conversation_token"):
            headers["X-Conversation-Token"] = token
        return reply

    problems: list[str] = []
    handed_off = False
    for step, expect in zip(load_stories()[name], TURNS[name], strict=True):
        reply = send(step.text)
        problems += turn_problems(step, expect, reply)
        handed_off = handed_off or reply["turn"]["outcome"] == "handoff"
    if handed_off:
        send(LEAVE_QUEUE)  # leave the queue (or the 留言) so other tests find it as it was
    assert not problems, "\n".join(problems)


# --- Rasa's own test --------------------------------------------------------------------------------

BROKEN_STORIES = """version: "3.1"
stories:
  - story: wrong intent
    steps:
      - user: |
          你好呀，小申
        intent: thank
      - action: action_smalltalk
  - story: wrong action
    steps:
      - user: |
          帮我转人工
        intent: ask_human
      - action: action_smalltalk
  - story: right
    steps:
      - user: |
          你是谁
        intent: bot_challenge
      - action: action_smalltalk
"""


@dataclass(frozen=True)
class RasaTest:
    code: int
    output: str
    out: Path

    def failed_stories(self) -> set[str]:
        """Names of the stories Rasa wrote to failed_test_stories.yml."""
        data = yaml.safe_load((self.out / "failed_test_stories.yml").read_text(encoding="utf-8"))
        # Rasa appends the source file to each name: "wrong intent (/tmp/…/test_broken.yml)".
        return {s["story"].rsplit(" (", 1)[0] for s in (data or {}).get("stories") or []}


@pytest.fixture(scope="module")
def rasa_tests(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, RasaTest]:
    """`rasa test core --e2e` on bot/tests and on a broken copy, side by side (each loads the model)."""
    work = tmp_path_factory.mktemp("rasa-test")
    endpoints = work / "endpoints.yml"  # the stack's action server; the tracker store stays in memory
    endpoints.write_text(f'action_endpoint:\n  url: "http://127.0.0.1:{stack.ports.actions}/webhook"\n',
                         encoding="utf-8")
    broken = work / "broken"
    broken.mkdir()
    (broken / "test_broken.yml").write_text(BROKEN_STORIES, encoding="utf-8")  # Rasa wants test_*
    model = current_model()
    runs = {"ours": (STORIES_DIR, ["--fail-on-prediction-errors"]), "broken": (broken, [])}
    procs: dict[str, tuple[subprocess.Popen[str], Path]] = {}
    for name, (stories, flags) in runs.items():
        out = work / f"out-{name}"
        procs[name] = (start_rasa(["test", "core", "--e2e", "--no-plot", "--stories", str(stories),
                                   "--model", str(model), "--endpoints", str(endpoints),
                                   "--out", str(out), *flags]), out)
    results: dict[str, RasaTest] = {}
    for name, (proc, out) in procs.items():
        try:
            output, _ = proc.communicate(timeout=RASA_TEST_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
        results[name] = RasaTest(proc.returncode, output, out)
    return results


@pytest.mark.stack
def test_rasa_e2e_stories_pass(rasa_tests: dict[str, RasaTest]) -> None:
    run = rasa_tests["ours"]
    assert run.code == 0, run.output[-4000:]
    assert run.failed_stories() == set()


@pytest.mark.stack
def test_rasa_e2e_reports_wrong_intents_and_actions(rasa_tests: dict[str, RasaTest]) -> None:
    run = rasa_tests["broken"]
    assert run.code == 0, run.output[-4000:]  # without --fail-on-prediction-errors it only reports
    assert run.failed_stories() == {"wrong intent", "wrong action"}
