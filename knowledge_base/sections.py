"""Which section of a guide a question asks about: regex cues blended with a learned classifier.

Text is folded lightly (width, 繁→简, lowercase, punctuation, typo fixes) and never through
normalize()'s English translation or synonym expansion, which append words that can trigger or
hide cues. The service's own names are then taken out, because a name such as 医疗费用零星报销 or
驾驶证期满换证 holds cue words (费用, 期满) that ask nothing.

Two readers then vote (see docs/decisions.md):
- high-precision regex cues (`_CUES`): narrow, hand-written, ordered;
- a logistic regression on character n-grams (knowledge_base.section_model), trained at first use
  on knowledge_base/lexicon/section_questions.yaml, which also covers colloquial, 繁體, English,
  typo and short follow-up phrasing that no cue lists.
The regex proposes the sections it matches; the classifier's probabilities order them, and it may
overrule them only when it is confident. Without any cue, the classifier answers when its best
section is likely enough; `overview` (or too little evidence) is reported as None.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from knowledge_base.normalize import _fold, _patterns, lexicon
from knowledge_base.question import question_clauses
from knowledge_base.section_model import get_model

# Ordered: when the classifier cannot tell, the first section whose cue matches wins, so narrow
# cues come before broad ones ("怎么收费" is about the fee though "怎么" alone suggests a process).
_CUES: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    ("contact", (
        r"电话", r"热线", r"咨询.{0,4}(哪|谁|号码|方式)", r"打.{0,2}(哪个|什么)号", r"联系方式", r"联系谁",
        r"客服", r"\bphone (number|no)", r"\btelephone", r"\bcontact\b", r"\bhotline\b", r"\bcall\b",
        r"12345(?!6)", r"12333", r"号码是", r"(问|找)(啥人|谁|哪个部门)", r"打\s*\d{5,}",
    )),
    ("fee", (
        r"收费", r"费用(是|要)?(多少|怎么算|高吗|呢|吗)", r"(交|缴|付|收).{0,2}费用", r"多少钱",
        r"(交|缴|付)(费)?多少", r"缴费(标准|基数|金额)", r"保证金", r"押金", r"几块钱", r"要钱", r"花钱",
        r"交钱", r"付费", r"免费", r"工本费", r"手续费", r"价格", r"贵不贵", r"\bfees?\b", r"\bcosts?\b",
        r"how much", r"\bfree\b", r"\bcharges?\b", r"钱吗", r"租金", r"(补|领|发|报|退|拿)多少",
        r"报销比例", r"(补贴|补助|津贴)(标准|金额)", r"铜钿", r"(要|付|花|交).{0,2}钞票", r"多少钞票",
        r"几钿", r"收钱", r"不要钱", r"费(吗|不|么|伐|啥的|之类)",  # 要交开户费或者管理费吗
    )),
    ("materials", (
        r"材料", r"资料", r"证件", r"带(什么|啥|哪些|些什么)", r"准备(什么|啥|哪些|些)", r"要带",
        r"提交(什么|啥|哪些)", r"需要(什么|啥|哪些)(东西|证)", r"文件", r"证明(材料)?(吗|呢|有哪些)",
        r"\bdocuments?\b", r"\bmaterials?\b", r"\bbring\b", r"\bpaperwork", r"\bneed to prepare",
        r"\bwhat do (i|we|you) need\b(?! to do)",
        r"清单", r"复印件", r"原件", r"单据", r"票据",
        r"(要|带|需要|用)(户口本|户口簿|身份证|照片|证件照|护照|结婚证|房产证|营业执照)(吗|嘛|伐)",
    )),
    ("time_limit", (
        r"多久", r"多长时间", r"几天", r"多少天", r"几日", r"多少日", r"几个?工作日", r"时限", r"期限",
        r"有效期", r"截止",
        r"什么时候(能|可以)?(到账|拿到|办好|下来|出来|结束|截止)", r"到账", r"时间(多长|要多少)",
        r"几个月", r"几月份?", r"几号", r"多快", r"何时", r"(哪|几)天(之前|前|截止)?",
        r"过期(前|之前|以前|多久|后多久|了?还能)", r"到期(前|之前|以前)",
        r"\bhow long\b", r"\bdeadline", r"\bhow many days\b", r"\bvalid", r"\bwhen\b",
        r"公告期", r"公示期", r"什么时候", r"啥时候", r"(办理|报名|申报|缴费|开放|受理|申请)(时间|日期)",
        r"几周", r"几年", r"周期", r"(多少|啥|几)辰光", r"当场(能|可以)?(出|拿|办|领)", r"时效",
        r"时间(限制|安排|节点|表)",
    )),
    ("channel", (
        r"(在|去|到)?哪(里|儿|个地方|个窗口|个部门|个网站|个平台|个app|个医院|个派出所|个网点)",
        r"(在|去|到)哪(办|弄|申请|交|领|刻|报|查|换|打印|开)", r"网上", r"线上", r"在线", r"网站", r"\bapp\b",
        r"随申办", r"一网通办", r"窗口", r"大厅", r"地址(在|是)", r"(大厅|窗口|中心|部门)的?地址", r"渠道",
        r"手机上", r"小程序", r"上门(办|受理|来办|服务吗)|(能|可以)上门",
        r"能不能.{0,3}(网上|线上)", r"\bwhere\b", r"\bonline\b", r"\bwebsite", r"跑一次", r"不见面",
        r"下载", r"自助(机|终端|设备)", r"网点", r"异地(办|通办)", r"跨省", r"入口", r"电子税务局",
        r"(啥|什么)地方(办|申请|弄|去|交|领)?",
        r"(是|要)(到|去|在).{1,10}(中心|窗口|大厅|部门|所|局)(申请|办|弄)",
    )),
    ("eligibility", (
        r"条件", r"资格", r"谁(可以|能)", r"哪些人", r"什么人", r"什么样的(人|企业|公司|单位|家庭|情况)",
        r"(?<!网上)(?<!线上)(?<!在线)能不能(申请|办|领|享受)",
        r"(?<!网上)(?<!线上)(?<!在线)可以(申请|办|领)吗",
        r"(?<!网上)(?<!线上)(?<!在线)能(申请|办|领)吗", r"符合",
        r"(?<!时效)(?<!时间)(?<!期限)要求", r"满足",
        r"(能|可以|好) (伐|吗|么|嘛)",  # 我能办退休伐, with the name 办退休 taken out
        r"好(申请|办|领|退休|报名|享受|拿)(伐|吗)",  # Shanghainese 好…伐: may one …?
        # …with the thing in between: 能办退休伐, 还能用公积金贷吗, 好领老年综合津贴伐
        r"(?<!网上)(?<!线上)(?<!在线)(能|可以)(办|申请|领|参加|享受|用)[^，。？?！!]{2,8}(伐|吗|么)",
        r"(?<!网上)(?<!线上)好(勒|在)?[^，。？?！!]{0,4}(申请|办|领|参加|开|报名|享受|拿|退休|用)[^，。？?！!]{1,10}伐",
        r"够不够", r"有没有资格", r"是否可以", r"适用",
        r"(能|可以|好)(不能)?在(上海|本市)"
        r"(申请|办理?|领|登记|报名|结婚|落户|上学|读书|参保|退休)", r"\beligib", r"\bqualif", r"\bcan i\b",
        r"who can", r"外地人", r"非沪籍", r"外地户口",
        r"\bcan (?:he|she|they|we|my|a|an|foreigners?)\b.{0,40}\b(?:still|be|apply|get|renew|register)",
    )),
    # "怎么办理" asks how to handle it in general, which the contract calls the overview;
    # only explicit steps, procedure or operating questions are the process.
    ("process", (
        r"流程", r"步骤", r"程序", r"环节", r"怎么(操作|走|填|提交)", r"如何(操作|提交|填)", r"咋操作",
        r"具体(怎么|步骤|如何)", r"先.{1,12}(再|然后)", r"第一步", r"下一步", r"\bsteps?\b", r"哪几步",
        r"\bprocess", r"\bprocedure",
        # "how do I <do a particular operation>" (not 办理/申请 in general, which is the overview)
        r"(怎么|如何|怎样|咋)(给.{0,3})?(开具|开票|补办|补领|挂失|报名|提取|缴纳|缴费|填报|填写|"
        r"预约|提交|申报|参保|续签|签注|换领|转移|迁|注销|激活|绑定|认证|拍)",
        r"补办", r"挂失",
    )),
)

# A condition phrased as a count, a duration or an age (交满15年, 持证满多久, 满60周岁, 未满18岁, 签满一年
#合同): who qualifies, so eligibility, even though it reads like a time question. 期满 (expiry) is not one.
_NUM: Final = r"(?:\d+|[一二两三四五六七八九十百半几多]+)"
_CONDITION: Final = re.compile(
    rf"(?<!期)满\s*{_NUM}\s*(?:个|多)?\s*(?:年|月|周岁|岁|天|分)|(?<!期)满(?:多久|多少|几)"
    rf"|(?:年满|未满|不满|超过|年龄|岁数).{{0,6}}(?:周岁|岁)|{_NUM}\s*周岁(?:以上|以下|才|可以|能)"
    r"|(?:交|缴|缴纳|工作|上班|住|居住|持证|参保|干)了?(?:多久|多长时间|几年|多少年|几个月|多少个月)"
    r"(?:才|就)?(?:能|可以|好)(?:领|申请|办|拿|享受|报)"
    r"|\bhow (?:many|long)\b.{0,40}\b(?:contribut|paid|pay|work|live|resid)"
    r"|\b(?:at least|minimum)\b.{0,30}\b(?:years?|months?|age|old)\b")
# With no other cue, whether one may, can or must do it ("宝宝能走出生一件事一起办吗", "也得去汇算吗",
# "我能查别人房子的登记信息不", "are we required to register"): who qualifies or must, so eligibility.
_WHETHER_ALLOWED: Final = re.compile(
    r"(?:(?<!哪)能|可以|(?<![晓记觉懂值使])得|必须|还要|也要|也得|还能)[^，,。？?！!]{1,14}(?:吗|不|伐|么|嘛)[？?！!。\s]*$"
    r"|\b(?:am i|are we|is it|are they) (?:required|eligible|allowed|obliged)\b"
    r"|\bdo (?:i|we) (?:have|need) to\b")
# Sections a condition does not override (a count can be part of a materials, fee or phone question).
_BEYOND_CONDITION: Final = frozenset({"materials", "fee", "contact"})

_CJK: Final = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_RUN: Final = re.compile(f"[{_CJK}]+")
_LATIN_NAME: Final = re.compile(r"[0-9a-z][0-9a-z ]*")
_HOW: Final = r"怎么|如何|怎样|咋"
# Operations that, even when a name holds them, ask for the steps of recovering something lost.
_KEEP_AFTER_HOW: Final = frozenset({"补办", "补领", "补卡", "挂失"})

_COMPILED: Final = tuple((name, re.compile("|".join(cues))) for name, cues in _CUES)
_ORDER: Final = {name: i for i, (name, _) in enumerate(_CUES)}

# The classifier overrules the cues when it is at least this sure of another section.
OVERRULE_MIN: Final = 0.65
# Without any cue, the classifier's best section (other than overview) must be this likely.
CLASSIFIER_MIN: Final = 0.40


@dataclass(frozen=True)
class SectionReading:
    """How a section was read: the answer, where it came from and the evidence."""

    section: str | None
    source: str  # "condition" | "cue" | "classifier" | "blend" | "none"
    cues: tuple[str, ...] = ()
    probabilities: dict[str, float] = field(default_factory=dict)


@functools.lru_cache(maxsize=8192)
def fold(text: str) -> str:
    """Light folding for section cues: width, 繁→简, lowercase, punctuation, typo fixes.

    Unlike normalize() it neither translates English nor appends synonyms. Cached: a turn folds
    every candidate guide's names several times (the lexicon is fixed for the process's life).
    """
    text = _fold(text)
    if not text:
        return ""
    typos = _patterns()[1]
    fixes = lexicon().typos
    return typos.sub(lambda m: fixes[m.group(0)], text)


def strip_names(folded: str, names: Iterable[str]) -> str:
    """Remove the service's names from folded text.

    Chinese: any run of 3+ characters shared with a name (驾驶证期满换证 is part of
    机动车驾驶证期满换证), longest first, and a 2-character word of a name right after a "how"
    word (增值税…怎么申报 asks how to do the service itself: the overview), except the recovery
    operations in `_KEEP_AFTER_HOW` (怎么补办, 怎么挂失 ask for those steps). Latin names are
    removed only as whole phrases, so "how long" survives an alias containing "long".
    """
    names = {fold(n) for n in names}
    for name in sorted((n for n in names if _LATIN_NAME.fullmatch(n)), key=len, reverse=True):
        folded = re.sub(rf"(?<![0-9a-z]){re.escape(name)}s?(?![0-9a-z])", " ", folded)
    runs = {run for n in names for run in _CJK_RUN.findall(n)}
    for run in sorted(runs, key=lambda r: (-len(r), r)):  # longest first; ties in a fixed order
        for size in range(len(run), 2, -1):
            for start in range(len(run) - size + 1):
                part = run[start : start + size]
                if part in folded:
                    folded = folded.replace(part, " ")
    verbs = {run[i : i + 2] for run in runs for i in range(len(run) - 1)} - _KEEP_AFTER_HOW
    if verbs:
        folded = _after_how(tuple(sorted(verbs))).sub(r"\1 ", folded)
    return re.sub(r"\s+", " ", folded).strip()


@functools.lru_cache(maxsize=4096)
def _after_how(verbs: tuple[str, ...]) -> re.Pattern[str]:
    """A "how" word followed by one of a guide's name words (re's own cache holds 512 patterns, fewer
    than a large catalog's guides)."""
    return re.compile(rf"({_HOW})({'|'.join(verbs)})")


