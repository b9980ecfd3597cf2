"""The declaration repository's contract, run on SQLite and PostgreSQL alike."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from records.db import Database
from records.declarations import DeclarationDraft, SqlDeclarationStore


@pytest.fixture
def store(database: Database) -> SqlDeclarationStore:
    return SqlDeclarationStore(database)


def _draft(sender: str = "web-1", code: str = "ABC234", status: str = "asking") -> DeclarationDraft:
    return DeclarationDraft(declaration_id="elder-allowance", service_id="elder-allowance", sender_id=sender,
                            resume_code=code, status=status, answers={"elder_name": "王建国"},
                            progress={"id": "elder-allowance", "status": status})


class TestDeclarationStore:
    def test_a_saved_draft_reads_back_whole(self, store: SqlDeclarationStore) -> None:
        draft = _draft()
        store.save(draft)
        got = store.get(draft.id)
        assert got is not None
        assert (got.answers, got.progress, got.status, got.sender_id) == (
            {"elder_name": "王建国"}, {"id": "elder-allowance", "status": "asking"}, "asking", "web-1")
        assert got.ref is None and got.created_at is not None

    def test_saving_again_updates_in_place(self, store: SqlDeclarationStore) -> None:
        draft = _draft()
        store.save(draft)
        draft.answers["phone"] = "13900001001"
        draft.status = "paused"
        store.save(draft)
        got = store.get(draft.id)
        assert got is not None and got.answers == {"elder_name": "王建国", "phone": "13900001001"}
        assert got.status == "paused"

    def test_resume_code_finds_only_unfinished_declarations(self, store: SqlDeclarationStore) -> None:
        open_one, done_one = _draft(code="OPEN22"), _draft(code="DONE22")
        store.save(open_one)
        store.save(done_one)
        store.submit(done_one)
        found = store.by_resume_code("open22")  # typed in lower case
        assert found is not None and found.id == open_one.id
        assert store.by_resume_code("DONE22") is None
        assert store.by_resume_code("NOPE22") is None

    def test_a_resume_code_expires_after_seven_days(self, store: SqlDeclarationStore) -> None:
        from sqlalchemy import update

        from records.models import DeclarationRow

        draft = _draft(code="OLD234")
        store.save(draft)
        assert store.by_resume_code("OLD234") is not None
        eight_days_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=8)
        with store.db.sessions.begin() as session:
            session.execute(update(DeclarationRow).where(DeclarationRow.id == draft.id)
                            .values(updated_at=eight_days_ago))
        assert store.by_resume_code("OLD234") is None
        assert store.get(draft.id) is not None  # kept until the retention purge

    def test_submit_gives_a_reference_number_and_keeps_the_record(self, store: SqlDeclarationStore) -> None:
        draft = _draft()
        draft.checklist = [{"name": "身份证", "why": "核验身份", "exempt": False}]
        store.save(draft)
        ref = store.submit(draft)
        assert re.fullmatch(r"XS\d{8}-[A-Z2-9]{6}", ref)
        got = store.by_ref(ref.lower())
        assert got is not None and got.id == draft.id and got.status == "done"
        assert got.checklist == draft.checklist and got.submitted_at is not None

    def test_latest_open_is_the_conversations_newest_unfinished(self, store: SqlDeclarationStore) -> None:
        first, second = _draft(code="AAA222"), _draft(code="BBB222", status="paused")
        other = _draft("web-2", "CCC222")
        for d in (first, second, other):
            store.save(d)
        store.submit(first)
        found = store.latest_open("web-1")
        assert found is not None and found.id == second.id
        assert store.latest_open("web-3") is None

    def test_two_declarations_never_share_a_resume_code(self, store: SqlDeclarationStore) -> None:
        from sqlalchemy.exc import IntegrityError

        store.save(_draft(code="SAME22"))
        with pytest.raises(IntegrityError):
            store.save(_draft(sender="web-2", code="SAME22"))
        assert store.by_resume_code("SAME22") is not None  # the first is untouched

    def test_purge_removes_stale_drafts_but_never_records(self, store: SqlDeclarationStore) -> None:
        stale, record = _draft(code="OLD222"), _draft(code="REC222")
        store.save(stale)
        store.save(record)
        store.submit(record)
        future = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
        assert store.purge_before(future) == 1
        assert store.get(stale.id) is None
        assert store.get(record.id) is not None
