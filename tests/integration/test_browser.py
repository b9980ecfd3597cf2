"""Real browsers against the running stack: Debian's Chromium driven by Playwright (no browser
download). The npm rasa-webchat@1.0.1 bundle and our own widget each hold a conversation."""

from __future__ import annotations

import asyncio
import os
import re
from concurrent.futures import ThreadPoolExecutor

import httpx
import redis.asyncio as aioredis
from playwright.sync_api import Browser, Page, expect

from connectors.gateway.conversations import ConversationStore
from tests.conftest import ARTIFACTS
from tools.stack import Stack

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SHOTS = ARTIFACTS / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'



def new_page(browser: Browser, viewport: dict[str, int], **kwargs: object) -> Page:
    context = browser.new_context(viewport=viewport, locale="zh-CN", **kwargs)  # type: ignore[arg-type]
    page = context.new_page()
    page.set_default_timeout(30_000)
    return page


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name))


def session_of(page: Page) -> str:
    value = page.evaluate("() => window.localStorage.getItem('xiaoshen.session')")
    assert isinstance(value, str) and value
    return value


def token_of(page: Page) -> str:
    """Our widget's conversation token, kept with its session id."""
    value = page.evaluate("() => window.localStorage.getItem('xiaoshen.token')")
    assert isinstance(value, str) and value
    return value


def stored(stack: Stack, session: str) -> list[dict[str, object]]:
    """The conversation as stored (read from Redis: rasa-webchat's conversations have no token)."""

    async def read() -> list[dict[str, object]]:
        redis = aioredis.Redis.from_url(stack.effective_redis_url, decode_responses=True)
        try:
            return [dict(e) for e in await ConversationStore(redis).history(session)]
        finally:
            await redis.aclose()

    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API owns this thread's event loop
        return pool.submit(asyncio.run, read()).result()


def seqs(page: Page) -> list[int]:
    return [
        int(s)
        for s in page.locator(".xs-log > li[data-seq]").evaluate_all(
            "nodes => nodes.filter(n => !n.hidden).map(n => n.getAttribute('data-seq'))"
        )
    ]


def ask(page: Page, text: str) -> None:
    page.get_by_label("输入您的问题").fill(text)
    page.get_by_label("输入您的问题").press("Enter")


# --- rasa-webchat ---------------------------------------------------------------------------------
def test_rasa_webchat_bundle_holds_a_conversation(stack: Stack, browser: Browser) -> None:
    page = new_page(browser, DESKTOP)
    page.goto(stack.gateway_url + "/widget/rasa-webchat/")
    expect(page.locator(".rw-response").first).to_contain_text("小申")  # the init payload's greeting
    page.locator(".rw-new-message").fill("开公司要带什么材料？")
    page.locator(".rw-new-message").press("Enter")
    expect(page.locator(".rw-response", has_text="企业设立登记")).to_have_count(1)
    expect(page.locator(".rw-reply", has_text="收费标准")).to_be_visible()
    page.locator(".rw-reply", has_text="收费标准").click()
    expect(page.locator(".rw-response", has_text="】收费标准")).to_have_count(1)
    shot(page, "rasa-webchat-desktop.png")
    # rasa-webchat keeps its session id; after a reload the same conversation continues.
    session = page.evaluate("() => JSON.parse(window.localStorage.getItem('chat_session')).session_id")
    page.reload()
    expect(page.locator(".rw-response", has_text="】收费标准")).to_have_count(1)
    history = stored(stack, session)
    assert [m["text"] for m in history if m["role"] == "user"][-2:] == [
        "开公司要带什么材料？",
        '/ask_guide{"service_id": "ent-setup", "section": "fee"}',
    ]
    assert httpx.get(f"{stack.gateway_url}/api/chat/{session}/messages").status_code == 403

    # A second browser that knows only the session id (e.g. read off a shared screen) gets a
    # conversation of its own: it neither sees nor writes the first one.
    other = new_page(browser, DESKTOP)
    other.add_init_script(
        f"window.localStorage.setItem('chat_session', JSON.stringify({{session_id: '{session}'}}))")
    other.goto(stack.gateway_url + "/widget/rasa-webchat/")
    expect(other.locator(".rw-response").first).to_contain_text("小申")
    expect(other.locator(".rw-response", has_text="收费标准")).to_have_count(0)
    other.locator(".rw-new-message").fill("我要转人工")
    other.locator(".rw-new-message").press("Enter")
    expect(other.locator(".rw-client", has_text="我要转人工")).to_have_count(1)
    other.wait_for_timeout(1500)
    theirs = other.evaluate("() => JSON.parse(window.localStorage.getItem('chat_session')).session_id")
    assert theirs != session
    assert [m["text"] for m in stored(stack, theirs) if m["role"] == "user"][-1] == "我要转人工"
    assert "我要转人工" not in [m["text"] for m in stored(stack, session)]
    other.context.close()
    page.context.close()


