"""GuideService.decide over a real KnowledgeBase and the real guides (conftest.py loads them once)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from actions.guide_service import FOLLOW_UP_CONFIDENCE, Context, GuideService
from contract.turn import guide_payload
from knowledge_base.engine import KnowledgeBase
from knowledge_base.rules import Rules


@pytest.fixture(scope="module")
def service(kb: KnowledgeBase) -> GuideService:
    return GuideService(kb)


@pytest.mark.parametrize(("question", "service_id", "section"), [
    ("租房提取公积金要带什么材料", "hpf-withdraw-rent", "materials"),
    ("医疗费用零星报销怎么办理", "med-reimburse", "overview"),
    ("医疗费用零星报销要多久", "med-reimburse", "time_limit"),
    ("驾驶证期满换证需要什么材料", "driver-renew", "materials"),
    ("驾驶证期满换证怎么办理", "driver-renew", "overview"),
    ("辦護照要多少錢", "passport", "fee"),
    ("what documents do I need for a passport", "passport", "materials"),
    ("失业金在随申办上能申请吗", "unemployment-benefit", "channel"),
])
def test_answers_service_and_section(service: GuideService, question: str, service_id: str,
                                     section: str) -> None:
    decision = service.decide(question, Context())
    assert (decision.outcome, decision.service_id, decision.section) == ("answer", service_id, section)
    assert decision.text.startswith("【")
    assert all(b["payload"].startswith("/ask_guide{") for b in decision.buttons)


def test_clarifies_between_close_services(service: GuideService) -> None:
    decision = service.decide("公积金能取出来吗", Context())
    assert decision.outcome == "clarify"
    ids = [c.service_id for c in decision.candidates]
    assert {"hpf-withdraw-rent", "hpf-withdraw-buy"} <= set(ids)
    assert decision.buttons[-1]["payload"] == "/ask_human"


@pytest.mark.parametrize("question", ["今天天气怎么样", "讲个笑话"])
def test_out_of_scope(service: GuideService, question: str) -> None:
    decision = service.decide(question, Context())
    assert decision.outcome == "out_of_scope"
    assert decision.service_id is None


def test_strict_needs_a_clear_match(service: GuideService) -> None:
    assert service.decide("今天天气怎么样", Context(), strict=True).outcome == "out_of_scope"
    clear = service.decide("租房提取公积金要带什么材料", Context(), strict=True)
    assert clear.outcome == "answer"


@pytest.mark.parametrize(("question", "section"), [
    ("那要多久", "time_limit"),
    ("网上能办吗", "channel"),
    ("带啥", "materials"),
    ("收费吗", "fee"),
    ("电话多少", "contact"),
    ("有啥条件", "eligibility"),
    ("具体步骤呢", "process"),
    ("要錢嗎", "fee"),
    ("how long does it take", "time_limit"),
    ("can I do it online", "channel"),
    ("有效期多久", "time_limit"),
])
def test_follow_up_keeps_the_service(service: GuideService, question: str, section: str) -> None:
    ctx = Context(service_id="hpf-withdraw-buy", section="materials")
    decision = service.decide(question, ctx)
    assert (decision.outcome, decision.service_id, decision.section) == (
        "answer", "hpf-withdraw-buy", section)


def test_follow_up_confidence(service: GuideService) -> None:
    decision = service.decide("那要多久", Context(service_id="passport"))
    assert decision.confidence == FOLLOW_UP_CONFIDENCE


def test_new_named_service_switches_topic(service: GuideService) -> None:
    decision = service.decide("办护照要带什么", Context(service_id="hpf-withdraw-buy"))
    assert (decision.service_id, decision.section) == ("passport", "materials")


def test_correction_switches_service(service: GuideService) -> None:
    ctx = Context(service_id="hpf-withdraw-buy", section="materials")
    decision = service.decide("不是这个，我问的是租房提取", ctx)
    assert decision.outcome == "answer"
    assert decision.service_id == "hpf-withdraw-rent"


@pytest.mark.parametrize(("current", "section", "correction", "meant"), [
    # A situation that rules out the current guide and points to the one that clearly leads the rest.
    ("ent-cancel-simple", "time_limit", "搞错了，我们公司还有欠的税没清完，应该走不了简易的",
     "ent-cancel-general"),
    ("property-query", "overview", "不是查询，是房子卖掉了要过户", "property-transfer"),
])
def test_a_correction_answers_the_guide_that_clearly_leads_what_remains(
        service: GuideService, current: str, section: str, correction: str, meant: str) -> None:
    decision = service.decide(correction, Context(service_id=current, section=section))
    assert (decision.outcome, decision.service_id, decision.section) == ("answer", meant, section)


def test_chatter_in_a_conversation_is_not_a_follow_up(service: GuideService) -> None:
    decision = service.decide("讲个笑话", Context(service_id="passport"))
    assert decision.outcome == "out_of_scope"
    # A whether-question alone does not tie an aside to the guide under discussion.
    aside = service.decide("我家狗要办养犬证，这个你能查吗",
                           Context(service_id="property-query", section="overview"))
    assert aside.outcome == "out_of_scope"


def test_button_hints(service: GuideService) -> None:
    decision = service.decide("/ask_guide", Context(), service_hint="passport", section_hint="fee")
    assert (decision.outcome, decision.service_id, decision.section, decision.confidence) == (
        "answer", "passport", "fee", 1.0)
    pending = service.decide("x", Context(pending_section="channel"), service_hint="passport")
    assert pending.section == "channel"
    assert guide_payload("passport", "fee") == '/ask_guide{"service_id": "passport", "section": "fee"}'


@pytest.mark.parametrize("question", [
    "我们想做图书批发，出版物经营许可证怎么办？",
    "危险化学品经营许可证的办理流程是什么",
])
def test_a_licence_our_guides_do_not_deal_with_is_not_answered_with_a_neighbour(
        service: GuideService, question: str) -> None:
    reply = service.decide(question, Context())
    assert reply.outcome == "out_of_scope" and reply.service_id is None
    assert "不在小申目前能解答的事项里" in reply.text
    assert reply.buttons[0]["payload"] == guide_payload("ent-food-license")  # offered, not answered


def test_one_guide_not_near_enough_is_offered_not_asked_about(service: GuideService) -> None:
    # No "which one do you mean?" with a single option: not sure, said so, the guide offered.
    reply = service.decide("阿拉公司新招了一个人，社保要几日之内帮伊交上去？晚了要紧伐？", Context())
    assert reply.outcome == "out_of_scope" and reply.service_id is None
    assert "没有把握" in reply.text and "单位社会保险登记" in reply.text
    assert [b["payload"] for b in reply.buttons] == [guide_payload("ent-social-register", "time_limit"),
                                                     "/ask_human"]
    # Named, but barely likely: 注销登记 of a car is not a company's deregistration.
    scrapped = service.decide("老车要报废，注销登记咋弄？", Context())
    assert scrapped.outcome == "out_of_scope" and scrapped.service_id is None
    assert scrapped.buttons[0]["payload"] == guide_payload("ent-cancel-general")
    # Two guides that really compete are still a question back.
    assert service.decide("签注怎么办", Context()).outcome == "clarify"  # 港澳 or 居住证 签注


def test_a_households_supply_is_not_a_companys_connection(service: GuideService) -> None:
    reply = service.decide("家里想从单相电改三相电，居民用电增容怎么申请？", Context())
    assert reply.outcome == "out_of_scope" and reply.service_id is None
    assert "居民用电" in reply.text
    assert reply.buttons[0]["payload"] == guide_payload("utility-power")  # offered, not answered
    shop = service.decide("开了个小饭店，燃气接入报装要多久？", Context())
    assert (shop.outcome, shop.service_id, shop.section) == ("answer", "utility-gas", "time_limit")


def test_a_persons_own_case_is_not_answered_with_the_guide(service: GuideService) -> None:
    reply = service.decide("上个月申请的租房提取公积金 钱一直没到帐 是不是被驳回了", Context())
    assert reply.outcome == "out_of_scope" and reply.service_id is None
    assert "我的办件" in reply.text and "12345" in reply.text
    assert reply.buttons[0]["payload"] == "/ask_human"
    assert reply.buttons[1]["payload"] == guide_payload("hpf-withdraw-rent", "time_limit")
    # The same service's time limit asked in general is still answered.
    general = service.decide("租房提取公积金一般多久到账", Context())
    assert (general.outcome, general.service_id, general.section) == ("answer", "hpf-withdraw-rent",
                                                                       "time_limit")


def test_a_service_named_by_its_own_name_is_answered_though_the_story_ranks_another(
        service: GuideService) -> None:
    question = ("我和女朋友谈了五年恋爱，终于决定国庆节前去领证了，但是我们都不是上海户口，她是江苏的，"
                "我是浙江的，想问一下我们能在上海办结婚登记吗？")
    reply = service.decide(question, Context())
    assert (reply.outcome, reply.service_id, reply.section) == ("answer", "marriage-register", "eligibility")


@pytest.mark.parametrize(("question", "service_id", "section"), [
    # The question names its guide whole; the story (孩子上幼儿园) ranks another.
    ("我硕士毕业在上海工作四年了，社保一直按高基数交。我这种情况够不够人才引进落户的条件？"
     "孩子明年上幼儿园，全家都盼着。", "talent-hukou", "eligibility"),
    # The story names a benefit we do not cover (康复补贴); the question asks for our guide by name.
    ("孩子确诊自闭症后，康复机构老师说办了证能领康复补贴。办残疾人证的流程是什么？",
     "disability-card", "process"),
    # A pinyin slip in the guide's own name (精营) is not another licence.
    ("食品精营许可证有问题打哪个电话咨询", "ent-food-license", "contact"),
])
def test_a_long_message_is_answered_by_what_it_asks(service: GuideService, question: str, service_id: str,
                                                    section: str) -> None:
    reply = service.decide(question, Context())
    assert (reply.outcome, reply.service_id, reply.section) == ("answer", service_id, section)


def test_our_own_licence_is_still_answered(service: GuideService) -> None:
    reply = service.decide("食品经营许可证怎么办", Context())
    assert (reply.outcome, reply.service_id) == ("answer", "ent-food-license")


def test_another_citys_service_is_not_ours(service: GuideService) -> None:
    reply = service.decide("杭州开公司要啥材料？", Context())
    assert reply.outcome == "out_of_scope" and "只能解答上海市" in reply.text


@pytest.fixture
def ruled(kb: KnowledgeBase) -> Iterator[KnowledgeBase]:
    """The shared knowledge base with editors' rules for one test, then without them again."""
    yield kb
    kb.set_rules(Rules())


