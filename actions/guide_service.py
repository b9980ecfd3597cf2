"""Deciding how to answer a guide question: answer a section, ask which service, or say no.

Kept free of Rasa types so it can be tested directly; actions.actions turns the reply into
messages, slot events and the turn block.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

from contract.turn import ANSWER, ASK_HUMAN, CLARIFY, OUT_OF_SCOPE, Outcome, guide_payload
from knowledge_base.constants import SECTION_TITLES, SECTIONS
from knowledge_base.engine import Candidate, KnowledgeBase, decide
from knowledge_base.normalize import normalize
from knowledge_base.scope import elsewhere, uncovered_objects
from knowledge_base.sections import detect_section, mentions_name, warm_up

# When NLU judged the message out of scope, only a near-certain guide match is answered.
STRICT_ANSWER_MIN: Final = 0.85
# Reported confidence of a follow-up answered from the conversation's context.
FOLLOW_UP_CONFIDENCE: Final = 0.8
MAX_ANSWER_CHARS: Final = 420

_CORRECTION = re.compile(
    r"(不是这个|不是这|不对|搞错|错了|我问的是|我说的是|我想问的是|不是问|not this|wrong)")


@dataclass
class Context:
    """What the conversation already knows (from slots)."""

    service_id: str | None = None
    section: str | None = None
    pending_section: str | None = None
    candidates: list[str] = field(default_factory=list)


@dataclass
class Reply:
    """What the bot says to a guide question, and what it decided."""

    outcome: Outcome  # answer | clarify | out_of_scope
    service_id: str | None = None
    section: str | None = None
    confidence: float = 0.0
    candidates: list[Candidate] = field(default_factory=list)
    text: str = ""
    buttons: list[dict[str, str]] = field(default_factory=list)
    card: dict[str, object] | None = None


def _shorten(text: str, limit: int = MAX_ANSWER_CHARS) -> str:
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, limit)
    return (text[: cut if cut > limit // 2 else limit]).rstrip() + "\n……（点击“查看完整指南”了解更多）"


class GuideService:
    """Answers guide questions from a KnowledgeBase."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        warm_up()  # train the section classifier at load time, not on a user's first question

    def answer(self, service_id: str, section: str, confidence: float,
               candidates: list[Candidate]) -> Reply:
        guide = self.kb.get(service_id)
        if guide is None:
            return self.out_of_scope(candidates)
        body = _shorten(guide.section(section))
        text = f"【{guide.title}】{SECTION_TITLES[section]}\n{body}"
        buttons = [
            {"title": SECTION_TITLES[s], "payload": guide_payload(service_id, s)}
            for s in SECTIONS
            if s != section
        ]
        card: dict[str, object] = {
            "type": "guide",
            "service_id": guide.id,
            "title": guide.title,
            "section": section,
            "sections": {s: SECTION_TITLES[s] for s in SECTIONS},
        }
        return Reply(ANSWER, service_id, section, confidence, candidates, text, buttons, card)

    def clarify(self, choices: list[Candidate], section: str | None) -> Reply:
        buttons = [
            {"title": c.title, "payload": guide_payload(c.service_id, section)} for c in choices
        ]
        buttons.append({"title": "都不是，转人工", "payload": ASK_HUMAN})
        text = "您想咨询的是下面哪一项？请点选："
        return Reply(CLARIFY, None, None, choices[0].score if choices else 0.0, choices,
                        text, buttons)

    def unavailable(self) -> Reply:
        """The reply when the knowledge base cannot be searched right now."""
        text = ("抱歉，办事指南查询暂时不可用。您可以稍后再问，或者转人工客服（店小二），"
                "也可以拨打 12345 市民服务热线。")
        return Reply(OUT_OF_SCOPE, None, None, 0.0, [], text,
                        [{"title": "转人工客服", "payload": ASK_HUMAN}])

    def out_of_scope(self, candidates: list[Candidate]) -> Reply:
        text = (
            "抱歉，这个问题我暂时没有找到对应的办事指南。您可以换个说法再问我，"
            "或者转人工客服（店小二）为您解答，也可以拨打 12345 市民服务热线。"
        )
        buttons = [{"title": "转人工客服", "payload": ASK_HUMAN}]
        return Reply(OUT_OF_SCOPE, None, None,
                        candidates[0].score if candidates else 0.0, candidates, text, buttons)

    def elsewhere(self, place: str, candidates: list[Candidate]) -> Reply:
        """Another place's version of a service: ours are Shanghai's, so say so rather than answer."""
        text = (f"抱歉，小申只能解答上海市的政务服务，{place}的办理规定请咨询当地的政务服务平台或热线。"
                "如果您想问的是在上海怎么办，请告诉我具体事项；也可以转人工客服（店小二）。")
        return Reply(OUT_OF_SCOPE, None, None, 0.0, candidates, text,
                     [{"title": "转人工客服", "payload": ASK_HUMAN}])

    def not_covered(self, objects: list[str], near: Candidate, candidates: list[Candidate]) -> Reply:
        """The question names a licence, permit … that the best guide does not deal with: say so,
        and offer the near guide as a choice rather than answering with it."""
        text = (f"抱歉，您问的“{objects[0]}”不在小申目前能解答的事项里，我不想用不相干的指南误导您。"
                "您可以转人工客服（店小二），或拨打 12345 市民服务热线咨询。"
                f"如果您想问的其实是【{near.title}】，请点选下面的按钮。")
        buttons = [{"title": near.title, "payload": guide_payload(near.service_id)},
                   {"title": "转人工客服", "payload": ASK_HUMAN}]
        return Reply(OUT_OF_SCOPE, None, None, near.score, candidates, text, buttons)

    def decide(self, text: str, ctx: Context, *, service_hint: str | None = None,
               section_hint: str | None = None, strict: bool = False) -> Reply:
        """Decide the reply to one user message.

        service_hint/section_hint come from a button; strict is set when NLU thought the message
        was out of scope, so only a clearly matching guide is answered.
        """
        if section_hint not in SECTIONS:
            section_hint = None  # a typed or stale payload naming no section of ours
        if service_hint and self.kb.get(service_hint) is not None:
            chosen = section_hint or ctx.pending_section or "overview"
            return self.answer(service_hint, chosen, 1.0, [])
        candidates = self.kb.rank(text)
        place = elsewhere(text)
        if place is not None:
            return self.elsewhere(place, candidates)
        correcting = bool(_CORRECTION.search(normalize(text)))
        if correcting and ctx.service_id:
            candidates = [c for c in candidates if c.service_id != ctx.service_id]
        verdict = decide(candidates)
        top = candidates[0] if candidates else None
        # The section cue is read with the likely service's own names taken out.
        names = self._names(top.service_id) if top else []
        section = section_hint or detect_section(text, names)

        follow_up = bool(ctx.service_id) and section is not None and not correcting and not strict
        if verdict.outcome == ANSWER and top and (not strict or top.score >= STRICT_ANSWER_MIN):
            objects = uncovered_objects(text, self._text(top.service_id))
            if objects:
                return self.not_covered(objects, top, candidates)
            # In a conversation, a bare section question ("有效期多久", "how long does it take")
            # stays with the service under discussion unless it names the new service or the
            # match is near-certain: a few generic words must not switch the topic.
            if not (follow_up and top.service_id != ctx.service_id
                    and top.score < STRICT_ANSWER_MIN
                    and not mentions_name(text, names)):
                return self.answer(top.service_id, section or "overview", top.score, candidates)
        # A follow-up ("那要多久？") about the service under discussion: it asks a section and
        # names no other service clearly enough to answer for it.
        if follow_up and ctx.service_id and section is not None:
            names = self._names(ctx.service_id)
            return self.answer(ctx.service_id, detect_section(text, names) or section,
                               FOLLOW_UP_CONFIDENCE, candidates)
        if verdict.outcome == CLARIFY and not strict:
            return self.clarify(verdict.candidates, section)
        return self.out_of_scope(candidates)

    def _text(self, service_id: str) -> str:
        """Everything a guide says (names and sections), to check what it deals with."""
        guide = self.kb.get(service_id)
        if guide is None:
            return ""
        return "\n".join([guide.title, *guide.aliases, *guide.sample_questions,
                          *(guide.section(s) for s in SECTIONS)])

    def _names(self, service_id: str) -> list[str]:
        guide = self.kb.get(service_id)
        return [guide.title, *guide.aliases] if guide else []
