import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import type { BudgetContext } from "../nodes/budget.js";
import { InputError } from "./errors.js";
import { DEFAULT_PRICES, PriceTable } from "./models/prices.js";
import { endpointOf, keyRequired, parseTierList, type ModelTierSpec } from "./models/tier-spec.js";

export type { ModelTierSpec } from "./models/tier-spec.js";

/** The model used when OPENAI_API_KEY is set and OPSGRAPH_MODELS is not. */
export const DEFAULT_OPENAI_MODEL = "openai:gpt-4.1-mini";

/** OPSGRAPH_MODELS_<AGENT>: one agent's own tier list (`OPSGRAPH_MODELS_RISK_ANALYST` is risk_analyst's). */
export const AGENT_MODELS_PREFIX = "OPSGRAPH_MODELS_";

/** Refuses an agent's own tiers for an agent no flow has (a misspelt OPSGRAPH_MODELS_<AGENT> would go unnoticed). */
export function checkAgentTiers(config: Pick<Config, "agentTiers">, agents: readonly string[]): void {
  for (const agent of Object.keys(config.agentTiers)) {
    if (!agents.includes(agent))
      throw new InputError(
        `${AGENT_MODELS_PREFIX}${agent.toUpperCase()}: no flow has an agent named ${agent} (agents: ${[...new Set(agents)].sort().join(", ")})`,
      );
  }
}

const emptyToUndefined = (v: unknown) => (typeof v === "string" && v.trim() === "" ? undefined : v);
const optionalString = z.preprocess(emptyToUndefined, z.string().optional());
const bool = (fallback: boolean) =>
  z.preprocess(
    (v) => emptyToUndefined(v) ?? String(fallback),
    z.enum(["true", "false", "1", "0"], { message: "must be true or false" }).transform((v) => v === "true" || v === "1"),
  );
const positiveInt = (fallback: number) =>
  z.preprocess(
    (v) => emptyToUndefined(v) ?? String(fallback),
    z.coerce.number({ message: "must be a number" }).int("must be a whole number").positive("must be positive"),
  );

/** An optional positive number: unset, the default in nodes/budget.ts holds. */
const optionalPositive = (integer: boolean) =>
  z.preprocess(
    emptyToUndefined,
    (integer ? z.coerce.number({ message: "must be a number" }).int("must be a whole number") : z.coerce.number({ message: "must be a number" }))
      .positive("must be positive")
      .optional(),
  );

const tierList = z.preprocess(
  emptyToUndefined,
  z
    .string()
    .optional()
    .transform((raw, ctx): ModelTierSpec[] | undefined => {
      if (raw === undefined) return undefined;
      try {
        return parseTierList(raw);
      } catch (e) {
        ctx.addIssue({ code: "custom", message: (e as Error).message });
        return z.NEVER;
      }
    }),
);

/**
 * Every setting opsgraph reads from the environment. Read once (`loadConfig`), validated,
 * then passed down; nothing below cli/ reads process.env.
 */
