"""The turn contract: outcomes, handoff states, the turn block, messages and special payloads.

The action that handles a turn says what the turn was by sending one custom message
`{"turn": TurnBlock}`; the gateway takes it out and relays it (`Turn.from_action`). Nothing else
derives an outcome.
"""

from __future__ import annotations

from typing import Any, Final, Literal, TypedDict, get_args

from pydantic import BaseModel, Field, SerializerFunctionWrapHandler, model_serializer

Outcome = Literal["answer", "clarify", "out_of_scope", "handoff", "smalltalk", "declaration"]
OUTCOMES: Final[frozenset[str]] = frozenset(get_args(Outcome))
ANSWER: Final = "answer"
CLARIFY: Final = "clarify"
OUT_OF_SCOPE: Final = "out_of_scope"
HANDOFF: Final = "handoff"
SMALLTALK: Final = "smalltalk"
DECLARATION: Final = "declaration"
# Outcomes whose turn names a service and section.
WITH_SERVICE: Final[frozenset[str]] = frozenset({ANSWER, DECLARATION})

HandoffState = Literal["none", "queued", "agent"]
HANDOFF_NONE: Final = "none"
HANDOFF_QUEUED: Final = "queued"
HANDOFF_AGENT: Final = "agent"

# Intents both sides name (the rest are the action server's own, actions/constants.py).
INTENT_ASK_HUMAN: Final = "ask_human"

# The custom-message key that carries the turn block from an action to the gateway.
TURN_KEY: Final = "turn"

# Payloads a user (or a button) sends that are not free text.
ASK_HUMAN: Final = "/ask_human"
LEAVE_QUEUE: Final = "/leave_queue"
AFFIRM: Final = "/affirm"
DENY: Final = "/deny"
RATE: Final = "/rate"  # /rate{"score": 1..5, "comment": "…"}
SKIP_COMMENT: Final = "/rate_skip"
ASK_GUIDE: Final = "/ask_guide"  # /ask_guide{"service_id": "…", "section": "…"}
DECLARE: Final = "/declare"  # /declare{"declaration": "…"}: start a smart declaration


class TurnBlock(TypedDict, total=False):
    """What an action reports about the turn it handled (the custom message's `turn`)."""

    outcome: Outcome
    service_id: str | None
    section: str | None
    candidates: list[str]
    intent: str | None
    confidence: float
    handoff: HandoffState
    declaration: dict[str, Any]


def turn_block(outcome: Outcome, *, intent: str | None, confidence: float,
               service_id: str | None = None, section: str | None = None,
               candidates: list[str] | None = None, declaration: dict[str, Any] | None = None) -> TurnBlock:
    """The turn block an action sends; service and section only where the outcome has them."""
    named = outcome in WITH_SERVICE
    block = TurnBlock(
        outcome=outcome,
        service_id=service_id if named else None,
        section=section if named else None,
        candidates=list(candidates or []),
        intent=intent,
        confidence=round(float(confidence), 4),
        handoff=HANDOFF_NONE,
    )
    if declaration is not None:
        block["declaration"] = declaration
    return block


def guide_payload(service_id: str, section: str | None = None) -> str:
    """A button payload that asks for one service (and section) without NLU."""
    entities = {"service_id": service_id}
    if section:
        entities["section"] = section
    inner = ", ".join(f'"{k}": "{v}"' for k, v in entities.items())
    return ASK_GUIDE + "{" + inner + "}"


class Button(BaseModel):
    title: str
    payload: str


class BotMessage(BaseModel):
    text: str | None = None
    buttons: list[Button] = Field(default_factory=list)
    custom: dict[str, Any] = Field(default_factory=dict)


class Turn(BaseModel):
    """The contract's turn block as the gateway answers it."""

    outcome: Outcome
    service_id: str | None = None
    section: str | None = None
    candidates: list[str] = Field(default_factory=list)
    intent: str | None = None
    confidence: float = 0.0
    handoff: HandoffState = HANDOFF_NONE
    declaration: dict[str, Any] | None = None

    @model_serializer(mode="wrap")
    def _omit_no_declaration(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if data.get("declaration") is None:
            data.pop("declaration", None)  # only declaration turns carry the block
        return data

    @classmethod
    def from_action(cls, block: dict[str, Any]) -> Turn:
        """The action's report as the contract's block (a turn without one said nothing we know)."""
        if block.get("outcome") not in OUTCOMES:
            return cls(outcome=OUT_OF_SCOPE)
        turn = cls.model_validate(block)
        if turn.outcome not in WITH_SERVICE:
            turn.service_id = turn.section = None
        return turn


class ChatReply(BaseModel):
    sender_id: str
    conversation_token: str | None = None  # only on the turn that started the conversation
    messages: list[BotMessage]
    turn: Turn

    @model_serializer(mode="wrap")
    def _omit_no_token(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if data.get("conversation_token") is None:
            data.pop("conversation_token", None)
        return data