def mentions_name(text: str, names: Iterable[str]) -> bool:
    """True if the text holds one of the names, or 3+ Chinese characters of one (居住证 of
    上海市居住证申领); Latin names count only as whole words."""
    folded = fold(text)
    for name in {fold(n) for n in names}:
        if latin_name(name):
            if re.search(rf"(?<![0-9a-z]){re.escape(name)}s?(?![0-9a-z])", folded):
                return True
            continue
        if any(gram in folded for gram in name_grams(name)):
            return True
    return False


def latin_name(name: str) -> bool:
    """A folded name in Latin letters, which counts only as a whole word."""
    return bool(_LATIN_NAME.fullmatch(name))


def name_grams(name: str) -> list[str]:
    """The pieces of a folded Chinese name whose presence names it: a 2-letter name whole, a longer
    one by any 3 Chinese characters in a row (居住证 of 上海市居住证申领)."""
    if len(name) == 2:
        return [name]
    return [run[i : i + 3] for run in _CJK_RUN.findall(name) for i in range(len(run) - 2)]


def cue_sections(folded: str) -> tuple[str, ...]:
    """Every section whose cue matches the folded text, in cue order."""
    return tuple(name for name, pattern in _COMPILED if pattern.search(folded))


def read_section(text: str, names: Iterable[str] = ()) -> SectionReading:
    """Read the section a question asks about, with the evidence (see the module docstring). A
    long message is read by the clauses that ask something (question.question_clauses): the
    background's words ("上门护理服务", "满三岁了") ask nothing."""
    names = tuple(names)  # read twice below
    clauses = question_clauses(text)
    if clauses is not None:
        asked = _read_section(clauses, names)
        if asked.source in ("cue", "blend"):
            return asked
    return _read_section(text, names)


