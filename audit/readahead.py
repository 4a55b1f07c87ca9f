"""Reading a log file ahead of a full scan, so that a scan of a file not in the page cache
does not wait on the disk page by page.

verify reads every page of the log in B-tree order, a few KB per read. Large sequential
reads beside it fill the page cache faster than those reads would.

A child process reads, never this one: SQLite's locks on the log are POSIX advisory locks,
and a process that closes any descriptor of a file loses all its locks on that file
(sqlite.org/howtocorrupt.html, 2.2). A thread here closing the log dropped the read lock of
verify's connection, and the lock of any DecisionLog the process held: a writer elsewhere
closing the log then took itself for the last one, checkpointed, and deleted the -wal and
-shm still in use here, so that the decisions logged here afterwards were lost.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

__all__ = ["reading_ahead"]

_BLOCK = 64 << 20  # per call of sendfile
_SMALLEST = _BLOCK  # a scan of a smaller file waits little on the disk: not worth starting a process

# sendfile(2) to /dev/null: the kernel reads the file into the page cache without copying it
# to the process, and pages already cached cost next to nothing (0.1 s for the 4.4 GB log).
# Up to the size verify saw: a log being written meanwhile does not keep the reader going.
_READ = """
import os, sys
path, size, block = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(path, "rb", buffering=0) as file, open(os.devnull, "wb", buffering=0) as nowhere:
    offset = 0
    while offset < size and (sent := os.sendfile(nowhere.fileno(), file.fileno(), offset, block)):
        offset += sent
"""


@contextlib.contextmanager
def reading_ahead(path: str | os.PathLike) -> Iterator[None]:
    """Within the block, a child process reads `path` from start to end, unless the file is
    small or would take more than half the memory available: then it would evict its own
    pages before the scan reached them. The child is stopped and reaped when the block ends.
    Best effort: a failure to read is the scan's to report, not this."""
    reader = None
    with contextlib.suppress(OSError):
        size = Path(path).stat().st_size
        if _SMALLEST <= size <= _available_memory() // 2 and sys.executable:
            reader = subprocess.Popen([sys.executable, "-I", "-S", "-c", _READ, os.fspath(path), str(size),
                                       str(_BLOCK)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        if reader is not None:
            reader.kill()
            reader.wait()


def _available_memory() -> int:
    """MemAvailable on Linux (free memory plus what the page cache can give back); 0 if unknown."""
    with contextlib.suppress(OSError, ValueError), open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0
