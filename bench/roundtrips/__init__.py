"""Round trips to PostgreSQL and service CPU per operation, counted from the wire (issue 12)."""