def _read_section(text: str, names: Iterable[str]) -> SectionReading:
    whole = fold(text)
    folded = strip_names(whole, names)
    if not folded:
        return SectionReading(None, "none")
    cues = cue_sections(folded)
    probs = get_model(fold).probabilities(folded)
    # The condition is read with the names in place: "交多久能领失业金" loses its verb to the alias 领失业金.
    if _CONDITION.search(whole) and not _BEYOND_CONDITION.intersection(cues):
        return SectionReading("eligibility", "condition", cues, probs)
    best = max(probs, key=lambda s: probs[s])
    if cues:
        if best not in cues and probs[best] >= OVERRULE_MIN:
            chosen, source = best, "classifier"
        else:
            chosen = max(cues, key=lambda s: (probs.get(s, 0.0), -_ORDER[s]))
            source = "cue" if len(cues) == 1 else "blend"
        return SectionReading(None if chosen == "overview" else chosen, source, cues, probs)
    if best != "overview" and probs[best] >= CLASSIFIER_MIN:
        return SectionReading(best, "classifier", cues, probs)
    if _WHETHER_ALLOWED.search(folded):
        return SectionReading("eligibility", "whether", cues, probs)
    return SectionReading(None, "none", cues, probs)


def warm_up() -> None:
    """Train the section classifier now (it is otherwise trained on the first question)."""
    get_model(fold)


def detect_section(text: str, names: Iterable[str] = ()) -> str | None:
    """The section a question asks about, or None when it names no particular section.

    `names` are the service's own title and aliases: they are removed first, because a name such
    as 医疗费用零星报销 or 驾驶证期满换证 holds cue words (费用, 期满) that ask nothing.
    """
    return read_section(text, names).section
