"""The JSON each Telegram update arrived as, kept until its event takes it
(adapters.telegram.receiving.Payloads): taken once, and bounded (the oldest go first)."""

from __future__ import annotations

from adapters.telegram.receiving import Payloads


def test_a_payload_is_taken_once() -> None:
    payloads = Payloads()
    payloads.keep(7, {"update_id": 7})
    assert payloads.take(7) == {"update_id": 7}
    assert payloads.take(7) is None
    assert len(payloads) == 0


def test_at_most_limit_are_kept_the_oldest_going_first() -> None:
    payloads = Payloads(limit=3)
    for update_id in range(5):
        payloads.keep(update_id, {"update_id": update_id})
    assert len(payloads) == 3
    assert payloads.take(0) is None
    assert payloads.take(1) is None
    assert [payloads.take(i) for i in (2, 3, 4)] == [{"update_id": i} for i in (2, 3, 4)]