def test_an_editors_synonym_answers_at_once(service: GuideService, ruled: KnowledgeBase) -> None:
    # "小牌" is what many Shanghai drivers call the plate quota; no guide or lexicon says so.
    before = service.decide("拍小牌要什么条件", Context())
    assert before.outcome != "answer"
    ruled.set_rules(Rules.build([["小牌", "非营业性客车额度"]], segmenter=ruled.segmenter))
    after = service.decide("拍小牌要什么条件", Context())
    assert (after.outcome, after.service_id, after.section) == ("answer", "car-plate-quota", "eligibility")
    ruled.set_rules(Rules())
    assert service.decide("拍小牌要什么条件", Context()).outcome != "answer"


def test_a_question_marked_out_of_scope_is_declined_plainly(service: GuideService,
                                                             ruled: KnowledgeBase) -> None:
    marked = "我要办个出版物经营许可证要什么材料"
    ruled.set_rules(Rules.build(out_of_scope=[marked], segmenter=ruled.segmenter))
    for question in (marked, "出版物经营许可证怎么办理"):
        reply = service.decide(question, Context())
        assert (reply.outcome, reply.service_id, reply.confidence) == ("out_of_scope", None, 1.0)
        assert "不属于小申能解答" in reply.text and not reply.candidates
    # The neighbour we do cover is still answered.
    food = service.decide("食品经营许可证要什么材料", Context())
    assert (food.outcome, food.service_id) == ("answer", "ent-food-license")


