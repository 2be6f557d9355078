"""`trigger` refuses contradictory options before it sends anything (usage errors, status 2)."""

from __future__ import annotations

import pytest

from tests.cli.support import cli

COMPLETED = "checkout.session.completed"


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        ((COMPLETED,), "say who buys"),
        (
            (COMPLETED, "--payment-link", "plink_1", "--user", "u", "--email", "e@x.io"),
            "drop --user",
        ),
        ((COMPLETED, "--payment-link", "plink_1"), "add --email"),
        ((COMPLETED, "--payment-link", "link_1", "--email", "e@x.io"), "starts with plink_"),
        (("checkout.session.expired", "--user", "u", "--unpaid"), "can be unpaid"),
        ((COMPLETED, "--user", "u", "--session", "sess_1"), "starts with cs_"),
        (("charge.refunded", "--user", "u"), "EVENT_TYPE"),
    ],
)
def test_contradictory_options_are_refused_before_anything_is_sent(
    args: tuple[str, ...], reason: str
) -> None:
    # No server and no secret: a refused command never gets as far as needing either.
    result = cli("trigger", *args)

    assert result.exit_code == 2
    assert reason in " ".join(result.stderr.split())
