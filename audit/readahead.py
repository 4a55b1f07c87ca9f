"""Reading a log file ahead of a full scan, so that a scan of a file not in the page cache
does not wait on the disk page by page.

verify reads every page of the log in B-tree order, a few KB per read. Large sequential
reads beside it fill the page cache faster than those reads would.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

__all__ = ["reading_ahead"]

_BLOCK = 64 << 20  # per call: small enough to stop soon after the scan ends


@contextlib.contextmanager
def reading_ahead(path: str | os.PathLike) -> Iterator[None]:
    """Within the block, a background thread reads `path` from start to end, unless the file
    would take more than half the memory available: then it would evict its own pages before
    the scan reached them. Best effort: a failure to read is the scan's to report, not this."""
    stop = threading.Event()
    reader = None
    with contextlib.suppress(OSError):
        if Path(path).stat().st_size <= _available_memory() // 2:
            reader = threading.Thread(target=_read, args=(path, stop), name="licit-read-ahead", daemon=True)
            reader.start()
    try:
        yield
    finally:
        stop.set()
        if reader is not None:
            reader.join()


def _read(path: str | os.PathLike, stop: threading.Event) -> None:
    """sendfile(2) to /dev/null: the kernel reads the file into the page cache without copying
    it to Python, and pages already cached cost next to nothing (0.1 s for the 4.4 GB log)."""
    with contextlib.suppress(OSError), open(path, "rb", buffering=0) as file, \
            open(os.devnull, "wb", buffering=0) as nowhere:
        offset = 0
        while not stop.is_set() and (sent := os.sendfile(nowhere.fileno(), file.fileno(), offset, _BLOCK)):
            offset += sent


def _available_memory() -> int:
    """MemAvailable on Linux (free memory plus what the page cache can give back); 0 if unknown."""
    with contextlib.suppress(OSError, ValueError), open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0
