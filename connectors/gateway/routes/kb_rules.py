"""Synonyms editors manage in the workspace, applied to search at once (no reindex, no retraining),
and a full rebuild of the search index on demand, with its progress.

A group of equivalent terms (沪牌 = 非营业性客车额度) expands every question that mentions one of
them (knowledge_base.rules). Saving waits until the action servers apply it, like a publish, and
answers `live`. Every change is in the audit log.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from connectors.gateway.deps import EditorUser, ReviewerUser, StateDep
from connectors.gateway.routes.kb import _check_live_channel, _db, _go_live, _overlay

router = APIRouter(prefix="/api/kb", tags=["knowledge editors: synonyms"])
GroupId = Annotated[int, Path(ge=1, le=2**31 - 1, description="a synonym group")]


class SynonymsIn(BaseModel):
    terms: list[Annotated[str, Field(max_length=100)]] = Field(
        min_length=1, max_length=50, description="2–20 terms meaning the same, e.g. [沪牌, 非营业性客车额度]")
    note: Annotated[str, Field(max_length=500)] = ""


@router.get("/synonyms")
async def list_synonyms(state: StateDep, _: EditorUser) -> dict[str, Any]:
    """Every synonym group editors declared, oldest first."""
    groups = await _db(state.synonyms.all)
    return {"count": len(groups), "groups": [g.as_dict() for g in groups]}


@router.post("/synonyms", status_code=201)
async def add_synonyms(body: SynonymsIn, state: StateDep, user: EditorUser) -> dict[str, Any]:
    """A new group; questions using any of its terms find guides written with the others at once."""
    await _check_live_channel(state)
    group = await _db(state.synonyms.add, body.terms, by=user.username, note=body.note)
    _, live = await _go_live(state, user.username)
    return {**group.as_dict(), "live": live}


@router.put("/synonyms/{group_id}")
async def update_synonyms(group_id: GroupId, body: SynonymsIn, state: StateDep,
                          user: EditorUser) -> dict[str, Any]:
    await _check_live_channel(state)
    group = await _db(state.synonyms.update, group_id, body.terms, by=user.username, note=body.note)
    _, live = await _go_live(state, user.username)
    return {**group.as_dict(), "live": live}


@router.delete("/synonyms/{group_id}")
async def delete_synonyms(group_id: GroupId, state: StateDep, user: EditorUser) -> dict[str, Any]:
    await _check_live_channel(state)
    await _db(state.synonyms.delete, group_id, by=user.username)
    _, live = await _go_live(state, user.username)
    return {"id": group_id, "deleted": True, "live": live}


@router.post("/reindex", status_code=202)
async def reindex(state: StateDep, user: ReviewerUser) -> dict[str, Any]:
    """Rebuild every action server's search index and re-ranker from the guides of record (after
    a backend change, a lexicon update or to be sure). Answering goes on meanwhile; follow the
    progress with GET."""
    await _check_live_channel(state)
    await state.sync_guides(by=user.username)  # the record first, so the rebuild reads it
    version = await _overlay(state).request_reindex(user.username)
    await _db(state.guides.record, user.username, "reindex", "", version=version)
    return {"version": version, "status": "requested"}


@router.get("/reindex")
async def reindex_progress(state: StateDep, _: EditorUser) -> dict[str, Any]:
    """Each action server's progress through the last rebuild: stage, guides done of total, and
    whether the chat already answers from the rebuilt index (`done`)."""
    overlay = _overlay(state)
    nodes = await overlay.reindex_progress()
    applied = await overlay.applied()
    done = bool(nodes) and all(n.get("stage") == "done" for n in nodes.values())
    return {"nodes": nodes, "done": done, "live_version": applied}
