"""Headless Chromium: a user in the widget asks for a person, an agent in the console answers.

The user's page and the agent's page are separate browser contexts against the real stack.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
import redis.asyncio as aioredis
from playwright.sync_api import Browser, expect

from connectors.gateway.auth import Accounts
from tests.integration.test_browser import DESKTOP, PHONE, ask, new_page, session_of, shot
from tools.stack import Stack

pytestmark = pytest.mark.stack
AGENT = ("browser-agent", "browser-agent-pass")



@pytest.fixture(scope="module")
def on_duty(stack: Stack) -> Iterator[None]:
    async def add_agent() -> None:
        client = aioredis.Redis.from_url(stack.effective_redis_url, decode_responses=True)
        await Accounts(client, 3600).create_user(AGENT[0], AGENT[1], ["agent"], display_name="小周")
        await client.aclose()

    # Playwright's sync API owns this thread's event loop: run the coroutine on another thread.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, add_agent()).result()
    sync = redis.Redis.from_url(stack.effective_redis_url)
    sync.set("xs:ho:hours_override", "open")
    yield
    sync.delete("xs:ho:hours_override")


def test_widget_user_and_console_agent_talk_then_close_and_rate(
        stack: Stack, browser: Browser, on_duty: None) -> None:
    user = new_page(browser, PHONE)
    user.goto(stack.gateway_url + "/widget/")
    expect(user.locator(".xs-bot").first).to_contain_text("小申")
    ask(user, "我要转人工")
    expect(user.locator(".xs-handoff")).to_contain_text("正在为您转接人工客服")
    sender = session_of(user)

    agent = new_page(browser, DESKTOP)
    agent.on("dialog", lambda d: d.accept())
    agent.goto(stack.gateway_url + "/agents")
    agent.get_by_label("用户名").fill(AGENT[0])
    agent.get_by_label("密码").fill(AGENT[1])
    agent.get_by_role("button", name="登录").click()
    expect(agent.locator("#conn")).to_have_text("在线")
    waiting = agent.locator("#queue li", has_text=sender)
    expect(waiting).to_have_count(1)
    waiting.click()
    expect(agent.locator("#transcript li.user", has_text="我要转人工")).to_have_count(1)
    expect(agent.locator("#transcript li.bot").first).to_be_visible()  # the bot's turns are there too
    agent.get_by_role("button", name="接入").click()
    expect(user.locator(".xs-system", has_text="已接入")).to_have_count(1)
    expect(user.locator(".xs-handoff")).to_contain_text("小周")

    box = agent.locator("#reply-text")
    box.press_sequentially("您好")
    expect(user.locator(".xs-typing")).to_contain_text("正在输入")
    box.fill("您好，我是小周，请问有什么可以帮您？")
    box.press("Enter")
    expect(user.locator(".xs-agent", has_text="我是小周")).to_have_count(1)

    ask(user, "营业执照可以邮寄到家吗？")
    expect(agent.locator("#transcript li.user", has_text="营业执照可以邮寄到家吗？")).to_have_count(1)
    expect(user.locator(".xs-bot", has_text="营业执照")).to_have_count(0)  # the bot kept quiet
    shot(agent, "handoff-console.png")

    agent.locator("#canned").select_option(index=2)
    expect(box).not_to_have_value("")
    box.press("Enter")
    expect(user.locator(".xs-agent")).to_have_count(2)
    agent.get_by_role("button", name="结束服务").click()
    rating = user.locator(".xs-quick", has_text="非常满意").first
    expect(rating).to_be_visible()
    rating.click()
    expect(user.locator(".xs-bot", has_text="感谢您的评价")).to_have_count(1)
    shot(user, "handoff-widget.png")
    ask(user, "开公司要带什么材料？")
    expect(user.locator(".xs-card").first).to_be_visible()  # back with the bot
    agent.context.close()
    user.context.close()


def test_console_login_rejects_a_wrong_password(stack: Stack, browser: Browser, on_duty: None) -> None:
    page = new_page(browser, DESKTOP)
    page.goto(stack.gateway_url + "/agents")
    page.get_by_label("用户名").fill(AGENT[0])
    page.get_by_label("密码").fill("wrong-password")
    page.get_by_role("button", name="登录").click()
    expect(page.locator("#login-error")).to_contain_text("密码错误")
    expect(page.locator("#console")).to_be_hidden()
    page.context.close()
