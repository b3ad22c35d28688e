"""The MongoDB setup Job's mongosh script (components/mongodb.py SETUP_SCRIPT), run by Node.js with
the few mongosh globals it uses stood in (`Mongo`, `print`, `printjson`, `sleep`, `quit`): it reads
the root user from the mounted files, waits for every member, initiates the set once with every
member, leaves a set with the wanted members alone, adds or removes members one safe reconfig at a
time when `mongodb.replicas` changed, and after a major upgrade raises the feature compatibility
version once every member runs the new series (a standalone too), and during a root-password rotation
changes the password on the primary with the previous generation's, once. (No mongod can run here;
README, "Stand-ins".)"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from components.mongodb import SETUP_SCRIPT

# mongosh globals, recording what the script does. `answer` is what replSetGetStatus answers.
HARNESS = r"""
const calls = [];
const answer = JSON.parse(process.env.STATUS);
const rsConfig = JSON.parse(process.env.CONFIG || "null");  // what replSetGetConfig answers, changed by reconfigs
let failuresLeft = Number(process.env.UNREACHABLE_TRIES || 0);
const versions = JSON.parse(process.env.VERSIONS || "{}");  // host -> what buildInfo answers (default 8.0.15)
let fcv = JSON.parse(process.env.FCV || '{"version": "8.0"}');  // what getParameter answers, set by the script
let dbPassword = process.env.DB_PASSWORD || null;  // the root user's password in the database (null: any is accepted)
const primaryHost = (answer.members || []).filter((m) => m.stateStr === "PRIMARY").map((m) => m.name)[0];
global.print = (...a) => calls.push(["print", a.join(" ")]);
global.printjson = (o) => calls.push(["printjson", o]);
global.sleep = () => {};
global.quit = (code) => { calls.push(["quit", code]); console.log(JSON.stringify(calls)); process.exit(code); };
global.Mongo = class {
  constructor(uri) {
    if (failuresLeft > 0) { failuresLeft--; throw new Error("connect ECONNREFUSED"); }
    calls.push(["connect", uri]);
    this.host = uri.split("//")[1].split("/")[0];
  }
  getDB(name) {
    const host = this.host;
    let authenticated = false;
    return {
      auth: (user, password) => {
        calls.push(["auth", name, user, password]);
        if (dbPassword !== null && password !== dbPassword) {
          authenticated = false;
          const e = new Error("Authentication failed."); e.code = 18; throw e;
        }
        authenticated = true;
      },
      changeUserPassword: (user, password, writeConcern) => {
        if (!authenticated) throw new Error("requires authentication");
        if (process.env.RS_NAME && host !== primaryHost) { const e = new Error("not primary"); e.code = 10107; throw e; }
        calls.push(["changeUserPassword", host, user, writeConcern]);
        dbPassword = password;
      },
      runCommand: (cmd) => {
        calls.push(["runCommand", cmd]);
        if (cmd.replSetGetStatus) { if (answer.throws) { const e = new Error("no"); e.code = answer.code; throw e; } return answer; }
        if (cmd.buildInfo) return {ok: 1, version: versions[host] || "8.0.15"};
        if (cmd.getParameter) return {ok: 1, featureCompatibilityVersion: fcv};
        if (cmd.setFeatureCompatibilityVersion) { fcv = {version: cmd.setFeatureCompatibilityVersion}; return {ok: 1, host: host}; }
        if (cmd.replSetGetConfig) return {ok: 1, config: JSON.parse(JSON.stringify(rsConfig)), commitmentStatus: true};
        if (cmd.replSetReconfig) {
          const next = cmd.replSetReconfig;
          const added = next.members.length - rsConfig.members.length;
          if (Math.abs(added) !== 1 || next.version !== rsConfig.version + 1) return {ok: 0, errmsg: "not a safe reconfig"};
          rsConfig.members = next.members; rsConfig.version = next.version;
          return {ok: 1};
        }
        return {ok: 1};
      },
    };
  }
};
"""


def _node_run(tmp_path, status: dict, unreachable_tries: int, members: int, config: dict | None,
              replica_set: str = "rs0", versions: dict | None = None, fcv: dict | None = None,
              db_password: str | None = None, previous: str | None = None):
    node = shutil.which("node")
    if not node:
        pytest.skip("needs Node.js")
    (tmp_path / "username").write_text("clearml-root")
    (tmp_path / "password").write_text("S3cretFromFile")
    script = tmp_path / "rs.js"
    script.write_text(HARNESS + SETUP_SCRIPT + '\ncalls.push(["database password", dbPassword]);'
                      "\nconsole.log(JSON.stringify(calls));\n")
    env = {"RS_MEMBERS": ",".join(f"m-{i}.h:27017" for i in range(members)), "RS_NAME": replica_set,
           "ROOT_CREDENTIALS_DIR": str(tmp_path), "STATUS": json.dumps(status), "CONFIG": json.dumps(config),
           "UNREACHABLE_TRIES": str(unreachable_tries), "VERSIONS": json.dumps(versions or {}),
           "FCV": json.dumps(fcv or {"version": "8.0"}), "PATH": "/usr/bin:/bin", "ROOT_PASSWORD_GENERATION": "0"}
    if db_password is not None:
        env["DB_PASSWORD"] = db_password
    if previous is not None:  # a rotation: generation 4 mounted, generation 3 beside it
        (tmp_path / "previous").write_text(previous)
        env.update(PREVIOUS_ROOT_PASSWORD_FILE=str(tmp_path / "previous"), ROOT_PASSWORD_GENERATION="4")
    return subprocess.run([node, str(script)], env=env, capture_output=True, text=True, timeout=60)


def _run(tmp_path, status: dict, unreachable_tries: int = 0, code: int = 0, members: int = 3,
         config: dict | None = None, **more) -> list:
    result = _node_run(tmp_path, status, unreachable_tries, members, config, **more)
    assert result.returncode == code, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def _run_failing(tmp_path, status: dict, members: int = 3, config: dict | None = None, **more) -> str:
    """The script's stderr when it throws (mongosh then exits non-zero)."""
    result = _node_run(tmp_path, status, 0, members, config, **more)
    assert result.returncode != 0
    return result.stderr


