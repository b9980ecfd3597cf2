"""Section detection: regex cues blended with the learned classifier (knowledge_base.sections)."""

from __future__ import annotations

import time

import pytest

from knowledge_base.section_model import TRAINING_FILE, SectionModel, load_examples
from knowledge_base.sections import (
    cue_sections,
    detect_section,
    fold,
    mentions_name,
    read_section,
    strip_names,
)

MED = ["医疗费用零星报销", "零星报销", "医疗费报销", "medical expense reimbursement"]
DRIVER = ["机动车驾驶证期满换证", "驾驶证期满换证", "驾照到期换证", "driving licence renewal"]
PASSPORT = ["普通护照申领", "护照", "办护照", "passport"]
VAT = ["增值税及附加税费申报", "增值税申报", "VAT filing"]
SOCIAL = ["社会保障卡申领、补卡与换卡", "社保卡", "社保卡补办"]
MIN_LIVING = ["最低生活保障申请", "低保", "minimum living allowance"]


@pytest.mark.parametrize(("question", "names", "section"), [
    # names holding cue words (费用, 期满) ask nothing by themselves
    ("医疗费用零星报销怎么办理", MED, None),
    ("医疗费用零星报销", MED, None),
    ("医疗费用零星报销需要哪些单据", MED, "materials"),
    ("医疗费用零星报销多久能到账", MED, "time_limit"),
    ("医疗费用零星报销要收费吗", MED, "fee"),
    ("驾驶证期满换证怎么办理", DRIVER, None),
    ("驾驶证期满换证要带什么", DRIVER, "materials"),
    ("驾驶证期满换证在哪里办", DRIVER, "channel"),
    ("驾驶证期满换证要体检吗，需要满足什么条件", DRIVER, "eligibility"),
    # "how to <the service's own action>" is the overview; recovering something lost is the process
    ("增值税及附加税费怎么申报", VAT, None),
    ("社保卡丢了怎么补办", SOCIAL, "process"),
    ("社保卡怎么挂失", SOCIAL, "process"),
    # plain Chinese, every section
    ("办护照要带哪些证件", PASSPORT, "materials"),
    ("护照多少天能拿到", PASSPORT, "time_limit"),
    ("办护照多少钱", PASSPORT, "fee"),
    ("护照在哪里办", PASSPORT, "channel"),
    ("护照咨询电话是多少", PASSPORT, "contact"),
    ("外地户口能在上海办护照吗", PASSPORT, "eligibility"),
    ("护照申领的流程是什么样的", PASSPORT, "process"),
    ("护照怎么办理", PASSPORT, None),
    ("低保是什么", MIN_LIVING, None),
    # 繁體
    ("辦護照要帶什麼", PASSPORT, "materials"),
    ("護照要錢嗎", PASSPORT, "fee"),
    ("低保申請條件有哪些", MIN_LIVING, "eligibility"),
    ("網上能辦嗎", [], "channel"),
    # English (an alias holding "long"/"low" must not eat the cue words)
    ("passport application fee", PASSPORT, "fee"),
    ("what documents do I need for a passport", PASSPORT, "materials"),
    ("how long does the minimum living allowance review take", MIN_LIVING, "time_limit"),
    ("where can I apply for a passport", PASSPORT, "channel"),
    ("passport hotline", PASSPORT, "contact"),
    ("who can apply for minimum living allowance", MIN_LIVING, "eligibility"),
    ("what are the steps", [], "process"),
    # typos fixed by the lexicon's typo list
    ("护招要带啥", PASSPORT, "materials"),
    # short follow-ups without any name
    ("那要多久", [], "time_limit"),
    ("网上能办吗", [], "channel"),
    ("带啥", [], "materials"),
    ("要钱不", [], "fee"),
    ("找谁问", [], "contact"),
    ("啥条件", [], "eligibility"),
    ("具体步骤呢", [], "process"),
    ("多久到账", [], "time_limit"),
    ("可以线上办吗", [], "channel"),
    ("咋弄", [], None),
])
def test_detect_section(question: str, names: list[str], section: str | None) -> None:
    assert detect_section(question, names) == section


