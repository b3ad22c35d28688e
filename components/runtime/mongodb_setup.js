// The MongoDB setup Job's mongosh script (components/mongodb.py), run as the root user read from the
// mounted files once every member answers. The Job is replaced, so run again, whenever the members or
// the image change.
// * A replica set (RS_NAME set): initiated once with all of RS_MEMBERS; on an initiated set the
//   membership is made RS_MEMBERS: the missing members added, then the extra ones removed, one per
//   reconfig as MongoDB's safe reconfig requires, each committed by a majority before the next. A set
//   that already has RS_MEMBERS is left alone.
// * After a major upgrade (replica set or standalone): once every member runs the new release series,
//   the feature compatibility version is raised to it (setFeatureCompatibilityVersion, with the
//   `confirm` that 7.0 and later require), so that the next series can be installed later. One series
//   at a time: preflight refuses a jump over a series before anything changes (preflight/upgrades.py).
// * A root-password rotation (mongodb.rootPasswordGeneration raised by one; the previous generation's
//   password mounted at PREVIOUS_ROOT_PASSWORD_FILE): where the mounted password is refused, the script
//   logs in with the previous one and changes the root user's password on the primary (majority write
//   concern), once; the clients, whose Secret reference waits for this Job, roll after it. A member
//   that accepts neither fails the Job and nothing rolls. No password is ever printed.
const fs = require("fs");
const members = process.env.RS_MEMBERS.split(",");
const replicaSet = process.env.RS_NAME || "";  // empty: one standalone mongod
const rootFile = (name) => fs.readFileSync(process.env.ROOT_CREDENTIALS_DIR + "/" + name, "utf8");
const previousFile = process.env.PREVIOUS_ROOT_PASSWORD_FILE || "";  // set during a rotation only
const generation = Number(process.env.ROOT_PASSWORD_GENERATION || "0");
const AUTHENTICATION_FAILED = 18;
const uri = (host) => "mongodb://" + host + "/?directConnection=true&serverSelectionTimeoutMS=3000";
let rotated = false;
function fatal(message) {
  const err = new Error(message);
  err.fatal = true;
  return err;
}
// The database still has the previous generation's root password, so change it on the primary.
function changeRootPassword(admin, host) {
  const user = rootFile("username");
  const previous = fs.readFileSync(previousFile, "utf8");
  try {
    admin.auth(user, previous);
  } catch (err) {
    if (err.code !== AUTHENTICATION_FAILED) throw err;
    throw fatal(host + " accepts neither generation " + generation + " of the root password nor generation " +
                (generation - 1) + ": mongodb.rootPasswordGeneration must be raised one at a time from the one " +
                "the database has (README, \"Rotate generated credentials\")");
  }
  let target = admin;
  if (replicaSet) {
    let status;
    try { status = admin.runCommand({replSetGetStatus: 1}); } catch (err) { status = {ok: 0, code: err.code}; }
    if (status.ok === 1) {
      const primary = status.members.find((m) => m.stateStr === "PRIMARY");
      if (!primary) throw new Error("replica set " + status.set + " has no primary: cannot change the root password yet");
      if (primary.name !== host) {
        target = new Mongo(uri(primary.name)).getDB("admin");
        target.auth(user, previous);
      }
    }
  }
  target.changeUserPassword(user, rootFile("password"), {w: "majority", wtimeout: 60000});
  rotated = true;
  print("root password generation " + generation + " set in the database (it had generation " + (generation - 1) + ")");
}
function connect(host) {
  for (let i = 0; i < 120; i++) {
    try {
      const admin = new Mongo(uri(host)).getDB("admin");
      try {
        admin.auth(rootFile("username"), rootFile("password"));
      } catch (err) {
        if (err.code !== AUTHENTICATION_FAILED || !previousFile || rotated) throw err;
        changeRootPassword(admin, host);
        admin.auth(rootFile("username"), rootFile("password"));
      }
      return admin;
    } catch (err) {
      if (err.fatal) throw err;
      print("waiting for " + host + ": " + err.message);
      sleep(5000);
    }
  }
  throw new Error("member " + host + " did not become reachable");
}
const series = (version) => version.split(".").slice(0, 2).join(".");
const admins = members.map(connect);
const admin = admins[0];
function onPrimary(status, what) {
  const primary = status.members.find((m) => m.stateStr === "PRIMARY");
  if (!primary) throw new Error("replica set " + status.set + " has no primary: cannot " + what);
  return connect(primary.name);
}
function raiseFeatureCompatibility(primary) {
  const running = admins.map((a) => series(a.runCommand({buildInfo: 1}).version));
  const wanted = running[0];
  running.forEach((s, i) => {
    if (s !== wanted) throw new Error(members[i] + " runs " + s + " and " + members[0] + " " + wanted + ": the feature compatibility version stays until every member runs one release series");
  });
  const current = primary.runCommand({getParameter: 1, featureCompatibilityVersion: 1}).featureCompatibilityVersion;
  if (current.version === wanted && !current.targetVersion) {
    print("feature compatibility version " + wanted);
    return;
  }
  const command = {setFeatureCompatibilityVersion: wanted};
  if (Number(wanted.split(".")[0]) >= 7) command.confirm = true;
  const answer = primary.runCommand(command);
  if (answer.ok !== 1) { printjson(answer); throw new Error("setFeatureCompatibilityVersion " + wanted + " failed"); }
  print("feature compatibility version " + current.version + " -> " + wanted);
}
function reconfigure(status) {
  const admin = onPrimary(status, "change its members");
  const config = () => admin.runCommand({replSetGetConfig: 1}).config;
  const apply = (cfg, what) => {
    cfg.version += 1;
    const answer = admin.runCommand({replSetReconfig: cfg});
    if (answer.ok !== 1) { printjson(answer); throw new Error("reconfig failed: " + what); }
    for (let i = 0; i < 120; i++) {  // committed by a majority before the next one (safe reconfig)
      if (admin.runCommand({replSetGetConfig: 1, commitmentStatus: true}).commitmentStatus) break;
      sleep(1000);
    }
    print(what);
  };
  for (const host of members) {
    const cfg = config();
    if (cfg.members.some((m) => m.host === host)) continue;
    cfg.members.push({_id: Math.max(...cfg.members.map((m) => m._id)) + 1, host: host});
    apply(cfg, "added " + host);
  }
  for (const host of config().members.map((m) => m.host)) {
    if (members.includes(host)) continue;
    const cfg = config();
    cfg.members = cfg.members.filter((m) => m.host !== host);
    apply(cfg, "removed " + host);
  }
}

if (!replicaSet) {
  raiseFeatureCompatibility(admin);
} else {
  let status;
  try { status = admin.runCommand({replSetGetStatus: 1}); } catch (err) { status = {ok: 0, code: err.code}; }
  if (status.ok === 1) {
    const current = status.members.map((m) => m.name).sort();
    if (JSON.stringify(current) === JSON.stringify([...members].sort())) {
      print("replica set " + status.set + " already initialised with " + status.members.length + " members");
    } else {
      reconfigure(status);
    }
    raiseFeatureCompatibility(onPrimary(admin.runCommand({replSetGetStatus: 1}), "set its feature compatibility version"));
  } else if (status.code === 94) {  // NotYetInitialized: a new set starts at its release series' version
    const config = {_id: replicaSet, members: members.map((host, i) => ({_id: i, host: host}))};
    printjson(admin.runCommand({replSetInitiate: config}));
  } else {
    printjson(status);
    quit(1);
  }
}
