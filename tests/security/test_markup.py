"""Known XSS payloads (after the OWASP XSS filter-evasion cheat sheet) against every place people
write text: refused in guides, reduced to text in notes and 留言, and — wherever they end up — never
run in the widget, the agents' console or the public guide page (headless Chromium, real stack)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from playwright.sync_api import Browser, Page, expect

from connectors.gateway.auth import Accounts
from knowledge_base.markup import has_markup, plain_text
from tests.conftest import TEST_ADMIN
from tests.integration.test_browser import DESKTOP, ask, new_page, session_of
from tests.security.conftest import MakeGateway
from tools.chat_client import with_tokens
from tools.stack import Stack

# Each sets window.__xss when it runs.
VECTORS = [
    "<script>window.__xss=1</script>",
    '<img src=x onerror="window.__xss=2">',
    "<svg/onload=window.__xss=3>",
    "<img/src=x/onerror=window.__xss=4>",
    "<details/open/ontoggle=window.__xss=5>",
    '<iframe src="javascript:parent.__xss=6"></iframe>',
    '<a href="javascript:window.__xss=7">点我</a>',
    "[点我](javascript:window.__xss=8)",
    "<body onload=window.__xss=9>",
    "<math><mtext><table><mglyph><style><img src=x onerror=window.__xss=10>",
    '"><script>window.__xss=11</script>',
    "<input autofocus onfocus=window.__xss=12>",
    "<scr<script>ipt>window.__xss=13</scr</script>ipt>",
    "<a href=\"jav&#x09;ascript:window.__xss=14\">x</a>",
    "[x](JaVaScRiPt:window.__xss=15)",
    "[x](data:text/html;base64,PHNjcmlwdD5wYXJlbnQuX194c3M9MTY8L3NjcmlwdD4=)",
    "<!--<img src=x onerror=window.__xss=17>-->",
    "<style>@import 'javascript:window.__xss=18';</style>",
]
INERT = ["年满60周岁（<60岁不可申请）", "a < b 且 c > d", "&lt;img src=x&gt; 是一段文字",
         "详见 <https://zwdt.sh.gov.cn>", "材料：1. 身份证\n2. 户口簿"]
AGENT = ("xss-agent", "xss-agent-pass-1")


@pytest.mark.parametrize("vector", VECTORS)
def test_every_vector_is_markup_and_its_plain_text_has_no_tag_or_script_url(vector: str) -> None:
    assert has_markup(vector)
    text = plain_text(vector)
    assert not has_markup(text), text
    assert "<img" not in text and "<svg" not in text and "javascript:" not in text.lower()


@pytest.mark.parametrize("text", INERT)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert not has_markup(text)
    assert plain_text(text) == text


def test_notes_and_messages_left_outside_hours_keep_only_their_text(gateway_with: MakeGateway) -> None:
    gw = gateway_with()
    gw.add_user("xiaowang", ["agent"])
    gw.chat("u", "转人工")
    gw.agent("POST", "/conversations/u/claim", "xiaowang")
    for vector in VECTORS[:5]:
        note = gw.agent("POST", "/conversations/u/notes", "xiaowang", json={"text": "备注" + vector}).json()
        assert note["text"].startswith("备注") and not has_markup(note["text"])
    notes = gw.agent("GET", "/conversations/u", "xiaowang").json()["notes"]
    assert len(notes) == 5 and not any(has_markup(n["text"]) for n in notes)


# --- the real stack, in Chromium ------------------------------------------------------------------

@pytest.fixture
def admin(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.gateway_url, timeout=60) as client:
        token = client.post("/api/auth/login", data={"username": TEST_ADMIN[0], "password": TEST_ADMIN[1]})
        client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        yield client


def no_script_ran(page: Page) -> None:
    page.wait_for_timeout(800)  # onerror/onload/ontoggle fire asynchronously
    assert page.evaluate("() => window.__xss") is None
    planted = "script:not([src]), iframe, svg[onload], img[onerror], details[ontoggle], input[onfocus]"
    assert page.locator(planted).count() == 0


def test_xss_through_the_editors_api_is_refused_and_the_guide_page_stays_clean(
        stack: Stack, browser: Browser, admin: httpx.Client) -> None:
    guide: dict[str, Any] = admin.get("/api/kb/guides/elder-allowance").json()
    before = json.dumps(guide, sort_keys=True, ensure_ascii=False)
    for vector in VECTORS:
        for field in ("title", "sections.fee", "aliases", "situations"):
            changed = json.loads(before)
            if field == "title":
                changed["title"] = "老年综合津贴" + vector
            elif field == "sections.fee":
                changed["sections"]["fee"] = "免费。" + vector
            elif field == "aliases":
                changed["aliases"] = [*changed.get("aliases", []), vector]
            else:
                changed["situations"] = [{"name": "情形", "materials": vector}]
            resp = admin.put("/api/kb/guides/elder-allowance", json=changed)
            assert resp.status_code == 422, (field, vector, resp.text)
            assert "HTML" in resp.text
    after = admin.get("/api/kb/guides/elder-allowance").json()
    assert json.dumps(after, sort_keys=True, ensure_ascii=False) == before, "nothing stored changed"
    page = new_page(browser, DESKTOP)
    page.goto(stack.gateway_url + "/guides/elder-allowance")
    expect(page.locator("h1")).to_contain_text("老年综合津贴")
    # The page's own style is allowed by its hash (no 'unsafe-inline'), so it applies.
    assert page.locator("h2").first.evaluate("e => getComputedStyle(e).borderLeftStyle") == "solid"
    no_script_ran(page)
    page.context.close()


def test_xss_typed_by_a_citizen_or_an_agent_never_runs_in_the_widget_or_the_console(
        stack: Stack, browser: Browser, admin: httpx.Client) -> None:
    async def add_agent() -> None:
        client = aioredis.Redis.from_url(stack.effective_redis_url, decode_responses=True)
        await Accounts(client, 3600).create_user(AGENT[0], AGENT[1], ["agent"], display_name="<b>小赵</b>")
        await client.set("xs:ho:hours_override", "open")
        await client.aclose()

    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API owns this thread's event loop
        pool.submit(asyncio.run, add_agent()).result()
    user = new_page(browser, DESKTOP)
    user.goto(stack.gateway_url + "/widget/")
    expect(user.locator(".xs-bot").first).to_contain_text("小申")
    for n, vector in enumerate(VECTORS[:6], start=1):
        ask(user, vector)
        expect(user.locator(".xs-user .xs-bubble", has_text=f"__xss={n}")).to_have_count(1, timeout=30_000)
    ask(user, "我要转人工")
    expect(user.locator(".xs-handoff").last).to_contain_text("转接人工客服")
    sender = session_of(user)

    agent = new_page(browser, DESKTOP)
    agent.goto(stack.gateway_url + "/agents")
    agent.get_by_label("用户名").fill(AGENT[0])
    agent.get_by_label("密码").fill(AGENT[1])
    agent.get_by_role("button", name="登录").click()
    agent.locator("#queue li", has_text=sender).click()
    expect(agent.locator("#transcript li.user", has_text="__xss=1<")).to_have_count(1)
    agent.get_by_role("button", name="接入").click()
    expect(user.locator(".xs-system", has_text="已接入")).to_have_count(1)
    for vector in VECTORS[6:12]:
        agent.locator("#reply-text").fill(vector)
        agent.locator("#reply-text").press("Enter")
    expect(user.locator(".xs-agent", has_text="__xss=12")).to_have_count(1, timeout=30_000)
    agent.locator("#note-text").fill("备注" + VECTORS[2])
    agent.locator("#add-note").click()
    expect(agent.locator("#notes li", has_text="备注")).to_have_count(1)
    no_script_ran(user)
    no_script_ran(agent)

    async def reset() -> None:
        client = aioredis.Redis.from_url(stack.effective_redis_url, decode_responses=True)
        await client.delete("xs:ho:hours_override")
        await client.aclose()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, reset()).result()
    agent.context.close()
    user.context.close()


def test_xss_in_inbox_questions_and_change_notes_never_runs_in_the_editors_workspace(
        stack: Stack, browser: Browser, admin: httpx.Client) -> None:
    with with_tokens(httpx.Client(base_url=stack.gateway_url, timeout=60)) as citizen:
        for n, vector in enumerate(VECTORS):
            resp = citizen.post("/api/chat", json={"sender_id": f"xss-inbox-{n}", "channel": "web",
                                                   "message": f"请问第{n}号{vector}"})
            assert resp.status_code == 200
    guide = admin.get("/api/kb/guides/passport")
    base = int(guide.headers["etag"].strip('"'))
    draft = admin.post("/api/kb/guides/passport/drafts",
                       json={"guide": guide.json(), "note": "备注" + VECTORS[1], "base": base})
    assert draft.status_code == 201, draft.text
    page = new_page(browser, DESKTOP)
    page.goto(stack.gateway_url + "/editors")
    page.get_by_label("用户名").fill(TEST_ADMIN[0])
    page.get_by_label("密码").fill(TEST_ADMIN[1])
    page.get_by_role("button", name="登录").click()
    page.locator("#tabs button[data-tab=inbox]").click()
    expect(page.locator("#inbox-list li.card", has_text="__xss=")).not_to_have_count(0, timeout=15_000)
    no_script_ran(page)
    page.locator("#tabs button[data-tab=guides]").click()
    page.get_by_label("筛选").fill("passport")
    page.locator("#guide-table tbody tr").first.click()
    expect(page.locator("#history li").first).to_contain_text("备注<img")  # the note, as text
    page.locator("#tabs button[data-tab=audit]").click()
    expect(page.locator("#audit-table tbody tr").first).to_be_visible()
    no_script_ran(page)
    page.context.close()
