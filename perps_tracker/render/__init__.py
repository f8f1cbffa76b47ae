"""Turn results into tables for people and plain JSON for scripts, one module per command family.

Core code never prints; the CLI hands its results to a renderer here. Tables are `Grid`s and
prose goes through `say` (output.py), so every command fits the terminal's width; `terminal.py`
holds the encoding, logging and stderr plumbing.
"""
