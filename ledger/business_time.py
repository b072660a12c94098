"""Business time: the one place chain times (Unix seconds) and the dates
users type and read meet.

Dates are business dates in the deployment's time zone (setting
``timezone`` / ``SCF_TIMEZONE``, default ``Asia/Hong_Kong``):

* a due date D is the *end* of D there: ``2027-01-31`` is
  ``2027-01-31T23:59:59+08:00`` on chain (:func:`due_timestamp`), and an
  invoice is overdue once chain time is past that second (:func:`is_overdue`);
* KYC "valid through D" expires at the *start* of D+1 there
  (:func:`kyc_expiry_timestamp`); shown as D again (:func:`kyc_last_day`);
* a time shown as a date is its date there (:func:`business_date`).

The zone is process-wide, like a locale: :func:`ledger.config.load_settings`
sets it (:func:`use_zone`) whenever settings are resolved, so every command,
the indexer (whose stored ``due_date`` is a business date: change the zone,
then run ``scf index rebuild``) and the reports agree. Every function takes
an explicit ``zone`` too. No web3: the read side uses it.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ledger.errors import ConfigError

DEFAULT_TIMEZONE = "Asia/Hong_Kong"

#: The latest time a column holds or a time is shown as: the start of
#: 9999-12-31 (UTC), not its last second, so that the time still exists in
#: every time zone (a PostgreSQL session in Hong Kong time reads a timestamptz
#: as a local time; 23:59:59 UTC would be year 10000 there, which Python cannot
#: represent). A uint64 holds later values: they are clamped to it.
MAX_TIMESTAMP = int(dt.datetime(9999, 12, 31, tzinfo=dt.UTC).timestamp())

_zone: ZoneInfo = ZoneInfo(DEFAULT_TIMEZONE)


def parse_zone(name: str, source: str = "timezone") -> ZoneInfo:
    """An IANA time zone by name; an unknown one is a one-line config error."""
    try:
        if not name or name != name.strip() or name.startswith(("/", ".")):
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ConfigError(
            f"unknown time zone {name!r} in {source}: use an IANA name such as Asia/Hong_Kong or Europe/London"
        ) from exc


def use_zone(zone: ZoneInfo) -> None:
    """Make ``zone`` the business time zone of this process."""
    global _zone
    _zone = zone


def business_zone() -> ZoneInfo:
    """The business time zone of this process (default Asia/Hong_Kong)."""
    return _zone


def _z(zone: ZoneInfo | None) -> ZoneInfo:
    return _zone if zone is None else zone


def start_of_day(day: dt.date, zone: ZoneInfo | None = None) -> int:
    """Unix seconds of 00:00:00 of ``day`` in the zone."""
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=_z(zone)).timestamp())


def due_timestamp(day: dt.date, zone: ZoneInfo | None = None) -> int:
    """A due date as it goes on chain: the last second of ``day`` in the zone
    (``2027-01-31`` -> ``2027-01-31T23:59:59+08:00`` in Hong Kong)."""
    return start_of_day(day + dt.timedelta(days=1), zone) - 1


def kyc_expiry_timestamp(until: dt.date, zone: ZoneInfo | None = None) -> int:
    """KYC valid *through* ``until``: it expires at the start of the next day in the zone."""
    return start_of_day(until + dt.timedelta(days=1), zone)


def moment(value: int | dt.datetime, zone: ZoneInfo | None = None) -> dt.datetime:
    """A chain time (Unix seconds, clamped to year 9999) or an aware datetime, in the zone."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware datetime")
        return value.astimezone(_z(zone))
    return dt.datetime.fromtimestamp(min(max(int(value), 0), MAX_TIMESTAMP), tz=dt.UTC).astimezone(_z(zone))


def business_date(value: int | dt.datetime, zone: ZoneInfo | None = None) -> dt.date:
    """The business date of a chain time or an aware datetime."""
    return moment(value, zone).date()


def kyc_last_day(expiry: int, zone: ZoneInfo | None = None) -> dt.date:
    """The last day a KYC expiring at chain time ``expiry`` is valid through
    (the inverse of :func:`kyc_expiry_timestamp`)."""
    return business_date(int(expiry) - 1, zone)


def is_overdue(due: int, now: int) -> bool:
    """Overdue: chain time ``now`` is past the due timestamp (not at it)."""
    return int(now) > int(due)


def today(zone: ZoneInfo | None = None) -> dt.date:
    """Today's business date by the wall clock."""
    return dt.datetime.now(_z(zone)).date()
