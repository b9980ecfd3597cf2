"""Consented pre-fill from the records a citizen or a company already has on file.

A fictional person of the citizen-data stand-in (citizen_data/PERSONAS.md) fills in a declaration
through the declaration service (a real SQLite store). What the records hold is never asked; what
the person must decide still is; services they opt into are listed but not counted as data fields.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from actions.declaration_service import DeclarationService
from declarations.catalog import load_catalog
from declarations.interview import CONFIRM, CONSENT, Progress
from declarations.prefill import LocalCitizenData
from records.db import Database
from records.declarations import DeclarationDraft, SqlDeclarationStore


@pytest.fixture
def svc(tmp_path: Path) -> DeclarationService:
    db = Database(f"sqlite:///{tmp_path / 'records.db'}")
    db.migrate()
    return DeclarationService(load_catalog(), SqlDeclarationStore(db), LocalCitizenData())


def fill(svc: DeclarationService, decl_id: str, typed: dict[str, str],
         ) -> tuple[list[str], Progress, DeclarationDraft | None]:
    """Answer each asked question from `typed` (by field); the fields asked, the progress, the record."""
    decl = svc.catalog.get(decl_id)
    assert decl is not None
    answers: dict[str, Any] = {}
    progress = Progress(id=decl.id)
    step = svc.begin(decl, answers, progress)
    asked: list[str] = []
    while (field := step.asking) is not None:
        if field == CONFIRM:
            step = svc.turn(decl, answers, progress, CONFIRM, "确认提交", answers_guide=False)
            break
        asked.append(field)
        assert field in typed, f"{decl_id}: asked {field}, which the records should have given"
        step = svc.turn(decl, answers, progress, field, typed[field], answers_guide=False)
        answers.update(step.changes)
        assert len(asked) < 40
    if progress.status != "submitting":
        return asked, progress, None
    draft_id = svc.save(step, answers, f"web-{decl_id}", None)
    return asked, progress, svc.submit(decl, answers, progress, draft_id, f"web-{decl_id}")


def fields_of(record: DeclarationDraft) -> dict[str, dict[str, Any]]:
    return {f["key"]: f for f in record.application}


def test_the_newborn_comes_from_the_hospitals_birth_certificate(svc: DeclarationService) -> None:
    asked, _, record = fill(svc, "birth-one-thing", {
        "born_in_shanghai": "是", "birth_cert_status": "医院已签发且信息无误",
        "applicant_name": "张伟", "applicant_id_number": "31011519920816149X", CONSENT: "同意授权",
        "hukou_follow": "随父落户", "apply_medical": "是", "apply_ss_card": "是"})
    assert record is not None
    for field in ("baby_name", "baby_gender", "baby_birth_date", "birth_hospital", "birth_cert_no"):
        assert field not in asked
    got = fields_of(record)
    assert got["baby_name"]["value"] == "张小宝" and got["baby_gender"]["value"] == "男"
    assert got["birth_cert_no"]["value"] == "Q310452618"
    assert got["baby_name"]["record"] == "电子证照库·出生医学证明电子证照"
    # The services chosen (医保参保, 社保卡) are listed but are not data fields of the form.
    assert got["apply_medical"]["service"] and got["apply_ss_card"]["service"]
    data = [f for f in record.application if not f["service"]]
    share = sum(f["source"] in ("prefill", "derived") for f in data) / len(data)
    assert record.prefill_share == pytest.approx(share, abs=1e-4) and share >= 0.8


def test_without_consent_the_birth_certificate_is_not_read(svc: DeclarationService) -> None:
    asked, _, record = fill(svc, "birth-one-thing", {
        "born_in_shanghai": "是", "birth_cert_status": "医院已签发且信息无误",
        "applicant_name": "张伟", "applicant_id_number": "31011519920816149X", CONSENT: "不同意",
        "phone": "13900001007", "applicant_hukou_shanghai": "是",
        "applicant_hukou_address": "上海市浦东新区东方路3539弄8号1201室", "married": "否",
        "other_parent_name": "刘婷", "other_parent_id_number": "310104199403091563",
        "other_parent_hukou_shanghai": "是", "hukou_follow": "随父落户", "baby_name": "张小宝",
        "baby_gender": "男", "baby_birth_date": "2026-11-20", "birth_hospital": "上海市第一妇婴保健院",
        "birth_cert_no": "Q310452618", "apply_medical": "否", "apply_ss_card": "否"})
    assert record is not None
    assert {"baby_name", "baby_birth_date", "birth_cert_no"} <= set(asked)
    assert fields_of(record)["baby_name"]["source"] == "user"


def test_a_company_starts_from_its_name_declaration_and_copies_the_sole_shareholder(
        svc: DeclarationService) -> None:
    asked, _, record = fill(svc, "ent-setup", {
        "legal_rep_name": "蒋涛", "legal_rep_id_number": "310112198609093316", CONSENT: "同意授权",
        "legal_rep_position": "经理", "sole_shareholder_is_rep": "是", "needs_pre_permit": "否",
        "premises_type": "租赁", "want_seal": "是", "want_invoice": "是", "want_social_insurance": "否",
        "want_hpf": "否"})
    assert record is not None
    assert not {"company_form", "company_name", "business_scope", "registered_capital",
                "premises_address"} & set(asked)
    got = fields_of(record)
    assert got["company_name"]["value"] == "上海涛石信息科技有限公司"
    assert got["company_name"]["record"] == "电子证照库·企业名称自主申报信息"
    assert got["company_type"]["value"] == "一人有限公司（自然人独资）"
    # 股东 = 法定代表人: filled in from the answer already given, not typed again.
    assert got["shareholder_name"]["value"] == "蒋涛" and got["shareholder_name"]["source"] == "derived"
    assert got["legal_rep_name"]["source"] == "user"
    assert got["want_seal"]["service"] and not got["company_name"]["service"]


def test_an_individual_business_declaration_is_not_used_for_a_company(svc: DeclarationService) -> None:
    # 许诺 declared the name of an individual business only: a company's name is still asked.
    asked, _, _ = fill(svc, "ent-setup", {
        "legal_rep_name": "许诺", "legal_rep_id_number": "310115199612243462", CONSENT: "同意授权",
        "company_form": "一人有限公司", "legal_rep_position": "经理", "sole_shareholder_is_rep": "是",
        "company_name": "上海青禾设计有限公司", "business_scope": "平面设计、广告设计",
        "needs_pre_permit": "否", "registered_capital": "10万", "premises_type": "租赁",
        "premises_address": "上海市静安区江场三路76号6层612室", "want_seal": "是",
        "want_invoice": "否",
        "want_social_insurance": "否", "want_hpf": "否"})
    assert {"company_form", "company_name", "registered_capital"} <= set(asked)


def test_months_of_residence_registration_are_counted_from_the_record(svc: DeclarationService) -> None:
    # 冯雨 registered her residence on 2026-09-01: under six months, so the interview stops —
    # without asking her how many months it has been.
    asked, progress, record = fill(svc, "residence-permit", {
        "applicant_name": "冯雨", "applicant_id_number": "510107200008082765", CONSENT: "同意授权"})
    assert record is None and progress.status == "cancelled"
    assert "registration_months" not in asked and "居住登记" in (progress.reason or "")
    # 钱宇's 居住登记 says 务工经商 in a rented home: neither is asked.
    asked, _, record = fill(svc, "residence-permit", {
        "applicant_name": "钱宇", "applicant_id_number": "410105199603282698", CONSENT: "同意授权"})
    assert record is not None and set(asked) == {"applicant_name", "applicant_id_number", CONSENT}
    assert fields_of(record)["housing"]["value"] == "租赁" and fields_of(record)["reason"]["value"] == "就业"
