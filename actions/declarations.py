"""Rasa adapters of smart declarations: start (or resume), the form's validation, the wrap-up.

The interview is the Rasa form `declaration_form`; `ValidateDeclarationForm` is its one generic
FormValidationAction, whose required slots (`dq_<field>`) come from the declaration's data file.
It asks every question itself (the domain has no `utter_ask_*`), so the question's wording, buttons
and the turn block come from one place. The form ends by setting `requested_slot` to None; the rule
in bot/data/rules/declarations.yml then runs `action_declaration_end`, which submits, pauses or
cancels and says so.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import constants as c
from actions.declaration_service import (
    DeclarationService,
    Message,
    Step,
    answers_from_slots,
    is_request,
    looks_like_question,
    slot,
)
from actions.guide_service import Context
from actions.services import services
from actions.turns import report
from contract.turn import (
    ANSWER,
    CLARIFY,
    DECLARATION,
    HANDOFF,
    OUT_OF_SCOPE,
    Outcome,
    guide_payload,
)
from declarations import interview as iv
from declarations.interview import CONFIRM, Progress
from declarations.schema import Declaration
from knowledge_base.search import SearchError

log = logging.getLogger(__name__)

REQUESTED_SLOT = "requested_slot"


def _say(dispatcher: CollectingDispatcher, messages: list[Message]) -> None:
    for m in messages:
        if m.custom:
            dispatcher.utter_message(text=m.text, buttons=m.buttons, json_message=m.custom)
        else:
            dispatcher.utter_message(text=m.text, buttons=m.buttons)


def _report(dispatcher: CollectingDispatcher, tracker: Tracker, outcome: Outcome, *,
            decl: Declaration | None = None, block: dict[str, Any] | None = None,
            candidates: list[str] | None = None) -> None:
    """The turn block of a declaration turn: it names the declaration's service."""
    report(dispatcher, tracker, outcome, service_id=decl.service_id if decl else None,
           candidates=candidates, declaration=block)


def _reset(decl: Declaration | None) -> list[EventType]:
    """Clear the answers of a declaration (before a new one, or once one ended)."""
    if decl is None:
        return []
    return [SlotSet(slot(f), None) for f in [q.field for q in iv.questions(decl)] + [CONFIRM]]


def _progress(tracker: Tracker) -> tuple[Declaration | None, Progress | None]:
    progress = Progress.from_dict(tracker.get_slot(c.SLOT_DECLARATION))
    decl = services().declarations.catalog.get(progress.id) if progress else None
    return decl, progress


def _context(tracker: Tracker) -> Context:
    return Context(service_id=tracker.get_slot(c.SLOT_SERVICE), section=tracker.get_slot(c.SLOT_SECTION))


def _service_in(tracker: Tracker, text: str) -> str | None:
    """The service a request is about: the guide search's answer, else the conversation's."""
    ctx = tracker.get_slot(c.SLOT_SERVICE)
    try:
        reply = services().guides.decide(text, _context(tracker))
    except SearchError:
        return ctx
    return reply.service_id if reply.outcome == ANSWER and reply.service_id else ctx


def _restore(decl: Declaration, answers: dict[str, Any], progress: Progress) -> list[EventType]:
    events = _reset(decl)
    events += [SlotSet(slot(f), v) for f, v in answers.items() if v is not None and f != CONFIRM]
    events.append(SlotSet(c.SLOT_DECLARATION, progress.to_dict()))
    return events


