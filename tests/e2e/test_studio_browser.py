"""The web studio in a real browser: Debian's chromium driven by Playwright, against the bot's
real HTTP app (the web adapter, the real core) and a real `novacast worker` rendering real media
into real Redis.

One person's whole flow shares one server, one worker and one browser: sign in with a link,
/make, "shorter", Render, progress edited in place, the preview plays (the `<video>` reports a
finite duration), Schedule "tomorrow 9am" (on the library's week view), /schedules and Cancel,
Approve & publish, the library shows the project published. Around it: a browser without a
session gets nothing, and an editor's Approve is refused on screen. The flow also saves the
screenshots the README shows (docs/studio.png, docs/studio-phone.png).
"""

from __future__ import annotations

import math
import os
import re
import struct
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    WebSocketRoute,
    expect,
    sync_playwright,
)

from bot.project import ProjectState, ProjectStore
from pipeline.settings import load_settings
from tests.e2e.studio_support import (
    LAPTOP,
    PHONE,
    Studio,
    chromium_or_skip,
    free_socket,
    studio_server,
)
from tests.workers_support import worker_process

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

DOCS = (
    Path(__file__).resolve().parents[2] / "docs"
    if os.environ.get("NOVACAST_UPDATE_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "novacast-studio-shots"
)
"""Where the README's screenshots go: docs/ with NOVACAST_UPDATE_SCREENSHOTS=1 (so a plain test
run leaves the tree as it was), else a temporary folder."""
MORE_SHOTS = os.environ.get("NOVACAST_STUDIO_SHOTS", "")
"""A folder for screenshots of the other pages too (the library), to look at them by hand."""
WORKSPACE = "acme"
WAIT_MS = 120_000  # a render on a busy shared machine; the waits end as soon as it is there
IDEA = "/make 30s on why octopuses have three hearts, playful"


# --- the shared, expensive pieces -----------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = chromium_or_skip()
    with sync_playwright() as playwright:
        yield _launch(playwright, executable)


def _launch(playwright: Playwright, executable: Path) -> Browser:
    return playwright.chromium.launch(
        executable_path=str(executable),
        args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"],
    )


@pytest.fixture(scope="module")
def studio(
    redis_url: str, tmp_path_factory: pytest.TempPathFactory, browser: Browser
) -> Iterator[Studio]:
    """The bot (web adapter only) and one worker, against the test database and a fresh data
    dir; NOVACAST_PUBLIC_URL is the bot's own address, as `novacast up` sets it."""
    del browser  # the browser first: without one, skip before starting anything
    data_dir = tmp_path_factory.mktemp("studio") / "var"
    data_dir.mkdir()
    sock = free_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    connection = redis.Redis.from_url(redis_url)
    connection.flushdb()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("NOVACAST_DATA_DIR", str(data_dir))
        env.setenv("NOVACAST_PUBLIC_URL", url)
        env.setenv("NOVACAST_MEMORY", "off")
        env.setenv("REDIS_URL", redis_url)  # `novacast invite` makes links in the test's db
        load_settings.cache_clear()
        extra = {"NOVACAST_PUBLIC_URL": url, "NOVACAST_MEMORY": "off"}
        with (
            worker_process(redis_url, data_dir, extra),
            studio_server(connection, data_dir, sock) as running,
        ):
            yield running
    load_settings.cache_clear()
    connection.flushdb()
    connection.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    made = browser.new_context(viewport=LAPTOP, timezone_id="UTC", locale="en-GB")
    yield made
    made.close()


# --- what a person does -------------------------------------------------------------------------


def sign_in(page: Page, link: str) -> None:
    """Open the link (a page with one button: a GET never uses the link), press Sign in."""
    page.goto(link)
    expect(page.get_by_role("heading", name="Sign in to NOVACAST studio")).to_be_visible()
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/$"))
    expect(page.locator("#conn")).to_have_attribute("data-state", "online", timeout=WAIT_MS)


def say(page: Page, text: str) -> None:
    box = page.get_by_label("Message")
    box.fill(text)
    box.press("Enter")
    expect(page.locator("li.msg.me", has_text=text).last).not_to_have_class(re.compile("pending"))


def bot_messages(page: Page, text: str | re.Pattern[str]) -> Any:
    return page.locator("li.msg.bot", has_text=text)


def press(page: Page, label: str, within: Any = None) -> None:
    """The newest `label` button (in `within`, else anywhere in the conversation)."""
    scope = within if within is not None else page.locator("#log")
    scope.get_by_role("button", name=label, exact=True).last.click()


def watch_progress(page: Page) -> None:
    """Record every percent the progress bars show (edits in place, seen by a DOM observer)."""
    page.evaluate(
        """() => {
          window.seenPercents = [];
          new MutationObserver((changes) => {
            for (const c of changes) {
              const key = c.target.closest('li').dataset.key;
              window.seenPercents.push([key, c.target.getAttribute('aria-valuenow')]);
            }
          }).observe(document.getElementById('log'),
                     {subtree: true, attributes: true, attributeFilter: ['aria-valuenow']});
        }"""
    )


def video_duration(page: Page, video: Any) -> float:
    """The preview's duration once its metadata has loaded (NaN/Infinity if it never could)."""
    video.scroll_into_view_if_needed()
    return float(
        video.evaluate(
            """(v) => new Promise((done) => {
                 if (v.readyState >= 1) return done(v.duration);
                 v.addEventListener('loadedmetadata', () => done(v.duration), {once: true});
                 v.addEventListener('error', () => done(NaN), {once: true});
               })"""
        )
    )


def play(video: Any) -> float:
    """Play the preview until its clock moves; returns where it got to."""
    return float(
        video.evaluate(
            """(v) => new Promise((done, fail) => {
                 v.muted = true;
                 v.addEventListener('timeupdate', () => v.currentTime > 0 && done(v.currentTime));
                 v.play().catch(fail);
               })"""
        )
    )


def state_of(studio: Studio, project_id: str) -> ProjectState:
    project = ProjectStore(studio.connection).get(project_id)
    assert project is not None
    return project.state


def show_a_frame(video: Any) -> None:
    """Pause on a frame a second or so in (the title and a caption), for the screenshot."""
    video.evaluate(
        """(v) => new Promise((done) => {
             v.pause();
             v.preload = 'auto';  // enough buffered that no loading spinner covers the frame
             const ready = () => v.readyState >= 3
               ? done() : v.addEventListener('canplay', ready, {once: true});
             v.addEventListener('seeked', ready, {once: true});
             v.currentTime = Math.min(1.5, v.duration / 3);
           })"""
    )


def screenshot(page: Page, name: str) -> None:
    DOCS.mkdir(exist_ok=True)
    page.wait_for_timeout(1200)  # the bubbles' entry animation and the player's spinner fade out
    shot = page.screenshot(path=str(DOCS / name))
    assert shot.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", shot[16:24])  # the PNG's IHDR: the page, device pixels
    viewport = page.viewport_size or {"width": 0, "height": 0}
    assert width >= viewport["width"]
    assert height >= viewport["height"]


# --- the tests ------------------------------------------------------------------------------------


def test_a_person_makes_previews_schedules_cancels_and_approves_a_video(
    studio: Studio, context: BrowserContext, browser: Browser
) -> None:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    sign_in(page, studio.link(WORKSPACE, "admin", "Ada"))
    expect(page.locator("#user-name")).to_have_text("Ada")
    expect(page.get_by_label("Message")).to_be_focused()  # ready to type
    expect(page.get_by_role("log", name="Conversation")).to_have_attribute("aria-live", "polite")

    say(page, IDEA)
    draft = page.locator("li.draft", has=page.get_by_role("heading", name=re.compile("^Draft v1")))
    expect(draft).to_be_visible(timeout=WAIT_MS)
    say(page, "shorter")
    v2 = page.locator("li.draft", has=page.get_by_role("heading", name=re.compile("^Draft v2")))
    expect(v2).to_be_visible(timeout=WAIT_MS)
    project_id = v2.get_by_role("button", name="Render").get_attribute("data-project")
    assert project_id

    watch_progress(page)
    press(page, "Render", v2)
    preview = page.locator("li.preview").last
    expect(preview).to_be_visible(timeout=WAIT_MS)
    bars = page.locator("li.progress")
    assert bars.count() >= 1
    keys = bars.evaluate_all("(items) => items.map((li) => li.dataset.key)")
    assert len(keys) == len(set(keys))  # one message per render, edited in place
    seen = page.evaluate("window.seenPercents")
    assert len({percent for _key, percent in seen}) >= 2, seen  # it moved while we watched

    video = preview.locator("video")
    duration = video_duration(page, video)
    assert math.isfinite(duration)
    assert duration > 0
    assert play(video) > 0
    show_a_frame(video)
    stage = page.locator("#stage-video")  # the big player beside the chat on a laptop
    expect(stage).to_be_visible()
    assert video_duration(page, stage) > 0
    show_a_frame(stage)
    screenshot(page, "studio.png")
    phone_screenshot(browser, studio)

    decision = page.locator("li.approval", has=page.get_by_role("button", name="Schedule")).last
    expect(decision).to_be_visible(timeout=WAIT_MS)  # after the full-quality video
    expect(page.locator("li.preview")).to_have_count(2)  # the quick cut, then full quality
    assert video_duration(page, page.locator("li.preview video").last) > 0
    press(page, "Schedule", decision)
    expect(bot_messages(page, "When should it go out?")).to_be_visible(timeout=WAIT_MS)
    say(page, "tomorrow 9am")
    scheduled = bot_messages(page, "Scheduled “")
    expect(scheduled).to_be_visible(timeout=WAIT_MS)
    week_view_shows_the_schedule(context, studio)

    say(page, "/schedules")
    expect(bot_messages(page, "1 schedule in this workspace")).to_be_visible(timeout=WAIT_MS)
    listing = page.locator("li.schedule", has_text="• ").last
    expect(listing).to_contain_text("publish “")
    press(page, "Cancel schedule", listing)
    expect(bot_messages(page, "won't go out")).to_be_visible(timeout=WAIT_MS)

    press(page, "Approve & publish", decision)
    expect(bot_messages(page, re.compile("Published “"))).to_be_visible(timeout=WAIT_MS)
    assert state_of(studio, project_id) is ProjectState.PUBLISHED

    page.reload()  # the conversation comes back from the server's history
    expect(bot_messages(page, re.compile("Published “"))).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_role("heading", name=re.compile("^Draft v2"))).to_be_visible()
    expect(page.locator("li.preview video")).to_have_count(2)

    library = context.new_page()
    library.on("pageerror", lambda error: errors.append(str(error)))
    library.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    library.goto(f"{studio.url}/library")
    card = library.locator(f'li.card[data-project="{project_id}"]')
    expect(card).to_be_visible(timeout=WAIT_MS)
    expect(card.locator(".badge")).to_have_text("published")
    expect(card.locator("video")).to_have_count(1)
    if MORE_SHOTS:
        library.screenshot(path=str(Path(MORE_SHOTS) / "library.png"), full_page=True)
    assert errors == []  # no script error, no failed load, no CSP refusal on either page

    library.get_by_role("button", name="Sign out").click()
    expect(library.get_by_role("heading", name="You are signed out")).to_be_visible()
    response = library.goto(f"{studio.url}/")
    assert response is not None
    assert response.status == 401


