"""The question in an angry message is searched without its angry clauses, and only then."""

from __future__ import annotations

from actions.complaint import without_complaint


def test_angry_clauses_are_dropped_from_the_question() -> None:
    assert without_complaint("气死了，跑了三趟，居住证到底要带什么材料") == "跑了三趟，居住证到底要带什么材料"


def test_a_message_with_nothing_angry_is_kept_as_written() -> None:
    text = "Pretend you're my therapist. I feel really down today."
    assert without_complaint(text) == text  # English words are not split into clauses


def test_an_only_angry_message_is_kept_whole() -> None:
    assert without_complaint("垃圾！") == "垃圾！"
