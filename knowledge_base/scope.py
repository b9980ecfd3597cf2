"""Questions that are not ours however well they match a guide: another place's version of a service.

Every guide is Shanghai's. "杭州开公司要啥材料" shares every content word with our 企业设立 guide,
so ranking alone answers it confidently and wrongly; naming another city or province (and not
Shanghai) is what tells it apart. A place named only as where someone comes from (老家安徽,
河南户口, 湖南人) or travelled to (出差在成都) does not count: people who moved here, or fell ill on a
trip, ask about Shanghai's services.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Final

import yaml

from knowledge_base.constants import LEXICON_DIR
from knowledge_base.normalize import neighbour_terms
from knowledge_base.question import question_clauses
from knowledge_base.sections import fold, latin_name, mentions_name, name_grams

_SHANGHAI: Final = re.compile(r"上海|沪|本市|申城|shanghai")
# A place as someone's origin, not as where the service is wanted.
_ORIGIN_BEFORE: Final = re.compile(r"(?:老家|家乡|来自|籍贯|原籍|户口|户籍)(?:是|在)?$")
# A place someone travelled to (出差在成都急诊, 回老家): the service asked about may still be ours.
_TRIP_BEFORE: Final = re.compile(r"(?:出差|旅游|旅行|出游|去|到|回|从)(?:在|到|去)?$")
_ORIGIN_AFTER: Final = re.compile(r"^(?:市|省)?(?:户口|户籍|籍|人(?!才)|老家|来的|过来)")
# A trip told after the place (人在深圳出差回不来): the service may still be Shanghai's.
_TRIP_AFTER: Final = re.compile(r"^(?:市|省)?(?:出差|旅游|旅行|玩|度假|培训|开会|探亲)")
# "重庆那边的低保": the place where the service is wanted, even when the asker lives in Shanghai.
_THERE_AFTER: Final = re.compile(r"^(?:市|省)?(?:那边|那里|那儿|当地|本地)")
# A place's own version of a service, named as one word with it (深圳的车牌竞价, 北京幼升小, 杭州的公积金
# 提取): that place's, even when Shanghai is named beside it for comparison.
_PLACE_SERVICE: Final = re.compile(
    r"^(?:市|省)?的?(?:车牌|拍牌|牌照|摇号|竞价|幼升小|小升初|中考|高考|入学|入园|居住证|积分|落户|公积金|社保"
    r"|医保|个税|低保|公租房|廉租房|驾照|驾驶证|营业执照|开公司|注册公司|公司注册|房产证|过户|结婚登记|护照"
    r"|港澳通行证|身份证|户口政策|人才引进|养老金|退休|失业金|生育津贴|长护险)")
_SHANGHAI_WANTED: Final = re.compile(r"(?:上海|本市|沪)的|在(?:上海|本市)(?:申请|申领|办|领|交|缴)")
# "…杭州是不是也一样": the same question asked of that place.
_SAME_THERE: Final = re.compile(r"^(?:市|省)?(?:的话)?(?:是不是|是否|会不会)?也(?:一样|是这样|可以|能|行)")
# The local offices a service is done at (在老家派出所换, 那边的民政局).
_OFFICES: Final = "派出所|民政局|车管所|社保局|医保局|税务局"
_OFFICE: Final = re.compile(_OFFICES)
# Someone's home town as where the service is wanted (帮爸妈在老家申请低保, 老家的居民医保): that
# place's, not Shanghai's; done there once (在老家办的身份证) it may still be renewed here.
_HOMETOWN: Final = re.compile(
    rf"在老家(?:那边|当地)?(?:的)?(?:{_OFFICES})?(?:申请|办理|办|交|缴|领|换|补)(?![的过了])"
    r"|老家(?:那边|当地)?的(?:低保|居民医保|医保|社保|养老金|养老保险|公积金|补贴|津贴)")


def _alternation(names: list[str]) -> re.Pattern[str]:
    ordered = sorted((str(n).lower() for n in names), key=len, reverse=True)
    return re.compile("|".join(re.escape(n) for n in ordered))


@functools.lru_cache(maxsize=1)
def _lexicon() -> dict[str, list[str]]:
    data = yaml.safe_load((LEXICON_DIR / "places.yaml").read_text(encoding="utf-8")) or {}
    return {"places": list(data.get("places") or []), "abroad": list(data.get("abroad") or [])}


@functools.lru_cache(maxsize=1)
def _places() -> re.Pattern[str]:
    return _alternation(_lexicon()["places"])


@functools.lru_cache(maxsize=1)
def _abroad() -> re.Pattern[str]:
    return _alternation(_lexicon()["abroad"])


# A document or benefit of that place right after its name (江西的社保卡, 北京的生育津贴, my US
# passport): that place's, even when the asker is in Shanghai. At home only what each city or province
# issues itself (社保卡, 津贴, 低保 …); 身份证, 驾照 and 护照 are national, Shanghai renews them too.
_LOCAL_THING: Final = re.compile(
    r"^(?:老家|那边|当地)?的?(?:社保卡|医保卡|卡|生育津贴|津贴|补贴|低保|公积金|养老金|落户政策|人才落户|人才政策)")
_FOREIGN_THING: Final = re.compile(
    r"^(?:的|'s|’s)?\s?(?:(?:photocard|full|provisional|old|new|current|expired|valid)\s)?"
    r"(?:护照|身份证|驾照|驾驶证|结婚证|签证|商标|绿卡|passport|identity card|id card"
    r"|driver'?s licen[cs]e|driving licen[cs]e|driver licen[cs]e|licen[cs]e|visa|green card|trademark|llc)")
# Abroad as the place where something is done: 在美国注册, 在泰国登记结婚, in the US.
_AT_BEFORE: Final = re.compile(r"(?:在|于|\bin|\bat)(?: the)?\s?$")
# Abroad as an origin: a person or investor from there, or studies done there (our 留学回国 services).
_ABROAD_ORIGIN_AFTER: Final = re.compile(
    r"^\s?(?:人|籍|公民|国籍|居民|的?(?:投资|老板|股东|客户|公司|企业|资本|朋友|同事)|留学|读书|毕业|回国|回来|硕士|博士|本科"
    r"|大学|学历|citizen|national|investor|company|student)")


def _inside_word(folded: str, match: re.Match[str]) -> bool:
    """An English place name inside another word ("xian" in "xiang", "us" in "bus")."""
    edges = folded[match.start() - 1: match.start()] + folded[match.end(): match.end() + 1]
    return match.group(0).isascii() and bool(re.search(r"[a-z]", edges))


def _abroad_place(folded: str) -> str | None:
    for match in _abroad().finditer(folded):
        before, after = folded[: match.start()], folded[match.end():]
        if _inside_word(folded, match):
            continue
        if _FOREIGN_THING.match(after) or _THERE_AFTER.match(after) or _LOCAL_THING.match(after):
            return match.group(0)
        if _ABROAD_ORIGIN_AFTER.match(after) or _TRIP_BEFORE.search(before):
            continue
        if _AT_BEFORE.search(before):
            return match.group(0)
    return None


# The service asked to be done in that place (在山东办残疾人证, 驾照在广州期满换证), even from someone in
# Shanghai or from there; not something done there once (在北京办的身份证).
_DONE_THERE: Final = re.compile(
    rf"^(?:市|省)?(?:那边|当地)?(?:的)?(?:{_OFFICES}|公积金中心|政务服务中心)?"
    r"(?:办理|办|申请|申领|领取|领|续交|交|缴|换领|换证|换|补办|补领|期满换证|注册|登记)(?![的过了好完])")
# Shanghai names its streets after provinces and cities (南京西路, 北京东路, 四川北路, 福州路): a place
# followed by a street word is an address here, not the other place.
_STREET_AFTER: Final = re.compile(r"^(?:东|西|南|北|中)?(?:路|大道|大街|街道|支路|新村|公园)")
# "阜阳哪里能换": where in that place the service is done.
_WHERE_THERE: Final = re.compile(
    r"^(?:市|省)?(?:哪里|哪儿|哪个地方|什么地方|哪个派出所|哪个车管所|哪个区)(?:能|可以)?"
    r"(?:办理|办|申请|申领|领|换|补|交|缴)")
# Told of a place, then "在那边/当地…办": the service is wanted there (老家江西农村的低保 在那里申请).
_THERE_LATER: Final = re.compile(
    r"在(?:那边|那里|那儿|当地)[^，。？?!！]{0,6}(?:办|申请|申领|领|交|缴|续交|换|补)"
    rf"|(?:当地|那边|那里)的?(?:{_OFFICES}|政务服务中心)")


def elsewhere(text: str) -> str | None:
    """The other place a question asks about (its name as written), or None."""
    folded = fold(text)
    abroad = _abroad_place(folded)
    if abroad is not None:
        return abroad
    in_shanghai = bool(_SHANGHAI.search(folded))
    for match in _places().finditer(folded):
        before, after = folded[: match.start()], folded[match.end():]
        if _STREET_AFTER.match(after):  # 南京西路, 四川北路: Shanghai's own streets
            continue
        if (_LOCAL_THING.match(after) or _SAME_THERE.match(after) or _THERE_LATER.search(after)
                or _WHERE_THERE.match(after)):
            return match.group(0)
        if before.endswith("在") and _DONE_THERE.match(after):
            return match.group(0)
        if _ORIGIN_BEFORE.search(before):  # 老家江苏那边父母有套房: where someone comes from
            continue
        if _THERE_AFTER.match(after) or _PLACE_SERVICE.match(after):
            return match.group(0)
        if in_shanghai:
            continue
        if _TRIP_BEFORE.search(before) or _ORIGIN_AFTER.match(after) or _TRIP_AFTER.match(after):
            continue
        if _inside_word(folded, match):
            continue
        return match.group(0)
    if _HOMETOWN.search(folded) and not _SHANGHAI_WANTED.search(folded):
        return "老家"
    return None


# What a question asks for by name: a licence, permit, travel permit, qualification or official
# recognition, with the words in front of it (出版物经营许可证, 夜间施工许可, 往来台湾通行证,
# 就业困难人员认定).
# Broad heads (证, 证明, 登记, 补贴) name too many ordinary things (带什么证, 在哪登记) to tell anything.
_HEADS: Final = ("经营许可证", "许可证", "许可", "通行证", "资质", "认定", "所得税")
_OBJECT: Final = re.compile(r"[\u4e00-\u9fffa-z0-9]{1,10}?(?:" + "|".join(_HEADS) + ")")
# Letters of the modifier kept with the head word: enough to tell 食品经营许可证 from 药品经营许可证.
_MODIFIER_CHARS: Final = 2
# A modifier with one of these is a question word or filler (要许可, 哪些许可), not a thing's name.
_FILLER: Final = re.compile(
    r"[要还几个一在哪什么些都有先交的了办是这那每种啥多少能可以需带么怎拿领申请吗呢想去来做再和或与给让把被用就]")


def _phrases(folded: str, pattern: re.Pattern[str], heads: tuple[str, ...]) -> list[tuple[str, str]]:
    """(modifier, head) of each thing named with one of the heads, the modifier cut to its last letters."""
    phrases = []
    for match in pattern.finditer(folded):
        phrase = match.group(0)
        head = next(h for h in heads if phrase.endswith(h))
        modifier = phrase[: -len(head)][-_MODIFIER_CHARS:]
        if len(modifier) == _MODIFIER_CHARS and not _FILLER.search(modifier):
            phrases.append((modifier, head))
    return phrases


@functools.lru_cache(maxsize=512)
def _folded_guide(text: str) -> str:
    return fold(text)


# Procedures that are services of their own (a replacement, a transfer, an added licence class):
# a guide that never mentions the word does not cover it (结婚证补领 next to 结婚登记, 转学 next
# to 入学, 增驾 next to 换证, a 公积金 transfer next to its registration).
# Also corrections, revocations, insurers' claims and services next to ours: other benefits (临时救助,
# 托育, 廉租房, 创业补贴), export tax refunds, moving a 户口 back, the 经营所得 return, high-voltage
# connections, night-work permits, 专精特新 recognition, settling with a spouse (投靠); and what is
# done to a thing already held (转让 and 续展 of a trademark, a 个转企, 冲还贷, 改名, 注销 of a 个体户,
# 增容 of a meter, 缓缴 of contributions, 转园 between kindergartens). Not 补缴, 激活,
# 减免, 退还 or 恢复: people ask them of our own services (断缴了能补缴吗, 社保卡怎么激活) in words a
# guide may not use.
_PROCEDURES: Final = ("补领", "补办", "转学", "增驾", "转移", "迁移", "转出", "转入", "迁回", "更正", "撤销",
                      "吊销", "理赔", "救助", "临时救助", "托育", "托班", "廉租", "创业补贴", "创业担保",
                      "创业贷", "出口退", "免抵退", "经营所得", "高压", "夜间施工", "专精特新", "投靠",
                      "转让", "续展", "个转企", "冲还贷", "改名", "注销", "增容", "缓缴", "转园")
# Reports, complaints, appeals and enforcement (举报 a counterfeit, 报案 an identity theft, 申诉 a refusal,
# 强制执行 an award) belong to the police, the courts, market supervision or the deciding office's
# review unless the guide itself deals with them.
_DISPUTES: Final = ("举报", "投诉", "报案", "报警", "强制执行", "起诉", "盗刷", "冒用", "假冒", "申诉",
                    "异议", "复议", "复审", "追回", "追缴", "不配合", "算错", "少算", "被取消", "首违不罚",
                    "被罚了", "被罚款了", "罚单", "处罚决定", "减免滞纳金", "滞纳金能免", "免滞纳金",
                    "强制迁出", "不肯迁", "勿肯迁", "不愿迁", "户口迁走", "没迁走", "罚多少", "会罚",
                    "会不会罚", "多发了", "评得", "禁拍")
# A penalty asked about is the guide's own business when the guide speaks of penalties at all
# ("逾期不年报会罚款吗"); the words differ ("会罚" against "罚款").
_PENALTY: Final = ("罚款", "处罚", "罚")
_COVERED_BY: Final = {t: _PENALTY
                      for t in ("被罚了", "被罚款了", "罚单", "处罚决定", "罚多少", "会罚", "会不会罚")}
# The same in English, each with the Chinese words a guide that deals with it would use.
_ENGLISH_PROCEDURES: Final = tuple((re.compile(p), zh) for p, zh in (
    (r"\bappeal", ("申诉", "复议")), (r"\bcomplain", ("投诉",)), (r"\breconsideration\b", ("复议",)),
    (r"\brevok", ("撤销",)), (r"\b(rejected|refusal)\b", ("驳回", "复审")), (r"\bfraudulent\b", ("冒用",)),
    (r"\breplace(ment)?\b"
     r"|\blost (my|his|her|the|a|our) [a-z' ]{0,20}(licen[cs]e|card|passport|permit|certificate)",
     ("补领", "补办", "补卡")),
    (r"\btransfer", ("转移", "转出", "转入", "过户")), (r"\bconvert", ("换领", "转换")),
    (r"\breview (?:of )?(?:the |my |our )?(?:rejection|refusal|calculation|decision|assessment)"
     r"|\brequest a review",
     ("复核", "复审", "复议")),
    (r"\breport\b.{0,30}\bfraud|\bidentity (?:theft|fraud)|\bfraud\b", ("冒用", "报案")),
))


# Broad heads name a document, registration or benefit of the question's own (股权出质登记, 缴存证明,
# 辅具补贴, 稳岗返还). Too common to tell anything by their bare words, so the whole guide is read
# for them, documents and conditions included (a 收入证明 it asks for is one it knows); the words a few
# characters apart count too (异地备案 in 异地就医备案, 体检证明 in "体检，获取身体条件证明"), and a guide
# whose own name ends in that head covers its modifier wherever the guide has the word (刻章备案 for
# 公章刻制备案, 报关备案 for 报关单位备案).
_BROAD_HEADS: Final = ("证明", "证书", "登记", "备案", "补贴", "津贴", "保障金", "返还")
_BROAD_OBJECT: Final = re.compile(r"[\u4e00-\u9fffa-z0-9]{1,10}?(?:" + "|".join(_BROAD_HEADS) + ")")
_BROAD_GAP: Final = 8
_DOCUMENT_HEADS: Final = ("证明", "证书")
_ANY_HEAD: Final = re.compile("|".join(sorted({*_HEADS, *_BROAD_HEADS}, key=len, reverse=True)))


def _occurrences(text: str, word: str) -> list[int]:
    """Where `word` starts in `text` (str.find, not a regex: a turn checks hundreds of words, and
    compiling each would churn the re module's cache)."""
    starts, start = [], text.find(word)
    while start >= 0:
        starts.append(start)
        start = text.find(word, start + 1)
    return starts


def _near_each_other(text: str, first: str, second: str) -> bool:
    """`first` followed by `second` within _BROAD_GAP letters (异地 … 备案 in 异地就医备案)."""
    for start in _occurrences(text, first):
        after = start + len(first)
        if text.find(second, after, after + _BROAD_GAP + len(second)) >= 0:
            return True
    return False


def _another_of_its_kind(folded: str, phrases: list[tuple[str, str]], names: list[str]) -> list[str]:
    """A licence, registration … of the very kind the guide issues but not the guide's own: 建设工程
    规划许可证 asked of 建筑工程施工许可 (whose documents name it), 抵押登记 of 不动产登记信息查询. Only when
    the question names the guide nowhere but in that head word."""
    own = "\n".join(names)
    if not phrases or mentions_name(_ANY_HEAD.sub("，", folded), [_ANY_HEAD.sub("，", n) for n in names]):
        return []
    others: list[str] = []
    for head in dict.fromkeys(h for _, h in phrases):
        same = [m for m, h in phrases if h == head]
        if head in own and not any(m + head in own or m in own for m in same):
            others += [m + head for m in same]
    return others


def uncovered_objects(question: str, guide_text: str, full_text: str | None = None,
                      names: Iterable[str] = (), neighbour_text: str | None = None, *,
                      documents_asked: bool = False, prerequisites: str = "") -> list[str]:
    """The licences, permits, documents, registrations, benefits … and separate procedures the
    question asks for by name that the guide does not deal with. `guide_text` is the guide without
    the documents and conditions it asks for, `full_text` all of it, `names` its title and aliases,
    `neighbour_text` its names and own sections without the sample questions (which set neighbours
    apart: "人才引进和居转户有啥区别"). With `documents_asked` (a materials question) a 证明 or 证书 named
    is one to bring ("要准备学历证明吗"), not a service asked for. `prerequisites` is the guide's documents
    and conditions alone: a thing named only there and asked to be done is a procedure of its own."""
    text = _folded_guide(guide_text)
    full = _folded_guide(full_text) if full_text is not None else text
    names = list(names)
    own_names = [fold(n) for n in names]
    folded = fold(question)
    narrow = _phrases(folded, _OBJECT, _HEADS)
    broad = [(m, h) for m, h in _phrases(folded, _BROAD_OBJECT, _BROAD_HEADS)
             if not (documents_asked and h in _DOCUMENT_HEADS)]
    own = "\n".join(own_names)
    # With the guide's own licence, registration … named beside it, another of the kind is a document
    # to bring ("施工许可证要先有规划许可证吗").
    named = {h for m, h in narrow + broad if m + h in own}
    objects = [m + h for m, h in narrow if m + h not in text and h not in named]
    objects += [m + h for m, h in broad
                if not _near_each_other(full, m, h)
                and not (m in full and h in own) and h not in named]
    objects += _another_of_its_kind(folded, narrow + broad, own_names)
    acts = _asked_part(question, folded, own_names)
    objects += [p for p in (*_PROCEDURES, *_DISPUTES)
                if p in acts and not any(w in text for w in _COVERED_BY.get(p, (p,)))]
    objects += [m.group(0) for pattern, zh in _ENGLISH_PROCEDURES if (m := pattern.search(folded))
                and not any(z in text for z in zh)]
    own_text = _folded_guide(neighbour_text) if neighbour_text is not None else text
    objects += _neighbours_named(folded, own_text, names)
    if prerequisites:
        objects += _prerequisites_asked(folded, _folded_guide(prerequisites), own_text, own_names)
    objects += _needed_for(folded, own_names)
    objects = list(dict.fromkeys(objects))
    return [o for o in objects if not any(o != other and o in other for other in objects)]  # 稳岗 in 稳岗返还


def _asked_part(question: str, folded: str, own_names: list[str]) -> str:
    """Where to look for another procedure or a dispute: a long message's asking clauses when they
    name the guide themselves ("律师说先报警…重新刻章这个事具体应该怎么办": the police report is the story),
    else all of it."""
    core = question_clauses(question)
    if core is None:
        return folded
    asked = fold(core)
    return asked if mentions_name(asked, [n for n in own_names if not latin_name(n)]) else folded


# How a question asks to get something done ("…怎么办", "…在哪办", "…要带什么"): the words just in front
# name what it wants done.
_REQUEST: Final = re.compile(
    r"(怎么|如何|咋|哪能)(样)?(去)?(办理|办|申请|申领|弄|开|开具|做|领|拿|搞|整|操作|认证)"
    r"|(在|去|到)哪(里|儿|个地方)?(办理|办|开|做|领|弄|申请|交|预约)|要(带|准备)什么|需要什么材料"
    r"|(的|办理|申请)?(流程|手续)")
_CLAUSE_END: Final = re.compile(r"[\s，。,.!?？！:：；;]")
# A request to get a thing done right after its name (抵押登记怎么办, 婚检在哪做): the thing is what is
# asked. Narrower than _REQUEST: not what to bring or fetch (…要带什么, 怎么领), where the named thing is
# often the document a guide of ours asks for.
_ASKED_RIGHT_AFTER: Final = re.compile(
    r"(?:的|要|该|应该|到底|具体)?(?:怎么|如何|咋|哪能)(?:样)?(?:去)?(?:办理|办|申请|申领|弄|做|预约|搞)"
    r"|(?:的|要|该)?(?:在|去|到)哪(?:里|儿)?(?:办理|办|申请|预约|做)|(?:的)?(?:流程|手续)(?:是|怎么)")
_REQUEST_FILLER: Final = re.compile(
    r"(的|要|需要|该|应该|到底|又|可以|能|得|是|去|再|呢|一般|具体|先|这个|那个)+$")
# Words too general to be a procedure of their own (…的材料怎么准备, 证明怎么开).
_GENERAL_OBJECTS: Final = frozenset({"材料", "手续", "流程", "证件", "证明", "登记", "备案", "许可", "认证",
                                     "申请", "资料", "东西"})
_MIN_PREREQUISITE: Final = 3


def _overlaps_name(thing: str, own_names: list[str]) -> bool:
    """The thing is one of the guide's names, or part of one, or holds one."""
    return any(thing in name or name in thing for name in own_names)


def _prerequisites_asked(folded: str, prerequisites: str, own_text: str, own_names: list[str]) -> list[str]:
    """What the question asks to get done that the guide names only among its documents and
    conditions: a procedure before ours, not ours (建设工程规划许可证 for 施工许可, 异地就医备案 for 零星
    报销, 租赁合同登记备案 for 居住证). The longest words in front of the request that the guide has."""
    found = []
    for match in _REQUEST.finditer(folded):
        clause = _REQUEST_FILLER.sub("", _CLAUSE_END.split(folded[: match.start()])[-1])
        thing = next((clause[i:] for i in range(len(clause) - 1)
                      if clause[i] != "的" and clause[i:] in prerequisites), "")
        if (len(thing) >= _MIN_PREREQUISITE and thing not in _GENERAL_OBJECTS and thing not in own_text
                and not _overlaps_name(thing, own_names)):
            found.append(thing)
    return found


# "驾驶证换证要的体检，哪些医院可以做", "公积金贷款要的征信报告怎么打印", "入园前的体检去哪做": a thing
# the service needs, asked how or where to get it, is the business of whoever issues it.
_NEEDED: Final = re.compile(
    r"(?:要|需要|所需|要用|要查|要交|要提供|要做|前)的([\u4e00-\u9fffa-z0-9]{2,10}?)[，, ]*"
    r"(?:怎么|咋|如何|去哪|在哪|到哪|哪里|哪些|哪家|哪个|找哪|找谁|丢了|哪能|啥地方)")
_NEEDED_GENERAL: Final = re.compile(r"材料|资料|手续|证件|东西|钱|费|条件|时间|流程|步骤|表|证明材料")


# "继承权公证哪能办", "证据保全公证去哪个公证处": a notarisation is the notary office's, whatever the service
# it is for ("外方护照要公证认证吗" asks what the service needs, and is the service's).
_NOTARISATION: Final = re.compile(
    r"([\u4e00-\u9fff]{0,6}公证)(?:书|处)?[，, ]?[^，。？?!！ ]{0,6}?"
    r"(?:怎么|咋|如何|哪能|去哪|在哪|到哪|哪个|哪里|哪家|找谁|要多久|多少钱|几钿)")
_WHETHER_NEEDED: Final = re.compile(r"要不要|需不需要|是否|需要|要公证")


def _needed_for(folded: str, own_names: list[str]) -> list[str]:
    """What the question asks to get that the service needs (its 体检, 征信报告, a 公证), not the service."""
    found = [m.group(1) for m in _NOTARISATION.finditer(folded)
             if not any("公证" in name for name in own_names)
             and not _WHETHER_NEEDED.search(m.group(1))]  # whether one is needed: the service's
    found += [thing for match in _NEEDED.finditer(folded) if (thing := match.group(1)) not in _GENERAL_OBJECTS
              and not _NEEDED_GENERAL.search(thing) and not _overlaps_name(thing, own_names)]
    return found


@functools.lru_cache(maxsize=1)
def _neighbour_terms() -> re.Pattern[str]:
    terms = sorted({fold(t) for t in neighbour_terms()}, key=len, reverse=True)
    return re.compile("|".join(rf"(?<![a-z]){re.escape(t)}(?![a-z])" if t.isascii() else re.escape(t)
                               for t in terms if t))


def names_neighbour(text: str) -> bool:
    """The text names a service next to ours (lexicon/neighbours.yaml), whatever guide is likeliest."""
    return _neighbour_terms().search(fold(text)) is not None


# Letters between the neighbour's words and the guide's name that still make them one phrase
# (住房公积金缓缴); further apart, the name is the question's subject (新能源牌照需要充电桩吗).
_NAME_GAP: Final = 3


def _names_guide_apart(folded: str, spans: list[tuple[int, int]], names: Iterable[str]) -> bool:
    """The question names the guide (3+ letters of a name, or a 2-letter name) somewhere other than
    inside or next to the neighbour's words: 海外人才居住证 is not a question about 居住证."""
    def apart(start: int, end: int) -> bool:  # not within a word's reach of the neighbour's words
        return all(end + _NAME_GAP <= s0 or start >= s1 + _NAME_GAP for s0, s1 in spans)

    # An office is where things are done, not the service (去民政局领证 names no 离婚登记).
    folded = _OFFICE.sub(lambda m: " " * len(m.group(0)), folded)
    for name in {fold(n) for n in names}:
        if latin_name(name):
            continue
        for gram in name_grams(name):
            if any(apart(start, start + len(gram)) for start in _occurrences(folded, gram)):
                return True
    return False


# A clause telling a service is already done ("报关单位备案几年前就办好了", "护照办好了"): the guide it
# names is the background to what is asked next, not the question's subject.
_DONE_CLAUSE: Final = re.compile(
    r"[^，,。；;！!？?]*(?:早就|已经|早已|都|就)?(?:(?:办好|办完|办下来|拿到|领到|弄好|搞定|做好|做完|报完|报好"
    r"|交好)了|(?:报|做|办|交|申请|弄)过了?)[^，,。；;！!？?]*")


def _neighbours_named(folded: str, text: str, names: Iterable[str]) -> list[str]:
    """Services next to ours (lexicon/neighbours.yaml) the question names, when the guide's own
    sections and names never use the word and the question does not name the guide apart from them
    (a 健康证 brought for the 食品经营许可证 is background to a question about the licence)."""
    matches = [m for m in _neighbour_terms().finditer(folded) if m.group(0) not in text]
    if not matches:
        return []
    asked = [m.group(0) for m in matches if _ASKED_RIGHT_AFTER.match(folded, m.end())]
    if asked:  # "企业厂房抵押给银行，抵押登记怎么办": the neighbour is what is asked, whatever else is named
        return asked
    if _names_guide_apart(_DONE_CLAUSE.sub(lambda c: " " * len(c.group(0)), folded),
                          [(m.start(), m.end()) for m in matches], names):
        return []
    return [m.group(0) for m in matches]


# A private provider asked for by recommendation, price or trust (a 猎头, an accountant, a bank's
# loan, an agent promising approval): no government service answers it.
_COMMERCIAL: Final = re.compile(
    r"(推荐|介绍)(一?个|一下|一家|几个|几家|点)?[^，。？?!！]{0,8}(公司|中介|律师|会计|代理|机构|工作室|摄影|猎头|报关行"
    r"|货代|装修)"
    r"|有哪些靠谱|哪家[^，。？?!！]{0,12}(好|靠谱|便宜|额度|利率|利息|划算|合算|最)|包过|能信吗|靠谱吗|技巧|抽成|入驻"
    r"|帮我起个?名|起个好听|哪个[^，。？?!！]{0,12}(靠谱|好用)|最便宜|最实惠|最划算|利息高|加盟"
    r"|\b(good|best) reputation\b|\breputable\b|\bhighly rated\b"
    r"|想几个[^，。？?!！]{0,8}名字|闪退|卸载|重装|网络异常|\bwhich (?:photo )?studio\b"
    r"|(推荐|介绍)(一?个|一下|几个|几家|点)?[^，。？?!！]{0,8}(酒店|宾馆|民宿|餐厅|饭店|学校|培训班|品牌)"
    r"|(哪个|什么|哪款|哪种)牌子|哪款[^，。？?!！]{0,8}(好|最|划算)|性价比|理财|收益(高|最高|多少)"
    r"|(中介|代理|代办)[^，。？?!！]{0,10}(收多少|多少钱|服务费|费用)|哪个app好用|哪个平台好用|改简历|彩礼|份子钱"
    r"|副业|摆地摊|虚拟(注册)?地址|挂靠地址|中介费|选址|给我?点建议|转行|婚纱照|打印机|卡纸"
    r"|(有什么|有啥|有没有)[^，。？?!！]{0,12}推荐|有推荐(吗|伐|嘛|不)|哪里[^，。？?!！]{0,6}(好看|好吃|好玩|便宜)"
    r"|\bwhich [a-z ]{0,30}(is|are|offers?|has) (the )?(best|cheapest|lowest|most reliable|good|reliable)"
    r"|\bwhich [a-z ]{0,20}(company|companies|agency|firm|brand) can\b|\bwhere (can i|to|do i|should i) buy\b"
    r"|\bcheap(ly|est)?\b|\bbest (brand|hotel|restaurant|deal)s?\b"
    r"|\b(can|could) (you|anyone|someone|somebody) recommend\b|\bhappy to pay\b"
    r"|\brecommend (a|an|some|any) (good |reliable )?(lawyer|accountant|agent|agency|company|bank|firm"
    r"|consultant|headhunter|photographer)")


# An errand no government service answers: a shop or place nearby, a translation, a piece of writing.
_ERRAND: Final = re.compile(
    r"附近[^，。？?!！]{0,8}(停车场|停车位|律师|餐厅|饭店|饭馆|银行|超市|药店|酒店|宾馆|厕所|洗手间|加油站|地铁|公交"
    r"|打印店|复印店|照相馆|咖啡|快递|菜场|菜市场|商场|健身房)"
    r"|翻译一下|帮我翻译|翻成(中文|英文|英语)|\btranslate\b"
    r"|写(一)?(篇|份|首|段)[^，。？?!！]{0,6}(作文|文章|诗|代码|演讲稿|检讨|情书)")


# A household's own supply, meter or appliance (居民电表增容, 家里的燃气开户, 我家充电桩报装): the
# supplier's residential service, not an enterprise's connection.
_HOUSEHOLD: Final = re.compile(
    r"(居民|家用|民用|家里|我家|自家|屋里厢|屋里|住宅|农房)(的)?[^，。？?!！ ]{0,6}?"
    r"(用电|用水|用气|电表|水表|燃气|煤气|天然气|空调|热水器|充电桩|光伏|跳闸|水管|水龙头|电路|电线|灶)")


def household(question: str) -> str | None:
    """The household supply or appliance the question is about, if any, named as a resident's
    (居民电表 for "屋里厢电表容量勿够")."""
    match = _HOUSEHOLD.search(fold(question))
    return "居民" + match.group(3) if match else None


def errand(question: str) -> bool:
    """True for an errand no government service answers (附近哪里有停车场, 帮我翻译一下)."""
    return bool(_ERRAND.search(fold(question)))


def commercial(question: str) -> bool:
    """True for a request to recommend or judge a private provider."""
    return bool(_COMMERCIAL.search(fold(question)))


# Attempts to make 小申 play someone else or drop its instructions: no service answers them.
_ROLE_PLAY: Final = re.compile(
    r"(扮演|假装你是|假装成|你现在是(一个|我的)|角色扮演|忽略(之前|以上|前面|所有)的?(指令|指示|提示|规则|设定)"
    r"|\bpretend (to be|you are|you're|you’re)|\bact as\b|\brole-?play"
    r"|\bignore (all |the )?(previous|prior|above) (instructions|prompts?)|\byou are now\b|system prompt"
    r"|(系统|你的)(提示词|指令|设定|prompt)|提示词(告诉|发给|给我|是什么)"
    r"|(开发者|越狱|无限制|上帝)模式|\bdeveloper mode\b|\bjailbreak|\bdo anything now\b|(?-i:\bDAN\b))",
    re.IGNORECASE)


def role_play(question: str) -> bool:
    """True for a request to play a role or to ignore instructions (prompt injection)."""
    return bool(_ROLE_PLAY.search(question))


# Someone's own case: where it stands, why it was refused, where the money is. No guide knows a
# person's file, and its general time limits or conditions would read as an answer about theirs
# ("上个月申请的租房提取 钱一直没到帐 是不是被驳会了", "帮我查查我的标书"). A problem or a request to look
# something up, told of something of their own or already under way.
_CASE_PROBLEM: Final = re.compile(
    r"(还|一直|迟迟|到现在|仍然|还是|怎么还|咋还|哪能)[^，。？?!！]{0,8}(没|呒没|未|勿|不见)(有)?"
    r"(?!去|办|注册|申请|报名|报到|登记|交|提交|开始|弄|准备)[^，。？?!！]{0,8}"
    r"(到账|到帐|收到|打进|打到|打过来|打回来|发|下来|寄到|通知|批|结果|消息|动静|出来|到)"
    r"|没(到账|到帐|打进来)|呒没(打进来|发)|侪呒没|(打|退|寄|发)到哪|到哪里去了"
    r"|被(驳回|驳会|退回|拒)|退回了|(审核|核验|审批)(不|没)通过|没通过|没批下来|不予(批准|认定|受理)"
    r"|少了[0-9一二两三四五六七八九十百千几]|只剩|突然停|停发了|没发|余额(是|还有)?多少|哪项|扣分"
    r"|卡在|卡住|待审核|审核中|审批中|退税审核中|啥道理"
    r"|(?<!是)(怎么|咋)回事|(^|[，。？?!！ ])(这|那)?是(怎么|咋)回事"  # not "X是怎么回事": what X is
    r"|到哪一步|进行到哪|审核到哪|审到哪|审批到哪|走到哪|排到第几|第几位|第几号|出来没有|出来了吗"
    r"|(定|批|出|审|下来|办好|通过)了没(有)?|(审|批|办)得(咋样|怎么样|如何)|(为啥|为什么|怎么|咋)没(中|拍中|批|通过|录取)"
    r"|名单(里|上)(咋|怎么|为啥|为什么)?没有|(我|我们|阿拉)(的|额)(审核|审批|评定|评估|认定)?(结果|进度)"
    r"|录取了(伐|吗|没)|有没有录取|发没发|到底在哪(?![个些家])"
    r"|帮(我|我们|阿拉|忙|伊)?(查|看|找)(查|看|下|一下)?"
    r"(?![^，。？?!！]{0,8}(能不能|能否|是否|符不符合|够不够|可不可以|符合))"
    r"|侬帮阿拉")
_CASE_OWN: Final = re.compile(
    r"我的|我们的|阿拉(的|额)?|我(妈|爸|家|老婆|老公|儿子|女儿)(的|额)?|伊(的|额)"
    r"|已经|早就|上个?(月|号头|周|礼拜|星期)|前几天|去年|这个?(月|号头)|两个(月|号头)|[0-9]{4}年"
    r"|(一|两|三|几|好几|[0-9]+)个?多?(月|周|星期|礼拜|天)(了|前)"
    r"|受理编号|申请号|编号|单号|[0-9]{8,}|(提交|申请|交|报名|递交|寄出|发出)(了|后|之后)"
    r"|(我们|阿拉|我)公司|我[^，。？?!！]{0,6}申请")
# "…可以打哪个电话问": a person asking whom to call about it wants the guide's contacts; "一般要多久"
# is the guide's time limit; what stands in one's name (名下, 产权) is 不动产登记信息查询's business.
_CASE_GENERAL: Final = re.compile(r"(哪个|什么|咨询)电话|电话打到|电话(是)?多少|热线|一般|正常吗|多久"
                                  r"|多长时间|几个工作日|怎么办理|怎么申请|名下|产权")
_CASE_ENGLISH: Final = re.compile(
    r"\b(can|could) you (check|track|look up|find out|see)\b|\btrack (the|my|our)\b"
    r"|\b(my|our) [a-z' ]{0,30}(application|request|claim|refund|payment|case)\b.{0,80}"
    r"\b(still|why|status|rejected|under review|hasn't|has not|not yet|stuck)\b"
    r"|\bstill (hasn'?t|has not|haven'?t|not)\b")


def case_status(question: str) -> bool:
    """True when the question asks about the asker's own application or payment: its progress, a
    refusal's reason, money not arrived, a look-up of their file."""
    folded = fold(question)
    if _CASE_ENGLISH.search(folded):
        return True
    problem = _CASE_PROBLEM.search(folded)
    return bool(problem and _CASE_OWN.search(folded) and not _CASE_GENERAL.search(folded))
