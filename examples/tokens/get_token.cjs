const { SignatureV4 } = require("@smithy/signature-v4");
const { Hash } = require("@smithy/hash-node");

(async () => {
  const url = new URL("/tokens", process.env.TOKEN_URL);
  const body = JSON.stringify({ connectionId: process.env.CONNECTION_ID, region: "eu" });
  const signer = new SignatureV4({ service: "lambda", region: process.env.AWS_REGION, sha256: Hash.bind(null, "sha256"),
    credentials: { accessKeyId: process.env.AWS_ACCESS_KEY_ID, secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY, sessionToken: process.env.AWS_SESSION_TOKEN } });
  const signed = await signer.sign({ method: "POST", protocol: url.protocol, hostname: url.hostname, port: url.port,
    path: url.pathname, headers: { host: url.host, "content-type": "application/json" }, body });
  const answer = await fetch(url, { method: "POST", headers: signed.headers, body });
  console.log(answer.status, JSON.stringify(await answer.json()));
})();
