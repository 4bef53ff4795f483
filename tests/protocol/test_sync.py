"""Which value wins between Home Assistant and Blynk: the rules of UserValues."""

from __future__ import annotations

from custom_components.blynk_bell.protocol.sync import ANSWER_TIMEOUT, UserValues
from custom_components.blynk_bell.protocol.template import POWER, SET_TEMPERATURE

from .simulated import SimulatedTime


def test_blynk_is_the_truth_for_what_the_user_did_not_change() -> None:
    values = UserValues(SimulatedTime())
    values.asked(values.to_ask())
    assert values.accepts(POWER)
    assert values.accepts(SET_TEMPERATURE)
    assert values.accepts(SET_TEMPERATURE)  # An app write after the answer.


def test_a_value_older_than_an_unacknowledged_change_is_ignored() -> None:
    values = UserValues(SimulatedTime())
    values.changed(SET_TEMPERATURE, "25")
    assert values.to_ask() == [POWER]
    assert not values.accepts(SET_TEMPERATURE)  # Sent before Blynk had our 25.
    values.acknowledged(SET_TEMPERATURE, "24")  # The ack of an older value...
    assert values.pending == {SET_TEMPERATURE: "25"}  # ...does not clear the newer one.
    values.acknowledged(SET_TEMPERATURE, "25")
    assert values.pending == {}
    assert values.accepts(SET_TEMPERATURE)  # Newer than ours: the app's.


def test_the_answer_to_a_question_asked_before_a_change_is_ignored_however_late() -> None:
    time = SimulatedTime()
    values = UserValues(time)
    values.asked([POWER, SET_TEMPERATURE])
    values.changed(SET_TEMPERATURE, "25")
    values.acknowledged(SET_TEMPERATURE, "25")
    time.advance(ANSWER_TIMEOUT - 1)
    assert values.accepts(POWER)  # Not changed: Blynk's answer stands.
    assert not values.accepts(SET_TEMPERATURE)  # The stale answer.
    assert values.accepts(SET_TEMPERATURE)  # What comes next is an app write.


def test_an_answer_that_never_comes_is_forgotten() -> None:
    time = SimulatedTime()
    values = UserValues(time)
    values.asked([SET_TEMPERATURE])
    values.changed(SET_TEMPERATURE, "25")
    values.acknowledged(SET_TEMPERATURE, "25")
    time.advance(ANSWER_TIMEOUT + 1)
    assert values.accepts(SET_TEMPERATURE)


def test_questions_die_with_their_connection() -> None:
    values = UserValues(SimulatedTime())
    values.asked([SET_TEMPERATURE])
    values.connection_lost()
    values.changed(SET_TEMPERATURE, "25")
    values.acknowledged(SET_TEMPERATURE, "25")
    assert values.accepts(SET_TEMPERATURE)


def test_restored_changes_are_kept_and_only_the_templates() -> None:
    values = UserValues(SimulatedTime())
    values.changed(POWER, "1")
    values.restore({POWER: "0", SET_TEMPERATURE: "21", "Terminal": "rm -rf"})
    assert values.pending == {POWER: "1", SET_TEMPERATURE: "21"}
    assert values.to_ask() == []
