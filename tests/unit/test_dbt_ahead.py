"""dbt started ahead (dagster_project/dbt_ahead.py): to its caller the client is dbt, with
the same output, stream and exit code, whether a waiting process ran the command or the
client ran dbt itself; a waiting process never outlives the command."""

import os
import signal
import subprocess
import sys
import time

import pytest

from dagster_project.dbt_ahead import SOCKET_VARIABLE, executable, real_dbt, started_ahead

# `dbt --version` succeeds and prints to stdout; an unknown command is click's usage error:
# exit code 2, the message on stderr.
COMMANDS = (["--version"], ["no-such-command"])


def _dbt(executable_path: str, args: list[str]) -> tuple[int, str, str]:
    done = subprocess.run([executable_path, *args], capture_output=True, text=True, check=False)
    return done.returncode, done.stdout, done.stderr


@pytest.fixture(scope="module")
def plain() -> dict[tuple[str, ...], tuple[int, str, str]]:
    return {tuple(args): _dbt(real_dbt(), args) for args in COMMANDS}


@pytest.mark.parametrize("args", COMMANDS, ids=["version", "unknown-command"])
def test_a_waiting_process_runs_dbt_as_dbt_would(plain, args):
    with started_ahead() as process:
        assert executable().endswith("credits-dbt")
        code, out, err = _dbt(executable(), args)
        assert process.poll() is not None  # it served, and had exited when the client returned
    assert (code, out, err) == plain[tuple(args)]
    assert plain[tuple(args)][0] == (0 if args == ["--version"] else 2)


def _interrupted(executable_path: str, folder, dbt_pid=None) -> tuple[int, str]:
    """`dbt init` waiting at its first prompt (stdin open, nothing typed), then SIGINT to
    the executable: its exit code and what it printed. stdin stays open until it has
    exited, so only the signal can end the prompt. The signal goes once dbt's process
    (`dbt_pid`, else the executable's own) sleeps reading stdin: a SIGINT between the
    prompt's print and that read would wait for the read to return, for dbt too."""
    process = subprocess.Popen(
        [executable_path, "init"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=folder,
        env={**os.environ, "DBT_PROFILES_DIR": str(folder)},
    )
    try:
        seen = ""
        while "Enter a name" not in seen and (char := process.stdout.read(1)):
            seen += char
        deadline = time.monotonic() + 30
        while not _reading_a_pipe(dbt_pid or process.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=60)
    finally:  # a dbt left running holds stdout until its stdin closes
        process.kill()
        process.stdin.close()
        rest = process.stdout.read()
        process.stdout.close()
    return code, seen + rest


def _reading_a_pipe(pid: int) -> bool:
    with open(f"/proc/{pid}/wchan") as wchan:
        return "pipe_read" in wchan.read()


def test_an_interrupt_reaches_dbt_as_it_would_plain_dbt(tmp_path):
    """Ctrl-C (or Dagster's SIGINT) to the client reaches dbt's process: dbt ends as it does
    when it is interrupted itself (click's Abort, exit code 2), and the client returns only
    after that process has exited."""
    plain_code, plain_output = _interrupted(real_dbt(), tmp_path)
    with started_ahead() as process:
        code, output = _interrupted(executable(), tmp_path, dbt_pid=process.pid)
        assert process.poll() is not None
    assert plain_code == code == 2
    assert "Abort" in plain_output and "Abort" in output


def test_the_second_command_runs_plain_dbt(plain):
    """A waiting process serves one command; the next finds nobody and execs dbt."""
    with started_ahead():
        first = _dbt(executable(), ["--version"])
        second = _dbt(executable(), ["no-such-command"])
    assert first == plain[("--version",)]
    assert second == plain[("no-such-command",)]


def test_without_a_waiting_process_the_executable_is_dbt():
    assert SOCKET_VARIABLE not in os.environ
    assert executable() == real_dbt()
    with started_ahead():
        assert os.environ[SOCKET_VARIABLE]
    assert SOCKET_VARIABLE not in os.environ


def test_an_unused_process_ends_with_the_command():
    with started_ahead() as process:
        pass
    assert process.returncode is not None


def test_a_waiting_process_leaves_when_the_command_dies():
    """The command killed (kill -9 runs no cleanup): the waiting process sees its parent
    gone and exits by itself."""
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os\n"
            "from dagster_project.dbt_ahead import started_ahead\n"
            "with started_ahead() as process:\n"
            "    print(process.pid, flush=True)\n"
            "    os._exit(0)\n",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    pid = int(child.stdout)
    deadline = time.monotonic() + 60
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False
