"""The PID 1 of the API server and file server containers (components/runtime/forward_signals.py), run
for real: a SIGTERM reaches the process the entrypoint's bash started without `exec` (as gunicorn is),
which shuts down gracefully while PID 1 waits for it, and the container's exit status is kept."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from components import runtime

# What the image's entrypoint does: bash starting a server without `exec`; the server, like gunicorn,
# finishes its work on SIGTERM (here: half a second) and then exits 0.
ENTRYPOINT = r"""
python3 -c '
import signal, sys, time, pathlib
def stop(*_):
    time.sleep(0.5)
    pathlib.Path(sys.argv[1]).write_text("drained")
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
pathlib.Path(sys.argv[1]).write_text("serving")
while True:
    time.sleep(0.1)
' "$1"
echo "bash continues after the server"
"""


def test_sigterm_reaches_the_server_under_bash_and_pid_1_waits_for_it(tmp_path):
    marker = tmp_path / "state"
    forwarder = subprocess.Popen([sys.executable, "-c", runtime.read("forward_signals.py"),
                                  "bash", "-c", ENTRYPOINT, "entrypoint", str(marker)])
    deadline = time.monotonic() + 20
    while not (marker.exists() and marker.read_text() == "serving"):
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    started = time.monotonic()
    forwarder.send_signal(signal.SIGTERM)
    assert forwarder.wait(timeout=20) in (0, 128 + signal.SIGTERM)
    assert marker.read_text() == "drained"  # its graceful shutdown ran to the end before PID 1 exited
    assert time.monotonic() - started < 10


def test_the_entrypoints_exit_status_is_the_containers(tmp_path):
    run = subprocess.run([sys.executable, "-c", runtime.read("forward_signals.py"), "bash", "-c", "exit 3"], timeout=20)
    assert run.returncode == 3
