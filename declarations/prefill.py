"""Consented pre-fill: the citizen-data service behind a small interface, and a local stand-in.

`PrefillSource` is what a declaration reads once the user has consented: a person found by name
and 身份证号 together (人证核验: both must match one record), a company by its 统一社会信用代码.
Shanghai's real source is the 电子证照库 / 数据共享交换平台; `LocalCitizenData` is a faithful local
stand-in over `citizen_data/citizens.yaml` (fictional people and companies, valid check digits).

A pre-fill path names a root and a field of its record: `applicant.hukou.address` (the identified
person), `spouse.name` (the person named in the applicant's marriage record), `employer.name` (the
company of the applicant's social insurance record), `company.name` (the company whose 统一社会信用代码
the user gave in the question marked `identifies: company`), `newborn.name` (the newest 出生医学证明
naming the applicant as mother or father), `reservation.company.name` (the applicant's 企业名称自主申报
of a company; `reservation.individual.*` of an individual business).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import yaml

DATA_FILE = Path(__file__).resolve().parent / "citizen_data" / "citizens.yaml"

# The record each top-level part of a person or company comes from, as the user is told.
RECORD_NAMES: dict[str, str] = {
    "identity": "居民身份证电子证照",
    "hukou": "居民户口簿电子证照",
    "residence": "居住登记信息",
    "marriage": "婚姻登记信息",
    "social_insurance": "社会保险参保信息",
    "hpf": "住房公积金缴存信息",
    "housing": "不动产登记信息",
    "residence_permit": "上海市居住证信息",
    "bank": "社会保障卡金融账户信息",
    "company": "企业登记信息（营业执照）",
    "newborn": "出生医学证明电子证照",
    "reservation": "企业名称自主申报信息",
}
_IDENTITY_FIELDS = ("name", "id_number", "gender", "birth_date", "phone", "ethnicity")


class PrefillSource(Protocol):
    """The citizen-data service a consented declaration reads from."""

    name: str

    def person(self, id_number: str, name: str) -> dict[str, Any] | None:
        """The person whose 身份证号 and name both match, else None."""

    def person_by_id(self, id_number: str) -> dict[str, Any] | None:
        """A person reached through another record (a spouse from a marriage record)."""

    def company(self, uscc: str) -> dict[str, Any] | None:
        """A company by its 统一社会信用代码."""

    def birth_certificate(self, parent_id_number: str) -> dict[str, Any] | None:
        """The newest 出生医学证明 naming this person as mother or father."""

    def name_reservations(self, applicant_id_number: str) -> dict[str, dict[str, Any]]:
        """This person's current 企业名称自主申报 results by kind (company, individual)."""


@dataclass(frozen=True)
class Found:
    value: str
    record: str  # e.g. "电子证照库·居民户口簿电子证照"


class LocalCitizenData:
    """The stand-in: fictional citizens and companies from a YAML file, read once."""

    name = "电子证照库"

    def __init__(self, path: Path = DATA_FILE) -> None:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        self._people = {str(p["id_number"]).upper(): p for p in data.get("people", [])}
        self._companies = {str(c["uscc"]).upper(): c for c in data.get("companies", [])}
        self._births = list(data.get("birth_certificates", []))
        self._reservations = list(data.get("name_reservations", []))

    def person(self, id_number: str, name: str) -> dict[str, Any] | None:
        found = self._people.get(id_number.upper())
        return found if found is not None and found.get("name") == name.strip() else None

    def person_by_id(self, id_number: str) -> dict[str, Any] | None:
        return self._people.get(id_number.upper())

    def company(self, uscc: str) -> dict[str, Any] | None:
        return self._companies.get(uscc.upper())

    def birth_certificate(self, parent_id_number: str) -> dict[str, Any] | None:
        wanted = parent_id_number.upper()
        mine = [b for b in self._births
                if wanted in (str(b.get(k, "")).upper() for k in ("mother_id_number", "father_id_number"))]
        return max(mine, key=lambda b: str(b.get("birth_date", "")), default=None)

    def name_reservations(self, applicant_id_number: str) -> dict[str, dict[str, Any]]:
        wanted = applicant_id_number.upper()
        return {str(r["kind"]): r for r in self._reservations
                if str(r.get("applicant_id_number", "")).upper() == wanted}

    def people(self) -> list[dict[str, Any]]:
        return list(self._people.values())

    def companies(self) -> list[dict[str, Any]]:
        return list(self._companies.values())


def _walk(record: dict[str, Any], parts: list[str]) -> Any:
    value: Any = record
    for part in parts:
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _render(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


class Lookup:
    """What one identified applicant's records give, path by path (roots resolved lazily)."""

    def __init__(self, source: PrefillSource, applicant: dict[str, Any] | None,
                 company_uscc: str | None = None) -> None:
        self.source = source
        self.applicant = applicant or {}
        self.company_uscc = company_uscc

    def _root(self, root: str) -> dict[str, Any] | None:
        """The record a root names (the applicant's own, or one reached through it)."""
        if root == "applicant":
            return self.applicant or None
        if root == "company":
            return self.source.company(self.company_uscc) if self.company_uscc else None
        if root == "spouse":
            spouse_id = _walk(self.applicant, ["marriage", "spouse_id_number"])
            return self.source.person_by_id(str(spouse_id)) if spouse_id else None
        if root == "employer":
            uscc = _walk(self.applicant, ["social_insurance", "employer_uscc"])
            return self.source.company(str(uscc)) if uscc else None
        own_id = str(self.applicant.get("id_number") or "")
        if root == "newborn":
            return self.source.birth_certificate(own_id) if own_id else None
        if root == "reservation":
            found = self.source.name_reservations(own_id) if own_id else {}
            return dict(found) or None
        return None

    def get(self, path: str) -> Found | None:
        """The value at `applicant.hukou.address`-style path, with the record it came from."""
        root, *parts = path.split(".")
        record = self._root(root)
        if record is None or not parts:
            return None
        value = _render(_walk(record, parts))
        if value is None or value == "":
            return None
        if root in ("employer", "company"):
            kind = "company"
        elif root in ("newborn", "reservation"):
            kind = root
        elif parts[0] in _IDENTITY_FIELDS:
            kind = "identity"
        else:
            kind = parts[0]
        return Found(value, f"{self.source.name}·{RECORD_NAMES.get(kind, kind)}")

    def has(self, path: str) -> bool:
        """Whether the record a path names exists (a material checked online is then exempt)."""
        root, *parts = path.split(".")
        record = self._root(root)
        if record is None:
            return False
        return not parts or _walk(record, parts) not in (None, "", {}, [])