# --- our widget -----------------------------------------------------------------------------------
def test_widget_buttons_guide_card_and_reload_keep_history(stack: Stack, browser: Browser) -> None:
    page = new_page(browser, PHONE)
    page.goto(stack.gateway_url + "/widget/")
    expect(page.locator(".xs-bot").first).to_contain_text("小申")
    ask(page, "开公司要带什么材料？")
    card = page.locator(".xs-card").first
    expect(card.locator(".xs-card-title")).to_have_text("企业设立登记（开办企业）")
    expect(card.get_by_role("tab", name="所需材料")).to_have_attribute("aria-selected", "true")
    expect(card.locator(".xs-checklist input[type=checkbox]")).to_have_count(7)
    card.locator(".xs-checklist label").first.click()  # tick off a document
    expect(card.locator(".xs-checklist input").first).to_be_checked()
    shot(page, "widget-phone-guide-card.png")
    full = card.get_by_role("link", name="查看完整指南")
    assert full.get_attribute("href") == stack.gateway_url + "/guides/ent-setup"
    guide_page = page.context.new_page()
    guide_page.goto(stack.gateway_url + "/guides/ent-setup")
    expect(guide_page.locator("h1")).to_have_text("企业设立登记（开办企业）")
    expect(guide_page.locator("h2", has_text="办理流程")).to_be_visible()
    guide_page.close()

    card.get_by_role("tab", name="收费标准").click()
    fee = page.locator(".xs-card").nth(1)
    expect(fee.get_by_role("tab", name="收费标准")).to_have_attribute("aria-selected", "true")
    expect(fee).to_contain_text("免费")
    expect(page.locator(".xs-user .xs-bubble").last).to_have_text("收费标准")  # the title, not the payload

    ask(page, "我要办个证")  # a vague question: the bot asks back with buttons
    # (the guide cards above carry a 帮我申报 button of their own: wait for the reply to this one)
    expect(page.locator(".xs-user:has-text('我要办个证') ~ .xs-bot .xs-quick").first).to_be_visible()
    before = seqs(page)
    session = session_of(page)

    page.reload()
    expect(page.locator(".xs-card")).to_have_count(2)
    expect(page.locator(".xs-user .xs-bubble", has_text="开公司要带什么材料？")).to_have_count(1)
    page.wait_for_timeout(500)
    assert seqs(page) == before, "the reloaded page shows exactly the same messages"
    assert session_of(page) == session

    page.get_by_role("button", name="大字").click()
    expect(page.get_by_role("button", name="大字")).to_have_attribute("aria-pressed", "true")
    size = page.locator(".xs-log").evaluate("n => parseFloat(getComputedStyle(n).fontSize)")
    assert size >= 19
    shot(page, "widget-phone-large-font.png")
    page.context.close()


def test_widget_reconnect_loses_and_duplicates_nothing(stack: Stack, browser: Browser) -> None:
    page = new_page(browser, DESKTOP, bypass_csp=True)
    page.goto(stack.gateway_url + "/widget/")
    expect(page.locator(".xs-bot").first).to_contain_text("小申")
    session = session_of(page)
    token = {"X-Conversation-Token": token_of(page)}

    page.evaluate("() => window.XiaoShen._debug.disconnect()")
    expect(page.locator(".xs-status")).not_to_have_text("在线")
    ask(page, "你是机器人吗？")  # typed while offline: kept and sent after the reconnect
    # Meanwhile the same conversation moves on elsewhere (another tab, an agent …).
    resp = httpx.post(
        f"{stack.gateway_url}/api/chat",
        timeout=60,
        headers=token,
        json={"sender_id": session, "message": "公积金租房提取多久到账？", "channel": "widget"},
    )
    assert resp.status_code == 200
    page.evaluate("() => window.XiaoShen._debug.reconnect()")
    expect(page.locator(".xs-status")).to_have_text("在线")
    expect(page.locator(".xs-user .xs-bubble", has_text="公积金租房提取多久到账？")).to_have_count(1)
    expect(page.locator(".xs-bot", has_text="机器人")).to_have_count(1)

    # A dropped transport reconnects by itself; a message sent at that moment is answered once.
    page.evaluate("() => window.XiaoShen._debug.dropTransport()")
    ask(page, "好的，谢谢")
    expect(page.locator(".xs-user .xs-bubble", has_text="好的，谢谢")).to_have_count(1)
    expect(page.locator(".xs-user.xs-pending")).to_have_count(0)
    kept = httpx.get(f"{stack.gateway_url}/api/chat/{session}/messages", headers=token).json()["messages"]
    answers = [m for m in kept if m["role"] == "bot"]
    expect(page.locator(".xs-bot")).to_have_count(len(answers))  # every answer once, none twice
    page.wait_for_timeout(1500)
    shown = seqs(page)
    assert len(shown) == len(set(shown)), f"duplicated messages: {shown}"
    visible = [m["seq"] for m in kept if not (m["role"] == "user" and m["text"].startswith("/"))]
    assert set(visible) <= set(shown), "a stored message is missing on the page"
    assert sorted(shown) == shown, "messages are shown in order"
    assert [m["text"] for m in kept if m["role"] == "user"].count("好的，谢谢") == 1, "sent twice"
    page.context.close()


