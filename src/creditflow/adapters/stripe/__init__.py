"""Stripe: verify deliveries, read what webhooks leave out, translate events for the core."""
