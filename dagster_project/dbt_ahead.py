"""A dbt process started ahead: dbt's imports paid while the command pays its own.

Every `credits run` and `close` runs one `dbt build`, as a subprocess of dagster-dbt's
resource. A dbt process spends about 2 s importing dbt-core and the DuckDB adapter before it
reads a file. The command's own process spends its first 3-4 s importing Dagster while the
warehouse is copied, on one of the machine's cores. So `started_ahead` (cli._execute)
starts a process at once that imports dbt and then waits on a Unix socket the command
holds. While it waits, the resource's dbt executable is `credits-dbt` (`executable()`): a
small client that hands the waiting process its arguments, environment and working
folder, and its own stdin, stdout and stderr (as file descriptors, SCM_RIGHTS). The waiting
process runs dbt's command line as the `dbt` script would, reports its exit code, and
exits. The client forwards SIGINT and SIGTERM to it, and exits with that code once the
process is gone. To dagster-dbt it is the dbt process: same output on the same pipe, same
exit code, the DuckDB file released before it returns.

Where nothing waits (no socket, or the process is gone before it started dbt) the client
becomes plain dbt (exec), so it is never worse than before. The waiting process serves one
build, leaves when the command's process does, and the command ends it when no build came
(a Spark build, a run that failed first). Only stdlib is imported here: the client starts in
milliseconds.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

SOCKET_VARIABLE = "CREDITS_DBT_AHEAD"  # the waiting process's socket, while one waits
HEADER = struct.Struct("!Q")  # the request's length; the request is JSON
PID = struct.Struct("!q")  # "dbt has started", with the process that runs it
EXIT = struct.Struct("!i")  # dbt's exit code


def real_dbt() -> str:
    """dbt beside the running interpreter: `.venv/bin/credits` runs without the venv on PATH."""
    return str(Path(sys.executable).parent / "dbt")


def executable() -> str:
    """The dbt executable a build's resource runs: the client while a process waits."""
    if os.environ.get(SOCKET_VARIABLE):
        return str(Path(sys.executable).parent / "credits-dbt")
    return real_dbt()


@contextlib.contextmanager
def started_ahead() -> Iterator[subprocess.Popen]:
    """A dbt process importing dbt from now on, used by the first dbt build inside."""
    folder = tempfile.mkdtemp(prefix="credits-dbt-")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        # Listening before the process starts: a client can never come too early.
        listener.bind(os.path.join(folder, "socket"))
        listener.listen(1)
        process = subprocess.Popen(
            [sys.executable, "-m", __name__, str(listener.fileno()), str(os.getpid())],
            pass_fds=[listener.fileno()],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    finally:
        listener.close()
    before = os.environ.get(SOCKET_VARIABLE)
    os.environ[SOCKET_VARIABLE] = os.path.join(folder, "socket")
    try:
        yield process
    finally:
        if before is None:
            os.environ.pop(SOCKET_VARIABLE, None)
        else:
            os.environ[SOCKET_VARIABLE] = before
        if process.poll() is None:  # no build came, or the command failed during one
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(folder, ignore_errors=True)


def serve(listener_fd: int, parent: int) -> int:
    """The waiting process: import dbt, take one request, run it, report its exit code.
    It leaves when `parent` (the command) is no longer its parent: the command is gone."""
    listener = socket.socket(fileno=listener_fd)
    import dbt.adapters.duckdb.impl  # noqa: F401 - the adapter, imported by the profile
    from dbt.cli.main import cli  # what this process exists to import ahead

    listener.settimeout(1.0)
    while True:
        try:
            connection, _ = listener.accept()
            break
        except TimeoutError:
            if os.getppid() != parent:  # the command is gone
                return 0
    listener.close()
    connection.settimeout(None)
    header, fds, _, _ = socket.recv_fds(connection, HEADER.size, 3)
    (length,) = HEADER.unpack(header)
    request = json.loads(_receive(connection, length))
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    sys.argv = [real_dbt(), *request["args"]]
    connection.sendall(PID.pack(os.getpid()))
    try:
        cli.main(args=request["args"], prog_name="dbt")  # exits, as the `dbt` script does
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    finally:
        _release_warehouse()
        sys.stdout.flush()
        sys.stderr.flush()
    connection.sendall(EXIT.pack(code))
    return code


def _release_warehouse() -> None:
    """Close dbt-duckdb's database, which a dbt process leaves to its exit: the command
    opens the file as soon as the client returns."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with contextlib.suppress(Exception):
        if DuckDBConnectionManager._ENV is not None:
            DuckDBConnectionManager._ENV.close()


def _receive(connection: socket.socket, length: int) -> bytes:
    chunks, left = [], length
    while left:
        chunk = connection.recv(min(left, 1 << 16))
        if not chunk:
            raise ConnectionError("the other end closed the connection")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def client() -> None:
    """`credits-dbt ARGS`: dbt ARGS, run by the waiting process if there is one."""
    args = sys.argv[1:]
    # An interrupt before dbt's process is known is kept and passed on once it is.
    early: list[int] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda number, _frame: early.append(number))
    handed = _hand_over(os.environ.get(SOCKET_VARIABLE, ""), args)
    if handed is None:  # nothing waits, or it is gone before dbt started: plain dbt
        if early:  # interrupted before anything ran
            raise SystemExit(128 + early[0])
        os.execv(real_dbt(), [real_dbt(), *args])  # exec resets the handlers
    raise SystemExit(_follow(*handed, early))


def _hand_over(path: str, args: list[str]) -> tuple[socket.socket, int] | None:
    """Hand the request to the waiting process: the connection and the pid of the process
    running dbt once it has started, else None (nothing ran)."""
    if not path:
        return None
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    request = json.dumps({"args": args, "env": dict(os.environ), "cwd": os.getcwd()}).encode()
    try:
        connection.connect(path)
        socket.send_fds(connection, [HEADER.pack(len(request))], [0, 1, 2])
        connection.sendall(request)
        (pid,) = PID.unpack(_receive(connection, PID.size))
    except OSError:  # ConnectionError among them
        connection.close()
        return None
    return connection, pid


def _follow(connection: socket.socket, pid: int, early: list[int]) -> int:
    """Forward interrupts to dbt's process, those that came `early` first; its exit code
    once it has exited."""

    def forward(number: int, _frame=None) -> None:
        with contextlib.suppress(ProcessLookupError):  # it has just exited
            os.kill(pid, number)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, forward)
    for number in early:
        forward(number)
    try:
        (code,) = EXIT.unpack(_receive(connection, EXIT.size))
    except OSError:  # ConnectionError among them
        print("credits-dbt: dbt's process ended without an exit code", file=sys.stderr)
        code = 1
    _wait_for_exit(pid)
    return code


def _wait_for_exit(pid: int) -> None:
    """Return when process `pid` has exited (Linux: its pidfd; elsewhere its socket's end,
    already seen, is the sign)."""
    if not hasattr(os, "pidfd_open"):
        return
    import select

    try:
        fd = os.pidfd_open(pid)
    except OSError:  # already gone
        return
    try:
        select.select([fd], [], [])
    finally:
        os.close(fd)


if __name__ == "__main__":
    sys.exit(serve(int(sys.argv[1]), int(sys.argv[2])))
