"""The studio's frames without a server: what a client frame means, what an entry shows as, and
which right each button and command needs."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.media_links import MediaLinks
from adapters.web.access import Principal, Role, Via
from adapters.web.chat import needed
from adapters.web.frames import BadFrame, event_for, history, read_frame
from adapters.web.outbox import Entry
from bot.actions import Button, ButtonAction, Preview, Progress, Say
from bot.events import ButtonEvent, CommandEvent, MessageEvent, ReplyTarget

ANN = Principal(workspace="acme", id="u1", role=Role.EDITOR, via=Via.SESSION, name="Ann")
CONVERSATION = ANN.conversation("studio:u1")
TARGET = ReplyTarget.of(CONVERSATION)


def read_event(text: str) -> object:
    return event_for(read_frame(text), CONVERSATION, ANN.speaker(CONVERSATION), "e1")


def test_a_typed_line_is_a_command_or_a_message_and_a_button_a_press() -> None:
    command = read_event('{"type": "text", "text": " /Make 30s on tides "}')
    assert isinstance(command, CommandEvent)
    assert (command.name, command.args) == ("make", "30s on tides")
    assert command.speaker.groups == frozenset({"novacast-role:editor"})
    message = read_event('{"type": "text", "text": "shorter please"}')
    assert isinstance(message, MessageEvent)
    assert message.text == "shorter please"
    assert read_event('{"type": "text", "text": "   "}') is None
    press = read_event('{"type": "button", "action": "render", "project_id": "ab12"}')
    assert isinstance(press, ButtonEvent)
    assert (press.action, press.project_id) == ("render", "ab12")


@pytest.mark.parametrize(
    "text",
    ["", "{", "null", "[1]", '"text"', '{"type": "text"}', '{"type": "text", "text": 5}',
     '{"type": "button", "action": "render"}', '{"type": "text", "text": "x", "more": 1}',
     '{"type": "button", "action": "render", "project_id": "a b"}', "[" * 5000],
)
def test_anything_else_is_a_bad_frame_saying_nothing_of_what_was_sent(text: str) -> None:
    with pytest.raises(BadFrame) as refused:
        read_frame(text)
    assert text[:8] not in str(refused.value) or not text


def test_history_keeps_the_latest_progress_per_render_and_no_ephemeral_notice(
    tmp_path: Path,
) -> None:
    links = MediaLinks(b"s", "http://studio.example", tmp_path)
    video = tmp_path / "media" / "acme" / "p1.mp4"
    video.parent.mkdir(parents=True)
    video.write_bytes(b"\x00")
    entries = [
        Entry("1-0", echo="/make tides"),
        Entry("2-0", action=Say(target=TARGET, text="Draft v1",
                                buttons=[Button(action=ButtonAction.RENDER, project_id="p1")])),
        Entry("3-0", action=Say(target=TARGET, text="Only approvers may.", ephemeral=True)),
        Entry("4-0", action=Progress(target=TARGET, key="p1:v1", stage="voice", percent=10)),
        Entry("5-0", action=Progress(target=TARGET, key="p1:v1", stage="video", percent=80)),
        Entry("6-0", action=Preview(target=TARGET, path=str(video), caption="v1")),
    ]
    frames = history(entries, links)
    assert [f["type"] for f in frames] == ["echo", "say", "progress", "preview"]
    assert frames[1]["buttons"] == [{"action": "render", "project_id": "p1", "label": "Render"}]
    assert frames[2]["percent"] == 80
    assert frames[3]["url"].startswith("/media/")  # this server's own origin
    assert links.resolve(frames[3]["url"].split("/")[2]) == video.resolve()


def test_each_button_and_risky_command_needs_its_right() -> None:
    speaker = ANN.speaker(CONVERSATION)

    def press(action: ButtonAction) -> ButtonEvent:
        return ButtonEvent(conversation=CONVERSATION, speaker=speaker, action=action.value,
                           project_id="p1")

    def command(name: str) -> CommandEvent:
        return CommandEvent(conversation=CONVERSATION, speaker=speaker, name=name)

    assert {action: needed(press(action)) for action in ButtonAction} == {
        ButtonAction.RENDER: ("render", "edit"),
        ButtonAction.REVISE: ("revise", "edit"),
        ButtonAction.CANCEL: ("cancel", "edit"),
        ButtonAction.APPROVE: ("approve", "approve"),
        ButtonAction.REJECT: ("reject", "approve"),
        ButtonAction.RETRY: ("retry", "approve"),
        ButtonAction.SCHEDULE: ("schedule", "schedule"),
        ButtonAction.UNSCHEDULE: ("unschedule", "schedule"),
    }
    assert needed(command("publish")) == ("use /publish", "approve")
    assert needed(command("schedule")) == ("use /schedule", "schedule")
    assert needed(command("make")) == ("use /make", "edit")
    assert needed(command("help")) is None
    assert needed(command("nosuchthing")) is None


def test_a_long_render_does_not_push_the_draft_out_of_the_history(tmp_path: Path) -> None:
    links = MediaLinks(b"s", "http://studio.example", tmp_path)
    draft = Entry("1-0", action=Say(target=TARGET, text="Draft v1"))
    reports = [
        Entry(f"{n}-0", action=Progress(target=TARGET, key="p1:v1", stage="video", percent=n))
        for n in range(2, 100)
    ]
    asked = Entry("100-0", action=Say(target=TARGET, text="Happy with it?"))
    frames = history([draft, *reports, asked], links, keep=3)
    assert [(f["type"], f.get("text", f.get("percent"))) for f in frames] == [
        ("say", "Draft v1"), ("progress", 99), ("say", "Happy with it?")
    ]
    assert history([draft], links, keep=0) == []
