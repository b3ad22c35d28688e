"""Log handler for the ClearML server processes: redacts credentials from every log line.

clearml-server logs MongoDB connection strings, password included, at INFO
(`apiserver/database/__init__.py`: "Using override mongodb connection string ...", "Registering
connection to <alias> (<host>)"). Raising that logger's level is not possible from a `.conf` file:
pyhocon keeps the quotes of a quoted key (`"clearml.database"` names a logger with quotes in its
name) and splits an unquoted one at the dot. So the program replaces the console handler's class
(a value, which HOCON passes through untouched) with this one, which replaces the password in the
user information of any URL with `***` before the line is written.

Mounted into the pods from a ConfigMap (components/clearml_image.py) and put on PYTHONPATH; it
only depends on the standard library. Tested as a real file in tests/test_runtime.py.
"""

from __future__ import annotations

import logging
import re

# The password of a URL's user information (`<scheme>://<user>:<password>@`), wherever it appears.
_CREDENTIALS = re.compile(r"(?P<prefix>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)(?P<password>[^@\s]+)@")


def redact(text: str) -> str:
    return _CREDENTIALS.sub(lambda m: m.group("prefix") + "***@", text)


class RedactingStreamHandler(logging.StreamHandler):
    """`logging.StreamHandler` whose output never holds a URL's password."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))
