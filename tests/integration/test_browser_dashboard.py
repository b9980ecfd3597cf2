"""Headless Chromium on the service dashboard (/dashboard) against the real stack.

Conversations driven through /api/chat show up in the headline figures and the charts; the period
switches from day to month; a service's row opens its conversations; a table downloads as CSV.
A supervisor reads the same page and finds nothing that writes; an agent is turned away.
Screenshots at laptop and tablet width go to the CI artifacts.
"""

from __future__ import annotations

import datetime as dt
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser, Page, Request, ViewportSize, expect

from tests.conftest import TEST_ADMIN
from tests.integration.test_browser import new_page, shot
from tools.chat_client import with_tokens
from tools.stack import Stack

pytestmark = pytest.mark.stack
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
TABLET: ViewportSize = {"width": 820, "height": 1180}
SUPERVISOR = ("browser-supervisor", "browser-supervisor-pass")
AGENT_ONLY = ("browser-dash-agent", "browser-dash-agent-pass")
# One guide conversation with a follow-up, one question no guide answers.
CONVERSATIONS = (("开公司要带什么材料", "多久能办好"), ("帮我订一张去北京的机票",))
SERVICE = "ent-setup"
POLL_S = 10.0
SERVICES_CSV = "service_id,title,turns,conversations,answers,resolved,resolution_rate"
READ_ONLY_BUTTONS = {"日", "周", "月", "查看此期间", "刷新", "导出 CSV", "收起", "退出"}



@pytest.fixture(scope="module")
def admin(stack: Stack) -> Iterator[httpx.Client]:
    with with_tokens(httpx.Client(base_url=stack.gateway_url, timeout=60)) as client:
        client.headers["Authorization"] = f"Bearer {login(client, TEST_ADMIN)}"
        for (name, password), roles in ((SUPERVISOR, ["supervisor"]), (AGENT_ONLY, ["agent"])):
            resp = client.put(f"/api/auth/users/{name}", json={"password": password, "roles": roles})
            assert resp.status_code in (200, 201), resp.text
        yield client


@pytest.fixture(scope="module")
def ours(admin: httpx.Client) -> list[str]:
    """Our conversations, sent and then seen in the figures of record (their sender ids)."""
    before = summary(admin)["conversations"]
    senders = []
    for questions in CONVERSATIONS:
        sender = f"dash-{uuid.uuid4().hex[:10]}"
        turns = [ask(admin, sender, q)["turn"] for q in questions]
        senders.append(sender)
        if questions[0].startswith("开公司"):
            assert (turns[0]["outcome"], turns[0]["service_id"]) == ("answer", SERVICE)
        else:
            assert turns[0]["outcome"] == "out_of_scope"
    deadline = time.monotonic() + POLL_S
    while (now := summary(admin)["conversations"]) < before + len(senders) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert now >= before + len(senders), "the conversations were not recorded"
    return senders


def login(client: httpx.Client, who: tuple[str, str]) -> str:
    resp = client.post("/api/auth/login", data={"username": who[0], "password": who[1]})
    assert resp.status_code == 200, resp.text
    return str(resp.json()["access_token"])


def ask(client: httpx.Client, sender: str, question: str) -> dict[str, Any]:
    resp = client.post("/api/chat", json={"sender_id": sender, "message": question, "channel": "web"})
    assert resp.status_code == 200, resp.text
    return resp.json()  # type: ignore[no-any-return]


def summary(client: httpx.Client, **params: str) -> dict[str, Any]:
    resp = client.get("/api/stats/summary", params=params, headers={"Cache-Control": "no-cache"})
    assert resp.status_code == 200, resp.text
    return resp.json()  # type: ignore[no-any-return]


def shanghai_today() -> dt.date:
    return dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()


def open_dashboard(
    browser: Browser,
    stack: Stack,
    who: tuple[str, str],
    viewport: ViewportSize,
    errors: list[str] | None = None,
) -> Page:
    """The dashboard, signed in as `who`; console errors (a CSP violation is one) go to `errors`."""
    page = new_page(browser, {"width": viewport["width"], "height": viewport["height"]})
    if errors is not None:
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(stack.gateway_url + "/dashboard")
    page.get_by_label("用户名").fill(who[0])
    page.get_by_label("密码").fill(who[1])
    page.get_by_role("button", name="登录").click()
    return page


