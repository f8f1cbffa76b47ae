"""perps-tracker: hourly sentiment and liquidation-risk snapshots of crypto perpetual futures."""

__version__ = "0.1.0"


class _NoPandas:
    """A meta-path finder under which `import pandas` fails."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


def import_pyarrow():
    """pyarrow (ImportError when it is not installed), told there is no pandas. pyarrow imports pandas,
    when it is installed, the first time it meets a Python sequence or loads `pyarrow.dataset` (~0.3 s,
    ~35 MB), for DataFrame conversions this package never makes; that first look is made here, with
    pandas out of reach, and pyarrow remembers it. A process that imported pandas already keeps it."""
    import sys

    if "pandas" in sys.modules:
        import pyarrow

        return pyarrow
    blocker = _NoPandas()
    sys.meta_path.insert(0, blocker)
    try:
        import pyarrow

        pyarrow.array([0])  # pyarrow's first look for pandas
    finally:
        sys.meta_path.remove(blocker)
    return pyarrow


def release_arrow_memory(pa) -> None:
    """Make pyarrow hand freed memory back (the Parquet export, the capture writer): its default allocator
    on Linux (mimalloc) keeps what a month's row groups or a compaction went through, ~35 MB more at the
    peak; jemalloc (else the system's allocator) does not."""
    for pool in (getattr(pa, "jemalloc_memory_pool", None), pa.system_memory_pool):
        try:
            if pool is not None:
                pa.set_memory_pool(pool())
                return
        except (NotImplementedError, pa.ArrowNotImplementedError):
            continue
