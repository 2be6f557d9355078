"""Adapters around the core: the database, Stripe."""
