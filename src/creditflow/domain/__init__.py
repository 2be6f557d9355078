"""The pure core: credits, purchases, buyers and ledger postings. No I/O, no Stripe, no HTTP."""
