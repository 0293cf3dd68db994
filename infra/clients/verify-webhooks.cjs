// Verifies webhook deliveries with the Standard Webhooks reference library
// (standardwebhooks on npm), code this project did not write. Reads one JSON object a
// line on stdin: {"secret": "whsec_…", "payload": "<body>", "headers": {"webhook-id": …}}
// and prints one line per delivery: "ok <webhook-id>" or "fail <webhook-id> <reason>".
// Exits 1 if any delivery fails verification.
const { Webhook } = require("standardwebhooks");
const readline = require("node:readline");

let failed = 0;
const rl = readline.createInterface({ input: process.stdin });
rl.on("line", (line) => {
  if (!line.trim()) return;
  const d = JSON.parse(line);
  const id = d.headers["webhook-id"];
  try {
    new Webhook(d.secret).verify(d.payload, d.headers);
    console.log(`ok ${id}`);
  } catch (e) {
    failed++;
    console.log(`fail ${id} ${e.message}`);
  }
});
rl.on("close", () => process.exit(failed ? 1 : 0));
