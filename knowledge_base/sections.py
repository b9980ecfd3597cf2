"""Which section of a guide a question asks about, from cue words in the normalised text."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from knowledge_base.normalize import normalize

# Ordered: the first section whose cue matches wins, so narrow cues come before broad ones
# ("怎么收费" is about the fee even though "怎么" alone suggests the process).
_CUES: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    ("contact", (
        r"电话", r"热线", r"咨询.{0,4}(哪|谁|号码|方式)", r"打.{0,2}(哪个|什么)号", r"联系方式", r"联系谁",
        r"客服", r"\bphone\b", r"\bcontact\b", r"\bhotline\b", r"12345(?!6)", r"号码是",
    )),
    ("fee", (
        r"收费", r"费用(是|要)?(多少|怎么算|高吗|呢|吗)", r"(交|缴|付|收).{0,2}费用", r"多少钱",
        r"(交|缴|付)(费)?多少", r"缴费(标准|基数|金额)", r"保证金", r"押金", r"几块钱", r"要钱", r"花钱", r"交钱", r"付费", r"免费", r"工本费",
        r"手续费", r"价格", r"贵不贵", r"\bfee", r"\bcost", r"how much", r"\bfree\b", r"\bcharge",
        r"钱吗",
    )),
    ("materials", (
        r"材料", r"资料", r"证件", r"带(什么|啥|哪些|些什么)", r"准备(什么|啥|哪些|些)", r"要带",
        r"提交(什么|啥|哪些)", r"需要(什么|啥|哪些)(东西|证)", r"文件", r"证明(材料)?(吗|呢|有哪些)",
        r"\bdocument", r"\bmaterial", r"\bbring\b", r"\bpaperwork", r"\bneed to prepare",
        r"清单", r"复印件", r"原件",
    )),
    ("time_limit", (
        r"多久", r"多长时间", r"几天", r"几个工作日", r"工作日", r"时限", r"期限", r"有效期", r"截止",
        r"什么时候(能|可以)?(到账|拿到|办好|下来|出来|结束|截止)", r"到账", r"时间(多长|要多少)",
        r"要多少天", r"几个月", r"多快", r"何时", r"过期", r"(哪|几)天(之前|前|截止)", r"期满",
        r"\bhow long\b", r"\bdeadline", r"\bdays?\b", r"\bvalid", r"\bwhen\b",
        r"公告期", r"什么时候", r"啥时候", r"(办理|报名|申报|缴费|开放|受理|申请)(时间|日期)",
    )),
    ("channel", (
        r"(在|去)?哪(里|儿|个地方|个窗口|个部门|个网站|个平台)", r"网上", r"线上", r"在线", r"网站", r"\bapp\b",
        r"随申办", r"一网通办", r"窗口", r"大厅", r"地址", r"渠道", r"手机上", r"小程序", r"上门",
        r"能不能.{0,3}(网上|线上)", r"\bwhere\b", r"\bonline\b", r"\bwebsite", r"跑一次", r"不见面",
        r"下载", r"自助(机|终端|设备)?", r"网点", r"异地(办|通办)", r"跨省",
    )),
    ("eligibility", (
        r"条件", r"资格", r"谁(可以|能)", r"哪些人", r"什么人", r"什么样的", r"能不能(申请|办|领|享受)",
        r"可以(申请|办|领)吗", r"能(申请|办|领)吗", r"符合", r"要求", r"满足", r"够不够", r"有没有资格",
        r"是否可以", r"适用", r"\beligib", r"\bqualif", r"\bcan i\b", r"who can", r"外地人", r"非沪籍",
    )),
    # "怎么办理" asks how to handle it in general, which the contract calls the overview;
    # only explicit steps, procedure or operating questions are the process.
    ("process", (
        r"流程", r"步骤", r"程序", r"环节", r"怎么(操作|走|填|提交)", r"如何(操作|提交|填)", r"咋操作",
        r"具体(怎么|步骤|如何)", r"先.{1,12}(再|然后)", r"第一步", r"\bsteps?\b", r"\bprocess",
        r"\bprocedure",
        # "how do I <do a particular operation>" (not 办理/申请 in general, which is the overview)
        r"(怎么|如何|怎样|咋)(给.{0,3})?(开具|开票|补办|补领|挂失|报名|提取|缴纳|缴费|填报|填写|"
        r"预约|提交|申报|参保|续签|签注|换领|转移|迁|注销|激活|绑定|认证|拍)",
        r"补办", r"挂失",
    )),
)

_COMPILED: Final = tuple((name, re.compile("|".join(cues))) for name, cues in _CUES)


def _strip_names(norm: str, names: Iterable[str]) -> str:
    """Remove the names, and any run of 3+ characters shared with a name (驾驶证期满换证 is
    part of 机动车驾驶证期满换证), longest first."""
    for name in sorted({normalize(n) for n in names}, key=len, reverse=True):
        for size in range(len(name), 2, -1):
            for start in range(len(name) - size + 1):
                part = name[start : start + size]
                if part.strip() and part in norm:
                    norm = norm.replace(part, " ")
    return norm


def detect_section(text: str, names: Iterable[str] = ()) -> str | None:
    """The section a question asks about, or None when it names no particular section.

    `names` are the service's own title and aliases: they are removed first, because a name such
    as 医疗费用零星报销 or 驾驶证期满换证 holds cue words (费用, 期满) that ask nothing.
    """
    norm = _strip_names(normalize(text), names)
    for name, pattern in _COMPILED:
        if pattern.search(norm):
            return name
    return None
