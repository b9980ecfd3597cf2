"""A new release of the guide files reaches a gateway whose database was seeded by an older one.

What an operator upgrading 小申 notices: the guides nobody edited answer with the new files at the
first start (the chat's live channel included), and a guide an editor changed keeps the editor's text
while the new file waits in the review queue.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import update

from knowledge_base.overlay import SyncOverlay, seed_guides
from records.db import Database
from records.guides import SqlGuideRepository
from records.models import GuideVersionRow
from tests.gateway.conftest import ADMIN, SEED_ID, login

OLD_MATERIALS = "- 旧版本指南文件里的材料"
EDITED = "hpf-withdraw-rent"


@pytest.fixture
def older_release() -> Iterator[None]:
    """The test's database as an older release left it: its seeded text of SEED_ID and EDITED differs
    from today's files, and an editor has since published a change to EDITED."""
    db = Database(os.environ["XS_DATABASE_URL"])
    files = seed_guides()
    with db.sessions.begin() as s:
        for guide_id in (SEED_ID, EDITED):
            body = files[guide_id].model_dump(mode="json")
            body["sections"]["materials"] = OLD_MATERIALS
            s.execute(update(GuideVersionRow).where(GuideVersionRow.guide_id == guide_id,
                                                    GuideVersionRow.number == 1).values(body=body))
    edited = files[EDITED].model_copy(deep=True)
    edited.sections.materials = "- 编辑按窗口反馈改过的材料"
    SqlGuideRepository(db).publish_now(edited, by="rev", note="按窗口反馈修改", base=1)
    db.dispose()
    yield


def test_the_first_start_after_an_upgrade_answers_with_the_new_files(older_release: None,
                                                                    kb_client: TestClient,
                                                                    redis_url: str) -> None:
    files = seed_guides()
    headers = {"Authorization": f"Bearer {login(kb_client, *ADMIN)}"}
    upgraded = kb_client.get(f"/api/kb/guides/{SEED_ID}", headers=headers)
    assert upgraded.status_code == 200
    assert upgraded.json()["sections"]["materials"] == files[SEED_ID].sections.materials
    assert upgraded.headers["X-Guide-Origin"] == "file"
    live = SyncOverlay(redis.Redis.from_url(redis_url)).snapshot().guides_view(files)
    assert live[SEED_ID].sections.materials == files[SEED_ID].sections.materials  # the chat's copy too

    kept = kb_client.get(f"/api/kb/guides/{EDITED}", headers=headers).json()
    assert kept["sections"]["materials"] == "- 编辑按窗口反馈改过的材料"
    assert live[EDITED].sections.materials == "- 编辑按窗口反馈改过的材料"
    history = kb_client.get(f"/api/kb/guides/{EDITED}/history", headers=headers).json()
    newest = history[0]
    assert (newest["number"], newest["state"], newest["author"]) == (3, "submitted", "release")