def test_script_injection_is_shown_as_text(stack: Stack, browser: Browser) -> None:
    # No CSP here, so only the widget's own rendering stands between a message and the page.
    page = new_page(browser, DESKTOP, bypass_csp=True)
    page.goto(stack.gateway_url + "/widget/")
    expect(page.locator(".xs-bot").first).to_contain_text("小申")
    session = session_of(page)
    ask(page, XSS)
    expect(page.locator(".xs-user .xs-bubble").last).to_have_text(XSS)

    async def inject() -> None:  # an agent message with markup everywhere, as stored data
        redis = aioredis.Redis.from_url(stack.effective_redis_url, decode_responses=True)
        await ConversationStore(redis).append(
            session,
            "agent",
            f"人工客服：{XSS}",
            author="<b>张三</b>",
            buttons=[{"title": XSS, "payload": "/ask_human"}],
            custom={
                "card": {
                    "type": "guide",
                    "service_id": "x",
                    "title": XSS,
                    "section": "fee",
                    "sections": {"fee": XSS},
                }
            },
        )
        await redis.aclose()

    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API owns this thread's event loop
        pool.submit(asyncio.run, inject()).result()
    page.reload()
    expect(page.locator(".xs-agent")).to_have_count(1)
    expect(page.locator(".xs-agent .xs-card-title")).to_have_text(XSS)
    expect(page.locator(".xs-user .xs-bubble", has_text="<script>")).to_have_count(1)
    page.wait_for_timeout(500)
    assert page.evaluate("() => window.__xss") is None
    assert page.locator(".xs-log img, .xs-log script, .xs-log b").count() == 0
    page.context.close()


def test_widget_screenshots_at_phone_and_desktop_width(stack: Stack, browser: Browser) -> None:
    for name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        page = new_page(browser, viewport)
        page.goto(stack.gateway_url + "/widget/")
        expect(page.locator(".xs-bot").first).to_contain_text("小申")
        ask(page, "老年综合津贴怎么申请？")
        expect(page.locator(".xs-card").first).to_be_visible()
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= viewport["width"], f"horizontal scrolling at {name} width ({width}px)"
        shot(page, f"widget-{name}.png")
        page.context.close()


def test_pages_forbid_foreign_scripts_and_serve_bundles_locally(stack: Stack) -> None:
    for path in ("/widget/", "/widget/rasa-webchat/"):
        resp = httpx.get(stack.gateway_url + path)
        assert resp.status_code == 200
        assert "script-src 'self';" in resp.headers["content-security-policy"]
        assert not re.search(r"https?://", re.sub(r"<code>.*?</code>", "", resp.text))
    host = stack.gateway_url.removeprefix("http://")
    for path in ("/widget/", "/widget/rasa-webchat/", "/agents", "/guides/ent-setup"):
        csp = httpx.get(stack.gateway_url + path).headers["content-security-policy"]
        assert "frame-ancestors" in csp, path
        assert not re.search(r"(?<![\w/])(ws|wss):(?!//)", csp), f"{path} lets scripts reach any websocket"
        if path != "/guides/ent-setup":
            assert f"connect-src 'self' ws://{host} wss://{host};" in csp, path
        if path != "/widget/rasa-webchat/":  # its React bundle injects <style> elements
            assert "unsafe-inline" not in csp, path
    for path in ("/widget/xiaoshen.js", "/widget/vendor/socket.io.min.js", "/widget/vendor/rasa-webchat.js"):
        resp = httpx.get(stack.gateway_url + path)
        assert resp.status_code == 200 and "javascript" in resp.headers["content-type"], path
    assert httpx.get(stack.gateway_url + "/widget/vendor/package.json").status_code == 404
    assert httpx.get(stack.gateway_url + "/widget/vendor/..%2F..%2Fpackage.json").status_code == 404