@pytest.mark.parametrize("question", [
    "公积金账户封存了怎么解封",
    "残疾人专用停车证怎么申请",
    "护照上的曾用名怎么加注",
])
def test_a_neighbour_named_by_words_the_guide_never_uses_is_not_answered(
        service: GuideService, question: str) -> None:
    assert service.decide(question, Context()).outcome != "answer"


@pytest.mark.parametrize(("question", "service_id"), [
    ("身份证办好了可以叫快递寄到家吗", "id-card"),
    ("办居住证要本人去派出所吗", "residence-permit"),
    ("公租房申请要带户口本原件吗", "public-rental"),
    ("个税汇算可以让会计代办吗", "tax-iit-annual"),
])
def test_everyday_details_in_a_question_do_not_make_it_a_neighbour(
        service: GuideService, question: str, service_id: str) -> None:
    reply = service.decide(question, Context())
    assert (reply.outcome, reply.service_id) == ("answer", service_id)


def test_a_tentative_answer_says_so_and_offers_the_way_out(service: GuideService, kb: KnowledgeBase) -> None:
    others = [c for c in kb.rank("护照") if c.service_id != "passport"]
    reply = service.answer("passport", "fee", 0.55, others, tentative=True)
    assert reply.outcome == "answer" and reply.text.startswith("您问的可能是【普通护照申领】")
    payloads = [b["payload"] for b in reply.buttons]
    assert "/ask_human" in payloads
    assert payloads.index("/ask_human") < payloads.index(guide_payload("passport", "overview"))
    sure = service.answer("passport", "fee", 0.9, others)
    assert not sure.text.startswith("您问的可能是")
    assert "/ask_human" not in [b["payload"] for b in sure.buttons]