@pytest.mark.parametrize("chatter", [
    "你是谁", "讲个笑话", "今天天气怎么样", "谢谢", "好的", "哈哈哈", "tell me a joke", "股票怎么买",
])
def test_chatter_asks_no_section(chatter: str) -> None:
    assert detect_section(chatter) is None


def test_fold_is_light() -> None:
    # width, 繁→简, lowercase, punctuation, typos; no English translation, no synonyms appended
    assert fold("ＨＯＷ　LONG？護照") == "how long 护照"
    assert fold("公基金提取") == "公积金提取"
    assert fold("what is the fee") == "what is the fee"


@pytest.mark.parametrize(("text", "names", "left"), [
    ("驾驶证期满换证要带什么", DRIVER, "要带什么"),
    ("增值税及附加税费怎么申报", VAT, "怎么"),
    ("社保卡丢失后怎么补办", SOCIAL, "丢失后怎么补办"),
    ("how long does the minimum living allowance review take", MIN_LIVING,
     "how long does the review take"),
])
def test_strip_names(text: str, names: list[str], left: str) -> None:
    assert strip_names(fold(text), names) == left


def test_mentions_name() -> None:
    assert mentions_name("护照要带什么", PASSPORT)
    assert mentions_name("my passport expired", PASSPORT)
    assert not mentions_name("有效期多久", PASSPORT)
    assert not mentions_name("how long does it take", PASSPORT)


def test_cues_and_reading_evidence() -> None:
    assert cue_sections("网上能办吗") == ("channel",)  # can it be done online, not may one
    assert cue_sections("外地人能办吗") == ("eligibility",)
    assert cue_sections("阿拉姆妈66岁，好领老年综合津贴伐") == ("eligibility",)
    reading = read_section("网上能办吗")
    assert reading.section == "channel"
    assert set(reading.probabilities) >= {"overview", "channel", "fee"}
    assert abs(sum(reading.probabilities.values()) - 1.0) < 1e-6
    assert read_section("").section is None


def test_training_file_covers_every_section_and_trains_fast() -> None:
    examples = load_examples(TRAINING_FILE, fold)
    counts: dict[str, int] = {}
    for example in examples:
        counts[example.section] = counts.get(example.section, 0) + 1
    assert set(counts) == {"overview", "eligibility", "materials", "process", "time_limit", "fee",
                           "channel", "contact"}
    assert min(counts.values()) >= 60
    started = time.perf_counter()
    model = SectionModel(examples)
    assert time.perf_counter() - started < 2.0  # well under a second on a normal machine
    assert max(model.probabilities("要带什么材料").items(), key=lambda kv: kv[1])[0] == "materials"


@pytest.mark.parametrize("question", [
    "社保交满十五年才能领退休金吗",
    "居住证积分要持证满多久才能申请",
    "生育津贴要连续交社保满12个月吗",
    "孩子要满6周岁才能上小学吗",
    "招的人要签满一年合同才能拿补贴吗",
    "医保要交几年才能享受退休待遇",
    "在上海住多久可以办居住证",
    "How many years do I need to have paid social insurance to get a pension?",
])
def test_a_condition_counted_in_years_or_age_is_eligibility(question: str) -> None:
    assert detect_section(question) == "eligibility"


def test_a_condition_whose_verb_is_part_of_a_service_name_is_still_eligibility() -> None:
    # "领失业金" is an alias: with it taken out, "交多久能" would read as a time question.
    assert read_section("社保交多久能领失业金", ["失业保险金申领", "领失业金"]).section == "eligibility"


@pytest.mark.parametrize(("question", "names"), [
    ("爸妈都不是上海户口，宝宝能走出生一件事一起办吗", ["出生一件事"]),
    ("年收入不到12万，要补税的话也得去汇算吗", ["汇算"]),
    ("Are we required to register for the housing provident fund?", []),
])
def test_whether_one_may_or_must_is_eligibility(question: str, names: list[str]) -> None:
    reading = read_section(question, names)
    assert (reading.section, reading.source) == ("eligibility", "whether")


