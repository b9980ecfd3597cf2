"""Shared FastAPI dependencies as Annotated aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from connectors.gateway.state import AppState


def get_state(request: Request) -> AppState:
    return request.app.state.xs  # type: ignore[no-any-return]


StateDep = Annotated[AppState, Depends(get_state)]
