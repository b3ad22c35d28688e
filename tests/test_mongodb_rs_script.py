"""The replica-set Job's mongosh script (components/mongodb.py RS_INIT_SCRIPT), run by Node.js with
the few mongosh globals it uses stood in (`Mongo`, `print`, `printjson`, `sleep`, `quit`): it reads
the root user from the mounted files, waits for every member, initiates the set once with every
member, and leaves an initiated set alone. (No mongod can run here; README, "Stand-ins".)"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from components.mongodb import RS_INIT_SCRIPT

# mongosh globals, recording what the script does. `answer` is what replSetGetStatus answers.
HARNESS = r"""
const calls = [];
const answer = JSON.parse(process.env.STATUS);
let failuresLeft = Number(process.env.UNREACHABLE_TRIES || 0);
global.print = (...a) => calls.push(["print", a.join(" ")]);
global.printjson = (o) => calls.push(["printjson", o]);
global.sleep = () => {};
global.quit = (code) => { calls.push(["quit", code]); console.log(JSON.stringify(calls)); process.exit(code); };
global.Mongo = class {
  constructor(uri) {
    if (failuresLeft > 0) { failuresLeft--; throw new Error("connect ECONNREFUSED"); }
    calls.push(["connect", uri]);
  }
  getDB(name) {
    return {
      auth: (user, password) => calls.push(["auth", name, user, password]),
      runCommand: (cmd) => {
        calls.push(["runCommand", cmd]);
        if (cmd.replSetGetStatus) { if (answer.throws) { const e = new Error("no"); e.code = answer.code; throw e; } return answer; }
        return {ok: 1};
      },
    };
  }
};
"""


def _run(tmp_path, status: dict, unreachable_tries: int = 0, code: int = 0) -> list:
    node = shutil.which("node")
    if not node:
        pytest.skip("needs Node.js")
    (tmp_path / "username").write_text("clearml-root")
    (tmp_path / "password").write_text("S3cretFromFile")
    script = tmp_path / "rs.js"
    script.write_text(HARNESS + RS_INIT_SCRIPT + "\nconsole.log(JSON.stringify(calls));\n")
    env = {"RS_MEMBERS": "m-0.h:27017,m-1.h:27017,m-2.h:27017", "RS_NAME": "rs0", "ROOT_CREDENTIALS_DIR": str(tmp_path),
           "STATUS": json.dumps(status), "UNREACHABLE_TRIES": str(unreachable_tries), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([node, str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == code, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_initiates_a_new_set_with_every_member_as_the_root_user_from_the_files(tmp_path):
    calls = _run(tmp_path, {"throws": True, "code": 94}, unreachable_tries=2)  # NotYetInitialized
    auths = [c for c in calls if c[0] == "auth"]
    assert auths and all(c[1:] == ["admin", "clearml-root", "S3cretFromFile"] for c in auths)
    connected = [c[1] for c in calls if c[0] == "connect"]
    assert {u.split("//")[1].split("/")[0] for u in connected} == {"m-0.h:27017", "m-1.h:27017", "m-2.h:27017"}
    [initiate] = [c[1]["replSetInitiate"] for c in calls if c[0] == "runCommand" and "replSetInitiate" in c[1]]
    assert initiate == {"_id": "rs0", "members": [{"_id": i, "host": f"m-{i}.h:27017"} for i in range(3)]}
    assert [c for c in calls if c[0] == "print" and c[1].startswith("waiting for m-0.h:27017")]


def test_leaves_an_initiated_set_alone(tmp_path):
    calls = _run(tmp_path, {"ok": 1, "set": "rs0", "members": [{}, {}, {}]})
    assert not [c for c in calls if c[0] == "runCommand" and "replSetInitiate" in c[1]]
    assert ["print", "replica set rs0 already initialised with 3 members"] in calls


def test_fails_on_any_other_status(tmp_path):
    calls = _run(tmp_path, {"throws": True, "code": 13}, code=1)  # Unauthorized
    assert calls[-1] == ["quit", 1]
