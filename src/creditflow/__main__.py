"""`python -m creditflow` runs the `creditflow` command, for when the script is not on PATH."""

from creditflow.entrypoints.cli import main

main()