@pytest.mark.parametrize(("question", "before", "service_id", "section"), [
    ("弄错了，丢的是社保卡不是身份证", Context("id-card", "fee"), "social-card", "fee"),
    ("不是这个，我早就有居住证了，是快过期了", Context("residence-permit", "process"), "residence-renew",
     "process"),
])
def test_a_correction_to_the_only_plausible_guide_is_answered_not_asked(
        service: GuideService, question: str, before: Context, service_id: str, section: str) -> None:
    reply = service.decide(question, before)
    assert (reply.outcome, reply.service_id, reply.section) == ("answer", service_id, section)
    assert reply.text.startswith("您问的可能是")  # still says it may not be what was meant


@pytest.mark.parametrize(("question", "service_id", "section"), [
    ("增值税自己在网上报的话，要钱不", "tax-vat-filing", "fee"),
    ("单位开社保户碰到问题，打啥电话", "ent-social-register", "contact"),
])
def test_the_only_plausible_guide_named_in_part_is_answered_tentatively(
        service: GuideService, question: str, service_id: str, section: str) -> None:
    reply = service.decide(question, Context())
    assert (reply.outcome, reply.service_id, reply.section) == ("answer", service_id, section)
    assert reply.text.startswith("您问的可能是")  # and says so, with the way out


