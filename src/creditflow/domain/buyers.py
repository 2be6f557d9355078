"""Who a payment belongs to, as far as the payment itself says."""

from __future__ import annotations

from dataclasses import dataclass


def normalize_email(email: str | None) -> str | None:
    """E-mail addresses match case-insensitively (Payment Link buyers type theirs freely)."""
    if email is None:
        return None
    cleaned = email.strip().lower()
    return cleaned or None


@dataclass(frozen=True)
class Buyer:
    """A user id the app chose (client_reference_id / metadata) and/or the e-mail typed at checkout.

    The user id wins when both are present: it was set by the app that knows the user.
    """

    user_id: str | None
    email: str | None

    def __post_init__(self) -> None:
        object.__setattr__(self, "email", normalize_email(self.email))
        user_id = self.user_id.strip() if self.user_id else None
        object.__setattr__(self, "user_id", user_id or None)

    @property
    def is_known(self) -> bool:
        return self.user_id is not None or self.email is not None
