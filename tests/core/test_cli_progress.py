"""Progress bars of long `archive` commands: drawn on a terminal's stderr, absent when stderr is piped or
with --format json, with the same stdout either way. Commands run as a user runs them (a subprocess,
stderr on a pseudo-terminal) and send their work to a real warehouse worker, whose recorded state
the bar follows."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import select
import struct
import subprocess
import sys
import termios

from apps.retention.models import RetentionRun
from tests.conftest import ROOT, dies_with_this_process
from tests.retention.helpers import T0, produce
from tests.warehouse_worker import assert_never_opened

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ [A-Z]+ ")  # the logging's own lines
BAR_CHARACTERS = re.compile("[\u2500-\u259f\u2800-\u28ff]")  # box and block drawing, the spinner's dots


def in_terminal(args: tuple[str, ...], env: dict, timeout: float = 300) -> tuple[str, str, int]:
    """Run `manage.py args` with stderr on a pseudo-terminal (120 columns) and stdout piped:
    (stdout, what the terminal received, exit code)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen([sys.executable, "manage.py", *args], cwd=ROOT, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=slave, env={**env, "TERM": "xterm-256color"},
                            preexec_fn=dies_with_this_process())
    os.close(slave)
    terminal = bytearray()
    out = bytearray()
    streams = {master: terminal, proc.stdout.fileno(): out}
    while streams:
        ready, _, _ = select.select(list(streams), [], [], timeout)
        if not ready:
            proc.kill()
            raise AssertionError(f"manage.py {' '.join(args)} did not finish in {timeout} s")
        for fd in ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError as exc:  # the terminal's other end closed
                if exc.errno != errno.EIO:
                    raise
                chunk = b""
            if chunk:
                streams[fd].extend(chunk)
            else:
                del streams[fd]
    os.close(master)
    return out.decode(), terminal.decode(errors="replace"), proc.wait(timeout)


def piped(args: tuple[str, ...], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env={**env, "TERM": "xterm-256color"},
                          capture_output=True, text=True, timeout=300, check=False,
                          preexec_fn=dies_with_this_process())


def _runs(text: str) -> str:
    """A command's output with its run's number left out (each run of a preview is a new run)."""
    return re.sub(r"\brun \d+\b", "run N", re.sub(r"--preview \d+", "--preview N", text))


def test_a_drain_and_a_purge_preview_show_a_bar_on_a_terminal_and_nothing_when_piped(archive, warehouse_worker):
    produce(archive, 600, now=T0, days=10, seed=14)
    env = warehouse_worker.env()

    stdout, terminal, code = in_terminal(("archive", "export", "--drain"), env)
    assert code == 0, terminal
    assert stdout.startswith("exported 600 records in ")
    assert "draining the stream" in terminal
    assert "100% 600/600" in terminal  # the backlog found at the start, all acknowledged (by the worker)
    assert "apps.exports.tasks.export_stream" in warehouse_worker.log()  # it was the worker's drain

    purge = ("archive", "purge", "--older-than", "1d", "--as-of", T0.isoformat(), "--dry-run")
    stdout, terminal, code = in_terminal(purge, env)
    assert code == 0, terminal
    first = RetentionRun.objects.order_by("-pk").first()
    assert f"purge {first.pk}: previewed" in terminal  # the worker's state, read from the run's row
    assert "100% 1/1" in terminal
    assert "run N would do (dry run, nothing changed):" in _runs(stdout)

    again = piped(purge, env)
    assert again.returncode == 0, again.stderr
    assert not BAR_CHARACTERS.search(again.stderr), again.stderr
    assert "\x1b" not in again.stderr and "%" not in again.stderr
    notes = [line for line in _runs(again.stderr).splitlines() if not LOG_LINE.match(line)]
    assert notes == [
        "run N: running on the warehouse...",
        ("to ask for exactly this purge: archive purge --confirm --preview N --by USERNAME (a second person "
         "approves it)")]
    assert _runs(again.stdout) == _runs(stdout)  # the same report, for the new run

    as_json, terminal, code = in_terminal((*purge, "--format", "json"), env)
    assert code == 0, terminal
    assert json.loads(as_json)["state"] == "previewed"
    # A script's output: no bar (Django still colours its own stderr lines on a terminal).
    assert not BAR_CHARACTERS.search(terminal) and "%" not in terminal and "purge" not in terminal

    assert_never_opened(warehouse_worker.cli_chdb_path)


def test_quiet_leaves_the_bar_out_on_a_terminal(archive, warehouse_worker):
    produce(archive, 50, now=T0, days=2, seed=15)
    stdout, terminal, code = in_terminal(("archive", "export", "--drain", "--quiet"), warehouse_worker.env())
    assert code == 0, terminal
    assert stdout.startswith("exported 50 records in ")
    assert not BAR_CHARACTERS.search(terminal) and "draining" not in terminal
