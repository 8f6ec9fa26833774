// Dashboard clients for bench/live.py: the live room's own Socket.IO client library
// (socket.io-client from npm, as the browser loads it from static/vendor), in Node.
//
//   node bench/live_clients.js URL TOKEN MEETING_NUMBER CLIENTS EXPECTED TIMEOUT_S
//
// Connects CLIENTS websocket clients with auth={token}, joins each to the meeting's
// room, prints "ready N" and then records, per client, the wall-clock time (ms since
// the epoch) each participantJoined arrives, keyed by the participant's name. It ends
// when every client has EXPECTED of them, or after TIMEOUT_S, printing one JSON line:
// {"received": [[client, name, ms], ...], "others": {event: count}, "cpu": seconds}
// (CPU from "ready" to the end).
"use strict";

const { io } = require("socket.io-client");

const [url, token, meetingId, clientsArg, expectedArg, timeoutArg] = process.argv.slice(2);
const clients = Number(clientsArg);
const expected = Number(expectedArg);
const timeoutMs = Number(timeoutArg) * 1000;
const now = () => performance.timeOrigin + performance.now();

const received = [];
const others = {};
const sockets = [];
let complete = 0;

let cpuAtReady = null;

function finish() {
  const used = process.cpuUsage(cpuAtReady);
  const cpu = (used.user + used.system) / 1e6;
  for (const socket of sockets) socket.disconnect();
  process.stdout.write(JSON.stringify({ received, others, cpu }) + "\n", () => process.exit(0));
}

function connect(index) {
  return new Promise((resolve, reject) => {
    const socket = io(url, {
      auth: { token },
      transports: ["websocket"],
      reconnection: false,
      forceNew: true,
    });
    let count = 0;
    socket.on("participantJoined", (payload) => {
      received.push([index, payload.participant.name, now()]);
      count += 1;
      if (count === expected) {
        complete += 1;
        if (complete === clients) finish();
      }
    });
    socket.onAny((event) => {
      if (event !== "participantJoined") others[event] = (others[event] || 0) + 1;
    });
    socket.on("connect_error", (error) => reject(error));
    socket.on("connect", () => {
      socket.emit("join-meeting", { meetingId }, (ack) => {
        if (ack && ack.ok) resolve(socket);
        else reject(new Error(`join-meeting refused: ${JSON.stringify(ack)}`));
      });
    });
    sockets.push(socket);
  });
}

(async () => {
  for (let index = 0; index < clients; index += 1) await connect(index);
  cpuAtReady = process.cpuUsage();
  process.stdout.write(`ready ${clients}\n`);
  setTimeout(finish, timeoutMs);
})().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
