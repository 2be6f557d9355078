"""Use cases. Each opens one unit of work, does one business operation and commits once."""
