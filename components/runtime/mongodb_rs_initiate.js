// The replica-set Job's mongosh script (components/mongodb.py): waits for every member, then initiates the
// set once with all of them, as the root user read from the mounted files; an initiated set is left alone.
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
if (status.ok === 1) {
  print("replica set " + status.set + " already initialised with " + status.members.length + " members");
} else if (status.code === 94) {  // NotYetInitialized
  const config = {_id: process.env.RS_NAME, members: members.map((host, i) => ({_id: i, host: host}))};
  printjson(admin.runCommand({replSetInitiate: config}));
} else {
  printjson(status);
  quit(1);
}
