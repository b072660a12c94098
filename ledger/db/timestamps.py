"""Chain times (Unix seconds, a uint64) as the database stores and shows them.

A uint64 reaches far past what a datetime (or a timestamptz) holds: stored
times are clamped to :data:`MAX_TIMESTAMP`, the raw value staying in the
event's args; shown times past 9999 are shown as their number.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

#: The latest time a column holds: the start of 9999-12-31 (UTC), not its last
#: second, so that the time still exists in every time zone (a PostgreSQL
#: session in Hong Kong time reads a timestamptz as a local time; 23:59:59 UTC
#: would be year 10000 there, which Python cannot represent).
MAX_TIMESTAMP = int(dt.datetime(9999, 12, 31, tzinfo=dt.UTC).timestamp())


@lru_cache(maxsize=4096)
def utc_from_timestamp(timestamp: int) -> dt.datetime:
    """Unix seconds as an aware UTC datetime; values past 9999-12-31 (a uint64
    can hold them) are clamped to :data:`MAX_TIMESTAMP`, the raw value staying
    in the event's args."""
    return dt.datetime.fromtimestamp(min(max(timestamp, 0), MAX_TIMESTAMP), tz=dt.UTC)


def utc_text(timestamp: int, fmt: str = "%Y-%m-%d") -> str:
    """Unix seconds as UTC text; a time past year 9999 (a uint64 holds it,
    Python's datetime does not) as its raw number."""
    try:
        return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime(fmt)
    except (OverflowError, ValueError, OSError):
        return f"unix time {timestamp} (after 9999-12-31)"
