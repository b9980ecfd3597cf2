"""One turn of a smart declaration: read the user's words, update the interview, say what's next.

Kept free of Rasa types (like guide_service): actions/declarations.py turns a `Step` into
messages, slot events and the turn block. Every step is saved to the database of record, so an
interview survives a restart, an expired Rasa session, and a move to another channel (续办码).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any, Final

from contract.turn import ASK_HUMAN, DECLARE
from declarations import interview as iv
from declarations.answers import Invalid, check_answer, read_yes_no
from declarations.catalog import Catalog
from declarations.interview import CONFIRM, CONSENT, SKIPPED, Progress
from declarations.prefill import PrefillSource
from declarations.schema import Declaration, Question
from records.declarations import DeclarationDraft, DeclarationStore

log = logging.getLogger(__name__)

SLOT_PREFIX: Final = "dq_"

_CANCEL = re.compile(r"^\W*(取消|不办了|不申报了|取消申报|退出申报|结束申报|退出|cancel)\W*$"
                     r"|取消(本次|这次)?申报",
                     re.IGNORECASE)
_PAUSE = re.compile(r"(暂停|先保存|保存一下|稍后再|下次再|回头再|晚点再|以后再|先不填了|先到这|pause)",
                    re.IGNORECASE)
_BACK = re.compile(r"^\W*(上一步|上一题|返回上一|退回上一|back)\W*$", re.IGNORECASE)
_SKIP = re.compile(r"^\W*(跳过|略过|不填|没有|无|skip)\W*$", re.IGNORECASE)
_CHANGE = re.compile(r"(改一下|修改|更改|改成|改为|重新填|填错了|改下|换一下)")
# Mid-interview the words are answers (a name, an address), so NLU's intent is not trusted here:
# only an explicit request for a person, or the button's payload, hands over.
_HUMAN = re.compile(r"(转人工|人工客服|人工服务|找人工|真人|店小二|找客服|联系客服|\bhuman\b|real person"
                    r"|talk to (an )?agent)", re.IGNORECASE)
_QUESTION = re.compile(r"[?？]|吗\W*$|呢\W*$"
                       r"|(什么|怎么|多久|多长时间|哪里|哪儿|哪个|多少|能不能|可不可以|是否|为什么)")
# A request to fill in a declaration (not a question about one): someone asks 小申 to do it.
_REQUEST = re.compile(r"(帮我(直接)?(申报|申请|填|办一下|办吧|办了)|直接帮我(办|申请|填)|帮忙填|替我填|给我填"
                      r"|帮我把申请表|我要申报|我想申报|智能申报|在线申报|开始申报|help me apply|apply for me"
                      r"|fill (it |the form |the application )?(in )?(it )?for me|fill in the application)",
                      re.IGNORECASE)
_RESUME = re.compile(r"(续办|继续申报|接着填|继续填|接着办|继续办理|恢复申报|resume)", re.IGNORECASE)
_CODE = re.compile(r"(?<![A-Za-z0-9])([A-HJ-NP-Za-hj-np-z2-9]{6})(?![A-Za-z0-9])")
_REF = re.compile(r"XS\d{8}-[A-Z2-9]{6}", re.IGNORECASE)
_QUERY = re.compile(r"(查询申报|查申报|申报进度|查一下申报|申报编号)")


@dataclass
class Message:
    text: str | None = None
    buttons: list[dict[str, str]] = field(default_factory=list)
    custom: dict[str, Any] = field(default_factory=dict)


@dataclass
class Step:
    """What one declaration turn says, which answers change, and where the interview stands."""

    decl: Declaration
    progress: Progress
    messages: list[Message] = field(default_factory=list)
    changes: dict[str, str | None] = field(default_factory=dict)  # field → new answer (None: cleared)
    asking: str | None = None  # the field now asked (CONFIRM at the summary); None: the form ends
    guide_text: str | None = None  # the guide question asked in the middle, to be answered first

    def block(self) -> dict[str, Any]:
        """The contract's declaration block for this turn."""
        shown = "confirming" if self.progress.status == "submitting" else self.progress.status
        return {"id": self.decl.id, "status": shown, "field": self.asking if shown == "asking" else None,
                "ref": self.progress.ref}


