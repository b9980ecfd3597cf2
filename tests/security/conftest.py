"""In-process gateways on the test's real Redis, with settings a test chooses (rate limits …):
the handoff tests' gateway factory, which takes Settings fields as overrides."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.handoff.conftest import Gateway, make_gateway, settings

__all__ = ["MakeGateway", "make_gateway", "settings"]

MakeGateway = Callable[..., Gateway]


@pytest.fixture
def gateway_with(make_gateway: MakeGateway) -> MakeGateway:
    """make(**settings) → an in-process gateway ("process") with those settings, Rasa scripted;
    all of a test's gateways share its Redis and one TokenJar (the same users)."""
    return make_gateway


