"""Chain times (Unix seconds, a uint64) as the database stores them (UTC).

A uint64 reaches far past what a datetime (or a timestamptz) holds: stored
times are clamped to :data:`MAX_TIMESTAMP`, the raw value staying in the
event's args. How times are shown (in the business time zone; past 9999 as
their number) is :mod:`ledger.format`'s.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

from ledger.business_time import MAX_TIMESTAMP as MAX_TIMESTAMP


@lru_cache(maxsize=4096)
def utc_from_timestamp(timestamp: int) -> dt.datetime:
    """Unix seconds as an aware UTC datetime; values past 9999-12-31 (a uint64
    can hold them) are clamped to :data:`MAX_TIMESTAMP`, the raw value staying
    in the event's args."""
    return dt.datetime.fromtimestamp(min(max(timestamp, 0), MAX_TIMESTAMP), tz=dt.UTC)