export const ConfigSchema = z.object({
  DATABASE_URL: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .regex(/^postgres(ql)?:\/\//, "must be a postgres:// or postgresql:// URL")
      .optional(),
  ),
  OPENAI_API_KEY: optionalString,
  OPENAI_BASE_URL: z.preprocess(emptyToUndefined, z.url({ message: "must be a URL such as http://127.0.0.1:8000/v1" }).optional()),
  OPSGRAPH_MODELS: tierList,
  OPSGRAPH_STRUCTURED_OUTPUT: z.preprocess(
    (v) => emptyToUndefined(v) ?? "jsonSchema",
    z.enum(["jsonSchema", "functionCalling"], { message: "must be jsonSchema or functionCalling" }),
  ),
  OPSGRAPH_MODEL_TIMEOUT_MS: positiveInt(60_000),
  OPSGRAPH_DATA_DIR: z.preprocess((v) => emptyToUndefined(v) ?? ".opsgraph", z.string()),
  OPSGRAPH_MAX_INPUT_BYTES: positiveInt(20 * 1024 * 1024),
  OPSGRAPH_REVIEW_THRESHOLD: z.preprocess(
    (v) => emptyToUndefined(v) ?? "60",
    z.coerce.number({ message: "must be a number" }).min(0, "must be between 0 and 100").max(100, "must be between 0 and 100"),
  ),
  OPSGRAPH_CONCURRENCY: positiveInt(4),
  OPSGRAPH_LEASE_MS: positiveInt(30_000),
  OPSGRAPH_RETENTION: z.preprocess(
    (v) => emptyToUndefined(v) ?? "30d",
    z
      .string()
      .regex(/^\d+[dhms]$/, "must be a duration such as 30d, 12h, 90m")
      .transform((v) => Number(v.slice(0, -1)) * { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 }[v.slice(-1) as "d" | "h" | "m" | "s"]),
  ),
  OPSGRAPH_BREAKER_FAILURES: positiveInt(5),
  OPSGRAPH_BREAKER_FAILURE_RATE: z.preprocess(
    (v) => emptyToUndefined(v) ?? "0.5",
    z.coerce.number({ message: "must be a number" }).gt(0, "must be over 0 and at most 1").max(1, "must be over 0 and at most 1"),
  ),
  OPSGRAPH_BREAKER_COOLDOWN_MS: positiveInt(30_000),
  OPSGRAPH_ADAPTIVE_TIERS: bool(false),
  OPSGRAPH_MAX_ROUNDS: optionalPositive(true),
  OPSGRAPH_MAX_MODEL_CALLS: optionalPositive(true),
  OPSGRAPH_MAX_COST_USD: optionalPositive(false),
  OPSGRAPH_STEP_BUDGET_MS: optionalPositive(true),
  OPSGRAPH_ON_EXHAUSTED: z.preprocess(emptyToUndefined, z.enum(["escalate", "dead_letter"], { message: "must be escalate or dead_letter" }).optional()),
  OPSGRAPH_PRICES: z.preprocess((v, ctx) => {
    if (emptyToUndefined(v) === undefined) return {};
    try {
      return JSON.parse(String(v)) as unknown;
    } catch {
      ctx.addIssue({ code: "custom", message: 'must be JSON such as {"gpt-4.1-mini":{"input":0.4,"output":1.6}} (US$ per 1M tokens)' });
      return z.NEVER;
    }
  }, PriceTable),
  LANGSMITH_TRACING: bool(false),
  LANGSMITH_API_KEY: optionalString,
  LANGSMITH_ENDPOINT: z.preprocess(emptyToUndefined, z.url({ message: "must be a URL such as https://api.smith.langchain.com" }).optional()),
  LANGSMITH_PROJECT: optionalString,
  OTEL_EXPORTER_OTLP_ENDPOINT: z.preprocess(emptyToUndefined, z.url({ message: "must be a URL such as http://127.0.0.1:4318" }).optional()),
  OTEL_EXPORTER_OTLP_HEADERS: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .regex(/^\s*[^=,\s]+\s*=[^,]*(,\s*[^=,\s]+\s*=[^,]*)*$/, "must be key=value pairs separated by commas")
      .optional()
      .transform((v) =>
        v === undefined
          ? {}
          : Object.fromEntries(v.split(",").map((kv) => [kv.slice(0, kv.indexOf("=")).trim(), decodeURIComponent(kv.slice(kv.indexOf("=") + 1).trim())])),
      ),
  ),
  OTEL_SERVICE_NAME: z.preprocess((v) => emptyToUndefined(v) ?? "opsgraph", z.string()),
  LOG_LEVEL: z.preprocess(
    (v) => emptyToUndefined(v) ?? "info",
    z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"], { message: "must be one of fatal, error, warn, info, debug, trace, silent" }),
  ),
});

export type RawConfig = z.infer<typeof ConfigSchema>;

/**
 * The keys the tiers name, by variable name. Printed, logged or serialised, it shows the names
 * and whether each is set, never a value.
 */
