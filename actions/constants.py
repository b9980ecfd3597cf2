"""Names of intents, slots and actions, shared with bot/domain.yml (turn names: contract.turn)."""

from __future__ import annotations

from typing import Final

from contract.turn import INTENT_ASK_HUMAN as INTENT_ASK_HUMAN  # re-exported

# intents
INTENT_ASK_GUIDE: Final = "ask_guide"
INTENT_OUT_OF_SCOPE: Final = "out_of_scope"
INTENT_NLU_FALLBACK: Final = "nlu_fallback"
INTENT_AFFIRM: Final = "affirm"
INTENT_DENY: Final = "deny"
INTENT_COMPLAIN: Final = "complain"
# Small talk intents and the response each is answered with.
SMALLTALK_RESPONSES: Final = {
    "greet": "utter_greet",
    "goodbye": "utter_goodbye",
    "thank": "utter_thank",
    "bot_challenge": "utter_iamabot",
}

# slots
SLOT_SERVICE: Final = "service_id"
SLOT_SECTION: Final = "section"
SLOT_CANDIDATES: Final = "candidates"
SLOT_PENDING_SECTION: Final = "pending_section"
SLOT_MISSES: Final = "misses"
SLOT_HANDOFF_OFFERED: Final = "handoff_offered"  # the bot just asked "shall I find a person?"
# Low-confidence or out-of-scope turns in a row before the bot offers a person first.
MISSES_BEFORE_OFFER: Final = 2

# entities (set by button payloads such as /ask_guide{"service_id": "…", "section": "…"})
ENTITY_SERVICE: Final = "service_id"
ENTITY_SECTION: Final = "section"

# actions
ACTION_ANSWER_GUIDE: Final = "action_answer_guide"
ACTION_HANDOFF: Final = "action_handoff"
ACTION_AFFIRM: Final = "action_affirm"
ACTION_DENY: Final = "action_deny"
ACTION_SMALLTALK: Final = "action_smalltalk"

# smart declarations (actions/declarations.py; the form's question slots are dq_<field>)
INTENT_DECLARE: Final = "declare"
ENTITY_DECLARATION: Final = "declaration"
SLOT_DECLARATION: Final = "declaration"  # the interview's Progress (declarations.interview)
SLOT_DECLARATION_REF: Final = "declaration_ref"  # the conversation's last 申报编号
FORM_DECLARATION: Final = "declaration_form"
ACTION_DECLARATION_START: Final = "action_declaration_start"
VALIDATE_DECLARATION_FORM: Final = "validate_declaration_form"
ACTION_DECLARATION_END: Final = "action_declaration_end"
