"""One contract, every search backend: what a user notices about search."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from knowledge_base.engine import KnowledgeBase, decide
from knowledge_base.schema import Guide
from knowledge_base.search.base import Hit, SearchBackend
from tests.knowledge_base.conftest import BACKEND_KINDS, make_backend, segmenter_for


def top(hits: list[Hit]) -> str | None:
    return hits[0].service_id if hits else None


@pytest.fixture
def loaded(backend: SearchBackend, fixture_guides: list[Guide]) -> SearchBackend:
    backend.index(fixture_guides)
    return backend


class TestSearchContract:
    """Behaviour both the embedded and the Elasticsearch backend must show."""

    def test_an_empty_index_finds_nothing(self, backend: SearchBackend) -> None:
        assert backend.count() == 0
        assert backend.search("护照") == []
        assert backend.health() is True

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ("普通护照申领", "fx-passport"),
            ("结婚登记", "fx-marriage"),
            ("租赁住房提取住房公积金", "fx-hpf-rent"),
            ("购买住房提取住房公积金", "fx-hpf-buy"),
            ("企业设立登记", "fx-ent-setup"),
            ("居民身份证换领与补领", "fx-id-card"),
        ],
    )
    def test_a_title_finds_its_guide_first(self, loaded: SearchBackend, query: str, expected: str) -> None:
        assert top(loaded.search(query)) == expected

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ("买房取公积金", "fx-hpf-buy"),
            ("公积金付房租", "fx-hpf-rent"),
            ("身份证补办", "fx-id-card"),
            ("注册公司", "fx-ent-setup"),
            ("领结婚证", "fx-marriage"),
            ("办护照", "fx-passport"),
        ],
    )
    def test_an_alias_finds_its_guide_first(self, loaded: SearchBackend, query: str, expected: str) -> None:
        assert top(loaded.search(query)) == expected

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ("我想开个公司，要准备点啥", "fx-ent-setup"),
            ("租房子的话公积金能不能拿出来交房租", "fx-hpf-rent"),
            ("身份证掉了咋整", "fx-id-card"),
            ("下个月出国旅游，护照还没办", "fx-passport"),
            ("我们俩想去扯证", "fx-marriage"),
            ("刚买了套二手房，公积金能取吗", "fx-hpf-buy"),
            ("how do I register a company in shanghai", "fx-ent-setup"),
            ("passport application", "fx-passport"),
            ("can I use my housing fund to pay the rent", "fx-hpf-rent"),
        ],
    )
    def test_colloquial_and_english_questions_find_the_right_guide(
        self, loaded: SearchBackend, query: str, expected: str
    ) -> None:
        assert top(loaded.search(query)) == expected

    @pytest.mark.parametrize(
        ("plain", "variant"),
        [
            ("护照怎么办理", "護照怎麼辦理"),
            ("结婚登记要带什么", "結婚登記要帶什麼"),
            ("公积金租房提取", "公基金租房提取"),
            ("身份证丢了", "身分证丢了"),
            ("注册公司营业执照", "注册公司营业执造"),
            ("passport", "ＰＡＳＳＰＯＲＴ"),
        ],
    )
    def test_traditional_characters_typos_and_width_find_the_same_guide(
        self, loaded: SearchBackend, plain: str, variant: str
    ) -> None:
        expected = top(loaded.search(plain))
        assert expected is not None
        assert top(loaded.search(variant)) == expected

    def test_results_are_best_first_distinct_and_at_most_k(self, loaded: SearchBackend) -> None:
        hits = loaded.search("公积金提取 住房", k=3)
        assert 0 < len(hits) <= 3
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        assert len({h.service_id for h in hits}) == len(hits)
        assert all(h.title for h in hits)

    def test_gibberish_and_blank_queries_find_nothing(self, loaded: SearchBackend) -> None:
        for query in ("zzqxj blorptk", "@@@ ### !!!", "", "   ", "请问怎么办"):
            assert loaded.search(query) == [], query

    def test_gibberish_is_not_a_confident_match(
        self, loaded: SearchBackend, fixture_guides: list[Guide]
    ) -> None:
        kb = KnowledgeBase(loaded)
        kb.replace_all(fixture_guides)
        for query in ("zzqxj blorptk", "今天天气真不错", "给我讲个笑话吧", "红烧肉怎么做"):
            assert decide(kb.rank(query)).outcome == "out_of_scope", query

    def test_upsert_makes_a_new_guide_findable_at_once(
        self, loaded: SearchBackend, extra_guide: Guide
    ) -> None:
        assert "fx-dog-license" not in {h.service_id for h in loaded.search("养犬登记 办狗证")}
        loaded.upsert(extra_guide)
        assert top(loaded.search("养犬登记")) == "fx-dog-license"
        assert top(loaded.search("办狗证要带什么")) == "fx-dog-license"
        assert loaded.count() == 7

    def test_upsert_replaces_a_guide_in_place(
        self, loaded: SearchBackend, fixture_guides: list[Guide]
    ) -> None:
        passport = next(g for g in fixture_guides if g.id == "fx-passport")
        edited = passport.model_copy(
            update={"title": "普通护照申领（因私）", "aliases": [*passport.aliases, "出国旅行证件"]}
        )
        loaded.upsert(edited)
        hits = loaded.search("出国旅行证件")
        assert top(hits) == "fx-passport"
        assert hits[0].title == "普通护照申领（因私）"
        assert loaded.count() == len(fixture_guides)

    def test_delete_removes_a_guide(self, loaded: SearchBackend, fixture_guides: list[Guide]) -> None:
        loaded.delete("fx-passport")
        assert "fx-passport" not in {h.service_id for h in loaded.search("普通护照申领 办护照")}
        assert loaded.count() == len(fixture_guides) - 1
        loaded.delete("fx-passport")  # deleting what is gone is not an error
        loaded.delete("never-existed")
        assert top(loaded.search("结婚登记")) == "fx-marriage"

    def test_rebuild_replaces_the_whole_index(
        self, loaded: SearchBackend, fixture_guides: list[Guide]
    ) -> None:
        loaded.index([g for g in fixture_guides if g.id != "fx-marriage"])
        assert loaded.count() == len(fixture_guides) - 1
        assert "fx-marriage" not in {h.service_id for h in loaded.search("结婚登记")}
        assert top(loaded.search("普通护照申领")) == "fx-passport"

    def test_searches_during_a_rebuild_never_see_an_empty_index(
        self, loaded: SearchBackend, fixture_guides: list[Guide]
    ) -> None:
        errors: list[BaseException] = []

        def rebuild() -> None:
            try:
                for _ in range(3):
                    loaded.index(fixture_guides)
            except BaseException as e:
                errors.append(e)

        worker = threading.Thread(target=rebuild)
        worker.start()
        seen = 0
        while worker.is_alive() or seen == 0:
            assert top(loaded.search("结婚登记要带什么")) == "fx-marriage"
            assert loaded.count() == len(fixture_guides)
            seen += 1
        worker.join()
        assert not errors, errors
        assert top(loaded.search("结婚登记要带什么")) == "fx-marriage"


# ---- both backends agree on the real guides ------------------------------------------------

PARITY_QUESTIONS = [
    "在上海注册一家贸易公司要多久",
    "公司改名字要走什么流程",
    "没有经营过的公司可以简易注销吗",
    "公司有欠税，注销要先清税吗",
    "电子营业执照怎么领",
    "企业年报填报截止日期",
    "新公司刻章要备案吗",
    "开个体户需要什么",
    "外资公司设立登记流程",
    "开餐馆要办食品经营许可证吗",
    "一业一证能办哪些行业",
    "进出口企业报关单位备案",
    "商标注册申请要多少钱",
    "高新技术企业认定条件",
    "招用失业人员的企业补贴",
    "新办企业税务登记和发票核定",
    "数电发票怎么开具",
    "增值税按季度申报期限",
    "留抵退税申请流程",
    "个人所得税年度汇算怎么退税",
    "公司给新员工交社保怎么登记",
    "单位住房公积金开户要什么材料",
    "劳动仲裁申请书怎么写",
    "失业保险金领取条件",
    "灵活就业人员社保缴费基数",
    "社保卡补卡要多久",
    "办理退休需要哪些材料",
    "租房提取公积金每月额度",
    "买房后提取公积金",
    "公积金贷款额度怎么算",
    "城乡居民医保怎么参保",
    "医疗费零星报销流程",
    "长护险评估怎么申请",
    "新生儿出生一件事包括哪些",
    "生育津贴发放标准",
    "结婚登记需要带户口本吗",
    "居住证申领条件",
    "居住证签注怎么续",
    "居住证积分怎么申请",
    "人才引进落户条件",
    "身份证到期换领",
    "护照办理需要几天",
    "港澳通行证续签注",
    "驾驶证期满换证",
    "沪牌拍卖怎么参加",
    "新能源车专用牌照怎么申请",
    "二手房过户流程",
    "企业之间不动产转移登记",
    "怎么查询不动产登记信息",
    "公共租赁住房怎么申请",
    "施工许可证办理流程",
    "小微企业用电报装",
    "新建项目供水接入",
    "燃气接入报装流程",
    "老年综合津贴申领条件",
    "残疾人证怎么办",
    "家人去世后要办哪些手续",
    "幼升小入学报名",
    "幼儿园入园报名时间",
    "最低生活保障申请条件",
]


@pytest.fixture(scope="module")
def real_backends(
    real_guides: list[Guide], request: pytest.FixtureRequest
) -> Iterator[dict[str, SearchBackend]]:
    backends: dict[str, SearchBackend] = {}
    generators = []
    segmenter = segmenter_for(real_guides)  # one, so the backends can differ only in scoring
    for param in BACKEND_KINDS:
        kind = param.values[0]
        generator = make_backend(str(kind), request, segmenter)
        backend = next(generator)
        backend.index(real_guides)
        backends[str(kind)] = backend
        generators.append(generator)
    yield backends
    for generator in generators:
        next(generator, None)


@pytest.mark.elasticsearch
def test_every_backend_gives_the_same_top_result(real_backends: dict[str, SearchBackend]) -> None:
    assert len(PARITY_QUESTIONS) >= 60
    disagreements = []
    for question in PARITY_QUESTIONS:
        tops = {kind: top(backend.search(question)) for kind, backend in real_backends.items()}
        if len(set(tops.values())) != 1 or None in tops.values():
            disagreements.append((question, tops))
    assert not disagreements, disagreements
