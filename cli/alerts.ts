import { InvalidArgumentError, type Command } from "commander";
import type { App } from "../app/app.js";
import { checkAlerts, DEFAULT_ALERT_RULES, type AlertReport, type AlertRules } from "../runtime/observability/alerts.js";

type WithApp = <T>(fn: (app: App) => Promise<T>) => Promise<T>;

/** A commander option parser: "90s", "5m", "2h", "500ms" or a bare number of seconds, in ms. */
export const duration = (v: string) => {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v.trim());
  if (!m) throw new InvalidArgumentError("must be a duration such as 90s, 5m, 1h");
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? "s") as "ms" | "s" | "m" | "h"];
};
const share = (v: string) => {
  const n = Number(v);
  if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError("must be a share between 0 and 1, such as 0.2");
  return n;
};
const count = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("must be a whole number");
  return n;
};

export function formatAlerts(r: AlertReport): string {
  const lines = r.alerts.map((a) => `${a.firing ? "FIRING" : "ok    "}  ${a.rule.padEnd(16)}  ${a.message}`);
  lines.push(r.firing ? `${r.alerts.filter((a) => a.firing).length} alert(s) firing` : "all quiet");
  return lines.join("\n");
}

/** `opsgraph alerts check [--json]`: exit 1 when any rule fires (for cron or CI), 0 when quiet. */
export function addAlertsCommand(program: Command, withApp: WithApp) {
  const d = DEFAULT_ALERT_RULES;
  const min = (ms: number) => `${ms / 60_000}m`;
  program
    .command("alerts")
    .description("Alert rules over the whole deployment (the same rules as ops/prometheus-rules.yml)")
    .command("check")
    .description("Evaluate the alert rules once; exit 1 when any fires, 0 when all are quiet")
    .option("--window <duration>", `window of the error-rate and p95 rules (default ${min(d.windowMs)})`, duration, d.windowMs)
    .option("--error-rate <share>", `agent_error_rate: fires when an agent's failed calls exceed this share (default ${d.errorRate})`, share, d.errorRate)
    .option("--min-calls <n>", `agent_error_rate: ...over at least this many calls in the window (default ${d.minCalls})`, count, d.minCalls)
    .option("--dead-letters <n>", `dead_letters: fires when more than this many wait (default ${d.deadLetters})`, count, d.deadLetters)
    .option("--breaker-open <duration>", `breaker_open: fires when a breaker stays open this long (default ${min(d.breakerOpenMs)})`, duration, d.breakerOpenMs)
    .option("--run-p95 <duration>", `run_p95: fires when a flow's p95 run duration exceeds this (default ${min(d.runP95Ms)})`, duration, d.runP95Ms)
    .option("--queue-lag <duration>", `queue_lag: fires when the oldest waiting run job is older (default ${min(d.queueLagMs)})`, duration, d.queueLagMs)
    .option("--json", "print one JSON object { at, firing, alerts: [...] }", false)
    .action(
      async (opts: {
        window: number;
        errorRate: number;
        minCalls: number;
        deadLetters: number;
        breakerOpen: number;
        runP95: number;
        queueLag: number;
        json: boolean;
      }) => {
        const rules: AlertRules = {
          ...d,
          windowMs: opts.window,
          errorRate: opts.errorRate,
          minCalls: opts.minCalls,
          deadLetters: opts.deadLetters,
          breakerOpenMs: opts.breakerOpen,
          runP95Ms: opts.runP95,
          queueLagMs: opts.queueLag,
        };
        const report = await withApp((app) => checkAlerts(app.db.pool, rules));
        process.stdout.write((opts.json ? JSON.stringify(report) : formatAlerts(report)) + "\n");
        process.exitCode = report.firing ? 1 : 0;
      },
    );
}
