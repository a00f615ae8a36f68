"""Which CPUs `novacast bot` keeps to (novacast.cpu.chosen_cpus): the last allowed one by
default, NOVACAST_BOT_CPUS when it names usable ones, nothing when told `all` or when there is
no choice to make."""

from __future__ import annotations

import os

import pytest

from novacast.cpu import chosen_cpus, one_cpu


@pytest.mark.parametrize(
    ("allowed", "setting", "chosen"),
    [
        ({0, 1}, "", {1}),
        ({0, 1, 2, 3}, "", {3}),
        ({2, 5}, "", {5}),
        ({0, 1, 2, 3}, "2,3", {2, 3}),
        ({0, 1, 2, 3}, " 1 ", {1}),
        ({0, 1}, "7", None),  # not a CPU it may use: left alone
        ({0, 1}, "1,7", {1}),
        ({0, 1}, "all", None),
        ({0, 1}, "ALL", None),
        ({0}, "", None),  # one CPU anyway
        ({0, 1}, "x,y", None),
    ],
)
def test_chosen_cpus(allowed: set[int], setting: str, chosen: set[int] | None) -> None:
    assert chosen_cpus(allowed, setting) == chosen


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="Linux only")
def test_one_cpu_keeps_this_process_there_and_all_leaves_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = os.sched_getaffinity(0)
    try:
        monkeypatch.setenv("NOVACAST_BOT_CPUS", "all")
        assert one_cpu() is None
        assert os.sched_getaffinity(0) == before
        monkeypatch.delenv("NOVACAST_BOT_CPUS")
        pinned = one_cpu()
        if len(before) > 1:
            assert pinned == {max(before)}
            assert os.sched_getaffinity(0) == pinned
    finally:
        os.sched_setaffinity(0, before)
