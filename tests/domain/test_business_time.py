"""Business dates in the configured time zone (ledger.business_time) and the
time formats of ledger.format: a due date is the end of that day there."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest

from ledger import business_time as bt
from ledger.config import load_settings
from ledger.errors import ConfigError
from ledger.format import date_text, iso_time, text_time

HK = ZoneInfo("Asia/Hong_Kong")
DUE = dt.date(2027, 1, 31)


@pytest.fixture(autouse=True)
def _restore_zone() -> Iterator[None]:
    """load_settings sets the process's zone; put Hong Kong back afterwards."""
    yield
    bt.use_zone(HK)


def _hk(*args: int) -> int:
    return int(dt.datetime(*args, tzinfo=HK).timestamp())  # type: ignore[misc]


def test_business_time_due_date_is_the_end_of_that_day_in_hong_kong() -> None:
    due = bt.due_timestamp(DUE)
    assert due == _hk(2027, 1, 31, 23, 59, 59) == 1801411199
    assert iso_time(due) == "2027-01-31T23:59:59+08:00"
    assert bt.business_date(due) == DUE
    # Not 00:00 UTC of that day, which is 08:00 in Hong Kong.
    assert due - int(dt.datetime(2027, 1, 31, tzinfo=dt.UTC).timestamp()) == 16 * 3600 - 1


def test_business_time_overdue_at_the_day_boundary() -> None:
    due = bt.due_timestamp(DUE)
    assert not bt.is_overdue(due, _hk(2027, 1, 31, 23, 59, 58))
    assert not bt.is_overdue(due, _hk(2027, 1, 31, 23, 59, 59))
    assert bt.is_overdue(due, _hk(2027, 2, 1, 0, 0, 0))
    # Business dates on either side of midnight in Hong Kong (16:00 UTC).
    assert bt.business_date(_hk(2027, 1, 31, 23, 59, 58)) == DUE
    assert bt.business_date(_hk(2027, 2, 1)) == dt.date(2027, 2, 1)


def test_business_time_kyc_valid_through_a_day_expires_at_the_start_of_the_next() -> None:
    expiry = bt.kyc_expiry_timestamp(DUE)
    assert expiry == _hk(2027, 2, 1)
    assert iso_time(expiry) == "2027-02-01T00:00:00+08:00"
    assert bt.kyc_last_day(expiry) == DUE
    # A KYC expiry someone set on chain at 10:00 is valid through the day before... and that morning.
    assert bt.kyc_last_day(_hk(2027, 2, 1, 10)) == dt.date(2027, 2, 1)


def test_business_time_other_zone_moves_the_boundary() -> None:
    london = ZoneInfo("Europe/London")
    assert bt.due_timestamp(DUE, london) == int(dt.datetime(2027, 1, 31, 23, 59, 59, tzinfo=dt.UTC).timestamp())
    # Summer time: the end of 2027-07-01 in London is 22:59:59 UTC.
    summer = bt.due_timestamp(dt.date(2027, 7, 1), london)
    assert summer == int(dt.datetime(2027, 7, 1, 22, 59, 59, tzinfo=dt.UTC).timestamp())
    assert bt.business_date(summer, HK) == dt.date(2027, 7, 2)


def test_business_time_formats() -> None:
    due = bt.due_timestamp(DUE)
    assert text_time(due) == "2027-01-31 23:59 HKT"
    assert text_time(iso_time(due)) == "2027-01-31 23:59 HKT"  # a JSON value shown in a table
    assert text_time(None) == "-"
    assert date_text(due) == date_text(DUE) == "2027-01-31"
    aware = dt.datetime(2027, 1, 31, 16, tzinfo=dt.UTC)  # midnight in Hong Kong
    assert (iso_time(aware), date_text(aware)) == ("2027-02-01T00:00:00+08:00", "2027-02-01")
    assert iso_time(2**64 - 1) == f"unix time {2**64 - 1} (after 9999-12-31)"
    with pytest.raises(ValueError):
        iso_time(dt.datetime(2027, 1, 31))  # naive: refused, never guessed


def test_business_time_setting_from_env_and_config(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("SCF_TIMEZONE", raising=False)
    settings = load_settings(home=str(tmp_path))
    assert (settings.timezone, bt.business_zone()) == ("Asia/Hong_Kong", HK)
    (tmp_path / "config.toml").write_text('timezone = "Europe/London"\n')
    assert load_settings(home=str(tmp_path)).timezone == "Europe/London"
    assert bt.business_zone() == ZoneInfo("Europe/London")
    assert text_time(bt.due_timestamp(DUE)) == "2027-01-31 23:59 GMT"
    monkeypatch.setenv("SCF_TIMEZONE", "Asia/Singapore")
    assert load_settings(home=str(tmp_path)).zone == ZoneInfo("Asia/Singapore")


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "../etc/passwd", "Asia/Hong_Kong "])
def test_business_time_unknown_zone_is_a_one_line_config_error(tmp_path, monkeypatch, name) -> None:
    if name:
        monkeypatch.setenv("SCF_TIMEZONE", name)
    else:  # an empty value in config.toml (an empty $SCF_TIMEZONE counts as unset)
        monkeypatch.delenv("SCF_TIMEZONE", raising=False)
        (tmp_path / "config.toml").write_text('timezone = ""\n')
    with pytest.raises(ConfigError) as info:
        load_settings(home=str(tmp_path))
    message = str(info.value)
    assert "\n" not in message and "such as Asia/Hong_Kong" in message
    assert info.value.exit_code == 3
