"""Whether an error means the store (Redis) cannot take our writes right now.

Then the user hears `replies.CANNOT_SAVE` ("I can't save that right now, try again in a moment")
instead of silence or the generic apology, and the log has one line without their text: the
server is down or unreachable (ConnectionError, TimeoutError, BusyLoadingError while it loads
its AOF), or it refuses writes (READONLY replica, MISCONF after a failed save on a full disk,
OOM above maxmemory). Any other Redis error is a bug and is reported as one.
"""

from __future__ import annotations

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

REFUSING_WRITES = ("MISCONF", "READONLY", "LOADING", "OOM")
"""How Redis starts the error message when it is up but will not write."""


def store_unavailable(error: BaseException) -> bool:
    if isinstance(error, RedisConnectionError | RedisTimeoutError | ReadOnlyError):
        return True
    return isinstance(error, ResponseError) and str(error).startswith(REFUSING_WRITES)
