"""A readable, section-by-section difference between two versions of a guide.

What an editor or a reviewer reads: which parts changed (标题, 办理材料, 别名 …), the text before
and after, and for lists (aliases, sample questions, situations) what was added and removed.
"""

from __future__ import annotations

from typing import Any

from knowledge_base.schema import Guide

LABELS: dict[str, str] = {
    "title": "标题", "audience": "服务对象", "theme": "主题", "source": "来源", "reviewed": "审核日期",
    "sections.overview": "概述", "sections.eligibility": "办理条件", "sections.materials": "办理材料",
    "sections.process": "办理流程", "sections.time_limit": "办理时限", "sections.fee": "收费标准",
    "sections.channel": "办理渠道", "sections.contact": "咨询方式",
    "aliases": "别名", "sample_questions": "示例问题", "situations": "办理情形",
}
_SCALARS = ("title", "audience", "theme", "source", "reviewed")
_LISTS = ("aliases", "sample_questions")


def _flat(guide: Guide | None) -> dict[str, Any]:
    if guide is None:
        return {}
    data = guide.model_dump(mode="json")
    out: dict[str, Any] = {k: data[k] for k in _SCALARS}
    out.update({f"sections.{k}": v for k, v in data["sections"].items()})
    out.update({k: list(data[k]) for k in _LISTS})
    out["situations"] = {s["name"]: s for s in data["situations"]}
    return out


def guide_diff(before: Guide | None, after: Guide | None) -> list[dict[str, Any]]:
    """One entry per changed part, in the order an editor reads a guide; [] when nothing changed."""
    a, b = _flat(before), _flat(after)
    changes: list[dict[str, Any]] = []
    for key in LABELS:
        old, new = a.get(key), b.get(key)
        if old == new:
            continue
        entry: dict[str, Any] = {"field": key, "label": LABELS[key]}
        if key in _LISTS:
            old_l, new_l = old or [], new or []
            entry["added"] = [x for x in new_l if x not in old_l]
            entry["removed"] = [x for x in old_l if x not in new_l]
        elif key == "situations":
            old_d, new_d = old or {}, new or {}
            entry["added"] = [n for n in new_d if n not in old_d]
            entry["removed"] = [n for n in old_d if n not in new_d]
            entry["changed"] = [n for n in new_d if n in old_d and new_d[n] != old_d[n]]
        else:
            entry["before"], entry["after"] = old, new
        changes.append(entry)
    return changes