def test_initiates_a_new_set_with_every_member_as_the_root_user_from_the_files(tmp_path):
    calls = _run(tmp_path, {"throws": True, "code": 94}, unreachable_tries=2)  # NotYetInitialized
    auths = [c for c in calls if c[0] == "auth"]
    assert auths and all(c[1:] == ["admin", "clearml-root", "S3cretFromFile"] for c in auths)
    connected = [c[1] for c in calls if c[0] == "connect"]
    assert {u.split("//")[1].split("/")[0] for u in connected} == {"m-0.h:27017", "m-1.h:27017", "m-2.h:27017"}
    [initiate] = [c[1]["replSetInitiate"] for c in calls if c[0] == "runCommand" and "replSetInitiate" in c[1]]
    assert initiate == {"_id": "rs0", "members": [{"_id": i, "host": f"m-{i}.h:27017"} for i in range(3)]}
    assert [c for c in calls if c[0] == "print" and c[1].startswith("waiting for m-0.h:27017")]


def _status(n: int, primary: int | None = 0) -> dict:
    return {"ok": 1, "set": "rs0", "members": [{"name": f"m-{i}.h:27017", "stateStr": "PRIMARY" if i == primary else "SECONDARY"}
                                               for i in range(n)]}


def _config(n: int) -> dict:
    return {"_id": "rs0", "version": 7, "members": [{"_id": i, "host": f"m-{i}.h:27017"} for i in range(n)]}


def _reconfigs(calls: list) -> list[dict]:
    return [c[1]["replSetReconfig"] for c in calls if c[0] == "runCommand" and "replSetReconfig" in c[1]]


