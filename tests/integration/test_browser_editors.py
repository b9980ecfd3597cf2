"""Headless Chromium in the editors' workspace (/editors) against the real stack.

An editor finds a guide, changes a section, is stopped without a change note, saves a draft,
previews it as a citizen reads it and submits it; the chat still answers the old text. A reviewer
sees the change section by section and approves it; the chat answers the new text. The inbox shows
what citizens typed as text (a script in a question never runs), an out-of-scope mark and a synonym
take effect in chat at once. Screenshots at laptop and tablet width go to the CI artifacts.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from tests.conftest import TEST_ADMIN
from tests.integration.test_browser import DESKTOP, new_page, shot
from tools.chat_client import with_tokens
from tools.stack import Stack

pytestmark = pytest.mark.stack
TABLET: ViewportSize = {"width": 820, "height": 1180}
EDITOR = ("browser-editor", "browser-editor-pass")
REVIEWER = ("browser-reviewer", "browser-reviewer-pass")
GUIDE = "elder-allowance"
MARK = "（浏览器测试：本津贴不收取任何费用 B7）"
XSS = '<img src=x onerror="window.__xss=1">帮我看看这个<script>window.__xss=2</script>'
PUBLICATION = "出版物经营许可证在哪里办"
POLL_S = 8.0
GUIDE_TITLE = "“一业一证”行业综合许可（开便利店、餐饮店等）"



@pytest.fixture(scope="module")
def admin(stack: Stack) -> Iterator[httpx.Client]:
    with with_tokens(httpx.Client(base_url=stack.gateway_url, timeout=60)) as client:
        token = client.post("/api/auth/login", data={"username": TEST_ADMIN[0], "password": TEST_ADMIN[1]})
        client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        for (name, password), roles in ((EDITOR, ["editor"]), (REVIEWER, ["editor", "reviewer"])):
            resp = client.put(f"/api/auth/users/{name}", json={"password": password, "roles": roles})
            assert resp.status_code in (200, 201), resp.text
        yield client


def ask(client: httpx.Client, question: str) -> dict[str, Any]:
    resp = client.post("/api/chat", json={"sender_id": f"br-{uuid.uuid4().hex[:10]}", "message": question,
                                          "channel": "web"})
    assert resp.status_code == 200, resp.text
    return resp.json()  # type: ignore[no-any-return]


def said(reply: dict[str, Any]) -> str:
    return "\n".join(m.get("text") or "" for m in reply["messages"])


def sign_in(browser: Browser, stack: Stack, who: tuple[str, str], viewport: dict[str, int]) -> Page:
    page = new_page(browser, viewport)
    page.on("dialog", lambda d: d.accept("浏览器测试的理由"))
    page.goto(stack.gateway_url + "/editors")
    page.get_by_label("用户名").fill(who[0])
    page.get_by_label("密码").fill(who[1])
    page.get_by_role("button", name="登录").click()
    expect(page.locator("#guide-summary")).to_contain_text(re.compile(r"共 \d+ 篇"))
    return page


def no_script_ran(page: Page) -> None:
    page.wait_for_timeout(800)  # onerror fires asynchronously
    assert page.evaluate("() => window.__xss") is None
    assert page.locator("#tab-inbox img, #tab-inbox script").count() == 0


def test_an_edit_is_drafted_previewed_reviewed_and_then_answered(
        stack: Stack, browser: Browser, admin: httpx.Client) -> None:
    listed = {g["id"]: g for g in admin.get("/api/kb/guides").json()["guides"]}
    before_version = listed[GUIDE]["published_version"]
    alias = admin.get(f"/api/kb/guides/{GUIDE}").json()["aliases"][0]
    editor = sign_in(browser, stack, EDITOR, DESKTOP)
    editor.get_by_label("筛选").fill("老年综合")
    rows = editor.locator("#guide-table tbody tr")
    expect(rows).to_have_count(1)
    shot(editor, "editors-list-laptop.png")
    rows.first.click()
    expect(editor.locator("#f-title")).to_have_value(re.compile("老年综合津贴"))
    expect(editor.locator("#owner-form")).to_be_hidden()  # owners and publishing are the reviewer's
    expect(editor.locator("#unpublish")).to_be_hidden()
    fee = editor.locator("#f-s-fee")
    fee.fill(fee.input_value() + MARK)
    editor.get_by_role("button", name="保存草稿").click()
    expect(editor.locator("#form-error")).to_contain_text("修改说明")  # no note, nothing saved
    editor.locator("#f-note").fill("写明不收费（浏览器测试）")
    editor.get_by_role("button", name="保存草稿").click()
    expect(editor.locator("#toast")).to_contain_text("草稿 v")
    expect(editor.locator("#history li").first).to_contain_text("草稿")
    editor.get_by_role("button", name="预览").click()
    preview = editor.locator("#preview-body")
    expect(preview).to_contain_text(MARK)
    expect(preview).not_to_contain_text(alias)  # citizens read official names, not search aliases
    editor.set_viewport_size(TABLET)
    shot(editor, "editors-guide-tablet.png")
    editor.get_by_role("button", name="提交审核").click()
    expect(editor.locator("#toast")).to_contain_text("已提交审核")
    assert MARK not in said(ask(admin, "老年综合津贴要收费吗"))  # a draft changes nothing citizens see

    try:
        reviewer = sign_in(browser, stack, REVIEWER, DESKTOP)
        reviewer.locator("#tabs button[data-tab=review]").click()
        card = reviewer.locator("#review-list li.card", has_text="老年综合津贴")
        expect(card).to_have_count(1)
        expect(card.locator(".change .after")).to_contain_text(MARK)
        expect(card.locator(".change h4")).to_contain_text(["收费标准"])
        shot(reviewer, "editors-review-laptop.png")
        card.get_by_role("button", name="批准发布").click()
        expect(reviewer.locator("#toast")).to_contain_text("已发布")
        deadline = time.monotonic() + POLL_S
        question = "老年综合津贴要收费吗"
        while MARK not in (answer := said(ask(admin, question))) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert MARK in answer
        reviewer.context.close()
    finally:
        resp = admin.post(f"/api/kb/guides/{GUIDE}/rollback",
                          json={"number": before_version, "note": "浏览器测试结束，恢复原文"})
        assert resp.status_code == 200, resp.text
    editor.context.close()


def test_the_inbox_shows_questions_as_text_and_marks_and_synonyms_work_at_once(
        stack: Stack, browser: Browser, admin: httpx.Client) -> None:
    for question in (XSS, PUBLICATION):
        assert ask(admin, question)["turn"]["outcome"] in ("out_of_scope", "clarify")
    editor = sign_in(browser, stack, EDITOR, DESKTOP)
    editor.locator("#tabs button[data-tab=inbox]").click()
    hostile = editor.locator("#inbox-list li.card", has_text="帮我看看这个")
    expect(hostile).to_have_count(1, timeout=15_000)
    expect(hostile.locator("strong")).to_contain_text("<script>")  # shown as the citizen typed it
    no_script_ran(editor)
    card = editor.locator("#inbox-list li.card", has_text=PUBLICATION)
    expect(card).to_have_count(1)
    shot(editor, "editors-inbox-laptop.png")
    card.get_by_role("button", name="不属于本平台").click()
    expect(editor.locator("#toast")).to_contain_text("已生效")
    try:
        declined = ask(admin, PUBLICATION)
        assert declined["turn"]["outcome"] == "out_of_scope" and "不属于小申能解答" in said(declined)
    finally:
        groups = admin.get("/api/kb/inbox", params={"status": "out_of_scope", "limit": 500}).json()["groups"]
        for g in groups:
            if PUBLICATION in g["example"]:
                admin.post(f"/api/kb/inbox/{g['id']}/reopen")

    editor.locator("#tabs button[data-tab=synonyms]").click()
    editor.get_by_label("同义词", exact=True).fill("小牌，非营业性客车额度")
    editor.get_by_role("button", name="添加同义词组").click()
    expect(editor.locator("#toast")).to_contain_text("已按此检索")
    group = editor.locator("#synonym-list li.card", has_text="小牌")
    expect(group.locator(".tag")).to_have_text(["小牌", "非营业性客车额度"])
    turn = ask(admin, "拍小牌要什么条件")["turn"]
    assert (turn["outcome"], turn["service_id"]) == ("answer", "car-plate-quota")
    group.get_by_role("button", name="删除").click()
    expect(editor.locator("#synonym-list")).to_contain_text("还没有同义词组")
    assert ask(admin, "拍小牌要什么条件")["turn"]["outcome"] != "answer"
    editor.context.close()


def test_a_reader_without_the_editor_role_is_turned_away(stack: Stack, browser: Browser,
                                                        admin: httpx.Client) -> None:
    resp = admin.put("/api/auth/users/browser-agent-only",
                     json={"password": "agent-only-pass1", "roles": ["agent"]})
    assert resp.status_code in (200, 201)
    page = new_page(browser, DESKTOP)
    page.goto(stack.gateway_url + "/editors")
    page.get_by_label("用户名").fill("browser-agent-only")
    page.get_by_label("密码").fill("agent-only-pass1")
    page.get_by_role("button", name="登录").click()
    expect(page.locator("#login-error")).to_contain_text("没有指南编辑")
    expect(page.locator("#workspace")).to_be_hidden()
    page.context.close()


def test_a_reviewer_rebuilds_the_search_index_and_sees_its_progress(
        stack: Stack, browser: Browser, admin: httpx.Client) -> None:
    reviewer = sign_in(browser, stack, REVIEWER, DESKTOP)
    reviewer.locator("#tabs button[data-tab=exchange]").click()
    reviewer.get_by_role("button", name="开始重建").click()
    expect(reviewer.locator("#toast")).to_contain_text("检索索引已重建", timeout=120_000)
    expect(reviewer.locator("#reindex-nodes li")).to_contain_text([re.compile(r"完成（\d+/\d+ 篇指南）")])
    assert reviewer.locator("#reindex-bar").evaluate("e => e.value") == 100
    shot(reviewer, "editors-reindex-laptop.png")
    turn = ask(admin, "租房提取公积金要带什么材料")["turn"]
    assert (turn["outcome"], turn["service_id"]) == ("answer", "hpf-withdraw-rent")
    reviewer.context.close()


def test_an_inbox_question_attached_to_a_guide_is_answered_then(
        stack: Stack, browser: Browser, admin: httpx.Client) -> None:
    question = "我想开家小饭馆要办哪些证"  # 饭馆: a word none of our guides uses yet
    first = ask(admin, question)["turn"]
    assert (first["outcome"], first["service_id"]) != ("answer", "ent-one-license")
    editor = sign_in(browser, stack, EDITOR, DESKTOP)
    editor.locator("#tabs button[data-tab=inbox]").click()
    card = editor.locator("#inbox-list li.card", has_text=question)
    expect(card).to_have_count(1, timeout=15_000)
    card.get_by_label("加入哪篇指南").select_option(label=GUIDE_TITLE)
    card.get_by_role("button", name="加入", exact=True).click()
    expect(editor.locator("#toast")).to_contain_text("已加入 1 条示例问题，小申已按此回答")
    turn = ask(admin, question)["turn"]
    assert (turn["outcome"], turn["service_id"]) == ("answer", "ent-one-license")
    editor.context.close()
