"""The editors' overlay in a real Redis, and a KnowledgeBase that follows it live."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from knowledge_base.engine import KnowledgeBase
from knowledge_base.live import LiveUpdates, connect
from knowledge_base.overlay import KEY_REINDEX, SyncOverlay, VersionConflict
from knowledge_base.rules import Rules, rules_json
from knowledge_base.schema import Guide
from tests.redis_server import RedisServer

WAIT_S = 10.0


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    srv = RedisServer(tmp_path, appendonly=True)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def overlay(server: RedisServer) -> SyncOverlay:
    return SyncOverlay(connect(server.url))


@pytest.fixture
def files(fixture_guides: list[Guide]) -> dict[str, Guide]:
    return {g.id: g for g in fixture_guides}


@pytest.fixture
def kb(fixture_guides: list[Guide]) -> KnowledgeBase:
    base = KnowledgeBase()
    base.replace_all(fixture_guides)
    return base


@pytest.fixture
def live(kb: KnowledgeBase, server: RedisServer, files: dict[str, Guide]) -> Iterator[LiveUpdates]:
    updates = LiveUpdates(kb, server.url, files)
    updates.start()
    wait_for(lambda: updates.connected)
    yield updates
    updates.stop()


def wait_for(check: Callable[[], bool], timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def edited(guide: Guide, **changes: object) -> Guide:
    return guide.model_copy(update=changes)


def test_files_overlay_and_tombstones_merge(overlay: SyncOverlay, files: dict[str, Guide],
                                            extra_guide: Guide) -> None:
    passport = edited(files["fx-passport"], title="护照办理（新版）")
    overlay.write("upsert", extra_guide.id, extra_guide, by="editor1")
    overlay.write("upsert", passport.id, passport, by="editor2")
    last = overlay.write("delete", "fx-marriage", by="editor1")

    snap = overlay.snapshot()
    view = snap.merged(files)
    assert snap.version == last == 3
    assert view[extra_guide.id].origin == "edited"
    assert view["fx-passport"].guide.title == "护照办理（新版）"
    assert view["fx-passport"].meta.updated_by == "editor2"
    assert view["fx-id-card"].origin == "file" and view["fx-id-card"].meta.version == 0
    assert "fx-marriage" not in view

    overlay.write("revert", "fx-marriage")
    overlay.write("revert", "fx-passport")
    view = overlay.snapshot().merged(files)
    assert view["fx-marriage"].origin == "file"
    assert view["fx-passport"].guide == files["fx-passport"]


def test_a_stale_expected_version_changes_nothing(overlay: SyncOverlay, files: dict[str, Guide]) -> None:
    first = overlay.write("upsert", "fx-passport", edited(files["fx-passport"], title="甲"), by="a")
    overlay.write("upsert", "fx-passport", edited(files["fx-passport"], title="乙"), by="b", expected=first)
    with pytest.raises(VersionConflict):
        overlay.write("upsert", "fx-passport", edited(files["fx-passport"], title="丙"), by="c",
                      expected=first)
    assert overlay.snapshot().guides["fx-passport"].title == "乙"


def test_a_new_guide_is_answered_and_a_deleted_one_no_longer(
    live: LiveUpdates, kb: KnowledgeBase, overlay: SyncOverlay, extra_guide: Guide
) -> None:
    assert kb.decide("养狗要办狗证吗").outcome != "answer"
    version = overlay.write("upsert", extra_guide.id, extra_guide, by="editor")
    assert overlay.wait_applied(version, WAIT_S)
    decision = kb.decide("养狗要办狗证吗")
    assert decision.outcome == "answer" and decision.candidates[0].service_id == extra_guide.id

    version = overlay.write("delete", extra_guide.id, by="editor")
    assert overlay.wait_applied(version, WAIT_S)
    assert kb.get(extra_guide.id) is None
    assert all(c.service_id != extra_guide.id for c in kb.rank("养狗要办狗证吗"))


def test_deleting_and_reverting_a_file_guide(live: LiveUpdates, kb: KnowledgeBase, overlay: SyncOverlay,
                                             files: dict[str, Guide]) -> None:
    assert overlay.wait_applied(overlay.write("delete", "fx-passport"), WAIT_S)
    assert kb.get("fx-passport") is None
    assert overlay.wait_applied(overlay.write("revert", "fx-passport"), WAIT_S)
    assert kb.get("fx-passport") == files["fx-passport"]


def test_an_import_is_applied_at_once(live: LiveUpdates, kb: KnowledgeBase, overlay: SyncOverlay,
                                      files: dict[str, Guide], extra_guide: Guide) -> None:
    version = overlay.bulk([extra_guide, edited(files["fx-id-card"], title="身份证办理（新）")],
                           ["fx-marriage"], by="importer")
    assert overlay.wait_applied(version, WAIT_S)
    assert kb.get(extra_guide.id) == extra_guide
    assert kb.get("fx-id-card").title == "身份证办理（新）"  # type: ignore[union-attr]
    assert kb.get("fx-marriage") is None


def test_editors_rules_reach_the_knowledge_base_live(live: LiveUpdates, kb: KnowledgeBase,
                                                    overlay: SyncOverlay) -> None:
    version = overlay.write_rules(rules_json([["小本本", "护照"]], ["帮我订一张去北京的机票"]))
    assert overlay.wait_applied(version, WAIT_S)
    assert kb.rules.synonyms == (("小本本", "护照"),)
    assert kb.rules.marked_out_of_scope("帮我订一张去北京的机票吧") is not None
    # A guide write after it is still applied in order, and the rules stay.
    version = overlay.write("delete", "fx-passport")
    assert overlay.wait_applied(version, WAIT_S)
    assert kb.get("fx-passport") is None and kb.rules.synonyms == (("小本本", "护照"),)
    assert overlay.wait_applied(overlay.write_rules(rules_json([], [])), WAIT_S)
    assert kb.rules == Rules()


def test_a_reindex_rebuilds_from_files_and_overlay_and_reports_each_stage(
        live: LiveUpdates, kb: KnowledgeBase, overlay: SyncOverlay, extra_guide: Guide) -> None:
    overlay.write("upsert", extra_guide.id, extra_guide)
    stages: list[str] = []
    original = kb.replace_all

    def watched(guides: Sequence[Guide], progress: Callable[[str, int, int], None] | None = None) -> None:
        def spy(stage: str, done: int, total: int) -> None:
            stages.append(stage)
            assert progress is not None
            progress(stage, done, total)
        original(guides, progress=spy)

    kb.replace_all = watched  # type: ignore[method-assign]
    version = overlay.request_reindex("rev")
    assert overlay.wait_applied(version, WAIT_S)
    assert stages == ["dictionary", "index", "calibration", "ranker", "done"]
    [report] = [json.loads(v) for v in overlay.redis.hgetall(KEY_REINDEX).values()]
    assert report["stage"] == "done" and report["done"] == report["total"] == len(kb)
    assert report["version"] == version and report["by"] == "rev"
    assert report["finished_at"] >= report["started_at"]
    assert kb.get(extra_guide.id) == extra_guide  # the overlay's guides are part of the rebuild
    assert kb.decide("养狗要办狗证吗").candidates[0].service_id == extra_guide.id


def test_writes_made_while_not_listening_are_applied_at_start(
    kb: KnowledgeBase, server: RedisServer, overlay: SyncOverlay, files: dict[str, Guide], extra_guide: Guide
) -> None:
    overlay.write("upsert", extra_guide.id, extra_guide)
    overlay.write("delete", "fx-passport")
    overlay.write_rules(rules_json([["小本本", "护照"]], []))
    updates = LiveUpdates(kb, server.url, files)
    updates.start()
    try:
        assert overlay.wait_applied(3, WAIT_S)
        assert kb.get(extra_guide.id) == extra_guide and kb.get("fx-passport") is None
        assert kb.rules.synonyms == (("小本本", "护照"),)
    finally:
        updates.stop()


def test_live_updates_survive_a_redis_restart(live: LiveUpdates, kb: KnowledgeBase, server: RedisServer,
                                              overlay: SyncOverlay, extra_guide: Guide) -> None:
    overlay.write("delete", "fx-passport")
    wait_for(lambda: kb.get("fx-passport") is None)
    server.stop()  # SIGTERM: the append-only file is flushed
    wait_for(lambda: not live.connected)
    server.start()
    overlay.redis.connection_pool.disconnect()
    version = overlay.write("upsert", extra_guide.id, extra_guide)
    assert version == 2, "the overlay survived the restart"
    assert overlay.wait_applied(version, WAIT_S)
    assert kb.get(extra_guide.id) == extra_guide and kb.get("fx-passport") is None


def test_a_flushed_redis_resets_to_the_files(live: LiveUpdates, kb: KnowledgeBase, overlay: SyncOverlay,
                                             files: dict[str, Guide], extra_guide: Guide) -> None:
    overlay.write("delete", "fx-passport")
    overlay.write("delete", "fx-id-card")
    wait_for(lambda: kb.get("fx-id-card") is None)
    overlay.redis.flushall()
    overlay.write("upsert", extra_guide.id, extra_guide)  # version 1 again: the listener notices
    wait_for(lambda: kb.get("fx-passport") is not None and kb.get(extra_guide.id) is not None)
    assert kb.get("fx-id-card") == files["fx-id-card"]


def test_answering_does_not_wait_for_an_upsert(kb: KnowledgeBase, extra_guide: Guide,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A retrain (slowed down here to 1 s) must not hold rank() up; the new guide appears when done."""
    train = kb._train

    def slow_train(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        time.sleep(1.0)
        return train(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(kb, "_train", slow_train)
    writer = threading.Thread(target=kb.upsert, args=(extra_guide,))
    writer.start()
    time.sleep(0.1)
    durations = []
    while writer.is_alive():
        started = time.perf_counter()
        ranked = kb.rank("租房提取公积金要准备啥")
        durations.append(time.perf_counter() - started)
        assert ranked[0].service_id == "fx-hpf-rent"
        time.sleep(0.05)
    writer.join()
    assert len(durations) >= 5 and max(durations) < 0.5, durations
    assert kb.decide("养狗要办狗证吗").candidates[0].service_id == extra_guide.id