def phone_screenshot(browser: Browser, studio: Studio) -> None:
    """The same person on a phone (a second link, same name: the same conversation)."""
    phone = browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, timezone_id="UTC"
    )
    try:
        page = phone.new_page()
        sign_in(page, studio.link(WORKSPACE, "admin", "Ada"))
        video = page.locator("li.preview video").last
        expect(video).to_be_visible(timeout=WAIT_MS)
        assert video_duration(page, video) > 0
        show_a_frame(video)
        screenshot(page, "studio-phone.png")
    finally:
        phone.close()


def week_view_shows_the_schedule(context: BrowserContext, studio: Studio) -> None:
    """The library's week view has the schedule on tomorrow's column (the next week's, on a
    Sunday: the arrow gets there)."""
    page = context.new_page()
    page.goto(f"{studio.url}/library")
    tomorrow = page.evaluate(
        "() => { const d = new Date(); d.setDate(d.getDate() + 1); return d.toDateString(); }"
    )
    expect(page.locator(".day")).to_have_count(7)
    if not page.locator(f'.day[data-date="{tomorrow}"]').count():
        page.get_by_role("button", name="Next week").click()
    day = page.locator(f'.day[data-date="{tomorrow}"]')
    expect(day.locator(".slot")).to_have_count(1, timeout=WAIT_MS)
    expect(day.locator(".slot time")).to_have_text(re.compile("09:00"))
    if MORE_SHOTS:
        page.screenshot(path=str(Path(MORE_SHOTS) / "week.png"), full_page=True)
    page.close()