def test_the_figures_charts_periods_drill_down_and_csv(
    stack: Stack, browser: Browser, admin: httpx.Client, ours: list[str], tmp_path: Path
) -> None:
    figures = summary(admin)
    errors: list[str] = []
    page = open_dashboard(browser, stack, TEST_ADMIN, DESKTOP, errors)

    today = shanghai_today()
    expect(page.locator("#period-label")).to_have_text(f"期间：{today.isoformat()} · 全部渠道")
    expect(page.locator("#m-volume .value")).to_have_text(re.compile(rf"^{figures['conversations']} / \d+$"))
    rate = figures["resolution"]["rate"]
    assert rate is not None and rate < 0.8  # an out-of-scope question is never resolved
    resolution = page.locator("#m-resolution")
    expect(resolution).to_have_class(re.compile(r"\bmiss\b"))
    expect(resolution.locator(".value")).to_contain_text(f"{round(rate * 100, 1):g}%")
    expect(page.locator("#m-scope .value")).not_to_have_text("—")
    if figures["declarations"]["prefill_share"] is None:  # no declaration finished: no figure, no verdict
        expect(page.locator("#m-prefill .value")).to_have_text("—")
        expect(page.locator("#m-prefill")).not_to_have_class(re.compile(r"\b(met|miss)\b"))
    expect(page.locator("#def-resolution")).to_contain_text(
        "no request for a person, no 差评 and no answer repeated"
    )
    chart = page.locator("#chart-daily svg")
    expect(chart).to_have_count(1)
    expect(chart).to_contain_text("会话数")
    expect(page.locator("#chart-ratings svg")).to_have_count(1)
    shot(page, "dashboard-day-laptop.png")

    page.get_by_role("button", name="月", exact=True).click()
    expect(page.locator("#period-label")).to_have_text(f"期间：{today.strftime('%Y-%m')} · 全部渠道")
    expect(page.get_by_role("button", name="月", exact=True)).to_have_attribute("aria-pressed", "true")
    # A month of days on the chart's axis from its first. (ECharts thins the labels to every other day
    # on a laptop: today's own label shows on odd days only, so it is no test of anything.)
    expect(chart).to_contain_text(today.replace(day=1).strftime("%m-%d"))
    expect(chart).not_to_contain_text(f"{(today.replace(day=1) - dt.timedelta(days=1)):%m-%d}")

    page.locator("#t-services tbody tr", has_text=SERVICE).click()
    expect(page.locator("#drill-title")).to_contain_text(SERVICE)
    conversation = page.locator("#t-conversations tbody tr", has_text=ours[0])
    expect(conversation).to_have_count(1)
    expect(conversation.locator("td").nth(2)).to_have_text("2")  # two turns: the question and its follow-up
    expect(page.locator("#t-conversations tbody")).not_to_contain_text(ours[1])
    conversation.click()  # its transcript, personal data masked by the API
    expect(page.locator("#transcript-title")).to_contain_text(ours[0])
    expect(page.locator("#transcript-list li.user").first).to_contain_text(CONVERSATIONS[0][0])
    expect(page.locator("#transcript-list li.bot")).not_to_have_count(0)

    with page.expect_download() as info:
        page.locator("button.export[data-table=services]").click()
    download = info.value
    assert re.fullmatch(r"xiaoshen-services-\d{4}-\d{2}-01\.csv", download.suggested_filename)
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    lines = saved.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == SERVICES_CSV
    assert any(line.startswith(SERVICE + ",") for line in lines[1:])

    page.set_viewport_size(TABLET)
    page.locator("#drill").scroll_into_view_if_needed()
    shot(page, "dashboard-drill-tablet.png")
    assert not [e for e in errors if "Content Security Policy" in e], errors
    page.context.close()


def test_a_supervisor_reads_the_figures_and_can_change_nothing(
    stack: Stack, browser: Browser, admin: httpx.Client, ours: list[str]
) -> None:
    page = open_dashboard(browser, stack, SUPERVISOR, TABLET)
    writes: list[str] = []

    def on_request(request: Request) -> None:
        if "/api/" in request.url and request.method != "GET":
            writes.append(f"{request.method} {request.url}")

    page.on("request", on_request)
    expect(page.locator("#m-volume .value")).to_have_text(
        re.compile(rf"^{summary(admin)['conversations']} / \d+$")
    )
    expect(page.locator("#me")).to_have_text(SUPERVISOR[0])
    shot(page, "dashboard-supervisor-tablet.png")
    assert page.locator("#board form, #board textarea").count() == 0
    labels = {b.inner_text().strip() for b in page.locator("#board button").all()}
    assert labels <= READ_ONLY_BUTTONS, labels - READ_ONLY_BUTTONS
    page.get_by_role("button", name="周", exact=True).click()
    expect(page.locator("#period-label")).to_contain_text("起一周")
    page.locator("#t-services tbody tr", has_text=SERVICE).click()
    expect(page.locator("#t-conversations tbody")).to_contain_text(ours[0])
    with page.expect_request(lambda r: "/api/stats/summary" in r.url) as asked:
        page.get_by_role("button", name="刷新").click()  # today's figures as of this instant
    assert asked.value.headers.get("cache-control") == "no-cache"
    expect(page.locator("#period-label")).to_contain_text("起一周")
    assert writes == []  # reading the figures sent nothing but GETs

    with httpx.Client(base_url=stack.gateway_url) as client:
        token = login(client, SUPERVISOR)
    guide = admin.get("/api/kb/guides/passport").json()
    resp = httpx.put(
        stack.gateway_url + "/api/kb/guides/passport",
        json=guide,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert resp.status_code == 403, resp.text
    page.context.close()


def test_an_agent_without_the_supervisor_role_is_turned_away(
    stack: Stack, browser: Browser, admin: httpx.Client
) -> None:
    page = open_dashboard(browser, stack, AGENT_ONLY, DESKTOP)
    expect(page.locator("#login-error")).to_contain_text("需要 supervisor 角色")
    expect(page.locator("#board")).to_be_hidden()
    with httpx.Client(base_url=stack.gateway_url) as client:
        token = login(client, AGENT_ONLY)
    resp = httpx.get(stack.gateway_url + "/api/stats/summary", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 403
    page.context.close()
