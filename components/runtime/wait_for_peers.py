"""Waits (at most 600 seconds) until every TCP endpoint given answers, and every http:// URL answers 200.
MongoDB hosts come from the connection string in the environment, never from the command line, so the
script neither sees nor prints the password in a process list."""
import os
import socket
import sys
import time
import urllib.request

targets = [t for t in sys.argv[1:] if t]
conn = os.environ.get("CLEARML_MONGODB_SERVICE_CONNECTION_STRING", "")
if conn.startswith("mongodb://"):
    netloc = conn[len("mongodb://"):].split("/", 1)[0].rsplit("@", 1)[-1]
    targets += [h if ":" in h else h + ":27017" for h in netloc.split(",")]
deadline = time.time() + 600
for target in targets:
    host, port = target.rsplit(":", 1)
    while True:
        try:
            if target.startswith("http://"):
                urllib.request.urlopen(target, timeout=5).close()
            else:
                socket.create_connection((host, int(port)), 3).close()
            print("reachable:", target, flush=True)
            break
        except OSError as err:
            if time.time() > deadline:
                sys.exit(f"gave up waiting for {target}: {err}")
            print("waiting for", target, "-", err, flush=True)
            time.sleep(3)