def test_without_a_session_nothing_is_served(studio: Studio, context: BrowserContext) -> None:
    page = context.new_page()
    for path in ("/", "/library"):
        response = page.goto(f"{studio.url}{path}")
        assert response is not None
        assert response.status == 401
        expect(page.get_by_role("heading", name="Sign in with your link")).to_be_visible()
    for path in ("/api/v1/projects", "/session", "/static/chat.js"):
        assert context.request.get(f"{studio.url}{path}").status == 401, path
    upgrade = {
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Origin": studio.url,
    }
    assert context.request.get(f"{studio.url}/ws", headers=upgrade).status == 401
    opened = page.evaluate(
        """(url) => new Promise((done) => {
             const ws = new WebSocket(url);
             ws.onopen = () => done(true);
             ws.onclose = () => done(false);
           })""",
        studio.url.replace("http", "ws") + "/ws",
    )
    assert opened is False


def test_an_editor_sees_approve_refused(studio: Studio, context: BrowserContext) -> None:
    page = context.new_page()
    sign_in(page, studio.link(WORKSPACE, "editor", "Eddie"))
    expect(page.locator("#user-role")).to_have_text("editor")
    say(page, "/make 8s on why the sea is salty")
    draft = page.locator("li.draft").last
    expect(draft).to_be_visible(timeout=WAIT_MS)
    project_id = draft.get_by_role("button", name="Render").get_attribute("data-project")
    press(page, "Render", draft)
    decision = page.locator("li.approval", has=page.get_by_role("button", name="Approve & publish"))
    expect(decision).to_be_visible(timeout=WAIT_MS)
    approve = decision.get_by_role("button", name="Approve & publish")
    expect(approve).to_have_class(re.compile("denied"))  # looks unavailable, still pressable
    press(page, "Approve & publish", decision)
    refusal = page.locator("li.msg.system[role=alert]").last
    expect(refusal).to_contain_text("may not approve", timeout=WAIT_MS)
    assert project_id
    assert state_of(studio, project_id) is ProjectState.PREVIEW


