// Starts fauxqs (an SQS emulator speaking the AWS JSON protocol of the current SDKs) on
// 127.0.0.1 only: the package's own CLI listens on every interface, and a test
// emulator must not be reachable from the network.
//
// Usage: node sqs.mjs --port N
import { buildApp } from "fauxqs";

const i = process.argv.indexOf("--port");
const port = i > 0 ? Number.parseInt(process.argv[i + 1], 10) : Number.NaN;
if (!Number.isInteger(port) || port <= 0) {
  console.error("sqs.mjs: --port N is required");
  process.exit(2);
}

const app = buildApp({ logger: false, defaultRegion: "us-east-1" });
try {
  await app.listen({ port, host: "127.0.0.1" });
} catch (err) {
  console.error(`sqs.mjs: listen on 127.0.0.1:${port}: ${err.code ?? ""} ${err.message}`);
  process.exit(1);
}
console.log(`fauxqs: listening on http://127.0.0.1:${port}`);

for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, () => {
    app.close().finally(() => process.exit(0));
  });
}
