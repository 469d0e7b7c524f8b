"""Every message the person at the kiosk sees, in each language the screen speaks.

Keys are the states of `kiosk.access.policy.Notice` plus `idle` and a few parts of the kiosk page. The
policy writes its English message from here (logs, events and the OpenCV window stay English);
the web screen renders the state of the moment in `display.language`. Names are inserted as
enrolled, whatever their script: "Welcome, José", "欢迎，张伟".
"""
from __future__ import annotations

from typing import Optional

LANGUAGES = ("en", "zh-Hans")

CATALOGUE: dict[str, dict[str, str]] = {
    "en": {
        "idle": "Please step up to the kiosk",
        "welcome": "Welcome",
        "welcome_named": "Welcome, {name}",
        "come_closer": "Please come closer",
        "stand_still": "Please stand still",
        "look_at_camera": "Please look at the camera",
        "wear_mask": "Please wear your mask",
        "remove_mask": "Please remove your mask",
        "denied": "Access denied",
        "fever": "Temperature too high - please see staff",
        "see_staff": "Please see staff",
        "temperature": "{body_c:.1f} °C",
        "mask_reminder": "please wear your mask",
        "page_title": "Kiosk",
        "preview": "Camera preview",
        "offline": "Connecting to the kiosk…",
    },
    "zh-Hans": {
        "idle": "请走到终端前",
        "welcome": "欢迎",
        "welcome_named": "欢迎，{name}",
        "come_closer": "请走近一点",
        "stand_still": "请保持不动",
        "look_at_camera": "请看向摄像头",
        "wear_mask": "请佩戴口罩",
        "remove_mask": "请摘下口罩",
        "denied": "禁止通行",
        "fever": "体温过高，请联系工作人员",
        "see_staff": "请联系工作人员",
        "temperature": "{body_c:.1f} °C",
        "mask_reminder": "请佩戴口罩",
        "page_title": "门禁终端",
        "preview": "摄像头画面",
        "offline": "正在连接终端…",
    },
}


def text(key: str, language: str = "en") -> str:
    """The message `key` in `language`; KeyError for an unknown key or language (a bug, not input)."""
    return CATALOGUE[language][key]


def welcome(language: str, name: Optional[str]) -> str:
    """"Welcome, Ann" with the name as given, or "Welcome" for a blank one."""
    name = (name or "").strip()
    return text("welcome_named", language).format(name=name) if name else text("welcome", language)


def temperature(language: str, body_c: float) -> str:
    return text("temperature", language).format(body_c=body_c)
