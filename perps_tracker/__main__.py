"""`python -m perps_tracker` runs the command-line interface."""

from perps_tracker.cli import main

main()