def test_leaves_a_set_with_the_wanted_members_alone(tmp_path):
    calls = _run(tmp_path, _status(3), config=_config(3))
    assert not [c for c in calls if c[0] == "runCommand" and ("replSetInitiate" in c[1] or "replSetReconfig" in c[1])]
    assert ["print", "replica set rs0 already initialised with 3 members"] in calls


def test_a_scale_up_adds_each_new_member_in_its_own_reconfig_on_the_primary(tmp_path):
    calls = _run(tmp_path, _status(3, primary=1), config=_config(3), members=5)
    first, second = _reconfigs(calls)
    assert [m["host"] for m in first["members"]] == [f"m-{i}.h:27017" for i in range(4)] and first["version"] == 8
    assert second["members"][-1] == {"_id": 4, "host": "m-4.h:27017"} and second["version"] == 9
    # On the primary, found from the status, with the root user.
    assert [c for c in calls if c[0] == "connect"][-1][1].startswith("mongodb://m-1.h:27017/")
    assert ["print", "added m-4.h:27017"] in calls


def test_a_scale_down_removes_the_extra_members_one_at_a_time(tmp_path):
    calls = _run(tmp_path, _status(5), config=_config(5), members=3)
    first, second = _reconfigs(calls)
    assert len(first["members"]) == 4 and len(second["members"]) == 3
    assert [m["host"] for m in second["members"]] == [f"m-{i}.h:27017" for i in range(3)]


def test_a_set_without_a_primary_is_not_changed(tmp_path):
    node_failed = _run_failing(tmp_path, _status(3, primary=None), config=_config(3), members=5)
    assert "has no primary" in node_failed


def test_fails_on_any_other_status(tmp_path):
    calls = _run(tmp_path, {"throws": True, "code": 13}, code=1)  # Unauthorized
    assert calls[-1] == ["quit", 1]


def _fcv_sets(calls: list) -> list[dict]:
    return [c[1] for c in calls if c[0] == "runCommand" and "setFeatureCompatibilityVersion" in c[1]]


def test_a_new_set_is_left_at_its_series_feature_compatibility(tmp_path):
    calls = _run(tmp_path, {"throws": True, "code": 94}, fcv={"version": "7.0"})
    assert _fcv_sets(calls) == []


def test_a_set_at_its_series_is_left_alone(tmp_path):
    calls = _run(tmp_path, _status(3), config=_config(3))
    assert _fcv_sets(calls) == [] and ["print", "feature compatibility version 8.0"] in calls


def test_after_a_major_upgrade_of_every_member_the_primary_raises_the_feature_compatibility(tmp_path):
    calls = _run(tmp_path, _status(3, primary=2), config=_config(3), fcv={"version": "7.0"})
    assert _fcv_sets(calls) == [{"setFeatureCompatibilityVersion": "8.0", "confirm": True}]
    # On the primary: the last connection before the command is to it.
    index = next(i for i, c in enumerate(calls) if c[0] == "runCommand" and "setFeatureCompatibilityVersion" in c[1])
    assert [c for c in calls[:index] if c[0] == "connect"][-1][1].startswith("mongodb://m-2.h:27017/")
    assert ["print", "feature compatibility version 7.0 -> 8.0"] in calls


def test_an_interrupted_raise_is_finished(tmp_path):
    calls = _run(tmp_path, _status(3), config=_config(3), fcv={"version": "7.0", "targetVersion": "8.0"})
    assert _fcv_sets(calls) == [{"setFeatureCompatibilityVersion": "8.0", "confirm": True}]


def test_a_member_still_on_the_old_series_keeps_the_feature_compatibility(tmp_path):
    failed = _run_failing(tmp_path, _status(3), config=_config(3), fcv={"version": "7.0"},
                          versions={"m-1.h:27017": "7.0.22"})
    assert "m-1.h:27017 runs 7.0 and m-0.h:27017 8.0: the feature compatibility version stays" in failed


