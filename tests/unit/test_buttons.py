"""Button payloads on the wire: what decodes, what is refused, and that they fit every platform."""

from __future__ import annotations

import pytest

from adapters.buttons import decode, encode
from bot.actions import Button, ButtonAction
from bot.schedule_store import new_schedule_id


@pytest.mark.parametrize("action", list(ButtonAction))
def test_every_button_round_trips_and_fits_telegram_callback_data(action: ButtonAction) -> None:
    subject = new_schedule_id() if action is ButtonAction.UNSCHEDULE else "3f2a9c1d" * 4
    button = Button(action=action, project_id=subject)
    payload = encode(button)
    assert decode(payload) == button
    assert len(payload.encode()) <= 64


@pytest.mark.parametrize(
    "payload",
    [
        "nc1:approve:zzz",  # project ids are hex
        "nc1:approve:Ab12_-",
        "nc1:launch:3f2a",  # no such action
        "nc2:approve:3f2a",
        "nc1:unschedule:" + "a" * 33,
        "nc1:unschedule:a b",
        "",
    ],
)
def test_anything_we_did_not_send_is_refused(payload: str) -> None:
    assert decode(payload) is None
