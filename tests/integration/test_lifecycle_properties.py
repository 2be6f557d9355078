"""Property: whatever happens, in whatever order, every invariant of docs/design.md holds.

A hypothesis state machine drives the real app on a real database, a fresh one per example:
deliveries (checkouts completed paid or unpaid, async results, PaymentIntents, subscription
invoices paid or failed in both API shapes and their `invoice_payment.paid` links,
redeliveries, the same news under new event ids), refunds (charge totals, refund objects,
cancellations, of one-off and subscription payments), disputes, spends, promotional grants,
registrations and expiry runs under a hand-moved clock. After every step the audit checks the
database, and a model of what was paid checks the wallets: each payment credited at most once
(exactly once when its buyer is known and no money came back), never more than its credits,
balance equal to the ledger, no spend oversold or wrongly refused.

`--hypothesis-profile=long` runs many more and longer sequences.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from creditflow.adapters.stripe import samples
from creditflow.domain.buyers import normalize_email
from creditflow.entrypoints.http import create_app
from tests.conftest import EmptyDatabase
from tests.invoices import SHAPES, Shape, invoice_event, invoice_payment_event
from tests.support import (
    ManualClock,
    api_get,
    assert_audit_clean,
    auth,
    balance,
    container,
    deliver,
    grant,
    make_settings,
    money_back_event,
    payment_intent_event,
    spend,
)

USER_IDS = ("ada", "bob", "cy")
EMAILS = ("ada@example.com", "Ada@Example.com", "bob@example.com", "shared@example.com")
MONEY_BACK_KINDS = ("refund", "refund_reversal", "dispute_hold", "dispute_return")
DISPUTES = {
    "created": "charge_dispute_created.json",
    "won": "charge_dispute_closed_won.json",
    "lost": "charge_dispute_closed_lost.json",
}
SETTLED = {"processed", "duplicate"}
# When Stripe created a money-back event: a few seconds apart, in any order, so charge totals are
# made before, at or after the refunds they may count were canceled.
STRIPE_EPOCH = 1_800_000_000
STRIPE_SECONDS = st.integers(0, 5)
INVOICE_EVENTS = ("invoice.paid", "invoice.payment_succeeded", "invoice.payment_failed")
FAR_PERIOD_END = 2_100_000_000  # subscription periods end after any test's clock


@dataclass
class Payment:
    """One Checkout Session (and its PaymentIntent), and what was sent about it."""

    session_id: str
    intent_id: str
    credits: int
    amount: int
    user_id: str | None
    email: str | None
    paid: bool = False  # money arrived: some event said so
    claimable: bool = False  # paid, and its buyer was registered then or since
    money_back: bool = False  # a refund or dispute was sent
    sent: list[dict[str, Any]] = field(default_factory=list)
    refunds: dict[str, int] = field(default_factory=dict)  # refund id -> amount
    shape: Shape | None = None  # a subscription period's: `session_id` is its invoice's id

    @property
    def references(self) -> set[str]:
        """Ledger entries name the session, or the PaymentIntent when it came first."""
        return {self.session_id, self.intent_id}

    def session(self, *, paid: bool) -> dict[str, Any]:
        return samples.checkout_session(
            user_id=self.user_id,
            email=self.email,
            credits=self.credits,
            paid=paid,
            amount=self.amount,
            session_id=self.session_id,
            payment_intent_id=self.intent_id,
        )


buyers = st.one_of(
    st.tuples(st.sampled_from(USER_IDS), st.none() | st.sampled_from(EMAILS)),
    st.tuples(st.none(), st.sampled_from(EMAILS)),  # a Payment Link: the e-mail alone
)


class CreditLifecycle(RuleBasedStateMachine):
    payments = Bundle("payments")
    periods = Bundle("periods")  # subscription periods: one invoice each, in one API shape

    def __init__(self, database_url: str) -> None:
        super().__init__()
        self.clock = ManualClock()
        settings = make_settings(database_url, expiry_interval_seconds=0)
        self.client = TestClient(create_app(settings, clock=self.clock))
        self.client.__enter__()
        self.users: dict[str, str | None] = {}  # user id -> e-mail key
        self.all_payments: list[Payment] = []
        self.spend_keys: dict[str, tuple[str, int]] = {}
        self.open_holds: list[str] = []  # ids not yet captured or voided by a rule

    def teardown(self) -> None:
        self.client.__exit__(None, None, None)

    # Deliveries ---------------------------------------------------------------------------

    @rule(
        target=payments,
        buyer=buyers,
        credits=st.integers(1, 500),
        amount=st.integers(50, 5000),
    )
    def plan_a_payment(
        self, buyer: tuple[str | None, str | None], credits: int, amount: int
    ) -> Payment:
        """A payment Stripe will tell us about; refunds and disputes may come before it."""
        payment = Payment(
            samples.new_id("cs"), samples.new_id("pi"), credits, amount, buyer[0], buyer[1]
        )
        self.all_payments.append(payment)
        return payment

    @rule(payment=payments, paid=st.booleans())
    def checkout_completed(self, payment: Payment, paid: bool) -> None:
        self._deliver(payment, "checkout.session.completed", payment.session(paid=paid), paid)

    @rule(payment=payments)
    def async_payment_succeeded(self, payment: Payment) -> None:
        event_type = "checkout.session.async_payment_succeeded"
        self._deliver(payment, event_type, payment.session(paid=True), paid=True)

    @rule(payment=payments)
    def async_payment_failed(self, payment: Payment) -> None:
        event_type = "checkout.session.async_payment_failed"
        self._deliver(payment, event_type, payment.session(paid=False), paid=False)

    @rule(payment=payments)
    def payment_intent_succeeded(self, payment: Payment) -> None:
        """The session's own PaymentIntent with our metadata: the same payment, not a second."""
        metadata = {"credits": str(payment.credits)}
        if payment.user_id is not None:
            metadata["user_id"] = payment.user_id
        if payment.email is not None:
            metadata["email"] = payment.email
        intent = payment_intent_event(
            id=payment.intent_id,
            amount=payment.amount,
            amount_received=payment.amount,
            metadata=metadata,
        )["data"]["object"]
        self._deliver(payment, "payment_intent.succeeded", intent, paid=True)

    @rule(
        target=periods,
        buyer=buyers,
        credits=st.integers(1, 500),
        amount=st.integers(50, 5000),
        shape=st.sampled_from(SHAPES),
    )
    def plan_a_subscription_period(
        self, buyer: tuple[str | None, str | None], credits: int, amount: int, shape: Shape
    ) -> Payment:
        """A subscription invoice its subscription's metadata prices (and names the user of)."""
        period = Payment(
            samples.new_id("in"), samples.new_id("pi"), credits, amount, *buyer, shape=shape
        )
        self.all_payments.append(period)
        return period

    @rule(period=periods, kind=st.sampled_from(INVOICE_EVENTS))
    def invoice_delivered(self, period: Payment, kind: str) -> None:
        """`invoice.paid`, `.payment_succeeded` or `.payment_failed`; before 2025-03-31 the
        invoice names its PaymentIntent."""
        assert period.shape is not None
        metadata = {"credits": str(period.credits)}
        if period.user_id is not None:
            metadata["user_id"] = period.user_id
        paid = kind != "invoice.payment_failed"
        fields: dict[str, Any] = {"customer_email": period.email, "customer": None}
        if paid:
            fields["amount_paid"] = period.amount
        if period.shape == "legacy":
            fields["payment_intent"] = period.intent_id
        event = invoice_event(
            period.shape,
            event_type=kind,
            event_id=samples.new_id("evt"),
            invoice_id=period.session_id,
            metadata=metadata,
            period_end=FAR_PERIOD_END,
            **fields,
        )
        settled = self._send(period, event, may_need_attention=period.money_back)
        if settled and paid and not period.paid:
            period.paid = True
            period.claimable = self._buyer_registered(period)

    @rule(period=periods)
    def invoice_payment_paid(self, period: Payment) -> None:
        """Since 2025-03-31: the PaymentIntent that paid the invoice (a refund seen between the
        invoice and this link leaves it needing attention)."""
        event = invoice_payment_event(period.session_id, period.intent_id)
        self._send(period, event | {"id": samples.new_id("evt")}, may_need_attention=True)

    @rule(period=periods, quarters=st.integers(0, 4), at=STRIPE_SECONDS)
    def subscription_payment_refunded(self, period: Payment, quarters: int, at: int) -> None:
        refunded = period.amount * quarters // 4
        event = money_back_event(
            "charge_refunded_partial.json",
            period.intent_id,
            amount=period.amount,
            amount_refunded=refunded,
        )
        self._money_back(period, event, at)

    @precondition(lambda self: any(payment.sent for payment in self.all_payments))
    @rule(data=st.data())
    def redeliver(self, data: st.DataObject) -> None:
        """Stripe retrying, or the same event at a second endpoint: same id, nothing new."""
        sent = [event for payment in self.all_payments for event in payment.sent]
        event = data.draw(st.sampled_from(sent))
        response = deliver(self.client, event)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "duplicate", response.text

    @precondition(lambda self: any(payment.sent for payment in self.all_payments))
    @rule(data=st.data())
    def same_news_under_a_new_event_id(self, data: st.DataObject) -> None:
        sent = [(payment, event) for payment in self.all_payments for event in payment.sent]
        payment, event = data.draw(st.sampled_from(sent))
        self._send(payment, samples.event(event["type"], event["data"]["object"]))

    # Money coming back --------------------------------------------------------------------

    @rule(payment=payments, quarters=st.integers(0, 4), at=STRIPE_SECONDS)
    def charge_refunded(self, payment: Payment, quarters: int, at: int) -> None:
        """The charge's running total, which may also arrive late and smaller, and be made
        before or after a refund was canceled (`at`: when Stripe created the event)."""
        refunded = payment.amount * quarters // 4
        event = money_back_event(
            "charge_refunded_partial.json",
            payment.intent_id,
            amount=payment.amount,
            amount_refunded=refunded,
            refunded=refunded == payment.amount,
        )
        self._money_back(payment, event, at)

    @rule(payment=payments, quarters=st.integers(1, 4), at=STRIPE_SECONDS)
    def refund_created(self, payment: Payment, quarters: int, at: int) -> None:
        refund_id = samples.new_id("re")
        payment.refunds[refund_id] = max(1, payment.amount * quarters // 4)
        self._money_back(payment, self._refund(payment, refund_id, "succeeded"), at)

    @precondition(lambda self: any(payment.refunds for payment in self.all_payments))
    @rule(data=st.data(), status=st.sampled_from(["canceled", "failed"]), at=STRIPE_SECONDS)
    def refund_canceled(self, data: st.DataObject, status: str, at: int) -> None:
        refunds = [(p, refund) for p in self.all_payments for refund in p.refunds]
        payment, refund_id = data.draw(st.sampled_from(refunds))
        event = self._refund(payment, refund_id, status, "refund.updated")
        self._money_back(payment, event, at)

    @rule(payment=payments, stage=st.sampled_from(sorted(DISPUTES)), at=STRIPE_SECONDS)
    def dispute(self, payment: Payment, stage: str, at: int) -> None:
        event = money_back_event(
            DISPUTES[stage], payment.intent_id, id=f"dp_{payment.intent_id}", amount=payment.amount
        )
        self._money_back(payment, event, at)

    # The app and the operators ------------------------------------------------------------

    @rule(user_id=st.sampled_from(USER_IDS), email=st.none() | st.sampled_from(EMAILS))
    def register(self, user_id: str, email: str | None) -> None:
        response = self.client.put(f"/v1/users/{user_id}", json={"email": email}, headers=auth())
        key = normalize_email(email)
        owner = next((user for user, held in self.users.items() if key and held == key), None)
        if owner is not None and owner != user_id:
            assert response.status_code == 409, response.text
            return
        assert response.status_code == 200, response.text
        self.users[user_id] = key
        for payment in self.all_payments:
            by_email = key is not None and normalize_email(payment.email) == key
            buyer_is_them = payment.user_id == user_id or (payment.user_id is None and by_email)
            payment.claimable |= payment.paid and buyer_is_them

    @precondition(lambda self: bool(self.users))
    @rule(data=st.data(), credits=st.integers(1, 400), key=st.sampled_from(["k1", "k2", "k3"]))
    def spend(self, data: st.DataObject, credits: int, key: str) -> None:
        """Never below zero, never refused while the credits are there; a key spends once."""
        user_id = data.draw(st.sampled_from(sorted(self.users)))
        before, available = self._figures(user_id)
        response = spend(self.client, user_id, credits, key)
        used = self.spend_keys.get(f"{user_id}:{key}")
        if used is not None:
            assert response.status_code == (200 if used == (key, credits) else 409), response.text
            assert balance(self.client, user_id) == before
            return
        if credits <= available:
            assert response.status_code == 200, response.text
            assert response.json()["balance"] == before - credits
            self.spend_keys[f"{user_id}:{key}"] = (key, credits)
        else:
            assert response.status_code == 402, response.text
            assert response.json()["error"]["balance"] == before
        assert balance(self.client, user_id) == response.json().get("balance", before)

    @precondition(lambda self: bool(self.users))
    @rule(data=st.data(), credits=st.integers(1, 300), minutes=st.integers(1, 60 * 24))
    def hold(self, data: st.DataObject, credits: int, minutes: int) -> None:
        """Held only from `available`; a hold moves no credits."""
        user_id = data.draw(st.sampled_from(sorted(self.users)))
        before, available = self._figures(user_id)
        body = {
            "credits": credits,
            "idempotency_key": samples.new_id("job"),
            "reason": "a long job",
            "expires_in_seconds": minutes * 60,
        }
        response = self.client.post(f"/v1/wallets/{user_id}/holds", json=body, headers=auth())
        if credits <= available:
            assert response.status_code == 201, response.text
            self.open_holds.append(response.json()["id"])
            assert self._figures(user_id) == (before, available - credits)
        else:
            assert response.status_code == 402, response.text
            assert response.json()["error"]["available"] == available
            assert self._figures(user_id) == (before, available)

    @precondition(lambda self: bool(self.open_holds))
    @rule(data=st.data(), percent=st.integers(0, 100), voided=st.booleans())
    def capture_or_void_a_hold(self, data: st.DataObject, percent: int, voided: bool) -> None:
        """A live hold closes as asked, capturing at most what it holds; an expired one: 409."""
        hold_id = data.draw(st.sampled_from(self.open_holds))
        self.open_holds.remove(hold_id)
        found = api_get(self.client, f"/v1/holds/{hold_id}")
        before = balance(self.client, found["user_id"])
        action = "void" if voided else "capture"
        body = {} if voided else {"credits": found["credits"] * percent // 100}
        response = self.client.post(f"/v1/holds/{hold_id}/{action}", json=body, headers=auth())
        if found["status"] != "held":
            assert response.status_code == 409, response.text
            assert response.json()["error"]["code"] == "hold_closed"
            return
        assert response.status_code == 200, response.text
        taken = response.json()["captured"]
        assert taken <= (0 if voided else body["credits"])
        assert (
            balance(self.client, found["user_id"]) == before - taken == response.json()["balance"]
        )

    @rule(
        user_id=st.sampled_from(USER_IDS),
        credits=st.integers(1, 300),
        lifetime=st.none() | st.integers(1, 30).map(lambda days: timedelta(days=days)),
    )
    def promotional_grant(self, user_id: str, credits: int, lifetime: timedelta | None) -> None:
        expires_at = None if lifetime is None else self.clock.now + lifetime
        key = samples.new_id("promo")
        response = grant(self.client, user_id, credits, key, expires_at=expires_at)
        assert response.status_code == (200 if user_id in self.users else 404), response.text

    @rule(days=st.integers(0, 20))
    def time_passes_and_credits_expire(self, days: int) -> None:
        self.clock.advance(timedelta(days=days))
        container(self.client).expiry.expire_due()

    # Checks after every step ----------------------------------------------------------------

    @invariant()
    def the_audit_is_clean(self) -> None:
        assert_audit_clean(container(self.client).audit.run())

    @invariant()
    def each_payment_is_credited_once_and_never_more_than_its_credits(self) -> None:
        entries = []
        for user_id in self.users:
            page = api_get(self.client, f"/v1/wallets/{user_id}/ledger", limit=500)
            assert page["next_before"] is None, "the model keeps ledgers under one page"
            assert sum(e["delta"] for e in page["entries"]) == balance(self.client, user_id)
            entries += page["entries"]
        grants = Counter(e["reference"] for e in entries if e["kind"] == "purchase")
        for payment in self.all_payments:
            mine = [e for e in entries if e["reference"] in payment.references]
            granted = sum(grants[reference] for reference in payment.references)
            assert granted <= 1, f"{payment.session_id} credited {granted} times"
            if payment.claimable and not payment.money_back:
                assert granted == 1, f"{payment.session_id} paid, its buyer known, not credited"
                assert [e["delta"] for e in mine] == [payment.credits]
            net = sum(e["delta"] for e in mine if e["kind"] in ("purchase", *MONEY_BACK_KINDS))
            assert 0 <= net <= payment.credits, f"{payment.session_id} nets {net}"

    # Helpers --------------------------------------------------------------------------------

    def _deliver(self, payment: Payment, event_type: str, obj: dict[str, Any], paid: bool) -> None:
        self._send(payment, samples.event(event_type, obj))
        if paid and not payment.paid:
            payment.paid = True
            payment.claimable = self._buyer_registered(payment)

    def _send(
        self, payment: Payment, event: dict[str, Any], *, may_need_attention: bool = False
    ) -> bool:
        """Whether it settled (kept for redeliveries); `may_need_attention`: a refund came
        before the payment's link, which an operator settles (docs/design.md, flow 9)."""
        response = deliver(self.client, event)
        assert response.status_code == 200, response.text
        outcome = response.json()["status"]
        if may_need_attention and outcome == "needs_attention":
            return False
        assert outcome in SETTLED, response.text
        payment.sent.append(event)
        return True

    def _money_back(self, payment: Payment, event: dict[str, Any], at: int) -> None:
        payment.money_back = True
        self._send(payment, {**event, "created": STRIPE_EPOCH + at})

    @staticmethod
    def _refund(
        payment: Payment, refund_id: str, status: str, event_type: str = "refund.created"
    ) -> dict[str, Any]:
        event = money_back_event(
            "refund_created_partial.json",
            payment.intent_id,
            id=refund_id,
            amount=payment.refunds[refund_id],
            status=status,
        )
        event["type"] = event_type
        return event

    def _figures(self, user_id: str) -> tuple[int, int]:
        found = api_get(self.client, f"/v1/wallets/{user_id}")
        return found["balance"], found["available"]

    def _buyer_registered(self, payment: Payment) -> bool:
        if payment.user_id is not None:
            return payment.user_id in self.users
        return normalize_email(payment.email) in self.users.values()


def test_random_interleavings_keep_every_invariant(empty_database: EmptyDatabase) -> None:
    class OnAnEmptyDatabase(CreditLifecycle):
        def __init__(self) -> None:
            super().__init__(empty_database())

    run_state_machine_as_test(OnAnEmptyDatabase)