def test_a_weekly_show_is_on_every_week_of_the_week_view(
    studio: Studio, context: BrowserContext
) -> None:
    """A show set up by talking ("/make every monday 9:00, …") sits on the Monday of this week
    (or the next) and of each week after it on the library's week view."""
    page = context.new_page()
    sign_in(page, studio.link("showroom", "approver", "Sam"))
    say(page, "/make every monday 9:00, a 30s space-news recap")
    expect(bot_messages(page, "Show set up")).to_be_visible(timeout=WAIT_MS)
    library = context.new_page()
    library.goto(f"{studio.url}/library")
    expect(library.locator(".day")).to_have_count(7)
    monday = library.locator(".day").first  # the week view starts on Monday
    if not monday.locator(".slot").count():  # this Monday's 9:00 has passed: next week's first
        library.get_by_role("button", name="Next week").click()
    for _ in range(3):
        expect(monday.locator(".slot")).to_have_count(1, timeout=WAIT_MS)
        expect(monday.locator(".slot time")).to_have_text(re.compile("09:00"))
        expect(library.locator(".slot")).to_have_count(1)  # on Monday only
        library.get_by_role("button", name="Next week").click()


def test_a_dropped_connection_shows_and_comes_back(studio: Studio, context: BrowserContext) -> None:
    """The socket drops (closed under the page, as a restart or a network change would): the
    page says it is offline, reconnects by itself, redraws the conversation and chats on."""
    sockets: list[WebSocketRoute] = []
    answers_shown = "li.msg.bot:not(.typing)"

    def relay(route: WebSocketRoute) -> None:
        route.connect_to_server()
        sockets.append(route)

    page = context.new_page()
    page.route_web_socket(re.compile(r"/ws$"), relay)
    sign_in(page, studio.link(WORKSPACE, "approver", "Rita"))
    say(page, "/help")
    expect(page.locator(answers_shown)).not_to_have_count(0, timeout=WAIT_MS)
    answers = page.locator(answers_shown).count()
    page.evaluate(
        """() => {
          const conn = document.getElementById('conn');
          window.connStates = [];
          new MutationObserver(() => window.connStates.push(
            `${conn.dataset.state}: ${conn.textContent}`)
          ).observe(conn, {attributes: true, childList: true, characterData: true});
        }"""
    )
    sockets[0].close(code=1012, reason="restart")
    page.wait_for_function(
        "window.connStates.some((s) => s.startsWith('offline'))", timeout=WAIT_MS
    )
    expect(page.locator("#conn")).to_have_attribute("data-state", "online", timeout=WAIT_MS)
    states = page.evaluate("window.connStates")
    assert any(s.startswith("offline: Offline · retrying in") for s in states), states
    assert states[-1] == "online: Online", states
    assert len(sockets) == 2  # a second socket, opened by the page itself
    expect(page.locator(answers_shown)).to_have_count(answers)  # redrawn from history, once
    say(page, "/schedules")
    expect(page.locator(answers_shown)).not_to_have_count(answers, timeout=WAIT_MS)
