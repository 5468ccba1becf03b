"""Files that appear complete or not at all, and what a killed writer leaves of them.

Every file the warehouse writes beside itself (PDFs, the alert outbox, journal exports) is
written by `write_atomically`: the bytes go to `<name>.tmp-<pid>-<thread>` beside the
final file, which an `os.replace` then puts in its place. A reader sees the old file or
the new one, never half of one. A process killed between the two (SIGKILL runs no
`finally`) leaves its temporary file, and two sweeps remove them:

- `remove_stale_temp_files(folder)`: every temporary file in a folder, for a caller that
  holds the writer lock of everything that writes there (the documents, the outbox), so
  that no write there is under way.
- `remove_orphaned_temp_files(target)`: the temporary files of one file whose writing
  process has gone, for a writer that takes no lock (an export, which reads the warehouse
  like any analyst and must not wait for a run): a live writer's file is never touched.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

# A final file never ends so: `<name>.tmp-<pid>-<thread>` (`<name>.tmp-<pid>` before).
TEMP_MARK = ".tmp-"
_TEMP_NAME = re.compile(r"(.+)\.tmp-(\d+)(?:-\d+)?")


def write_atomically(data: bytes, out_path: Path) -> Path:
    """Write bytes so the file appears at `out_path` complete or not at all."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = out_path.with_name(
        f"{out_path.name}{TEMP_MARK}{os.getpid()}-{threading.get_ident()}"
    )
    try:
        tmp_path.write_bytes(data)
        os.replace(tmp_path, out_path)
    finally:
        tmp_path.unlink(missing_ok=True)
    return out_path


def _temp_files(folder: Path, of: str | None = None) -> list[tuple[Path, int]]:
    """The temporary files in `folder` (of the file named `of` only, if given), with the
    pids of the processes that wrote them."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = []
    for path in folder.glob(f"*{TEMP_MARK}*"):
        match = _TEMP_NAME.fullmatch(path.name)
        if match and of in (None, match.group(1)):
            found.append((path, int(match.group(2))))
    return found


def remove_stale_temp_files(folder: Path) -> int:
    """Delete every temporary file of an atomic write in `folder`. Only for a caller that
    holds the writer lock of what writes there, so that no write is under way."""
    removed = 0
    for path, _pid in _temp_files(folder):
        path.unlink(missing_ok=True)
        removed += 1
    return removed


def remove_orphaned_temp_files(target: Path) -> int:
    """Delete the temporary files of `target` (`<target>.tmp-<pid>...`) whose process no
    longer runs: safe without a lock, since a live writer's file is kept. (A pid the
    system has since given to another process keeps its file until that one ends.)"""
    target = Path(target)
    removed = 0
    for path, pid in _temp_files(target.parent, of=target.name):
        if not _process_alive(pid):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # no such process (or no such pid at all)
        return False
    except PermissionError:  # another user's process
        return True
    return True