def test_a_standalone_after_a_major_upgrade(tmp_path):
    calls = _run(tmp_path, {}, members=1, replica_set="", fcv={"version": "7.0"})
    assert _fcv_sets(calls) == [{"setFeatureCompatibilityVersion": "8.0", "confirm": True}]
    assert not [c for c in calls if c[0] == "runCommand" and "replSetGetStatus" in c[1]]


def test_before_7_0_no_confirm_is_sent(tmp_path):
    calls = _run(tmp_path, {}, members=1, replica_set="", fcv={"version": "5.0"}, versions={"m-0.h:27017": "6.0.20"})
    assert _fcv_sets(calls) == [{"setFeatureCompatibilityVersion": "6.0"}]


def test_a_standalone_at_its_series_is_left_alone(tmp_path):
    calls = _run(tmp_path, {}, members=1, replica_set="")
    assert _fcv_sets(calls) == [] and ["print", "feature compatibility version 8.0"] in calls


# ---- root-password rotation -----------------------------------------------------------------------
# The mounted password (generation 4) is "S3cretFromFile"; the previous generation's is "0ldSecret".


def _changes(calls: list) -> list:
    return [c for c in calls if c[0] == "changeUserPassword"]


def test_a_rotation_changes_the_password_on_the_primary_once_with_the_previous_one(tmp_path):
    calls = _run(tmp_path, _status(3, primary=1), config=_config(3), db_password="0ldSecret", previous="0ldSecret")
    assert _changes(calls) == [["changeUserPassword", "m-1.h:27017", "clearml-root", {"w": "majority", "wtimeout": 60000}]]
    assert calls[-1] == ["database password", "S3cretFromFile"]
    # Member 0 refused the new one, took the old one, and the change went to the primary it named.
    index = calls.index(_changes(calls)[0])
    assert ["auth", "admin", "clearml-root", "0ldSecret"] in calls[:index]
    assert [c for c in calls[:index] if c[0] == "connect"][-1][1].startswith("mongodb://m-1.h:27017/")
    # Every member is then reached with the new password, and the set's own work goes on.
    later = [c for c in calls[index:] if c[0] == "auth"]
    assert later and all(c[3] == "S3cretFromFile" for c in later)
    assert ["print", "replica set rs0 already initialised with 3 members"] in calls
    printed = " ".join(str(c[1]) for c in calls if c[0] in ("print", "printjson"))
    assert "root password generation 4 set in the database (it had generation 3)" in printed
    assert "0ldSecret" not in printed and "S3cretFromFile" not in printed


def test_a_standalone_rotation_changes_it_on_the_member(tmp_path):
    calls = _run(tmp_path, {}, members=1, replica_set="", db_password="0ldSecret", previous="0ldSecret")
    assert [c[1] for c in _changes(calls)] == ["m-0.h:27017"]
    assert calls[-1] == ["database password", "S3cretFromFile"]


def test_a_rotation_already_done_is_not_done_again(tmp_path):
    calls = _run(tmp_path, _status(3), config=_config(3), db_password="S3cretFromFile", previous="0ldSecret")
    assert _changes(calls) == [] and not [c for c in calls if c[0] == "auth" and c[3] == "0ldSecret"]


def test_a_member_that_accepts_neither_password_fails_the_job_and_changes_nothing(tmp_path):
    failed = _run_failing(tmp_path, _status(3), config=_config(3), db_password="SomethingElse", previous="0ldSecret")
    assert "m-0.h:27017 accepts neither generation 4 of the root password nor generation 3" in failed
    assert "raised one at a time" in failed
    assert "0ldSecret" not in failed and "S3cretFromFile" not in failed and "SomethingElse" not in failed


def test_without_a_rotation_a_refused_password_is_never_changed(tmp_path):
    failed = _run_failing(tmp_path, _status(3), config=_config(3), db_password="0ldSecret")
    assert "did not become reachable" in failed and "changeUserPassword" not in failed