@pytest.mark.parametrize(("question", "section"), [
    ("侬晓得报关单位备案哪能弄伐", None),  # 哪能 is "how", not "can"
    ("出生一件事能在网上办吗", "channel"),  # another section's cue comes first
    ("补办身份证要带户口本吗", "materials"),
])
def test_a_whether_question_with_another_cue_keeps_it(question: str, section: str | None) -> None:
    assert detect_section(question) == section


@pytest.mark.parametrize(("question", "section"), [
    ("驾照到期前多久可以换", "time_limit"),
    ("交满15年的证明要带哪些材料", "materials"),
    ("残疾证啥地方申请", "channel"),
])
def test_time_and_other_sections_stay_themselves(question: str, section: str) -> None:
    assert detect_section(question) == section


@pytest.mark.parametrize(("question", "section"), [
    ("燃气报装要多少辰光", "time_limit"),
    ("补办身份证要户口本吗", "materials"),
    ("新能源额度申请到上牌要走哪几步", "process"),
    ("公租房的事情问啥人", "contact"),
    ("换护照要几钿", "fee"),
    ("单位开户要交开户费或者管理费吗", "fee"),
    ("报名要报名费啥的不", "fee"),
    ("燃气开通要多少日脚", "time_limit"),
    ("报修打962777可以吗", "contact"),
    ("What do I need to bring to renew my passport?", "materials"),
    ("My father is 72. Can he still renew his driving license?", "eligibility"),
])
def test_colloquial_section_cues(question: str, section: str) -> None:
    assert detect_section(question) == section


@pytest.mark.parametrize(("question", "section"), [
    # The background's words ask nothing: a condition told in passing, a service described.
    ("我女儿明年9月就满三岁了，我们刚搬到浦东新区，户口还在老房子那边，很担心她上不了家附近的幼儿园，"
     "想问一下幼儿园入园报名的时间安排是怎样的？", "time_limit"),
    ("我奶奶今年82岁了，生活基本不能自理，听说上海有长护险可以提供上门护理服务，"
     "想问一下怎么申请评估？", None),
    ("我妈今年刚满65岁，邻居说上海老人每个月都有津贴可以拿。"
     "老年综合津贴申请具体怎么操作？是去居委会吗", "process"),
    # With no cue in the question itself, the whole message is read (its condition included).
    ("孩子非沪籍，我有居住证，积分还没满120分，孩子能在上海报名伐", "eligibility"),
])
def test_a_long_message_is_read_by_the_clauses_that_ask(question: str, section: str | None) -> None:
    assert detect_section(question) == section


def test_allowed_in_shanghai_is_eligibility_and_online_is_the_channel() -> None:
    assert detect_section("我是上海户口，对象是安徽的，我们能在上海登记吗") == "eligibility"
    assert detect_section("能在网上申请吗") == "channel"


@pytest.mark.parametrize("question", ["有没有时效要求", "报销有时间限制吗", "入园报名的时间安排是怎样的"])
def test_a_time_limit_asked_as_a_requirement_or_a_schedule(question: str) -> None:
    assert detect_section(question) == "time_limit"


def test_names_are_taken_out_the_same_way_in_every_process() -> None:
    """Names of equal length are removed in a fixed order, not in the order a set of them happens to
    have under the process's string hashing (which moved borderline questions between sections)."""
    import os
    import subprocess
    import sys

    code = ("from knowledge_base.sections import strip_names; "
            "print(strip_names('企业之间房产过户能网上申请吗', ['企业间不动产转移登记', '企业间过户', "
            "'公司之间房产过户', '企业间不动产过户', '单位房产过户', '公司之间房产转让']))")
    outputs = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout
        for seed in range(4)
    }
    assert len(outputs) == 1, outputs