@pytest.mark.parametrize(("question", "before", "service_id", "section"), [
    # 签注 after 居住证: the 居住证's, not the 港澳 one (the same theme as the service under discussion).
    ("签注呢？", Context("residence-permit", "time_limit"), "residence-renew", "time_limit"),
    # "and the X?" asks the same of X.
    ("and the high-tech enterprise certification?", Context("ent-trademark", "channel"),
     "ent-hitech", "channel"),
    # Shanghainese "not this one", keeping the section asked.
    ("勿是迭个，阿拉是第一趟办居住证", Context("residence-renew", "materials"),
     "residence-permit", "materials"),
    # A company's details, then "can we apply?": the service under discussion, whatever else it names.
    ("我们公司成立刚一年半，有两项软件著作权，研发人员占15%，能申请吗", Context("ent-hitech", "overview"),
     "ent-hitech", "eligibility"),
    # Another service the person already holds is a detail, not the question's subject.
    ("孩子户口在外地，我有居住证，他能在上海报名吗", Context("school-enroll", "materials"),
     "school-enroll", "eligibility"),
    # What the person is (灵活就业, 城乡居民医保) is a detail too.
    ("我老婆是灵活就业人员，社保是自己交的，也能申请吗", Context("birth-insurance", "overview"),
     "birth-insurance", "eligibility"),
    ("我爸交的是城乡居民医保，瘫痪在床好几年了，可以申请吗", Context("med-ltc", "materials"),
     "med-ltc", "eligibility"),
    # A bare name asks what was asked, of that service.
    ("简易注销", Context("ent-cancel-general", "materials"), "ent-cancel-simple", "materials"),
])
def test_switches_and_details_in_a_conversation(
        service: GuideService, question: str, before: Context, service_id: str, section: str) -> None:
    reply = service.decide(question, before)
    assert (reply.outcome, reply.service_id, reply.section) == ("answer", service_id, section)


def test_a_name_that_holds_its_rivals_name_settles_a_question_back(service: GuideService) -> None:
    options = service.kb.rank("我想申请居住证积分")[:2]
    assert {o.service_id for o in options} == {"residence-points", "residence-permit"}
    chosen = service._named_among("我想申请居住证积分", options)
    assert chosen is not None and chosen.service_id == "residence-points"  # 居住证积分 holds 居住证
    assert service._named_among("香港公司注册怎么办", service.kb.rank("香港公司注册怎么办")[:2]) is None


@pytest.mark.parametrize(("question", "service_id"), [
    ("居住证怎么申请？", "residence-permit"),  # the family's basic guide: 居住证 + applying
    ("居住证怎么办理", "residence-permit"),
    ("居住证积分怎么申请", "residence-points"),  # what a rival adds is named
])
def test_a_name_every_option_shares_means_the_familys_basic_guide(service: GuideService, question: str,
                                                                  service_id: str) -> None:
    reply = service.decide(question, Context())
    assert (reply.outcome, reply.service_id) == ("answer", service_id)


def test_a_shared_name_beside_a_neighbour_is_still_asked_about(service: GuideService) -> None:
    options = [c for c in service.kb.rank("居住证怎么办理") if c.service_id.startswith("residence")]
    assert len(options) == 3
    assert service._family_head("居住证满七年了，居转户的条件是啥", options) is None  # 居转户 is not ours
    hpf = [c for c in service.kb.rank("公积金怎么提取") if c.service_id.startswith("hpf-withdraw")]
    assert service._family_head("公积金怎么提取", hpf) is None  # 购买住房 / 租赁住房: neither is basic


def test_a_guide_named_in_full(service: GuideService) -> None:
    assert service._names_fully("我想问问建筑工程施工许可证的事", "build-permit")
    assert not service._names_fully("施工的时候要注意什么", "build-permit")  # a word, not a name


def test_a_licence_the_guide_only_lists_among_its_materials_is_not_its_service(service: GuideService) -> None:
    guide = service.kb.get("ent-social-register")
    assert guide is not None and "居留许可" in guide.section("materials")  # a foreign employee's
    reply = service.decide("外籍员工的居留许可去哪办", Context())
    assert reply.outcome == "out_of_scope" and "不在小申目前能解答的事项里" in reply.text
