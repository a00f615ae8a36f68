"""bot.when: typed publishing times, one-off and repeating, across zones and DST changes.

The tables live in tests/data/when_cases.yaml with hand-worked expectations; the property tests
check every firing against the rules themselves (a brute-force minute-by-minute oracle).
"""

from __future__ import annotations

import pickle
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from croniter import croniter  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.when import Recurrence, When, WhenError, parse_when, valid_timezone

CASES: dict[str, Any] = yaml.safe_load(
    (Path(__file__).parents[1] / "data" / "when_cases.yaml").read_text(encoding="utf-8")
)
NOW = datetime.fromisoformat(CASES["now"])


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def row_id(row: list[str] | dict[str, Any]) -> str:
    text, zone = (row["text"], row["zone"]) if isinstance(row, dict) else (row[0], row[1])
    return f"{text.strip() or '<blank>'} @ {zone}"


# --- tables -----------------------------------------------------------------------------------


@pytest.mark.parametrize("row", CASES["once"], ids=row_id)
def test_one_off_expressions_land_on_the_expected_instant(row: list[str]) -> None:
    text, zone, expected, *now = row
    when = parse_when(text, zone, instant(now[0]) if now else NOW)
    assert when.recurrence is None
    assert when.first == instant(expected)
    assert when.first.tzinfo is UTC


@pytest.mark.parametrize("row", CASES["repeating"], ids=row_id)
def test_repeating_expressions_give_the_rule_and_its_firings(row: dict[str, Any]) -> None:
    when = parse_when(row["text"], row["zone"], instant(row.get("now", CASES["now"])))
    assert when.recurrence == Recurrence(row["cron"], row["zone"])
    firings = [when.first]
    while len(firings) < len(row["firings"]):
        firings.append(when.recurrence.next_after(firings[-1]))
    assert [f.isoformat() for f in firings] == [instant(f).isoformat() for f in row["firings"]]


@pytest.mark.parametrize("row", CASES["describe"], ids=lambda row: row[0])
def test_recurrence_describes_common_shapes_in_plain_words(row: list[str]) -> None:
    cron, zone, expected = row
    assert Recurrence(cron, zone).describe() == expected


@pytest.mark.parametrize("row", CASES["errors"], ids=row_id)
def test_bad_input_gets_a_friendly_message(row: list[str]) -> None:
    text, zone, phrase, *now = row
    with pytest.raises(WhenError) as caught:
        parse_when(text, zone, instant(now[0]) if now else NOW)
    assert phrase in str(caught.value)
    assert_friendly(str(caught.value))


def assert_friendly(message: str) -> None:
    """One or two short sentences for a chat, ending in examples that would work."""
    assert message[0].isupper() or message.startswith("“")
    assert "Try “" in message
    assert message.endswith(".")
    assert len(message) < 200
    for leak in ("None", "Traceback", "Error", "croniter", "\n", "{"):
        assert leak not in message
    assert not re.search(r"(?<![A-Za-z])'|'(?![a-z])", message), "a repr() leaked"


def test_when_error_survives_pickling() -> None:
    error = WhenError("May has no 32nd.", ("25 dec 10:00",))
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == str(error) == "May has no 32nd. Try “25 dec 10:00”."
    assert copy.examples == ("25 dec 10:00",)


def test_the_table_is_big_enough() -> None:
    assert len(CASES["once"]) + len(CASES["repeating"]) >= 50
    assert len(CASES["errors"]) >= 10


# --- conventions worth a name -----------------------------------------------------------------


def test_a_day_without_a_time_means_nine_local() -> None:
    for text in ("tomorrow", "friday", "2026-12-01", "25 dec", "every monday"):
        first = parse_when(text, "Asia/Tokyo", NOW).first
        assert first.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%H:%M") == "09:00", text


def test_an_explicit_offset_wins_over_the_users_zone() -> None:
    for zone in ("Europe/Berlin", "America/New_York", "Australia/Sydney"):
        assert parse_when("2026-12-01T09:00+01:00", zone, NOW).first == instant("2026-12-01T08:00Z")


def test_today_in_the_past_suggests_tomorrow() -> None:
    with pytest.raises(WhenError, match="in Europe/Berlin") as caught:
        parse_when("today 1am", "Europe/Berlin", NOW)
    assert caught.value.examples[0] == "tomorrow at 01:00"


def test_the_zone_may_be_a_city_or_abbreviation_and_comes_back_canonical() -> None:
    when = parse_when("tomorrow 9am", "tokyo", NOW)
    assert when.timezone == "Asia/Tokyo"
    assert when.first == instant("2026-11-26T00:00Z")


def test_a_naive_now_is_a_programming_error_not_a_user_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware") as caught:
        parse_when("tomorrow 9am", "UTC", datetime(2026, 11, 25, 10))
    assert not isinstance(caught.value, WhenError)


# --- When -------------------------------------------------------------------------------------


