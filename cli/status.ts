import type { Command } from "commander";
import { table } from "./format.js";
import type { App } from "../app/app.js";
import { chainText, tiersOf } from "../nodes/agent-step.js";
import { modelsOf, readStatus, type Status } from "../runtime/observability/status.js";

type WithApp = <T>(fn: (app: App) => Promise<T>) => Promise<T>;

/** 950 ms → "0.9s", 42 000 → "42s", 5 400 000 → "1h30m". */
export function age(ms: number): string {
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 120) return `${m}m${s % 60 ? `${s % 60}s` : ""}`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${m % 60 ? `${m % 60}m` : ""}`;
  return `${Math.floor(h / 24)}d${h % 24 ? `${h % 24}h` : ""}`;
}

/** $0.0042 → "$0.0042", 12.3 → "$12.30". */
const usd = (n: number) => `$${n >= 1 || n === 0 ? n.toFixed(2) : n.toPrecision(2)}`;

const indented = (rows: string[][]) => table(rows, "  ");

export function formatStatus(s: Status): string {
  const w = s.workers;
  const slots = w.alive.reduce((n, x) => n + x.concurrency, 0);
  const busy = w.alive.reduce((n, x) => n + x.in_flight, 0);
  const others = [w.lost ? `${w.lost} lost (no heartbeat for 3 leases)` : "", w.stopped ? `${w.stopped} stopped` : ""].filter(Boolean).join(", ");
  const lines = [`workers       ${w.alive.length} alive${w.alive.length ? `, ${busy}/${slots} slots busy` : ""}${others ? `; ${others}` : ""}`];
  if (w.alive.length) {
    lines.push(
      indented([
        ["worker", "host", "pid", "runs", "heartbeat", "up"],
        ...w.alive.map((x) => [
          x.worker_id,
          x.host,
          String(x.pid),
          `${x.in_flight}/${x.concurrency}`,
          `${age(x.heartbeat_age_ms)} ago`,
          age(Date.parse(s.at) - Date.parse(x.started_at)),
        ]),
      ]),
    );
  }
  lines.push(`queue         ${s.queue.depth} waiting${s.queue.lag_ms === null ? "" : `, oldest ${age(s.queue.lag_ms)}`}`);
  lines.push(
    `runs          ${Object.entries(s.runs)
      .map(([status, n]) => `${status} ${n}`)
      .join("  ")}`,
  );
  lines.push(`dead letters  ${s.dead_letters.waiting} waiting${s.dead_letters.waiting ? " (opsgraph dlq list)" : ""}`);
  if (s.models) lines.push(...formatModels(s.models));
  const notClosed = s.breakers.filter((b) => b.state !== "closed");
  lines.push(
    `breakers      ${notClosed.length ? notClosed.map((b) => `${b.model} ${b.state.replace("_", "-")} for ${age(b.since_ms)}${b.processes > 1 ? ` in ${b.processes} processes` : ""}`).join("; ") : "all closed"}`,
  );
  if (s.breakers.length) {
    const probe = (b: Status["breakers"][number]) =>
      b.probe_owner === null
        ? b.state === "half_open"
          ? "not claimed yet"
          : ""
        : b.probe_left_ms
          ? `${b.probe_owner}, ${age(b.probe_left_ms)} left`
          : `${b.probe_owner}, expired (claimable)`;
    lines.push(
      indented([
        ["breaker", "state", "since", "failures in a row", "failure rate", "probe"],
        ...s.breakers.map((b) => [
          b.model,
          b.state.replace("_", "-"),
          `${age(b.since_ms)} ago`,
          String(b.failures),
          `${Math.round(b.failure_rate * 100)}%`,
          probe(b),
        ]),
      ]),
    );
  }
  const models = Object.entries(s.spend_today.by_model).filter(([, m]) => m.input_tokens + m.output_tokens > 0);
  lines.push(
    `spend today   ${usd(s.spend_today.usd)}${models.length ? `  (${models.map(([model, m]) => `${model} ${usd(m.usd)}, ${m.input_tokens + m.output_tokens} tokens`).join("; ")})` : ""}`,
  );
  const adaptive = s.adaptive_tiers;
  if (adaptive) {
    const window = `last ${adaptive.window.calls} calls per agent and model, within ${adaptive.window.hours}h`;
    lines.push(`tier order    adaptive (${window})${adaptive.stats.length ? "" : ": no calls yet, every agent tries the configured order"}`);
    if (adaptive.stats.length) {
      const share = (n: number, of: number) => `${Math.round((100 * n) / of)}%`;
      lines.push(
        indented([
          ["agent", "model", "calls", "ok", "schema", "transient", "p95"],
          ...adaptive.stats.map((t) => [
            t.agent,
            t.tier,
            String(t.calls),
            share(t.ok, t.calls),
            share(t.invalid, t.calls),
            share(t.transient, t.calls),
            t.p95_ms === null ? "-" : age(t.p95_ms),
          ]),
        ]),
      );
      for (const [agent, o] of Object.entries(adaptive.order)) lines.push(`  ${agent}: ${o.order.join(" > ")}${o.why.length ? `  (${o.why.join("; ")})` : ""}`);
    }
  }
  return lines.join("\n");
}

/** The chains (the flows', then each agent's own), then each tier: provider, endpoint, key variable, breaker. */
function formatModels(m: NonNullable<Status["models"]>): string[] {
  const lines = [`models        ${m.chains.default.length ? chainText(m.chains.default) : "rules only (set OPSGRAPH_MODELS)"}`];
  for (const [agent, ids] of Object.entries(m.chains.agents)) lines.push(`  ${agent} (its own): ${chainText(ids)}`);
  if (m.tiers.length) {
    const key = (t: (typeof m.tiers)[number]) => (t.key_env === null ? "none" : `${t.key_env} ${t.key_set ? "set" : "unset"}`);
    lines.push(
      indented([
        ["tier", "provider", "endpoint", "key", "breaker"],
        ...m.tiers.map((t) => [t.id, t.provider, t.endpoint, key(t), t.breaker_state.replace("_", "-")]),
      ]),
    );
  }
  return lines;
}

/** `opsgraph status [--json]`: workers alive, queue depth and lag, runs by status, dead letters waiting, every model's breaker, spend today. */
export function addStatusCommand(program: Command, withApp: WithApp) {
  program
    .command("status")
    .description(
      "One screen: workers alive, queue depth and lag, runs by status, dead letters waiting, the model chains (the flows' and each agent's own: provider, endpoint, key variable set or unset, breaker), every model's circuit breaker (state, since, failure rate, half-open probe), spend today; with OPSGRAPH_ADAPTIVE_TIERS, each agent's tier order and its stats",
    )
    .option("--json", "print one JSON object", false)
    .action(async (opts: { json: boolean }) => {
      const status = await withApp((app) =>
        readStatus(app.db.pool, {
          leaseMs: app.config.leaseMs,
          prices: app.config.prices,
          models: modelsOf(app.config),
          ...(app.config.adaptiveTiers ? { adaptiveTiers: (agent: string) => tiersOf(app.tierSet, agent).map((t) => t.id) } : {}),
        }),
      );
      process.stdout.write((opts.json ? JSON.stringify(status) : formatStatus(status)) + "\n");
    });
}
