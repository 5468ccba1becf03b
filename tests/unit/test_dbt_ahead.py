"""dbt started ahead (dagster_project/dbt_ahead.py): to its caller the client is dbt, with
the same output, stream and exit code, whether a waiting process ran the command or the
client ran dbt itself; a waiting process never outlives the command."""

import os
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