export class ApiKeys {
  readonly #values: Map<string, string>;
  constructor(values: Record<string, string | undefined> = {}) {
    this.#values = new Map(Object.entries(values).filter((e): e is [string, string] => typeof e[1] === "string" && e[1] !== ""));
  }
  /** The key held by variable `name`, for the tier that names it. */
  get(name: string | undefined): string | undefined {
    return name === undefined ? undefined : this.#values.get(name);
  }
  /** Every key value, for scrubbing them out of error messages. */
  values(): string[] {
    return [...this.#values.values()];
  }
  toJSON() {
    return Object.fromEntries([...this.#values.keys()].map((k) => [k, "(set)"]));
  }
  [Symbol.for("nodejs.util.inspect.custom")]() {
    return `ApiKeys { ${[...this.#values.keys()].join(", ")} }`;
  }
}

export interface Config {
  databaseUrl: string | undefined;
  /** OPENAI_BASE_URL (where openai tiers go without an endpoint of their own) and OPSGRAPH_STRUCTURED_OUTPUT. The key is in apiKeys. */
  openai: { apiKey?: string | undefined; baseURL: string | undefined; structuredOutput: "jsonSchema" | "functionCalling" };
  /** Model tiers in order, without `rules` (always last, implicit). Empty: rules only. */
  modelTiers: ModelTierSpec[];
  /** Agents with tier lists of their own (OPSGRAPH_MODELS_<AGENT>), by agent name; every other agent has modelTiers. */
  agentTiers: Record<string, ModelTierSpec[]>;
  /** The values of the key variables the tiers name (and only those). */
  apiKeys: ApiKeys;
  modelTimeoutMs: number;
  dataDir: string;
  maxInputBytes: number;
  reviewThreshold: number;
  concurrency: number;
  /** A running run whose worker has not renewed its lease for this long is picked up again. */
  leaseMs: number;
  /** Workers prune the checkpoints of threads finished longer ago than this. */
  retentionMs: number;
  breaker: { consecutiveFailures: number; failureRate: number; cooldownMs: number };
  /** When every tier of an agent failed: escalate to a person or dead-letter (default: each agent's own policy). */
  onExhausted: "escalate" | "dead_letter" | undefined;
  /** Order each agent's tiers by its recent calls (the attempt ledger in PostgreSQL) instead of OPSGRAPH_MODELS' order. */
  adaptiveTiers: boolean;
  /** What each run may spend (OPSGRAPH_MAX_*, OPSGRAPH_STEP_BUDGET_MS); unset ones take nodes/budget.ts's defaults, and a run's own context wins. */
  budget: BudgetContext;
  langsmith: { tracing: boolean; apiKey: string | undefined; endpoint: string | undefined; project: string | undefined };
  /** OTLP/HTTP export of the runs' spans, when OTEL_EXPORTER_OTLP_ENDPOINT is set. */
  otlp: { endpoint: string; headers: Record<string, string>; serviceName: string } | undefined;
  /** US$ per 1M tokens by model: the defaults (runtime/models/prices.ts) with OPSGRAPH_PRICES over them. */
  prices: PriceTable;
  logLevel: RawConfig["LOG_LEVEL"];
}

/**
 * Validates an environment into a Config. A bad value throws InputError with one line that
 * names the variable and what is wrong.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = ConfigSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0] ?? "environment");
    throw new InputError(`${name}: ${issue.message}`);
  }
  const c = parsed.data;
  let modelTiers = c.OPSGRAPH_MODELS ?? [];
  if (c.OPSGRAPH_MODELS === undefined && c.OPENAI_API_KEY) modelTiers = parseTierList(DEFAULT_OPENAI_MODEL);
  const agentTiers: Record<string, ModelTierSpec[]> = {};
  for (const [name, value] of Object.entries(env).sort(([a], [b]) => a.localeCompare(b))) {
    if (!name.startsWith(AGENT_MODELS_PREFIX) || value === undefined || value.trim() === "") continue;
    const agent = name.slice(AGENT_MODELS_PREFIX.length);
    if (!/^[A-Z][A-Z0-9_]*$/.test(agent))
      throw new InputError(`${name}: an agent's tiers are set by OPSGRAPH_MODELS_<AGENT NAME IN CAPITALS>, e.g. OPSGRAPH_MODELS_RISK_ANALYST`);
    try {
      agentTiers[agent.toLowerCase()] = parseTierList(value);
    } catch (e) {
      throw new InputError(`${name}: ${(e as Error).message}`);
    }
  }
  // each tier's key, from its own variable; one a tier cannot go without is asked for by name
  const keys: Record<string, string | undefined> = {};
  const lists: [string, ModelTierSpec[]][] = [
    ["OPSGRAPH_MODELS", modelTiers],
    ...Object.entries(agentTiers).map(([agent, list]): [string, ModelTierSpec[]] => [`${AGENT_MODELS_PREFIX}${agent.toUpperCase()}`, list]),
  ];
  for (const [variable, list] of lists) {
    list.forEach((spec, i) => {
      if (!spec.keyEnv) return;
      const value = emptyToUndefined(env[spec.keyEnv]) as string | undefined;
      if (value !== undefined) keys[spec.keyEnv] = value;
      else if (keyRequired(spec, endpointOf(spec, c.OPENAI_BASE_URL))) {
        const fix = spec.provider === "openai" && !spec.keyWritten ? " (or set OPENAI_BASE_URL to a local OpenAI-compatible server)" : "";
        throw new InputError(`${variable}: tier ${i + 1} "${spec.id}" needs its key in ${spec.keyEnv}, which is not set${fix}`);
      }
    });
  }
  return {
    databaseUrl: c.DATABASE_URL,
    openai: { baseURL: c.OPENAI_BASE_URL, structuredOutput: c.OPSGRAPH_STRUCTURED_OUTPUT },
    modelTiers,
    agentTiers,
    apiKeys: new ApiKeys(keys),
    modelTimeoutMs: c.OPSGRAPH_MODEL_TIMEOUT_MS,
    dataDir: c.OPSGRAPH_DATA_DIR,
    maxInputBytes: c.OPSGRAPH_MAX_INPUT_BYTES,
    reviewThreshold: c.OPSGRAPH_REVIEW_THRESHOLD,
    concurrency: c.OPSGRAPH_CONCURRENCY,
    leaseMs: c.OPSGRAPH_LEASE_MS,
    retentionMs: c.OPSGRAPH_RETENTION,
    breaker: { consecutiveFailures: c.OPSGRAPH_BREAKER_FAILURES, failureRate: c.OPSGRAPH_BREAKER_FAILURE_RATE, cooldownMs: c.OPSGRAPH_BREAKER_COOLDOWN_MS },
    onExhausted: c.OPSGRAPH_ON_EXHAUSTED,
    adaptiveTiers: c.OPSGRAPH_ADAPTIVE_TIERS,
    budget: Object.fromEntries(
      Object.entries({
        maxRounds: c.OPSGRAPH_MAX_ROUNDS,
        maxModelCalls: c.OPSGRAPH_MAX_MODEL_CALLS,
        maxCostUsd: c.OPSGRAPH_MAX_COST_USD,
        stepBudgetMs: c.OPSGRAPH_STEP_BUDGET_MS,
      }).filter(([, v]) => v !== undefined),
    ) as BudgetContext,
    langsmith: { tracing: c.LANGSMITH_TRACING, apiKey: c.LANGSMITH_API_KEY, endpoint: c.LANGSMITH_ENDPOINT, project: c.LANGSMITH_PROJECT },
    otlp: c.OTEL_EXPORTER_OTLP_ENDPOINT
      ? { endpoint: c.OTEL_EXPORTER_OTLP_ENDPOINT, headers: c.OTEL_EXPORTER_OTLP_HEADERS, serviceName: c.OTEL_SERVICE_NAME }
      : undefined,
    prices: { ...DEFAULT_PRICES, ...c.OPSGRAPH_PRICES },
    logLevel: c.LOG_LEVEL,
  };
}

/**
 * Where the public evaluation data is (the one setting: OPSGRAPH_DATASETS). Unset: `../shared/datasets`
 * beside the working directory when it is there (this workplace's copy), else `.opsgraph/datasets`,
 * where `opsgraph data fetch` puts it.
 */
export function datasetsDir(env: Record<string, string | undefined> = process.env, cwd = process.cwd()): string {
  if (env["OPSGRAPH_DATASETS"]) return path.resolve(cwd, env["OPSGRAPH_DATASETS"]);
  const shared = path.resolve(cwd, "..", "shared", "datasets");
  return fs.existsSync(shared) ? shared : path.resolve(cwd, ".opsgraph", "datasets");
}
