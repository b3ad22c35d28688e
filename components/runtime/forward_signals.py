"""PID 1 of the ClearML API server and file server containers: runs the image's entrypoint
(`bash /opt/clearml/entrypoint.sh <role>`) in its own process group and passes SIGTERM, SIGINT and
SIGHUP to that whole group.

Why: the entrypoint starts gunicorn (or the API server) without `exec`, so bash is PID 1, and PID 1
ignores signals it has no handler for: on every rollout, scale-down or restore the kubelet's SIGTERM
did nothing and the pod was killed when its grace period ran out (120 s for the file server), without
the graceful shutdown gunicorn does on SIGTERM. Here gunicorn gets the SIGTERM; this process then
waits for every process of the container (orphans are reparented to PID 1) and exits with the
entrypoint's status.
"""
import ctypes
import os
import signal
import subprocess
import sys

# Orphans of the group become this process's children even when it is not PID 1 (Linux's child
# subreaper, prctl PR_SET_CHILD_SUBREAPER), so the wait below covers them in a test as in a pod.
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)
child = subprocess.Popen(sys.argv[1:], start_new_session=True)


def forward(signum, _frame):
    try:
        os.killpg(child.pid, signum)
    except ProcessLookupError:
        pass


for each in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(each, forward)
status = child.wait()
while True:  # the rest of the group, e.g. gunicorn finishing its requests after bash ended
    try:
        os.wait()
    except ChildProcessError:
        break
    except InterruptedError:
        continue
sys.exit(status if status >= 0 else 128 - status)
