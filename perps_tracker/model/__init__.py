"""The pure core: normalised market data and every formula, as frozen dataclasses and functions.

No I/O and no clock: whatever needs the time takes it as an argument.
"""
