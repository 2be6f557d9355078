"""`make bench-scale`: latency of the hot paths as history grows, and the plans behind them."""
