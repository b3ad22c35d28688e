// The replica-set Job's mongosh script (components/mongodb.py): waits for every member, then initiates the
// set once with all of them, as the root user read from the mounted files. On an initiated set it makes
// the membership RS_MEMBERS (the Job is replaced, so run again, whenever mongodb.replicas changes): it
// adds the missing members, then removes the extra ones, one per reconfig as MongoDB's safe reconfig
// requires, each committed by a majority before the next. A set that already has RS_MEMBERS is left alone.
const fs = require("fs");
const members = process.env.RS_MEMBERS.split(",");
const rootFile = (name) => fs.readFileSync(process.env.ROOT_CREDENTIALS_DIR + "/" + name, "utf8");
function connect(host) {
  for (let i = 0; i < 120; i++) {
    try {
      const conn = new Mongo("mongodb://" + host + "/?directConnection=true&serverSelectionTimeoutMS=3000");
      const admin = conn.getDB("admin");
      admin.auth(rootFile("username"), rootFile("password"));
      return admin;
    } catch (err) {
      print("waiting for " + host + ": " + err.message);
      sleep(5000);
    }
  }
  throw new Error("member " + host + " did not become reachable");
}
members.forEach(connect);
const admin = connect(members[0]);
let status;
try { status = admin.runCommand({replSetGetStatus: 1}); } catch (err) { status = {ok: 0, code: err.code}; }
function reconfigure(status) {
  const primary = status.members.find((m) => m.stateStr === "PRIMARY");
  if (!primary) throw new Error("replica set " + status.set + " has no primary: cannot change its members");
  const admin = connect(primary.name);
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

if (status.ok === 1) {
  const current = status.members.map((m) => m.name).sort();
  if (JSON.stringify(current) === JSON.stringify([...members].sort())) {
    print("replica set " + status.set + " already initialised with " + status.members.length + " members");
  } else {
    reconfigure(status);
  }
} else if (status.code === 94) {  // NotYetInitialized
  const config = {_id: process.env.RS_NAME, members: members.map((host, i) => ({_id: i, host: host}))};
  printjson(admin.runCommand({replSetInitiate: config}));
} else {
  printjson(status);
  quit(1);
}