def test_one_off_describe() -> None:
    assert parse_when("tomorrow 9am", "Europe/Berlin", NOW).describe() == (
        "Thu 26 Nov at 09:00 (Europe/Berlin)"
    )


def test_a_time_in_the_gap_is_described_at_the_gaps_end() -> None:
    when = parse_when("tomorrow 2:30", "Europe/Berlin", instant("2026-03-28T12:00Z"))
    assert when.describe() == "Sun 29 Mar at 03:00 (Europe/Berlin)"


def test_repeating_describe_names_the_first_day() -> None:
    assert parse_when("every monday at 9", "Europe/Berlin", NOW).describe() == (
        "every Monday at 09:00 (Europe/Berlin), first Mon 30 Nov"
    )
    assert parse_when("weekdays at 8", "America/New_York", NOW).describe() == (
        "weekdays at 08:00 (America/New_York), first Wed 25 Nov"
    )


def test_when_validates_on_construction() -> None:
    with pytest.raises(ValueError, match="aware"):
        When(datetime(2026, 12, 1, 9), None, "UTC")
    with pytest.raises(ValueError, match="UTC"):
        When(datetime(2026, 12, 1, 9, tzinfo=ZoneInfo("Europe/Berlin")), None, "Europe/Berlin")
    with pytest.raises(ValueError, match="differ"):
        When(NOW, Recurrence("0 9 * * *", "UTC"), "Europe/Berlin")


# --- Recurrence -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cron", "gap"),
    [
        ("0 * * * *", timedelta(hours=1)),
        ("0 */2 * * *", timedelta(hours=2)),
        ("* * * * *", timedelta(minutes=1)),
        ("*/15 * * * *", timedelta(minutes=15)),
        ("0 9,17 * * *", timedelta(hours=8)),
        ("0 9 * * *", timedelta(days=1)),
        ("0 9 * * 1", timedelta(weeks=1)),
        ("0 9 * * 1-5", timedelta(days=1)),
        ("0 9 1 * *", timedelta(days=28)),
    ],
)
def test_min_interval(cron: str, gap: timedelta) -> None:
    assert Recurrence(cron, "Europe/Berlin").min_interval() == gap


def test_every_hour_parses_to_a_one_hour_minimum() -> None:
    recurrence = parse_when("every hour", "UTC", NOW).recurrence
    assert recurrence is not None
    assert recurrence.min_interval() == timedelta(hours=1)


def test_next_after_is_strictly_after_and_in_utc() -> None:
    rule = Recurrence("0 9 * * *", "Europe/Berlin")
    firing = rule.next_after(instant("2026-12-01T07:00Z"))
    assert firing == instant("2026-12-01T08:00Z")
    assert rule.next_after(firing) == instant("2026-12-02T08:00Z")
    assert rule.next_after(firing - timedelta(microseconds=1)) == firing
    assert firing.tzinfo is UTC


def test_next_after_from_inside_the_repeated_hour() -> None:
    # 01:15Z on 2026-10-25 is 02:15 CET, the second pass through 02:xx in Berlin: today's 02:30
    # already fired (at 00:30Z, CEST), so the next one is tomorrow's.
    rule = Recurrence("30 2 * * *", "Europe/Berlin")
    assert rule.next_after(instant("2026-10-25T01:15Z")) == instant("2026-10-26T01:30Z")


def test_next_after_accepts_any_aware_moment() -> None:
    rule = Recurrence("0 9 * * *", "Asia/Tokyo")
    moment = datetime(2026, 12, 1, 8, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    assert rule.next_after(moment) == instant("2026-12-01T00:00Z")


@pytest.mark.parametrize(
    ("cron", "zone"),
    [
        ("0 9 * * * *", "UTC"),
        ("0 9 * *", "UTC"),
        ("61 9 * * *", "UTC"),
        ("H 9 * * *", "UTC"),
        ("0 9 * * 1", "Mars/Olympus_Mons"),
        ("0 9 * * 1", "europe/berlin"),
    ],
)
def test_recurrence_validates_on_construction(cron: str, zone: str) -> None:
    with pytest.raises(WhenError) as caught:
        Recurrence(cron, zone)
    assert_friendly(str(caught.value))


# --- valid_timezone ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Europe/Berlin", "Europe/Berlin"),
        ("europe/berlin", "Europe/Berlin"),
        ("  EUROPE/BERLIN ", "Europe/Berlin"),
        ("UTC", "UTC"),
        ("utc", "UTC"),
        ("GMT", "UTC"),
        ("Berlin", "Europe/Berlin"),
        ("tokyo", "Asia/Tokyo"),
        ("new york", "America/New_York"),
        ("New_York", "America/New_York"),
        ("sydney", "Australia/Sydney"),
        ("buenos aires", "America/Argentina/Buenos_Aires"),
        ("singapore", "Asia/Singapore"),
        ("EST", "America/New_York"),
        ("pdt", "America/Los_Angeles"),
        ("CET", "Europe/Berlin"),
        ("JST", "Asia/Tokyo"),
        ("AEDT", "Australia/Sydney"),
        ("IST", "Asia/Kolkata"),
        ("Mumbai", "Asia/Kolkata"),
        ("US/Eastern", "US/Eastern"),
        ("Mars/Olympus_Mons", None),
        ("Gotham", None),
        ("", None),
        ("   ", None),
        ("localtime", None),
        ("../etc/passwd", None),
    ],
)
def test_valid_timezone(name: str, expected: str | None) -> None:
    assert valid_timezone(name) == expected


