"""`CREDITFLOW_GROUP_COMMIT`: spends and grants share transactions unless it is turned off."""

from __future__ import annotations

import pytest

from creditflow.settings import Settings


def test_group_commit_is_on_by_default() -> None:
    assert Settings(_env_file=None).group_commit is True


def test_group_commit_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDITFLOW_GROUP_COMMIT", "false")

    assert Settings(_env_file=None).group_commit is False