async def start(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
    """A request to fill in, resume or look up a declaration (intent `declare`, or the words)."""
    svc: DeclarationService = services().declarations
    text = (tracker.latest_message.get("text") or "").strip()
    entity = next(tracker.get_latest_entity_values(c.ENTITY_DECLARATION), None)
    if not entity and not is_request(text):  # is_request covers resume and look-up words too
        return []  # NLU heard a request, the words do not make one: the caller answers the question
    if not entity and svc.is_query(text) and not svc.is_resume(text):
        return _query(dispatcher, tracker, svc, text)
    old_decl, _ = _progress(tracker)
    if not entity and svc.is_resume(text):
        target, bad_code = svc.resume_target(text, tracker.sender_id)
        if target is None:
            why = ("没有找到这个续办码对应的未完成申报（可能已提交、已取消或已过期），请核对后再试。"
                   if bad_code else "没有找到您未完成的申报。")
            dispatcher.utter_message(text=why)
            menu = svc.menu()
            dispatcher.utter_message(text=menu.text, buttons=menu.buttons)
            _report(dispatcher, tracker, CLARIFY)
            return []
        decl = svc.catalog.get(target.declaration_id)
        progress = Progress.from_dict(target.progress)
        if decl is None or progress is None:
            dispatcher.utter_message(text="这份申报的事项已下线，无法继续，请重新开始。")
            _report(dispatcher, tracker, OUT_OF_SCOPE)
            return []
        if target.sender_id != tracker.sender_id:  # resumed from another channel with the 续办码
            target.sender_id = tracker.sender_id
            svc.store.save(target)
        progress.status, progress.reason, progress.draft_id = "asking", None, target.id
        dispatcher.utter_message(text=f"已为您恢复“{decl.title}”的申报，接着上次的地方继续。")
        return [*_reset(old_decl), *_restore(decl, dict(target.answers), progress),
                SlotSet(c.SLOT_SERVICE, decl.service_id), FollowupAction(c.FORM_DECLARATION)]
    decl = svc.pick(text, entity=str(entity) if entity else None)
    service_id: str | None = None
    if decl is None:
        service_id = _service_in(tracker, text)
        decl = svc.catalog.for_service(service_id) if service_id else None
    if decl is None:
        menu = svc.menu()
        guide = services().kb.get(service_id) if service_id else None
        if guide is not None:  # asked to fill in a service we cannot declare yet
            dispatcher.utter_message(text=f"“{guide.title}”目前还不能在小申里智能申报，可以先看它的办事指南。",
                                     buttons=[{"title": "查看办事指南",
                                               "payload": guide_payload(guide.id, "overview")}])
        dispatcher.utter_message(text=menu.text, buttons=menu.buttons)
        _report(dispatcher, tracker, CLARIFY,
               candidates=[d.service_id for d in svc.catalog.declarations.values()])
        return []
    progress = Progress(id=decl.id)
    dispatcher.utter_message(text=decl.intro)
    return [*_reset(old_decl), *_reset(decl), SlotSet(c.SLOT_DECLARATION, progress.to_dict()),
            SlotSet(c.SLOT_SERVICE, decl.service_id), FollowupAction(c.FORM_DECLARATION)]


def _query(dispatcher: CollectingDispatcher, tracker: Tracker, svc: DeclarationService,
           text: str) -> list[EventType]:
    """查询申报 <编号>: only the conversation that made it sees it (others learn nothing)."""
    ref = svc.query_ref(text) or tracker.get_slot(c.SLOT_DECLARATION_REF)
    record = svc.store.by_ref(ref) if ref else None
    if record is None or record.sender_id != tracker.sender_id:
        dispatcher.utter_message(text="没有找到这个申报编号对应的申报。申报记录只能在提交它的对话里查询；"
                                      "请核对编号（形如 XS20261202-ABC234）。")
        _report(dispatcher, tracker, OUT_OF_SCOPE)
        return []
    decl = svc.catalog.get(record.declaration_id)
    for m in svc.result_messages(decl, record):
        _say(dispatcher, [m])
    _report(dispatcher, tracker, DECLARATION, decl=decl,
           block={"id": record.declaration_id, "status": "done", "field": None, "ref": record.ref})
    return []


class ActionDeclarationStart(Action):
    """帮我申报… / 我要办… / 续办 <码> / 查询申报 <编号>, or the button under a guide answer."""

    def name(self) -> str:
        return c.ACTION_DECLARATION_START

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        events = await start(dispatcher, tracker)
        if not dispatcher.messages:  # a question after all: answered here, in the same action (a
            # follow-up action would leave the rule unfinished and Rasa predicting this one again)
            from actions.actions import ActionAnswerGuide  # actions.actions imports this module

            return await ActionAnswerGuide().run(dispatcher, tracker, domain)
        return events


class ValidateDeclarationForm(FormValidationAction):
    """The generic validation of every declaration: one question at a time, from the data file."""

    def name(self) -> str:
        return c.VALIDATE_DECLARATION_FORM

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> list[str]:
        """The declaration's applicable questions as slots, then the confirmation."""
        decl, _ = _progress(tracker)
        if decl is None:
            return domain_slots
        answers = answers_from_slots(decl, tracker.slots)
        return [slot(q.field) for q in iv.visible(decl, answers)] + [slot(CONFIRM)]

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        svc: DeclarationService = services().declarations
        decl, progress = _progress(tracker)
        if decl is None or progress is None:
            dispatcher.utter_message(text="这次申报的进度找不到了，请说“帮我申报”重新开始。")
            _report(dispatcher, tracker, CLARIFY)
            return [SlotSet(REQUESTED_SLOT, None), SlotSet(c.SLOT_DECLARATION, None)]
        answers = answers_from_slots(decl, tracker.slots)
        requested = tracker.get_slot(REQUESTED_SLOT)
        text = (tracker.latest_message.get("text") or "").strip()
        guide_reply = None
        if requested is None:
            step = svc.begin(decl, answers, progress)
        else:
            asking = str(requested).removeprefix("dq_")
            answers[asking] = None  # the slot holds the raw words until they are checked
            guide_reply = _guide_answer(tracker, text)
            step = svc.turn(decl, answers, progress, asking, text, answers_guide=guide_reply is not None)
            if asking not in step.changes:
                step.changes[asking] = None
        if step.guide_text and guide_reply is not None:
            dispatcher.utter_message(text=guide_reply.text, buttons=guide_reply.buttons)
        merged = {**answers, **step.changes}
        progress.draft_id = svc.save(step, merged, tracker.sender_id, progress.draft_id)
        events: list[EventType] = [SlotSet(slot(f), v) for f, v in step.changes.items()]
        events.append(SlotSet(c.SLOT_DECLARATION, progress.to_dict()))
        if step.asking is None:
            return [*events, SlotSet(REQUESTED_SLOT, None)]  # the wrap-up action speaks
        _say(dispatcher, step.messages)
        _report(dispatcher, tracker, DECLARATION, decl=decl, block=step.block())
        return [*events, SlotSet(REQUESTED_SLOT, slot(step.asking))]


def _guide_answer(tracker: Tracker, text: str) -> Any:
    """A confident guide answer to a question asked in the middle of an interview, else None."""
    if not looks_like_question(text):
        return None
    try:
        reply = services().guides.decide(text, _context(tracker), strict=True)
    except SearchError:
        return None
    return reply if reply.outcome == ANSWER else None


class ActionDeclarationEnd(Action):
    """After the form: submit (申报编号 + checklist), pause (续办码), hand over, or cancel."""

    def name(self) -> str:
        return c.ACTION_DECLARATION_END

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        svc: DeclarationService = services().declarations
        decl, progress = _progress(tracker)
        if decl is None or progress is None:
            return []
        answers = answers_from_slots(decl, tracker.slots)
        step = Step(decl, progress)
        if progress.status == "submitting":
            record = svc.submit(decl, answers, progress, progress.draft_id, tracker.sender_id)
            _say(dispatcher, svc.result_messages(decl, record))
            _report(dispatcher, tracker, DECLARATION, decl=decl, block=step.block())
            return [*_reset(decl), SlotSet(c.SLOT_DECLARATION, None),
                    SlotSet(c.SLOT_DECLARATION_REF, record.ref)]
        svc.save(step, answers, tracker.sender_id, progress.draft_id)
        if progress.status == "paused":
            dispatcher.utter_message(text=svc.paused_text(decl, progress))
            if progress.reason == "handoff":
                dispatcher.utter_message(response="utter_handoff")
                _report(dispatcher, tracker, HANDOFF, decl=decl, block=step.block())
            else:
                _report(dispatcher, tracker, DECLARATION, decl=decl, block=step.block())
            return [SlotSet(c.SLOT_DECLARATION, progress.to_dict())]
        # cancelled: by the user, or ruled out by an answer (a stop's reason)
        cancelled = "好的，已取消本次申报，填写的信息不会提交。需要时可以随时重新开始。"
        dispatcher.utter_message(text=progress.reason or cancelled,
                                 buttons=[{"title": "查看办事指南",
                                           "payload": guide_payload(decl.service_id, "overview")}])
        _report(dispatcher, tracker, DECLARATION, decl=decl, block=step.block())
        return [*_reset(decl), SlotSet(c.SLOT_DECLARATION, None)]
