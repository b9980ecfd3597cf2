"""The full-guide page the widget's cards link to."""

from __future__ import annotations

import httpx

from knowledge_base.constants import SECTION_TITLES


def test_full_guide_page_shows_every_section_and_its_source(gateway: httpx.Client) -> None:
    resp = gateway.get("/guides/hpf-withdraw-rent")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in resp.headers["content-security-policy"]
    page = resp.text
    assert "<h1>租赁住房提取住房公积金</h1>" in page
    for title in SECTION_TITLES.values():
        assert f"<h2>{title}</h2>" in page
    assert "来源：" in page and "审核日期：2026-11-21" in page
    assert "<li>" in page  # materials and steps render as lists


def test_unknown_or_malformed_guide_ids_are_404_with_the_error_shape(gateway: httpx.Client) -> None:
    for path in ("/guides/no-such-guide", "/guides/%3Cscript%3E"):
        resp = gateway.get(path)
        assert resp.status_code == 404
        assert resp.json()["error"]["code"] == "guide_not_found"
