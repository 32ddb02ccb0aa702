"""The catalogue: touchpoints, segments and questions registered on first sight or declared."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from cxloop.store.catalog import (
    DEFAULT_ITEM_SCALE,
    STANDARD_QUESTIONS,
    ensure_items,
    ensure_segments,
    ensure_standard_questions,
    ensure_touchpoints,
    humanise,
    id_problem,
    item_problem,
    item_scales,
    upsert_question,
    upsert_segments,
    upsert_touchpoints,
)
from cxloop.store.tables import Question, QuestionType, Segment, Survey, Touchpoint


def _touchpoints(session) -> list[tuple[str, str, int]]:
    rows = session.execute(
        select(Touchpoint.touchpoint_id, Touchpoint.name, Touchpoint.stage_order).order_by(
            Touchpoint.stage_order
        )
    )
    return [tuple(row) for row in rows]


def test_humanise_makes_ids_readable():
    assert humanise("branch_visit") == "Branch visit"
    assert humanise("call-centre") == "Call centre"
    assert humanise("web") == "Web"
    assert humanise("NPS_driver") == "NPS driver"


# --- standard questions ----------------------------------------------------------------------------------


def test_standard_questions_are_created_once_with_their_scales(session):
    ensure_standard_questions(session)
    ensure_standard_questions(session)
    session.commit()
    questions = {question.question_id: question for question in session.scalars(select(Question))}
    assert set(questions) == {"nps", "csat", "ces"}
    for question_id, (low, high) in STANDARD_QUESTIONS.items():
        question = questions[question_id]
        assert question.type == QuestionType(question_id)
        assert (question.scale_min, question.scale_max) == (low, high)
        assert question.is_driver is False


def test_standard_questions_keep_a_programme_own_label(session):
    upsert_question(session, "nps", "Would you recommend Bank?", "nps", scale=(0, 10))
    ensure_standard_questions(session)
    session.commit()
    assert session.get(Question, "nps").label == "Would you recommend Bank?"
    assert session.get(Question, "csat") is not None


# --- touchpoints -----------------------------------------------------------------------------------------


def test_touchpoints_are_registered_in_order_of_first_sight(session):
    new = ensure_touchpoints(session, ["branch_visit", "call_centre", "branch_visit"])
    session.commit()
    assert new == ["branch_visit", "call_centre"]
    assert _touchpoints(session) == [("branch_visit", "Branch visit", 1), ("call_centre", "Call centre", 2)]


def test_touchpoints_seen_again_are_left_alone_and_new_ones_go_last(session):
    upsert_touchpoints(session, [("onboarding", "Opening an account", 10), ("web", "Website", 20)])
    new = ensure_touchpoints(session, ["web", "app", "onboarding"])
    session.commit()
    assert new == ["app"]
    assert _touchpoints(session) == [
        ("onboarding", "Opening an account", 10),
        ("web", "Website", 20),
        ("app", "App", 21),
    ]


def test_ensure_touchpoints_with_nothing_new_returns_empty(session):
    ensure_touchpoints(session, ["web"])
    assert ensure_touchpoints(session, ["web"]) == []
    assert ensure_touchpoints(session, []) == []


def test_empty_touchpoint_id_is_refused(session):
    with pytest.raises(ValueError, match="empty id"):
        ensure_touchpoints(session, ["web", " "])


def test_upsert_touchpoints_updates_names_and_order(session):
    ensure_touchpoints(session, ["web", "branch"])
    upsert_touchpoints(session, [("branch", "Branch visit", 1), ("web", "Website", 2), ("call", "Call", 3)])
    session.commit()
    assert _touchpoints(session) == [
        ("branch", "Branch visit", 1),
        ("web", "Website", 2),
        ("call", "Call", 3),
    ]


def test_upsert_touchpoints_refuses_an_empty_name(session):
    with pytest.raises(ValueError, match="must not be empty"):
        upsert_touchpoints(session, [("web", "", 1)])


# --- segments --------------------------------------------------------------------------------------------


def test_segments_are_registered_once_without_a_rank(session):
    assert ensure_segments(session, ["mass_market", "premium", "premium"]) == ["mass_market", "premium"]
    assert ensure_segments(session, ["premium", "private"]) == ["private"]
    session.commit()
    rows = {row.segment_id: (row.name, row.value_rank) for row in session.scalars(select(Segment))}
    assert rows == {
        "mass_market": ("Mass market", None),
        "premium": ("Premium", None),
        "private": ("Private", None),
    }


def test_upsert_segments_sets_value_ranks_and_ensure_keeps_them(session):
    upsert_segments(session, [("private", "Private banking", 1), ("premium", "Premium", 2)])
    upsert_segments(session, [("premium", "Premier", 2), ("mass", "Mass", None)])
    assert ensure_segments(session, ["private", "premium"]) == []
    session.commit()
    rows = {row.segment_id: (row.name, row.value_rank) for row in session.scalars(select(Segment))}
    assert rows == {"private": ("Private banking", 1), "premium": ("Premier", 2), "mass": ("Mass", None)}


# --- driver items and questions --------------------------------------------------------------------------


def test_items_become_driver_rating_questions_with_a_default_scale(session):
    new = ensure_items(session, {"speed": None, "friendliness": (1, 5)})
    session.commit()
    assert new == ["speed", "friendliness"]
    speed = session.get(Question, "speed")
    assert (speed.type, speed.is_driver, speed.label) == (QuestionType.rating, True, "Speed")
    assert (speed.scale_min, speed.scale_max) == DEFAULT_ITEM_SCALE
    friendliness = session.get(Question, "friendliness")
    assert (friendliness.scale_min, friendliness.scale_max) == (1.0, 5.0)


def test_existing_items_are_untouched_whatever_scale_is_passed(session):
    upsert_question(session, "speed", "Speed of service", "rating", scale=(1, 7), is_driver=True)
    assert ensure_items(session, {"speed": (0, 10), "clarity": None}) == ["clarity"]
    session.commit()
    speed = session.get(Question, "speed")
    assert (speed.label, speed.scale_min, speed.scale_max) == ("Speed of service", 1.0, 7.0)


def test_an_inverted_item_scale_is_refused(session):
    with pytest.raises(ValueError, match="scale minimum 5.0 must be below its maximum 1.0"):
        ensure_items(session, {"speed": (5, 1)})


def test_item_scales_cover_every_scored_question_with_a_scale(session):
    ensure_standard_questions(session)
    ensure_items(session, {"speed": None, "clarity": (1, 5)})
    upsert_question(session, "comment", "Anything else?", "text")
    upsert_question(session, "unscaled", "A rating without a scale", "rating")
    upsert_question(session, "channel", "Which channel?", QuestionType.choice, scale=(1, 4))
    session.commit()
    assert item_scales(session) == {
        "nps": (0.0, 10.0),
        "csat": (1.0, 5.0),
        "ces": (1.0, 7.0),
        "speed": (0.0, 10.0),
        "clarity": (1.0, 5.0),
    }


def test_upsert_question_inserts_then_overwrites_every_field(session):
    session.add(Survey(survey_id="relationship", name="Relationship survey"))
    upsert_question(session, "speed", "Speed", "rating", scale=(0, 10), is_driver=True)
    upsert_question(session, "speed", "Speed of service", "csat", scale=None, survey_id="relationship")
    session.commit()
    session.expire_all()
    speed = session.get(Question, "speed")
    assert (speed.label, speed.type, speed.scale_min, speed.scale_max, speed.is_driver, speed.survey_id) == (
        "Speed of service",
        QuestionType.csat,
        None,
        None,
        False,
        "relationship",
    )


def test_upsert_question_refuses_unknown_types_and_surveys(session):
    with pytest.raises(ValueError, match="unknown type 'stars'"):
        upsert_question(session, "speed", "Speed", "stars")
    with pytest.raises(ValueError, match="unknown survey 'nope'"):
        upsert_question(session, "speed", "Speed", "rating", survey_id="nope")
    with pytest.raises(ValueError, match="scale minimum"):
        upsert_question(session, "speed", "Speed", "rating", scale=(3, 3))
    assert session.get(Question, "speed") is None


# --- what a new id may look like (issue 23) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "value"),
    [
        (lambda s, v: ensure_items(s, {v: None}), "Bad Item"),
        (lambda s, v: ensure_items(s, {v: None}), "x" * 65),
        (lambda s, v: ensure_touchpoints(s, [v]), "<b>x</b>"),
        (lambda s, v: ensure_touchpoints(s, [v]), "\U0001f4a5"),
        (lambda s, v: ensure_segments(s, [v]), '["x"]'),
        (lambda s, v: ensure_segments(s, [v]), "s" * 65),
    ],
)
def test_the_store_refuses_a_malformed_new_id(session, call, value) -> None:
    with pytest.raises(ValueError, match="not a usable"):
        call(session, value)


def test_ids_already_in_the_catalogue_are_accepted_whatever_they_look_like(session):
    upsert_touchpoints(session, [("Old <Name>", "Old", 1)])  # declared before the rules
    assert ensure_touchpoints(session, ["Old <Name>", "Filiale Zürich"]) == ["Filiale Zürich"]
    assert id_problem("segment", "Région Île-de-France (Nord)") is None
    assert item_problem("2_speed") is None and item_problem("q") is None
    assert "not a usable driver item id" in (item_problem("Speed") or "")
    assert len(item_problem("x" * 5000) or "") < 300  # a long name is not echoed whole
