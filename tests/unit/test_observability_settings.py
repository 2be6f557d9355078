"""The observability settings read from the environment, in the spellings people type."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from creditflow.logging_setup import LogFormat
from creditflow.settings import Settings


def test_by_default_logs_are_json_at_info_and_metrics_are_open() -> None:
    settings = Settings(_env_file=None)

    assert (settings.log_format, settings.log_level, settings.metrics_key) == (
        LogFormat.JSON,
        "INFO",
        None,
    )


def test_format_and_level_are_read_in_any_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDITFLOW_LOG_FORMAT", "Text")
    monkeypatch.setenv("CREDITFLOW_LOG_LEVEL", " debug ")

    settings = Settings(_env_file=None)

    assert (settings.log_format, settings.log_level) == (LogFormat.TEXT, "DEBUG")


def test_an_empty_metrics_key_leaves_metrics_open(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDITFLOW_METRICS_KEY", "")

    assert Settings(_env_file=None).metrics_key is None


@pytest.mark.parametrize(
    ("name", "value"), [("CREDITFLOW_LOG_FORMAT", "xml"), ("CREDITFLOW_LOG_LEVEL", "loud")]
)
def test_an_unknown_value_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(ValidationError, match=name):
        Settings(_env_file=None)