# --- properties -------------------------------------------------------------------------------

CHANGES = {
    "Europe/Berlin": ("2026-03-29T01:00Z", "2026-10-25T01:00Z", "2027-03-28T01:00Z"),
    "America/New_York": ("2026-03-08T07:00Z", "2026-11-01T06:00Z", "2027-03-14T07:00Z"),
    "Australia/Sydney": ("2026-10-03T16:00Z", "2027-04-03T16:00Z"),
    "Australia/Lord_Howe": ("2026-10-03T15:30Z", "2027-04-03T15:00Z"),  # a 30-minute change
}
"""Clock changes, in UTC: moments shortly before them are where the bugs live."""
ZONES = (*CHANGES, "Asia/Tokyo", "UTC")

near_a_change = st.sampled_from(
    [(zone, instant(change)) for zone, changes in CHANGES.items() for change in changes]
).flatmap(
    lambda pair: st.tuples(
        st.just(pair[0]),
        st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(hours=30)).map(
            lambda lead: pair[1] - lead
        ),
    )
)
anywhere = st.tuples(
    st.sampled_from(ZONES),
    st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
    ),
)
zoned_moments = st.one_of(near_a_change, near_a_change, anywhere)
minutes = st.sampled_from(["0", "30", "15,45", "*/20", "59"])
hours = st.sampled_from(["*", "1", "2", "3", "2,3", "*/2", "1-4", "9", "23"])


@settings(max_examples=200, deadline=None)
@given(
    zoned=zoned_moments,
    minute=minutes,
    hour=hours,
    days=st.sampled_from(["* * *", "* * *", "* * 1-5", "* * 0,6", "* * 0", "1 * *", "L * *"]),
)
def test_next_after_increases_and_lands_on_the_rule_or_a_gap_end(
    zoned: tuple[str, datetime], minute: str, hour: str, days: str
) -> None:
    (zone, moment), cron = zoned, f"{minute} {hour} {days}"
    rule, tz = Recurrence(cron, zone), ZoneInfo(zone)
    previous = moment
    for _ in range(6):
        firing = rule.next_after(previous)
        assert firing > previous
        local = firing.astimezone(tz)
        assert local.fold == 0, "an ambiguous time fires at its first occurrence only"
        assert croniter.match(cron, local.replace(tzinfo=None)) or gap_ends_on_a_match(
            cron, firing, tz
        )
        previous = firing


def gap_ends_on_a_match(cron: str, firing: datetime, zone: ZoneInfo) -> bool:
    """True when `firing` is the end of a spring-forward gap holding a wall time of `cron`."""
    return any(croniter.match(cron, wall) for wall in skipped_walls(firing, zone))


def skipped_walls(moment: datetime, zone: ZoneInfo) -> list[datetime]:
    """The wall-clock minutes the clocks jumped over, if `moment` is the end of a gap."""
    jump = offset(moment, zone) - offset(moment - timedelta(minutes=1), zone)
    wall = moment.astimezone(zone).replace(tzinfo=None)
    return [wall - timedelta(minutes=k) for k in range(1, jump // timedelta(minutes=1) + 1)]


def offset(moment: datetime, zone: ZoneInfo) -> timedelta:
    return moment.astimezone(zone).utcoffset() or timedelta()


@settings(max_examples=150, deadline=None)
@given(zoned=zoned_moments, minute=minutes, hour=hours)
def test_daily_rules_agree_with_a_minute_by_minute_oracle(
    zoned: tuple[str, datetime], minute: str, hour: str
) -> None:
    (zone, moment), cron = zoned, f"{minute} {hour} * * *"
    assert Recurrence(cron, zone).next_after(moment) == oracle_next(cron, ZoneInfo(zone), moment)


def oracle_next(cron: str, zone: ZoneInfo, moment: datetime) -> datetime:
    """Walk real minutes after `moment`; fire at a matching wall time seen for the first time
    (fold 0), or at a gap's end when the gap swallowed a matching wall time."""
    (minutes, hours, *_), _ = croniter.expand(cron)

    def matches(wall: datetime) -> bool:
        return (minutes == ["*"] or wall.minute in minutes) and (
            hours == ["*"] or wall.hour in hours
        )

    candidate = moment.astimezone(UTC).replace(second=0, microsecond=0)
    while True:
        candidate += timedelta(minutes=1)
        local = candidate.astimezone(zone)
        if (local.fold == 0 and matches(local.replace(tzinfo=None))) or any(
            matches(wall) for wall in skipped_walls(candidate, zone)
        ):
            return candidate
