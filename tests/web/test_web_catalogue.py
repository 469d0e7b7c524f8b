"""The one message catalogue: every screen state in English and Simplified Chinese, names as enrolled."""
from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kiosk.access import catalogue
from kiosk.access.feedback import IDLE_TEXT, Feedback, Screen
from kiosk.access.policy import MESSAGES, Notice, Observation, decide
from kiosk.access.tracker import Step, Verdict
from kiosk.config import parse_config
from kiosk.recognition.observations import PersonInfo
from kiosk.web.screen import ScreenHub, view

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "gate"))
from gate_helpers import AT, LIVE, config, match, reading  # noqa: E402  (a real policy decision)


def test_every_state_is_in_every_language() -> None:
    english = set(catalogue.CATALOGUE["en"])
    assert {notice.value for notice in Notice} | {"idle"} <= english
    for language in catalogue.LANGUAGES:
        assert set(catalogue.CATALOGUE[language]) == english, language
        assert all(text.strip() for text in catalogue.CATALOGUE[language].values())


def test_the_policy_and_the_log_take_their_english_from_the_catalogue() -> None:
    assert MESSAGES == {notice: catalogue.text(notice.value, "en") for notice in Notice}
    assert IDLE_TEXT == catalogue.text("idle", "en") == "Please step up to the kiosk"


@pytest.mark.parametrize(("language", "name", "expected"), [
    ("en", "Ann", "Welcome, Ann — 36.6 °C"),
    ("en", "José Álvarez", "Welcome, José Álvarez — 36.6 °C"),
    ("en", "张伟", "Welcome, 张伟 — 36.6 °C"),
    ("zh-Hans", "张伟", "欢迎，张伟 — 36.6 °C"),
    ("zh-Hans", "José", "欢迎，José — 36.6 °C"),
])
def test_welcome_shows_the_name_as_enrolled(language: str, name: str, expected: str) -> None:
    shown = view(Screen(Notice.welcome, "-", verdict=True, name=name, body_c=36.64), language)
    assert shown["text"] == expected
    assert shown["message"] == expected.split(" — ")[0] and shown["temperature"] == "36.6 °C"
    assert shown["tone"] == "granted" and shown["verdict"] is True


@pytest.mark.parametrize(("notice", "en", "zh", "tone"), [
    (Notice.come_closer, "Please come closer", "请走近一点", "prompt"),
    (Notice.remove_mask, "Please remove your mask", "请摘下口罩", "prompt"),
    (Notice.see_staff, "Please see staff", "请联系工作人员", "denied"),
    (Notice.fever, "Temperature too high - please see staff", "体温过高，请联系工作人员", "denied"),
    (None, "Please step up to the kiosk", "请走到终端前", "idle"),
])
def test_prompts_and_verdicts_in_both_languages(notice, en: str, zh: str, tone: str) -> None:
    screen = Screen(notice, "-")
    assert view(screen, "en")["message"] == en and view(screen, "zh-Hans")["message"] == zh
    assert view(screen, "en")["tone"] == tone and view(screen, "en")["state"] == (notice or "idle")


def test_a_welcome_without_a_name_and_the_mask_reminder() -> None:
    shown = view(Screen(Notice.welcome, "-", verdict=True, name="  ", mask_reminder=True), "zh-Hans")
    assert shown["text"] == "欢迎 — 请佩戴口罩" and shown["temperature"] is None


def test_the_feedback_screen_reaches_the_hub_with_the_hold_of_the_display() -> None:
    """What the daemon wires up: the hub gets the verdict (name as enrolled, temperature, decision time), and a
    prompt arriving while the verdict is held does not replace it."""
    person = PersonInfo("p-1", "E7", "张伟", "staff")
    decision = decide(Observation(at=AT, match=match(person), person=person, liveness=LIVE,
                                  temperatures=(reading(36.6),), mask_score=0.9), config())
    now = [100.0]
    feedback = Feedback(parse_config({"display": {"hold_s": 3}}), clock=lambda: now[0])
    hub = ScreenHub("zh-Hans")
    feedback.subscribe(hub.show)
    assert hub.current["state"] == "idle"
    at = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    feedback.present(Step(1, verdict=Verdict(1, decision, Observation(at=at, person=person))))
    assert hub.current["text"] == "欢迎，张伟 — 36.6 °C" and hub.current["decided_at"] == at.timestamp()
    assert feedback.current.text == "Welcome, 张伟 - 36.6 °C", "the log stays English"
    seq = hub.current["seq"]
    now[0] += 1
    feedback.present(Step(1, prompt=decide(Observation(at=AT), config())))
    assert hub.current["seq"] == seq, "held"
