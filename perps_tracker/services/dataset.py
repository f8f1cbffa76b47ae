"""The capture dataset's use cases besides `capture` itself: what it holds (`stats`) and `query`."""

from __future__ import annotations

import logging
import os

from perps_tracker.errors import TrackerError

log = logging.getLogger(__name__)


def dataset_files(root: str) -> list | None:
    """Per channel and venue, the files of the dataset at `root` (a local directory that exists and
    holds any), read from their footers; None when there is nothing to count or pyarrow is missing."""
    if "://" in root and not root.startswith("file://"):
        return None  # an object store: listing it is not for `stats` to pay
    path = root[len("file://"):] if root.startswith("file://") else root
    if not os.path.isdir(path):
        return None
    from perps_tracker.dataset.inventory import inventory

    try:
        return inventory(path) or None
    except TrackerError as e:  # pyarrow missing: the database's statistics still stand
        log.info("capture dataset not counted: %s", e)
        return None


def run_query(rt, sql: str, root: str | None = None):
    """`sql` over the capture dataset (`root`, else the `capture.root` setting): a dataset.query.Result."""
    from perps_tracker.dataset.query import run

    if not sql.strip():
        raise TrackerError("no SQL given: e.g. perps-tracker query 'SELECT count(*) FROM trades'")
    return run(root or rt.settings.capture_root, sql)
