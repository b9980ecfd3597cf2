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
from knowledge_base.question import question_clauses
from knowledge_base.scope import (
    case_status,
    commercial,
    elsewhere,
    errand,
    household,
    names_neighbour,
    role_play,
    uncovered_objects,
)
from knowledge_base.sections import detect_section, fold, mentions_name, read_section, strip_names, warm_up

# When NLU judged the message out of scope, only a near-certain guide match is answered.
STRICT_ANSWER_MIN: Final = 0.85
# Reported confidence of a follow-up answered from the conversation's context.
FOLLOW_UP_CONFIDENCE: Final = 0.8
# A guide this likely is offered beside "not something I can answer" for a licence it does not cover.
NEAR_GUIDE_MIN: Final = 0.1
# A correction ("不对，是…") answers the guide that clearly leads what remains: this likely, and this
# many times the next one.
CORRECTION_MIN: Final = 0.1
CORRECTION_LEAD: Final = 2.5
NAMED_ANSWER_MIN: Final = 0.25
"""Below this the one plausible guide, though the question names it, is offered, not answered, unless
the user is steering within a conversation: on the tuning sets all 11 such answers were wrong, 10 of
them about a service next to ours (老车报废的注销登记, 养老金发放银行)."""
MAX_ANSWER_CHARS: Final = 420

# A correction names another service than the one under discussion: that one is set aside.
_CORRECTION = re.compile(
    r"(不是这个|不是这|不对|勿对|弗对|搞错|搞混|错了|我问的是|我说的是|我想问的是|不是问|not this|wrong"
    r"|\bi meant\b"
    r"|(勿|弗|不)是(迭个|格个|这个|那个)|我(说|问|想问)的其实是"
    r"|^\W{0,2}(啊|哦|噢|呃|嗯)?\W?(不是|弗是|勿是)[^，,。\s]{0,12}[，,\s]+(我|是|要|其实))")
# In a correction, what is set aside ("…是身份证，不是社保卡", "not the ID card"): ranked without it.
_NEGATED = re.compile(r"(?:而不是|不是|勿是|弗是|\bnot(?: the| a| an| my)?)\s?[^，,。；;！!？?\s]{1,12}",
                      re.IGNORECASE)
# A detail about a person, then "can they apply?": eligibility of the service under discussion,
# whatever else the details happen to match (户口, 退休金 …).
_ABOUT_SOMEONE = re.compile(
    r"(他|她|伊|我|侬|阿拉|家里|老人|孩子|小孩|小囡|囡囡|儿子|女儿|外婆|奶奶|爷爷|外公|邻居|朋友|老公|老婆"
    r"|爸|妈|公司).{0,40}(能|可以|好|够|符合|有没有).{0,6}(领|申请|办|报|拿|享受|条件|资格|登记|参保|报名|落户|贷"
    r"|退休|入学|评估)"
    r"|\b(can|could|may) (he|she|i|they|we|my \w+)( still)? (apply|get|qualify|claim)"
    r"|\b(is|am|are) (he|she|i|they|we|my \w+) (eligible|qualified)", re.IGNORECASE)
# Something the person already holds or did, named as a detail: 有居住证, 持有上海居住证, 办了残疾证; or
# what they are (我是灵活就业, 交的是城乡居民医保): a detail, not the service asked about.
_HELD = re.compile(r"(?:有|持有|持|办了|办好了|拿到了?|领了|交了"
                   r"|(?:我|他|她|伊|阿拉|我们|老人|爷爷|奶奶|外婆|外公|爸|妈|老公|老婆)(?:是|属于)|(?:交|参加|参|买)的是)"
                   r"(?:上海|本市)?(?:的)?[^，,。？?！!\s]{2,8}")
# A switch asks the same thing about another service ("X呢？", "what about X?", "sorry, I meant
# X"): the section under discussion carries over when the message asks none of its own.
_SWITCH = re.compile(
    r"(呢\W*$|^\W*(and |so |ok,? )?(what|how) about|i meant|actually|^\W*sorry"
    r"|^\W*(and|also|plus) (the |for )"
    r"|我是想问|我是问|那\S{1,12}的话)", re.IGNORECASE)
# What a title says besides the thing itself when it is a family's basic guide: the city, applying.
_FAMILY_FILLER: Final = re.compile(r"上海市|上海|本市|申领|申请|办理|[（）()“”、\s]")


