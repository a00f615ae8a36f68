"""Who is speaking travels typed on the event: validated on construction, one with the user."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.events import ButtonEvent, CommandEvent, Conversation, MessageEvent, Speaker

ADA = Conversation(adapter="slack", workspace="T1", channel="C1", user="U1", user_name="Ada")


def test_an_event_without_a_speaker_is_its_user_with_no_roles_and_no_zone() -> None:
    event = CommandEvent(conversation=ADA, name="make", args="octopus hearts")
    assert event.speaker == Speaker(id="U1", name="Ada")
    assert not event.speaker.is_admin
    assert event.speaker.groups == frozenset()
    assert event.speaker.timezone is None


def test_the_speaker_must_be_the_conversations_user() -> None:
    with pytest.raises(ValidationError, match="the speaker must be the conversation's user"):
        MessageEvent(conversation=ADA, speaker=Speaker(id="U2", name="Ada"), text="hi")
    with pytest.raises(ValidationError, match="the speaker must be the conversation's user"):
        MessageEvent(conversation=ADA, speaker=Speaker(id="U1", name="Bob"), text="hi")
    admin = Speaker.of(ADA, is_admin=True, groups=["S0EDITORS"])
    pressed = ButtonEvent(conversation=ADA, speaker=admin, action="approve", project_id="p1")
    assert pressed.speaker.is_admin
    assert pressed.speaker.groups == frozenset({"S0EDITORS"})


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("America/New_York", "America/New_York"),
        ("europe/berlin", "Europe/Berlin"),
        ("Mars/Olympus_Mons", None),
        ("", None),
        (None, None),
    ],
)
def test_a_profile_zone_is_a_known_iana_zone_or_none(given: str | None, kept: str | None) -> None:
    assert Speaker.of(ADA, timezone=given).timezone == kept


def test_roles_are_strict() -> None:
    with pytest.raises(ValidationError):
        Speaker(id="U1", is_admin=1)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        Speaker(id="U1", groups=[7])  # type: ignore[list-item]
    with pytest.raises(ValidationError):
        Speaker(id="")
