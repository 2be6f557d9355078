"""creditflow: Stripe payments in, credits in wallets out, exactly once."""

__version__ = "0.1.0"
