"""The one-function peer (the earlier app's design) and creditflow beside it, same load, one run."""
