"""Programs the pods run, kept here as files so that they are linted and tested as programs
(tests/test_lint.py, tests/test_runtime.py, tests/test_mongodb_setup_script.py) and read at run time:

* `agent_launcher.py`: starts the Kubernetes glue (components/agent.py puts it in a ConfigMap);
* `wait_for_peers.py`: the start-up wait of the ClearML pods (`python3 -c`, components/clearml_env.py);
* `mongodb_setup.js`: the MongoDB setup Job's mongosh script: replica set, feature compatibility version (components/mongodb.py);
* `clearml_openshift_logging.py`: the server's redacting log handler (components/clearml_image.py).
* `backup.py`: backup sets and their restore (components/backup.py, scripts/backup.py).
* `forward_signals.py`: PID 1 of the API server and file server, passing SIGTERM on (components/clearml_image.py).
"""

from __future__ import annotations

from pathlib import Path

DIR = Path(__file__).parent


def read(name: str) -> str:
    """The text of the program `name` in this directory."""
    return (DIR / name).read_text()
