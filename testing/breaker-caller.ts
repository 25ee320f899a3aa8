// A process that calls its model tier every 10 ms for OPSGRAPH_TEST_CALL_FOR_MS through the
// runtime (openApp: its breakers shared through the database), then prints what happened
// ({ ok, error, skipped }) as JSON. Started by test/breaker-fleet.int.test.ts.
import { z } from "zod";
import { CircuitOpenError } from "../nodes/errors.js";
import { openApp } from "../app/app.js";
import { loadConfig } from "../runtime/config.js";

const app = await openApp(loadConfig(process.env));
const tier = app.tiers[0]!;
const counts = { ok: 0, error: 0, skipped: 0 };
const until = Date.now() + Number(process.env.OPSGRAPH_TEST_CALL_FOR_MS ?? 5_000);
const calls: Promise<void>[] = [];
while (Date.now() < until) {
  calls.push(
    tier.invoke({ agent: "risk_analyst", schema: z.object({ ok: z.boolean() }), system: "s", user: "u" }).then(
      () => void counts.ok++,
      (e: unknown) => void (e instanceof CircuitOpenError ? counts.skipped++ : counts.error++),
    ),
  );
  await new Promise((r) => setTimeout(r, 10));
}
await Promise.all(calls);
await app.close();
process.stdout.write(JSON.stringify(counts) + "\n");
