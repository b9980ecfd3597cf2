"""Checking guides that arrive as JSON (editors' API, import): every bad field, in Chinese and English."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from knowledge_base.schema import Guide

MAX_IMPORT_GUIDES = 2000


@dataclass(frozen=True)
class FieldError:
    """One refused field: its dotted path (e.g. `sections.fee`, `aliases.2`) and why."""

    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def _describe(err: ErrorDetails) -> str:
    kind = err["type"]
    ctx: dict[str, Any] = dict(err.get("ctx") or {})
    if kind == "missing":
        return "必填字段缺失 / Field required"
    if kind == "extra_forbidden":
        return "不认识的字段 / Unknown field"
    if kind == "string_too_short":
        return "不能为空 / Must not be empty"
    if kind == "string_too_long":
        n = ctx.get("max_length")
        return f"过长，最多 {n} 个字符 / Too long: at most {n} characters"
    if kind == "too_long":
        n = ctx.get("max_length")
        return f"条目过多，最多 {n} 项 / Too many items: at most {n}"
    if kind == "string_pattern_mismatch":
        return ("只能用小写字母、数字和连字符，2–64 个字符 / "
                "Lowercase letters, digits and hyphens only, 2–64 characters")
    if kind == "literal_error":
        expected = ctx.get("expected", "")
        return f"取值应为 {expected} / Must be one of {expected}"
    if kind.startswith("date_"):
        return "日期格式应为 YYYY-MM-DD / Must be a date as YYYY-MM-DD"
    if kind == "string_type":
        return "应为文本 / Must be a string"
    if kind == "list_type":
        return "应为列表 / Must be a list"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "应为对象 / Must be an object"
    if kind == "value_error":  # our own validators already speak both languages
        return str(err["msg"]).removeprefix("Value error, ")
    return f"取值无效 / {err['msg']}"


def field_errors(exc: ValidationError, prefix: str = "") -> list[FieldError]:
    """One FieldError per failing field of a Guide validation."""
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        path = f"{prefix}.{loc}" if prefix and loc else (prefix or loc or "(root)")
        out.append(FieldError(path, _describe(err)))
    return out


def parse_guide(
    data: Any, path_id: str | None = None, prefix: str = ""
) -> tuple[Guide | None, list[FieldError]]:
    """A Guide from decoded JSON, or every reason it is refused.

    With path_id (PUT /api/kb/guides/{id}) a missing id is taken from the path and a different one
    is refused.
    """
    if not isinstance(data, dict):
        return None, [FieldError(prefix or "(root)",
                                 "指南应为一个 JSON 对象 / A guide must be a JSON object")]
    errors: list[FieldError] = []
    if path_id is not None:
        data = dict(data)
        body_id = data.setdefault("id", path_id)
        if body_id != path_id:
            errors.append(FieldError("id", f"与地址中的 id（{path_id}）不一致 / "
                                           f"Does not match the id in the URL ({path_id})"))
    try:
        guide = Guide.model_validate(data)
    except ValidationError as exc:
        return None, errors + field_errors(exc, prefix)
    return (None, errors) if errors else (guide, [])


def parse_guides(data: Any) -> tuple[list[Guide], list[FieldError]]:
    """An import: a JSON array of guides, all valid and with distinct ids, or every error."""
    if not isinstance(data, list):
        return [], [FieldError("(root)",
                               "导入内容应为指南的 JSON 数组 / An import must be a JSON array of guides")]
    if not data:
        return [], [FieldError("(root)", "导入内容为空 / Nothing to import: the array is empty")]
    if len(data) > MAX_IMPORT_GUIDES:
        return [], [FieldError("(root)", f"一次最多导入 {MAX_IMPORT_GUIDES} 篇 / "
                                         f"At most {MAX_IMPORT_GUIDES} guides per import")]
    guides: list[Guide] = []
    errors: list[FieldError] = []
    seen: set[str] = set()
    for i, item in enumerate(data):
        guide, errs = parse_guide(item, prefix=f"[{i}]")
        errors += errs
        if guide is None:
            continue
        if guide.id in seen:
            errors.append(FieldError(f"[{i}].id", f"重复的 id {guide.id} / Duplicate id {guide.id}"))
        seen.add(guide.id)
        guides.append(guide)
    return (guides, []) if not errors else ([], errors)


def summary(errors: Sequence[FieldError], what: str = "指南") -> str:
    """The error message: what was refused and that nothing changed, naming the fields."""
    names = ", ".join(e.field for e in errors[:20]) + (" …" if len(errors) > 20 else "")
    return (f"{what}未通过校验，未做任何修改（{len(errors)} 处）：{names} / "
            f"Validation failed, nothing was changed ({len(errors)} fields): {names}")
