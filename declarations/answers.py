"""Reading and checking one answer of a declaration, by its question's type.

Every reader returns `Valid(value)` (the value as stored) or `Invalid(reason)` with the specific
reason the user is told before the question is asked again. Identity numbers are checked by their
check digits with python-stdnum (cn.ric, cn.uscc), never by hand.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Final

from stdnum import exceptions as stdnum_errors
from stdnum.cn import ric, uscc

from declarations.schema import Question

SHANGHAI_DISTRICTS: Final = (
    "黄浦区", "徐汇区", "长宁区", "静安区", "普陀区", "虹口区", "杨浦区", "闵行区",
    "宝山区", "嘉定区", "浦东新区", "金山区", "松江区", "青浦区", "奉贤区", "崇明区",
)
_DISTRICT_SHORT: Final = {d.removesuffix("新区").removesuffix("区"): d for d in SHANGHAI_DISTRICTS}
_DISTRICT_SHORT.update({"浦东": "浦东新区", "闸北": "静安区"})  # 闸北 merged into 静安 in 2015

_YES: Final = ("是", "是的", "对", "对的", "有", "需要", "要", "同意", "同意授权", "授权", "好", "好的",
               "可以", "嗯", "确认", "没错", "yes", "y", "ok", "确定", "行", "对呀", "是啊", "有的")
_NO: Final = ("否", "不是", "不", "没有", "无", "不需要", "不要", "不同意", "不授权", "不用", "没",
              "no", "n", "算了", "不对", "不用了", "没有的", "无需")
_MOBILE: Final = re.compile(r"^1[3-9]\d{9}$")
_DIGITS_WIDE: Final = str.maketrans("０１２３４５６７８９ｘＸ", "0123456789xX")
_CN_NUM: Final = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
                  "九": 9, "十": 10, "零": 0}
_DATE_PATTERNS: Final = (
    re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)


@dataclass(frozen=True)
class Valid:
    value: str


@dataclass(frozen=True)
class Invalid:
    reason: str


Checked = Valid | Invalid


def _compact(text: str) -> str:
    return re.sub(r"[\s\-_]", "", text.translate(_DIGITS_WIDE)).strip("。.，,！!")


def read_yes_no(text: str) -> str | None:
    """'yes', 'no', or None when the text says neither."""
    t = _compact(text).lower().rstrip("吧呀啊的了")
    if t in _NO or t.startswith(("不", "没", "无")):
        return "no"
    if t in _YES or t.startswith(("是", "有", "同意", "对")):
        return "yes"
    return None


def _number(text: str) -> float | None:
    t = _compact(text).replace("，", "").replace(",", "")
    t = re.sub(r"(元|块|人民币|个|人|年|个月|月|岁|周岁|套|次)$", "", t)
    scale = 1.0
    if t.endswith("万"):
        scale, t = 10000.0, t[:-1]
    if re.fullmatch(r"\d+(\.\d+)?", t):
        return float(t) * scale
    if t and all(ch in _CN_NUM for ch in t):  # 三, 十二, 二十
        if t.startswith("十"):
            t = "一" + t
        total, digit = 0, 0
        for ch in t:
            n = _CN_NUM[ch]
            if n == 10:
                total += (digit or 1) * 10
                digit = 0
            else:
                digit = n
        return float(total + digit) * scale
    return None


def _choice(q: Question, text: str) -> Checked:
    t = _compact(text).lower()
    for i, opt in enumerate(q.options, start=1):
        names = {opt.label.lower(), opt.value, _compact(opt.value), str(i), *(a.lower() for a in opt.aliases)}
        if t in names:
            return Valid(opt.value)
    hits = [opt for opt in q.options
            if any(name and name in t for name in (opt.label.lower(), *(a.lower() for a in opt.aliases)))]
    if len(hits) == 1:
        return Valid(hits[0].value)
    labels = "、".join(f"{i}. {o.label}" for i, o in enumerate(q.options, start=1))
    return Invalid(f"请从以下选项中选择一个（可回复序号）：{labels}")


def _date(q: Question, text: str, today: dt.date) -> Checked:
    t = _compact(text)
    for pattern in _DATE_PATTERNS:
        m = pattern.match(t)
        if m:
            try:
                day = dt.date(int(m[1]), int(m[2]), int(m[3]))
            except ValueError:
                return Invalid("这个日期不存在，请核对年月日，例如 2025-03-01。")
            if q.not_future and day > today:
                return Invalid("这个日期还没到，请填写已经发生的日期。")
            if q.not_past and day < today:
                return Invalid("这个日期已经过去了，请填写今天或以后的日期。")
            if day.year < 1900:
                return Invalid("年份不对，请核对后重新填写。")
            return Valid(day.isoformat())
    return Invalid("没能识别日期，请按“2025-03-01”或“2025年3月1日”的格式填写。")


def check_answer(q: Question, text: str, *, today: dt.date | None = None) -> Checked:
    """The answer to `q` as stored, or the reason it cannot be taken."""
    today = today or dt.date.today()
    raw = text.strip()
    t = _compact(raw)
    if q.type == "choice":
        return _choice(q, raw)
    if q.type == "yes_no":
        yn = read_yes_no(raw)
        return Valid(yn) if yn else Invalid("请回答“是”或“否”。")
    if q.type == "id_number":
        id_number = t.upper()
        if not re.fullmatch(r"\d{17}[\dX]", id_number):
            return Invalid("身份证号应为 18 位（最后一位可以是 X），请核对后重新输入。")
        try:
            ric.get_birth_date(id_number)  # a wrong date is the likelier typo than the check digit
            ric.validate(id_number)
        except stdnum_errors.InvalidChecksum:
            return Invalid("身份证号的校验位不对，可能有一位输错了，请核对后重新输入。")
        except stdnum_errors.ValidationError:
            return Invalid("身份证号中的出生日期或地区码不对，请核对后重新输入。")
        return Valid(id_number)
    if q.type == "uscc":
        code = t.upper()
        if len(code) != 18:
            return Invalid("统一社会信用代码应为 18 位，请核对营业执照后重新输入。")
        try:
            uscc.validate(code)
        except stdnum_errors.InvalidChecksum:
            return Invalid("统一社会信用代码的校验位不对，可能有一位输错了，请核对营业执照后重新输入。")
        except stdnum_errors.ValidationError:
            return Invalid("统一社会信用代码格式不对（只含数字和大写字母，不含 I、O、Z、S、V），"
                           "请核对后重新输入。")
        return Valid(code)
    if q.type == "phone":
        mobile = re.sub(r"^(\+?86)", "", t)
        if not _MOBILE.match(mobile):
            return Invalid("手机号应为 11 位、以 1 开头，请核对后重新输入。")
        return Valid(mobile)
    if q.type == "date":
        return _date(q, raw, today)
    if q.type == "district":
        name = t.removeprefix("上海市").removeprefix("上海")
        if name in SHANGHAI_DISTRICTS:
            return Valid(name)
        short = name.removesuffix("新区").removesuffix("区")
        if short in _DISTRICT_SHORT:
            return Valid(_DISTRICT_SHORT[short])
        return Invalid("请填写上海的区，例如“浦东新区”“徐汇区”（共 16 个区）。")
    if q.type in ("amount", "integer"):
        amount = _number(raw)
        if amount is None:
            example = "请填写一个数字，例如 3。" if q.type == "integer" else "请填写金额（元），例如 3000。"
            return Invalid(example)
        number = amount
        if q.type == "integer" and number != int(number):
            return Invalid("请填写整数。")
        if q.min is not None and number < q.min:
            return Invalid(f"不能小于 {q.min:g}，请核对后重新填写。")
        if q.max is not None and number > q.max:
            return Invalid(f"不能大于 {q.max:g}，请核对后重新填写。")
        return Valid(f"{number:g}" if q.type == "integer" else f"{number:.2f}".rstrip("0").rstrip("."))
    if q.type == "name":
        name = re.sub(r"\s+", " ", raw).strip("。.，, ")
        if not 2 <= len(name) <= 40 or re.search(r"\d", name):
            return Invalid("请填写 2—40 个字的名称，不含数字。")
        return Valid(name)
    if q.type == "address":
        address = re.sub(r"\s+", " ", raw).strip("。 ")
        if not 6 <= len(address) <= 120:
            return Invalid("请填写完整地址（区、街道/路、门牌号），6—120 个字。")
        return Valid(address)
    # text
    lo, hi = int(q.min or 1), int(q.max or 200)
    if not lo <= len(raw) <= hi:
        return Invalid(f"请填写 {lo}—{hi} 个字。")
    return Valid(raw)
