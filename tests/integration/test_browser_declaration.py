"""A whole smart declaration in our widget at phone width (Debian's Chromium via Playwright):
buttons for the few-answer questions, consented pre-fill, the result card, the print page."""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from tests.integration.test_browser import PHONE, ask, new_page, shot
from tools.stack import Stack

ELDER = ("王建国", "310101195205121074")  # fictional, in declarations/citizen_data/citizens.yaml


def test_a_declaration_in_the_widget_ends_in_a_checklist_card_and_a_print_page(
        stack: Stack, browser: Browser) -> None:
    page = new_page(browser, PHONE)
    page.goto(stack.gateway_url + "/widget/")
    expect(page.locator(".xs-bot").first).to_contain_text("小申")
    ask(page, "帮我申报老年综合津贴")
    consent = page.locator(".xs-quick", has_text="同意授权")
    expect(consent).to_be_visible()
    consent.click()
    page.locator(".xs-quick", has_text="老人本人申请").last.click()
    expect(page.locator(".xs-bot").last).to_contain_text("老人的姓名")
    ask(page, ELDER[0])
    expect(page.locator(".xs-bot").last).to_contain_text("身份证号码")
    ask(page, "310101195205121075")  # a wrong check digit: asked again with the reason
    expect(page.locator(".xs-bot").last).to_contain_text("校验位")
    ask(page, ELDER[1])
    expect(page.locator(".xs-bot").last).to_contain_text("请确认以下信息")
    expect(page.locator(".xs-bot").last).to_contain_text("来自电子证照")
    shot(page, "declaration-confirm-phone.png")
    page.locator(".xs-quick", has_text="确认提交").last.click()
    card = page.locator(".xs-decl")
    expect(card).to_have_count(1)
    expect(card.locator(".xs-decl-ref")).to_contain_text("XS")
    expect(card.locator(".xs-checklist input[type=checkbox]").first).to_be_visible()
    expect(card.locator(".xs-decl-exempt", has_text="户口簿")).to_have_count(1)
    expect(card).to_contain_text("电子证照")
    card.locator(".xs-checklist label").first.click()
    expect(card.locator(".xs-checklist input").first).to_be_checked()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    card.scroll_into_view_if_needed()
    shot(page, "declaration-card-phone.png")

    with page.context.expect_page() as popup:
        card.get_by_role("link", name="打印材料清单").click()
    printed = popup.value
    expect(printed.locator("h1")).to_have_text("老年综合津贴申领 · 材料清单")
    expect(printed.locator("ol li").first).to_contain_text("社会保障卡")
    expect(printed.locator("table")).to_contain_text("电子证照预填")
    shot(printed, "declaration-print-phone.png")
