"""The webhook fulfilment benchmark: signed deliveries over real HTTP, with its two limits."""
