"""The composition root: build engine, adapters and services from settings, in one place."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from sqlalchemy import Engine

from creditflow.adapters.db.engine import build_engine
from creditflow.adapters.db.migrate import MigrationState
from creditflow.adapters.db.unit_of_work import UnitOfWork
from creditflow.adapters.stripe.catalog import CatalogFile
from creditflow.adapters.stripe.client import make_client
from creditflow.adapters.stripe.events import HANDLED_EVENT_TYPES, StripeEventInterpreter
from creditflow.adapters.stripe.gateway import StripeGateway
from creditflow.services.audit import AuditService
from creditflow.services.batched_deliveries import BatchedDeliveries, DeliveryBatcher
from creditflow.services.batched_wallets import BatchedWalletOperations
from creditflow.services.checkout import CheckoutService
from creditflow.services.clock import Clock, utc_now
from creditflow.services.console import Console
from creditflow.services.deliveries import DeliveryService
from creditflow.services.doctor import Doctor
from creditflow.services.expiry import ExpiryService
from creditflow.services.group_commit import PostingBatcher
from creditflow.services.holds import HoldService
from creditflow.services.ledger_totals import LedgerTotalsReader
from creditflow.services.observer import NO_OBSERVER, Observer
from creditflow.services.queries import Queries
from creditflow.services.reconcile import Reconciler
from creditflow.services.users import UserService
from creditflow.services.wallet_operations import WalletOperations
from creditflow.settings import Settings


@dataclass(frozen=True)
class Container:
    settings: Settings
    engine: Engine
    stripe: StripeGateway | None  # None without STRIPE_SECRET_KEY
    deliveries: DeliveryService
    checkout: CheckoutService
    users: UserService
    wallets: WalletOperations
    expiry: ExpiryService
    holds: HoldService
    audit: AuditService
    queries: Queries
    ledger_totals: LedgerTotalsReader  # the metrics counters' source; caches, one per process
    reconciler: Reconciler | None  # None without STRIPE_SECRET_KEY: nothing to ask
    console: Console  # the operator console's views and actions (/console)
    doctor: Doctor  # `creditflow doctor` and the console's findings
    # /v1 spends and grants through group commit; None (one transaction each) unless configured
    batched_wallets: BatchedWalletOperations | None = None
    # Webhook deliveries through group commit; None (one transaction each) unless configured
    batched_deliveries: BatchedDeliveries | None = None

    def close(self) -> None:
        self.engine.dispose()


def build_container(
    settings: Settings, *, clock: Clock = utc_now, observer: Observer = NO_OBSERVER
) -> Container:
    """`observer` hears what the services did (the HTTP app's metrics); the CLI needs none."""
    engine = build_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        prepared_statements=settings.db_prepared_statements,
    )
    uow_factory = partial(UnitOfWork, engine)
    gateway = build_gateway(settings)
    catalog = CatalogFile(settings.catalog_path).current
    deliveries = DeliveryService(
        uow_factory,
        StripeEventInterpreter(catalog, gateway),
        clock,
        settings.refund_policy,
        observer,
        settings.subscription_grace,
    )
    queries = Queries(uow_factory)
    wallets = WalletOperations(uow_factory, clock, observer)
    return Container(
        settings=settings,
        engine=engine,
        stripe=gateway,
        deliveries=deliveries,
        checkout=CheckoutService(uow_factory, catalog, gateway, deliveries, clock),
        users=UserService(uow_factory, clock),
        wallets=wallets,
        expiry=ExpiryService(uow_factory, clock),
        holds=HoldService(uow_factory, clock),
        audit=AuditService(uow_factory),
        queries=queries,
        ledger_totals=LedgerTotalsReader(uow_factory, clock),
        reconciler=None
        if gateway is None
        else Reconciler(gateway, deliveries, uow_factory, clock, HANDLED_EVENT_TYPES),
        console=Console(uow_factory, clock, queries, deliveries, wallets),
        doctor=Doctor(
            settings,
            MigrationState(engine, settings.database_url),
            gateway,
            catalog,
            queries.backlog,
            HANDLED_EVENT_TYPES,
        ),
        batched_wallets=BatchedWalletOperations(
            PostingBatcher(uow_factory, clock, settings.group_commit_max_batch), observer
        )
        if settings.group_commit
        else None,
        batched_deliveries=BatchedDeliveries(
            deliveries,
            DeliveryBatcher(uow_factory, deliveries, settings.group_commit_max_batch),
        )
        if settings.group_commit
        else None,
    )


def build_gateway(settings: Settings) -> StripeGateway | None:
    """The one Stripe gateway of this configuration; None when no API key is set."""
    if settings.stripe_secret_key is None:
        return None
    client = make_client(settings.stripe_secret_key.get_secret_value(), settings.stripe_api_base)
    return StripeGateway(client)