def slot(field_name: str) -> str:
    return SLOT_PREFIX + field_name


def answers_from_slots(decl: Declaration, slots: dict[str, Any]) -> dict[str, Any]:
    names = [q.field for q in iv.questions(decl)] + [CONFIRM]
    return {f: slots.get(slot(f)) for f in names}


def is_request(text: str) -> bool:
    """Whether the message asks 小申 to fill in / resume / look up a declaration."""
    return bool(_REQUEST.search(text) or _RESUME.search(text) or _QUERY.search(text) or _REF.search(text))


def looks_like_question(text: str) -> bool:
    """Words that ask something (a guide question in the middle of an interview)."""
    return bool(_QUESTION.search(text))


def wants_human(text: str) -> bool:
    return text.strip() == ASK_HUMAN or bool(_HUMAN.search(text))


def declare_payload(declaration_id: str) -> str:
    return DECLARE + '{"declaration": "' + declaration_id + '"}'


class DeclarationService:
    """Starts, runs and finishes declarations over a catalog, a store and a pre-fill source."""

    def __init__(self, catalog: Catalog, store: DeclarationStore, prefill: PrefillSource) -> None:
        self.catalog = catalog
        self.store = store
        self.prefill = prefill

    # -- questions ---------------------------------------------------------------------------
    def ask(self, step: Step, answers: dict[str, Any], q: Question, *, lead: str = "") -> None:
        """Say the question `q` (with buttons where the answers are few) and mark it asked."""
        shown = iv.visible(step.decl, answers)
        number = next((i for i, v in enumerate(shown, start=1) if v.field == q.field), len(shown))
        text = f"{lead}（{number}/{len(shown)}）{q.ask}"
        if q.hint:
            text += f"\n{q.hint}"
        buttons: list[dict[str, str]] = []
        if q.type == "choice":
            buttons = [{"title": o.label, "payload": o.label} for o in q.options]
        elif q.type == "yes_no":
            yes, no = ("同意授权", "不同意") if q.field == CONSENT else ("是", "否")
            buttons = [{"title": yes, "payload": yes}, {"title": no, "payload": no}]
        if not q.required:
            text += "\n（可选，不需要可以回复“跳过”）"
            buttons.append({"title": "跳过", "payload": "跳过"})
        step.messages.append(Message(text, buttons))
        step.asking = q.field
        step.progress.status = "asking"

    def confirm(self, step: Step, answers: dict[str, Any]) -> None:
        rows = iv.summary(step.decl, answers, step.progress)
        lines = [f"- {r['label']}：{r['value']}" + ("（来自电子证照）" if r["source"] == "prefill" else "")
                 for r in rows]
        text = ("请确认以下信息：\n" + "\n".join(lines)
                + "\n确认无误请回复“确认提交”；要修改请说“改一下××”（如“改一下联系电话”）。")
        step.messages.append(Message(text, [{"title": "确认提交", "payload": "确认提交"},
                                            {"title": "取消申报", "payload": "取消申报"}],
                                     {"declaration_summary": {"id": step.decl.id, "rows": rows}}))
        step.asking = CONFIRM
        step.progress.status = "confirming"

    def next(self, step: Step, answers: dict[str, Any], lead: str = "") -> None:
        q = iv.next_question(step.decl, answers)
        if q is not None:
            self.ask(step, answers, q, lead=lead)
        elif answers.get(CONFIRM) is None:
            if lead:
                step.messages.append(Message(lead.rstrip("：:")))
            self.confirm(step, answers)
        else:
            step.progress.status = "submitting"
            step.asking = None

    # -- one turn ----------------------------------------------------------------------------
    def begin(self, decl: Declaration, answers: dict[str, Any], progress: Progress) -> Step:
        """The first question of a new or resumed interview (form activation)."""
        step = Step(decl, progress)
        self.next(step, answers)
        return step

    def turn(self, decl: Declaration, answers: dict[str, Any], progress: Progress, asking: str | None,
             text: str, *, answers_guide: bool) -> Step:
        """The user's message while the interview asks `asking`.

        `answers_guide` says whether a confident guide answer exists for the message (the caller
        asked the guide service); a question is then answered and the interview resumes.
        """
        step = Step(decl, progress)
        answers = dict(answers)
        if wants_human(text):
            progress.status, progress.reason = "paused", "handoff"
            return step
        if _CANCEL.search(text):
            progress.status, progress.reason = "cancelled", None
            return step
        if _PAUSE.search(text):
            progress.status, progress.reason = "paused", None
            return step
        if _BACK.search(text):
            return self._back(step, answers)
        if _CHANGE.search(text):
            target = iv.find(decl, text)
            if target is not None:
                return self._change(step, answers, target)
            if asking == CONFIRM:  # at a question, "改成…" without a label is an answer to it
                step.messages.append(Message("请告诉我要修改哪一项，例如“改一下联系电话”。"))
                self.confirm(step, answers)
                return step
        if asking == CONFIRM:
            return self._confirming(step, answers, text)
        q = next((x for x in iv.questions(decl) if x.field == asking), None)
        if q is None:  # the form asked something this declaration no longer has: ask what's next
            self.next(step, answers)
            return step
        if _SKIP.search(text) and q.type not in ("yes_no", "choice"):
            if q.required:
                self.ask(step, answers, q, lead="这一项必须填写。")
                return step
            return self._answered(step, answers, q, SKIPPED)
        if answers_guide and looks_like_question(text):
            step.guide_text = text
            self.ask(step, answers, q, lead="我们继续申报：")
            return step
        checked = check_answer(q, text)
        if isinstance(checked, Invalid):
            self.ask(step, answers, q, lead=checked.reason + "\n")
            return step
        return self._answered(step, answers, q, checked.value)

    def _answered(self, step: Step, answers: dict[str, Any], q: Question, value: str) -> Step:
        decl, progress = step.decl, step.progress
        answers[q.field] = value
        step.changes[q.field] = value
        progress.provenance[q.field] = {"source": "user", "record": None}
        progress.asked = [f for f in progress.asked if f != q.field] + [q.field]
        lead = ""
        if q.field == CONSENT and value == "no":
            lead = "好的，不读取您的任何信息，请您自己填写。"
        lead += self._prefill(step, answers)
        reason = iv.stop_reason(decl, answers)
        if reason is not None:
            progress.status, progress.reason = "cancelled", reason
            step.asking = None
            return step
        self.next(step, answers, lead=lead)
        return step

    def _prefill(self, step: Step, answers: dict[str, Any]) -> str:
        """Fill what the consented source holds now; what to tell the user ("" when nothing new)."""
        decl, progress = step.decl, step.progress
        if answers.get(CONSENT) != "yes" or iv.identity(decl, answers) is None:
            return ""
        first = not progress.looked_up
        progress.looked_up = True
        typed = {f for f, p in progress.provenance.items() if p.get("source") == "user"}
        result = iv.prefill(decl, answers, self.prefill)
        progress.lookup_found = result.found
        if not result.found:
            missing = "没有在电子证照库中核验到与该姓名和身份证号一致的信息，其余信息请您自己填写。\n"
            return missing if first else ""
        progress.records.update(result.exempt)
        filled = []
        for field_name, value in result.values.items():
            q = decl.question(field_name)
            if q is None or field_name in typed:
                continue
            checked = check_answer(q, value) if q.type not in ("choice", "yes_no") else None
            if isinstance(checked, Invalid):
                continue  # a record that does not pass our own check is asked instead
            stored = checked.value if checked is not None else value
            answers[field_name] = stored
            step.changes[field_name] = stored
            progress.provenance[field_name] = {"source": "prefill", "record": result.records[field_name]}
            filled.append(q.label)
        if filled:
            return f"已从电子证照库预填 {len(filled)} 项：{'、'.join(filled)}（最后确认时可以修改）。\n"
        return "已核验身份，电子证照库中没有可预填的信息，请您继续填写。\n" if first else ""

    def _back(self, step: Step, answers: dict[str, Any]) -> Step:
        user_fields = [f for f in step.progress.asked if f in answers]
        if not user_fields:
            step.messages.append(Message("已经是第一个问题了。"))
            self.next(step, answers)
            return step
        last = step.decl.question(user_fields[-1]) or iv.consent_question(step.decl)
        assert last is not None
        return self._change(step, answers, last)

    def _change(self, step: Step, answers: dict[str, Any], q: Question) -> Step:
        answers[q.field] = None
        answers[CONFIRM] = None
        step.changes[q.field] = None
        step.changes[CONFIRM] = None
        step.progress.provenance.pop(q.field, None)
        step.progress.asked = [f for f in step.progress.asked if f != q.field]
        if q.field in [x.field for x in step.decl.questions if x.identifies]:
            step.progress.looked_up = False  # a new identity is checked again
        self.ask(step, answers, q, lead=f"好的，重新填写“{q.label}”：")
        return step

    def _confirming(self, step: Step, answers: dict[str, Any], text: str) -> Step:
        said = text.strip()
        if said in ("确认提交", "提交", "确认") or read_yes_no(said) == "yes":
            answers[CONFIRM] = "yes"
            step.changes[CONFIRM] = "yes"
            step.progress.status = "submitting"
            step.asking = None
            return step
        step.messages.append(Message("如需修改，请说“改一下××”（例如“改一下联系电话”）；信息无误请回复“确认提交”。"))
        self.confirm(step, answers)
        return step

    # -- persistence -------------------------------------------------------------------------
    def _draft(self, decl: Declaration, progress: Progress, draft_id: str | None,
               sender_id: str) -> DeclarationDraft:
        """The interview's stored draft, or a new one (the first save)."""
        return (self.store.get(draft_id) if draft_id else None) or DeclarationDraft(
            declaration_id=decl.id, service_id=decl.service_id, sender_id=sender_id,
            resume_code=progress.resume_code, status=progress.status)

    def save(self, step: Step, answers: dict[str, Any], sender_id: str, draft_id: str | None) -> str:
        """Save the interview as it stands; its draft id (new on the first save)."""
        draft = self._draft(step.decl, step.progress, draft_id, sender_id)
        draft.sender_id = sender_id
        draft.status = "asking" if step.progress.status == "submitting" else step.progress.status
        draft.answers = {k: v for k, v in answers.items() if v is not None}
        draft.progress = step.progress.to_dict()
        self.store.save(draft)
        return draft.id

    def submit(self, decl: Declaration, answers: dict[str, Any], progress: Progress,
               draft_id: str | None, sender_id: str) -> DeclarationDraft:
        """Store the finished declaration with its checklist and application; the record."""
        draft = self._draft(decl, progress, draft_id, sender_id)
        draft.answers = {k: v for k, v in answers.items() if v is not None}
        draft.checklist = iv.checklist(decl, answers, progress)
        draft.application = iv.application(decl, answers, progress)
        draft.prefill_share = round(iv.prefill_share(draft.application), 4)
        progress.status = "done"
        progress.ref = self.store.submit(draft)
        draft.progress = progress.to_dict()
        self.store.save(draft)
        return draft

    # -- what the user reads at the end -------------------------------------------------------
    @staticmethod
    def paused_text(decl: Declaration, progress: Progress) -> str:
        return (f"已为您保存“{decl.title}”的申报进度。续办码：{progress.resume_code}（请记下，7 天内有效）。"
                "回来时在这里说“继续申报”，或在其他渠道（如小程序）发送“续办 "
                f"{progress.resume_code}”，就能接着填。")

    @staticmethod
    def result_messages(decl: Declaration | None, record: DeclarationDraft) -> list[Message]:
        """The finished declaration: reference number, checklist, pre-filled application, next step."""
        title = decl.title if decl else record.declaration_id
        needed = [m for m in record.checklist if not m.get("exempt")]
        exempt = [m for m in record.checklist if m.get("exempt")]
        lines = [f"申报已生成，申报编号：{record.ref}", f"“{title}”需要您准备的材料（{len(needed)} 项）："]
        lines += [f"{i}. {m['name']}——{m['why']}" for i, m in enumerate(needed, start=1)]
        if exempt:
            lines.append("免交（窗口可在线核验）：" + "；".join(
                f"{m['name']}（核验{m.get('online_record') or '电子证照'}）" for m in exempt))
        data = [f for f in record.application if not f.get("service")]
        filled = sum(1 for f in data if f.get("source") in ("prefill", "derived"))
        services = [f["label"] for f in record.application if f.get("service") and f.get("value") == "是"]
        form = decl.application_form if decl else "申请表"
        lines.append(f"《{form}》已填写 {len(data)} 项，其中 {filled} 项来自电子证照或自动计算"
                     f"（{record.prefill_share:.0%}）。")
        if services:
            lines.append("同步办理：" + "、".join(services) + "。")
        if decl:
            lines.append(f"下一步：{decl.submit.channel}。{decl.submit.next_step}")
            if decl.submit.time_limit:
                lines.append(f"办理时限：{decl.submit.time_limit}")
        lines.append(f"可打印的清单：/declarations/{record.ref}（需在本对话中打开）；"
                     f"随时说“查询申报 {record.ref}”再看。")
        card = {"declaration_card": {
            "ref": record.ref, "id": record.declaration_id, "title": title,
            "checklist": record.checklist, "application": record.application,
            "application_form": form, "prefill_share": record.prefill_share,
            "submit": decl.submit.model_dump() if decl else None,
            "print_path": f"/declarations/{record.ref}",
        }}
        return [Message("\n".join(lines), [], card)]

    # -- choosing a declaration ----------------------------------------------------------------
    def pick(self, text: str, *, entity: str | None) -> Declaration | None:
        """The declaration a request names: a button's id, or the one title or alias in the words."""
        if entity and self.catalog.get(entity):
            return self.catalog.get(entity)
        hits = [d for d in self.catalog.declarations.values()
                if any(name in text for name in (d.title, *d.aliases))]
        return hits[0] if len(hits) == 1 else None

    def menu(self) -> Message:
        decls = sorted(self.catalog.declarations.values(), key=lambda d: d.title)
        return Message("目前可以在小申里智能申报这些事项，请选择：",
                       [{"title": d.title, "payload": declare_payload(d.id)} for d in decls])

    def resume_target(self, text: str, sender_id: str) -> tuple[DeclarationDraft | None, bool]:
        """The draft a resume request means (by 续办码, else the conversation's latest open one),
        and whether the words carried a code that matches nothing resumable."""
        codes = [code.upper() for code in _CODE.findall(text) if not code.isalpha() or code.isupper()]
        for code in codes:
            found = self.store.by_resume_code(code)
            if found is not None:
                return found, False
        if codes:
            return None, True
        return self.store.latest_open(sender_id), False

    @staticmethod
    def is_resume(text: str) -> bool:
        return bool(_RESUME.search(text))

    @staticmethod
    def query_ref(text: str) -> str | None:
        m = _REF.search(text)
        return m.group(0).upper() if m else None

    @staticmethod
    def is_query(text: str) -> bool:
        return bool(_QUERY.search(text) or _REF.search(text))
