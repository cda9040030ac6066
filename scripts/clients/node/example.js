// Join the lobby, say hello, print the room for a few seconds, leave.
// Usage: node example.js [IN] [OUT]   (defaults: a local broadcast-server)
import { Client } from "./bcast.js";

const [inEp = "tcp://127.0.0.1:5555", outEp = "tcp://127.0.0.1:5556"] = process.argv.slice(2);
const client = new Client({ name: `node-${process.pid}`, in: inEp, out: outEp, rooms: ["lobby"] });
await client.connect();                       // SUB first, then hello -> welcome
client.send("hello from Node.js");            // retried until acked
setTimeout(() => client.close(), 3000);       // says bye; events() then ends
for await (const e of client.events()) {      // in order, gaps repaired from history
  if (e.t === "msg") console.log(`${e.from}: ${e.text}`);
}