def _cjk_pieces(text: str, shortest: int = 2, longest: int = 8) -> list[str]:
    """Every run of 2–8 Chinese characters inside the text."""
    runs = re.findall(r"[\u4e00-\u9fff]+", text)
    return [run[i : i + n] for run in runs for n in range(shortest, min(longest, len(run)) + 1)
            for i in range(len(run) - n + 1)]


# What may be left of a message that only names a service: filler and punctuation.
_BARE = re.compile(r"(?:[\s，,。.!?！？~、]|那|那么|是|就是|还是|换成|改成|要|的|吧|啊|呀|哦|了)*")


def only_names(text: str, names: list[str]) -> bool:
    """The message is one of these names and nothing else that asks something (简易注销, 是简易注销吧)."""
    return bool(_BARE.fullmatch(strip_names(fold(text), names)))


def is_switch(text: str) -> bool:
    """The same question asked of another service ("X呢？", "what about X?")."""
    return bool(_SWITCH.search(text))


# Sections that name other licences and documents as what one brings or must hold (a 建设工程规划
# 许可证 among the 施工许可's materials): naming one there does not make it this guide's service.
_PREREQUISITES: Final = frozenset({"materials", "eligibility"})


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
    search_down: bool = False  # the knowledge base could not be searched (the reply offers a person)


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
               candidates: list[Candidate], *, tentative: bool = False) -> Reply:
        """A section of a guide; `tentative` when the bot is not sure this is the guide meant: the
        reply says so and offers the way out (another guide, a person) before the other sections."""
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
        if tentative:
            text = f"您问的可能是【{guide.title}】，如果不是，请换个说法或转人工客服。\n{text}"
            others = [c for c in candidates if c.service_id != service_id][:2]
            buttons = [*({"title": c.title, "payload": guide_payload(c.service_id, section)} for c in others),
                       {"title": "都不是，转人工", "payload": ASK_HUMAN}, *buttons]
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

    def unsure(self, choice: Candidate, candidates: list[Candidate], section: str | None) -> Reply:
        """One guide came near but not near enough: no "which one?" with a single option (most such
        questions are about a service next to ours). Say so and offer it, and a person."""
        text = ("抱歉，这个问题小申没有把握找到对应的办事指南，不想用不相干的指南误导您。"
                f"如果您问的是【{choice.title}】，请点选下面的按钮；"
                "也可以转人工客服（店小二），或拨打 12345 市民服务热线。")
        buttons = [{"title": choice.title, "payload": guide_payload(choice.service_id, section)},
                   {"title": "转人工客服", "payload": ASK_HUMAN}]
        return Reply(OUT_OF_SCOPE, None, None, choice.score, candidates, text, buttons)

    def unavailable(self) -> Reply:
        """The reply when the knowledge base cannot be searched right now."""
        text = ("抱歉，办事指南查询暂时不可用。您可以稍后再问，或者转人工客服（店小二），"
                "也可以拨打 12345 市民服务热线。")
        return Reply(OUT_OF_SCOPE, None, None, 0.0, [], text,
                     [{"title": "转人工客服", "payload": ASK_HUMAN}], search_down=True)

    def out_of_scope(self, candidates: list[Candidate]) -> Reply:
        text = (
            "抱歉，这个问题我暂时没有找到对应的办事指南。您可以换个说法再问我，"
            "或者转人工客服（店小二）为您解答，也可以拨打 12345 市民服务热线。"
        )
        buttons = [{"title": "转人工客服", "payload": ASK_HUMAN}]
        return Reply(OUT_OF_SCOPE, None, None,
                        candidates[0].score if candidates else 0.0, candidates, text, buttons)

    def no_recommendation(self) -> Reply:
        """A request to recommend or vouch for a private provider (an agent, a bank, a 猎头)."""
        text = ("抱歉，小申只解答政务服务怎么办理，不推荐、也不评价商业机构、中介和产品。"
                "办事方面的问题欢迎问我；也可以转人工客服（店小二），或拨打 12345 市民服务热线。")
        return Reply(OUT_OF_SCOPE, None, None, 1.0, [], text,
                     [{"title": "转人工客服", "payload": ASK_HUMAN}])

    def marked_out_of_scope(self) -> Reply:
        """A question the editors marked as not a service of ours: say so plainly, no guesses."""
        text = ("抱歉，这个问题不属于小申能解答的上海政务服务事项，我不想用不相干的指南误导您。"
                "您可以转人工客服（店小二），或拨打 12345 市民服务热线咨询。")
        return Reply(OUT_OF_SCOPE, None, None, 1.0, [], text,
                     [{"title": "转人工客服", "payload": ASK_HUMAN}])

    def elsewhere(self, place: str, candidates: list[Candidate]) -> Reply:
        """Another place's version of a service: ours are Shanghai's, so say so rather than answer."""
        if place.isascii():  # as found in the folded text: "us", "california"
            place = place.upper() if len(place) <= 3 else place.title()
        text = (f"抱歉，小申只能解答上海市的政务服务，{place}的办理规定请咨询当地的政务服务平台或热线。"
                "如果您想问的是在上海怎么办，请告诉我具体事项；也可以转人工客服（店小二）。")
        return Reply(OUT_OF_SCOPE, None, None, 0.0, candidates, text,
                     [{"title": "转人工客服", "payload": ASK_HUMAN}])

    def case_status(self, candidates: list[Candidate]) -> Reply:
        """A question about the asker's own application or payment: no guide knows their file, so
        say where they can see it instead of answering the guide's general rules as if about it."""
        text = ("抱歉，小申看不到个人办件的进度和结果（审核到哪一步、退回或不通过的原因、款项是否到账等）。"
                "您可以登录「一网通办」网站或「随申办」App，在“我的办件”里按受理编号查看进度和办理意见；"
                "需要进一步了解，请联系受理部门，或转人工客服（店小二），也可拨打 12345 市民服务热线。")
        buttons = [{"title": "转人工客服", "payload": ASK_HUMAN}]
        if candidates:
            near = candidates[0]
            buttons.append({"title": f"{near.title}：办理时限",
                            "payload": guide_payload(near.service_id, "time_limit")})
        return Reply(OUT_OF_SCOPE, None, None, candidates[0].score if candidates else 0.0, candidates,
                     text, buttons)

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
        # 食品精营许可证 → 食品经营许可证: a slip of the pinyin keyboard is read as the word meant.
        text = self.kb.segmenter.respell(text)
        if self.kb.rules.marked_out_of_scope(text) is not None:
            return self.marked_out_of_scope()
        if role_play(text):
            return self.out_of_scope([])
        if commercial(text):
            return self.no_recommendation()
        if errand(text):
            return self.out_of_scope([])
        correcting = bool(_CORRECTION.search(normalize(text)))
        kept = _NEGATED.sub("，", text) if correcting else text
        candidates = self.kb.rank(kept if kept.strip("，, ") else text)
        place = elsewhere(text)
        if place is not None:
            return self.elsewhere(place, candidates)
        if case_status(text):
            return self.case_status(candidates)
        if correcting and ctx.service_id:
            candidates = [c for c in candidates if c.service_id != ctx.service_id]
        verdict = decide(candidates)
        top = candidates[0] if candidates else None
        # The section cue is read with the likely service's own names taken out.
        names = self._names(top.service_id) if top else []
        reading = read_section(text, names)
        asked = section_hint or reading.section
        # "这个你能查吗" is no follow-up: a whether-question alone does not tie a message to the guide.
        follow_up = (bool(ctx.service_id) and asked is not None and not correcting and not strict
                     and (section_hint is not None or reading.source != "whether"))
        section = asked
        # A bare name ("简易注销" after "公司注销要准备什么材料") switches as "简易注销呢" would.
        switching = is_switch(text) or bool(ctx.service_id and names and only_names(text, names))
        if ctx.section and not section_hint and (correcting or switching):
            # "不对，是个体户" / "一业一证呢？" keep asking what was asked, unless a section is
            # named outright (a classifier's guess from the rest of the sentence is not enough).
            if asked is None or reading.source == "classifier":
                section = ctx.section
        if (ctx.service_id and asked == "eligibility" and not correcting and top
                and _ABOUT_SOMEONE.search(text) and not self._names_title(text, top.service_id)):
            return self.answer(ctx.service_id, "eligibility", FOLLOW_UP_CONFIDENCE, candidates)
        if top and (verdict.outcome in (ANSWER, CLARIFY) or top.score >= NEAR_GUIDE_MIN):
            # A licence, permit … or procedure the likeliest guide never mentions is not ours,
            # however well the rest of the question matches: say so rather than answer or ask
            # (and rather than "no guide found" when a near guide is worth offering).
            sid = top.service_id
            # In a conversation about this guide, the documents and conditions it asks for are its own.
            # A long message's story may name things the question does not ask about (律师说先报警…
            # 办残疾人证的流程是什么): when its asking clauses name the guide, only they are looked at.
            asking = question_clauses(text)
            objects = uncovered_objects(asking if asking and self._names_fully(asking, sid) else text,
                                        self._text(sid, full=sid == ctx.service_id),
                                        self._text(sid, full=True), self._names(sid),
                                        self._text(sid, samples=False), documents_asked=asked == "materials",
                                        prerequisites=self._prerequisites(sid))
            if not objects and (home := household(text)) and self._for_enterprises(sid):
                objects = [home]  # a household's electricity or gas, asked of a company's connection
            if objects:
                other = self._named_by(objects, candidates[1:])
                if other is not None:
                    # "…想问一下我们能在上海办结婚登记吗" ranked under 人才引进落户 (the story's 户口):
                    # what the first guide lacks is another candidate's very name.
                    asked_of = read_section(text, self._names(other.service_id)).section
                    return self.answer(other.service_id, asked_of or section or "overview", other.score,
                                       candidates, tentative=True)
                return self.not_covered(objects, top, candidates)
        if (correcting and ctx.service_id and top and verdict.outcome != ANSWER and not strict
                and top.score >= CORRECTION_MIN
                and (len(candidates) < 2 or candidates[1].score * CORRECTION_LEAD <= top.score)):
            # "搞错了，我们公司还有欠的税没清完，走不了简易的" after 简易注销: the user has said what it is
            # not, and one guide clearly leads what remains.
            return self.answer(top.service_id, section or "overview", top.score, candidates, tentative=True)
        if verdict.outcome == ANSWER and top and (not strict or top.score >= STRICT_ANSWER_MIN):
            # In a conversation, a bare section question ("有效期多久", "how long does it take")
            # stays with the service under discussion unless it names the new service or the
            # match is near-certain: a few generic words must not switch the topic.
            if not (follow_up and top.service_id != ctx.service_id
                    and top.score < STRICT_ANSWER_MIN
                    and not mentions_name(text, names)):
                return self.answer(top.service_id, section or "overview", top.score, candidates,
                                   tentative=verdict.tentative)
        # A follow-up ("那要多久？") about the service under discussion: it asks a section and
        # names no other service clearly enough to answer for it.
        if follow_up and ctx.service_id and section is not None:
            sid = ctx.service_id
            whole = self._text(sid, full=True)
            if uncovered_objects(text, whole, whole, self._names(sid)):
                # "小区物业乱收费找谁投诉" after 开公司: a complaint the guide does not deal with.
                return self.out_of_scope(candidates)
            names = self._names(ctx.service_id)
            return self.answer(ctx.service_id, detect_section(text, names) or section,
                               FOLLOW_UP_CONFIDENCE, candidates)
        steering = correcting or bool(ctx.service_id and ctx.section and switching)
        if verdict.outcome == CLARIFY and not strict and top and len(verdict.candidates) == 1 \
                and (steering or (top.score >= NAMED_ANSWER_MIN and (
                    self._names_fully(text, top.service_id) or mentions_name(text, names)))):
            # The only plausible guide, and the user steered to it ("不对，是社保卡", "what about
            # buying a house?") or named it in full: a question back with one option would only
            # cost a click.
            return self.answer(top.service_id, section or "overview", top.score, candidates,
                               tentative=True)
        if verdict.outcome == CLARIFY and not strict:
            options = verdict.candidates
            picked = self._named_among(text, options) or self._family_head(text, options) or (
                self._same_theme(ctx.service_id, options) if switching else None)
            if picked is not None:
                # "我想申请居住证积分" names 居住证积分 whole, which holds the 居住证 of its rival; "签注呢？"
                # after 居住证 means 居住证's 签注, not the 港澳 one: answered, with the way out.
                return self.answer(picked.service_id, section or "overview", picked.score, candidates,
                                   tentative=True)
            if len(verdict.candidates) == 1:
                return self.unsure(verdict.candidates[0], candidates, section)
            return self.clarify(verdict.candidates, section)
        return self.out_of_scope(candidates)

    def _named_by(self, objects: list[str], options: list[Candidate]) -> Candidate | None:
        """The first option one of whose names is a thing the question asks for (结婚登记), whole or
        holding a name of at least three letters."""
        for option in options:
            if any(o == n or (len(n) >= 3 and n in o)
                   for o in objects for n in self._folded_names(option.service_id)):
                return option
        return None

    def _named_among(self, text: str, options: list[Candidate]) -> Candidate | None:
        """The option named whole and longest (ties: the better ranked), when every other option
        named lies on the same words (居住证积分 over 申请居住证 in "我想申请居住证积分"); not when the
        ranking's first is not named at all."""
        folded = fold(text)
        found: list[tuple[int, int, int, Candidate]] = []  # start, end, rank, option
        for rank, option in enumerate(options):
            whole = self._whole_names(folded, option.service_id)
            spans = [(folded.find(n), folded.find(n) + len(n)) for n in whole]
            if spans:
                start, end = max(spans, key=lambda span: span[1] - span[0])
                found.append((start, end, rank, option))
        if not found or options[0] not in (option for *_, option in found):
            return None
        start, end, _, best = max(found, key=lambda f: (f[1] - f[0], -f[2]))
        overlapping = all(s0 < end and start < s1 for s0, s1, _, option in found if option is not best)
        return best if overlapping else None

    def _family_head(self, text: str, options: list[Candidate]) -> Candidate | None:
        """The family's basic guide, when the question names only what every option's title holds
        (居住证 of 上海市居住证申领, 居住证积分申请, 居住证签注) and one title adds nothing but applying
        for it: "居住证怎么申请" asks for the permit, not its points or its renewal."""
        if len(options) < 2 or names_neighbour(text):  # 居住证满七年了，居转户…
            return None
        folded = fold(text)
        titles = [fold(g.title) if (g := self.kb.get(o.service_id)) else "" for o in options]
        shared = [n for n in _cjk_pieces(titles[0]) if n in folded and all(n in t for t in titles)]
        if not shared:
            return None
        head = max(shared, key=len)
        rests = [_FAMILY_FILLER.sub("", t.replace(head, "")) for t in titles]
        basic = [i for i, rest in enumerate(rests) if not rest]
        others = "".join(r for i, r in enumerate(rests) if i not in basic)
        if len(basic) != 1 or any(p in folded for p in _cjk_pieces(others, 2, 2)):
            return None
        return options[basic[0]]

    def _same_theme(self, service_id: str | None, options: list[Candidate]) -> Candidate | None:
        """The one option in the theme of the service under discussion, if exactly one is."""
        current = self.kb.get(service_id) if service_id else None
        if current is None:
            return None
        same = [o for o in options if o.service_id != service_id
                and (g := self.kb.get(o.service_id)) is not None and g.theme == current.theme]
        return same[0] if len(same) == 1 else None

    def _for_enterprises(self, service_id: str) -> bool:
        """The guide is for companies alone: it speaks of residents only as whom it is not for (非居民)."""
        guide = self.kb.get(service_id)
        return (guide is not None and guide.audience == "enterprise"
                and "居民" not in self._text(service_id, full=True).replace("非居民", ""))

    def _names_title(self, text: str, service_id: str) -> bool:
        """The text names this service by its title (not merely by a shared alias word), other than as
        something the person already holds ("我有居住证，他能在上海报名吗" asks about 入学)."""
        entry = self.kb.get(service_id)
        return entry is not None and mentions_name(_HELD.sub("，", fold(text)), [entry.title])

    def _names_fully(self, text: str, service_id: str) -> bool:
        """The text holds the guide's title or one of its aliases whole (3+ characters)."""
        return bool(self._whole_names(fold(text), service_id))

    def _whole_names(self, folded: str, service_id: str) -> list[str]:
        """The guide's title and aliases (3+ characters, folded) that the folded text holds whole."""
        return [n for n in self._folded_names(service_id) if len(n) >= 3 and n in folded]

    def _text(self, service_id: str, *, full: bool = False, samples: bool = True) -> str:
        """What a guide says (names, sample questions and sections), to check what it deals with;
        without the documents and conditions it asks for unless `full`."""
        guide = self.kb.get(service_id)
        if guide is None:
            return ""
        return "\n".join([guide.title, *guide.aliases, *(guide.sample_questions if samples else []),
                          *(guide.section(s) for s in SECTIONS if full or s not in _PREREQUISITES)])

    def _prerequisites(self, service_id: str) -> str:
        """The documents and conditions a guide asks for, alone."""
        guide = self.kb.get(service_id)
        return "\n".join(guide.section(s) for s in sorted(_PREREQUISITES)) if guide else ""

    def _folded_names(self, service_id: str) -> list[str]:
        return [fold(n) for n in self._names(service_id)]

    def _names(self, service_id: str) -> list[str]:
        guide = self.kb.get(service_id)
        return [guide.title, *guide.aliases] if guide else []
