"""The asking clauses of a long message (knowledge_base.question) and how ranking uses them."""

from __future__ import annotations

import pytest

from knowledge_base.question import question_clauses


def test_background_and_feelings_are_left_out() -> None:
    text = "我爸上个月刚走，家里乱成一团，我到现在脑子都是懵的。他的丧葬补助金要去哪里领？要带什么？"
    assert question_clauses(text) == "他的丧葬补助金要去哪里领，要带什么"


@pytest.mark.parametrize("text", [
    "护照怎么办",  # short
    "我想问一下护照在哪里办理需要多长时间以及要带哪些材料和照片",  # one clause
    "护照去哪办？多少钱？多久能拿到？",  # every clause asks
    "我们下个月去日本旅游，机票已经订好了，酒店也订好了。",  # nothing asked
])
def test_a_message_that_is_all_question_or_no_question_is_kept_whole(text: str) -> None:
    assert question_clauses(text) is None


def test_english_clauses_count_too() -> None:
    text = "I moved to Shanghai last spring for work, my old passport expires soon. Where can I renew it?"
    assert question_clauses(text) == "Where can I renew it"



def test_counting_words_in_the_story_are_not_questions() -> None:
    text = "我在一家外企上了十几年班，什么都干过，上个月被裁员了。失业金怎么领？"
    assert question_clauses(text) == "失业金怎么领"


def test_a_clause_ending_in_a_question_mark_or_asking_a_or_not_a_is_asked() -> None:
    text = "公司搬到了漕河泾，老板让我去把执照上的地址改掉。改注册地址到底收不收费？同事说要交钱，我有点担心"
    assert question_clauses(text) == "改注册地址到底收不收费"
    text = "我在上海交了五年社保，年薪三十万，我这种情况够不够人才引进落户的条件？家里人都很期待"
    assert question_clauses(text) == "我这种情况够不够人才引进落户的条件"
