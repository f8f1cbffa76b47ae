"""What a local capture dataset holds, per channel and venue, from the Parquet footers alone (`stats`)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from perps_tracker.model.ticks import CHANNELS


@dataclass(frozen=True)
class FileLine:
    channel: str
    exchange: str
    files: int
    rows: int
    bytes: int
    first_date: str
    last_date: str


def inventory(root: str) -> list[FileLine]:
    """Files, rows (from each file's footer: no data is read), bytes and dates per channel and venue of
    the dataset under the local directory `root`; [] when it holds none. Needs pyarrow."""
    from perps_tracker.dataset import arrow

    pq = arrow().parquet
    lines = []
    for channel in CHANNELS:
        base = os.path.join(root, channel)
        if not os.path.isdir(base):
            continue
        for venue in sorted(os.listdir(base)):
            if not venue.startswith("exchange="):
                continue
            files = rows = size = 0
            dates = []
            for day in sorted(os.listdir(os.path.join(base, venue))):
                folder = os.path.join(base, venue, day)
                if not day.startswith("date=") or not os.path.isdir(folder):
                    continue
                names = [n for n in os.listdir(folder) if n.endswith(".parquet") and not n.startswith(".")]
                for name in names:
                    path = os.path.join(folder, name)
                    try:
                        rows += pq.read_metadata(path).num_rows
                        size += os.path.getsize(path)
                    except (OSError, ValueError):  # removed meanwhile, or not Parquet: not ours to count
                        continue
                    files += 1
                if names:
                    dates.append(day[len("date="):])
            if files:
                lines.append(FileLine(channel, venue[len("exchange="):], files, rows, size, dates[0], dates[-1]))
    return lines
