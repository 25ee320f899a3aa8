// Child process of the bench: the scripted OpenAI-compatible server (testing/scripted-openai.ts)
// answering every contract-review agent with its scripted answer (testing/scripted-contract.ts)
// after `latency` ms, `{ fault: { kind: "latency", ms, then: ok(agent) } }`. It runs in a process
// of its own so that its CPU is not charged to the process being measured.
//
// IPC from the parent: { latency: ms } sets the latency (answered { ok: true }); { count: true }
// answers { requests } (chat requests since the last count, by agent) and forgets them.
import { startScriptedOpenAI } from "../testing/scripted-openai.js";
import { AGENTS, ok } from "../testing/scripted-contract.js";

let latency = Number(process.argv[2] ?? 0);
const server = await startScriptedOpenAI();
for (const agent of AGENTS) server.setResponder(agent, () => (latency > 0 ? { fault: { kind: "latency", ms: latency, then: ok(agent) } } : ok(agent)));

process.on("message", (m: { latency?: number; count?: boolean }) => {
  if (m.latency !== undefined) {
    latency = m.latency;
    process.send!({ ok: true });
  } else if (m.count) {
    const requests: Record<string, number> = {};
    for (const r of server.requests) requests[r.agent ?? "null"] = (requests[r.agent ?? "null"] ?? 0) + 1;
    server.requests.length = 0;
    process.send!({ requests });
  }
});
process.on("disconnect", () => void server.close().then(() => process.exit(0)));
process.send!({ url: server.url });
