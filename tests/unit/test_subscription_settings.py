"""CREDITFLOW_SUBSCRIPTION_GRACE: how long a period's credits outlive the period's end."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from creditflow.settings import Settings


def test_the_grace_is_one_day_by_default() -> None:
    assert Settings(_env_file=None).subscription_grace == timedelta(days=1)


@pytest.mark.parametrize(
    ("raw", "grace"),
    [("3600", timedelta(hours=1)), (" 0 ", timedelta(0)), ("PT12H", timedelta(hours=12))],
)
def test_seconds_or_an_iso_duration(
    monkeypatch: pytest.MonkeyPatch, raw: str, grace: timedelta
) -> None:
    monkeypatch.setenv("CREDITFLOW_SUBSCRIPTION_GRACE", raw)

    assert Settings(_env_file=None).subscription_grace == grace


@pytest.mark.parametrize("raw", ["1 day", "-5", "soon", "P-1D", "1.5"])
def test_anything_else_is_refused_with_the_setting_named(
    monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    monkeypatch.setenv("CREDITFLOW_SUBSCRIPTION_GRACE", raw)

    with pytest.raises(ValidationError, match="CREDITFLOW_SUBSCRIPTION_GRACE"):
        Settings(_env_file=None)
