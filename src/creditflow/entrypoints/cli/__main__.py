"""`python -m creditflow.entrypoints.cli`: the `creditflow` command without the installed script."""

from creditflow.entrypoints.cli import main

main()
