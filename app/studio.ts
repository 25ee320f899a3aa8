/**
 * The graphs langgraph.json serves to the `langgraphjs dev` server and LangGraph Studio.
 *
 * Compiled without a checkpointer or store: the server injects its own. The environment is
 * read once, here, as the CLI reads it: the model tiers (OPSGRAPH_MODELS, OPSGRAPH_MODELS_<AGENT>, their keys), the review
 * threshold and the exhausted-tier policy become defaults under each run's own context.
 */
import { buildContractReviewGraph } from "../flows/contract-review/graph/index.js";
import { buildPortfolioMonitoringGraph } from "../flows/portfolio-monitoring/graph/index.js";
import { buildSourcingGraph, buildStageGraph, fitStage, outreachStage, profilerStage, type SourcingStage } from "../flows/sourcing/graph/index.js";
import { contractReviewRecursionLimit } from "../flows/contract-review/graph/limits.js";
import { portfolioRecursionLimit } from "../flows/portfolio-monitoring/graph/limits.js";
import { sourcingRecursionLimit, sourcingStageRecursionLimit } from "../flows/sourcing/graph/limits.js";
import { mostTiers, type ExhaustedPolicy } from "../nodes/agent-step.js";
import { budgetOf, type LimitInputs } from "../nodes/budget.js";
import { DEFAULT_BACKOFF } from "../nodes/errors.js";
import type { Attempt } from "../nodes/agent.js";
import { checkAgentTiers, loadConfig } from "../runtime/config.js";
import { costOf } from "../runtime/models/prices.js";
import { InputError } from "../runtime/errors.js";
import { FLOW_AGENTS } from "../flows/index.js";
import { createLogger } from "../runtime/observability/log.js";
import { createTierSet } from "../runtime/models/models.js";
import { openDatabase } from "../runtime/db/postgres.js";
import { PortfolioSources } from "../flows/portfolio-monitoring/run/input.js";
import { PORTFOLIO_MONITORING } from "../flows/portfolio-monitoring/run/runner.js";
import { openPortfolioSource } from "../flows/portfolio-monitoring/run/sources.js";
import { agentStepsOf, plainSettings, withRunContext, type RunContext } from "../runtime/runs/run-defaults.js";
import { CONTRACT_REVIEW } from "../flows/contract-review/run/runner.js";
import { SharedBreakers } from "../runtime/models/shared-breakers.js";

const config = loadConfig();
// once per process: every run shares the circuit breakers, as in a worker; with DATABASE_URL, the
// workers' breakers too (the server's own store is not opsgraph's database: without it, the
// breakers stay this process's)
const breakers = config.databaseUrl
  ? new SharedBreakers({ ...config.breaker, probeMs: config.modelTimeoutMs + 5_000, log: createLogger(config.logLevel) })
  : undefined;
const { tiers, agentTiers } = createTierSet(config, undefined, breakers);
// an agent's own chain (OPSGRAPH_MODELS_<AGENT>) must name an agent of these flows
checkAgentTiers(config, FLOW_AGENTS);
const tierContext = { tiers, ...(Object.keys(agentTiers).length ? { agentTiers } : {}) };
if (breakers) {
  void openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, maxConnections: 3 })
    .then((db) => breakers.start(db.pool))
    .catch((e: unknown) => createLogger(config.logLevel).warn({ err: String(e) }, "shared circuit breakers unavailable; this server's breakers decide alone"));
}

// a run's recursion limit: its flow's worst case for these tiers and the run's own budget
const limitFor = (limit: (inputs: LimitInputs) => number) => (context: RunContext) =>
  limit({
    tiers: mostTiers(tierContext),
    backoff: (context["backoff"] as typeof DEFAULT_BACKOFF | undefined) ?? DEFAULT_BACKOFF,
    maxRounds: budgetOf(context).maxRounds,
  });
// the environment's budget (OPSGRAPH_MAX_*) and the price table under each run's own context
const priced = { ...config.budget, costOf: (a: Attempt) => costOf(a.tier, a.tokens, config.prices) };

const policiesFor = (agents: string[]): { policies?: Record<string, ExhaustedPolicy> } =>
  config.onExhausted ? { policies: Object.fromEntries(agents.map((a) => [a, config.onExhausted!])) } : {};

/**
 * A compiled graph as langgraph.json serves it: each run's context is the environment's parts
 * and settings (`defaults`, which the run's own context overrides), the run's own, then what
 * the server wires from it (`wired`); its recursion limit is its flow's worst case.
 */
function served<G extends Parameters<typeof agentStepsOf>[0] & Parameters<typeof withRunContext>[0]>(
  graph: G,
  flow: string,
  limit: (inputs: LimitInputs) => number,
  { defaults = {}, wired = () => ({}) }: { defaults?: RunContext; wired?: (own: RunContext) => RunContext } = {},
): G {
  return withRunContext(
    graph,
    (own, runId) => ({ ...tierContext, ...priced, flow, runId, ...defaults, ...policiesFor(agentStepsOf(graph)), ...plainSettings(own), ...wired(own) }),
    limitFor(limit),
  );
}

const contractReview = buildContractReviewGraph().compile();
contractReview.name = "contract_review";
export const contract_review = served(contractReview, CONTRACT_REVIEW, contractReviewRecursionLimit, { defaults: { reviewThreshold: config.reviewThreshold } });

const portfolioMonitoring = buildPortfolioMonitoringGraph().compile();
portfolioMonitoring.name = "portfolio_monitoring";
export const portfolio_monitoring = served(portfolioMonitoring, PORTFOLIO_MONITORING, portfolioRecursionLimit, { wired: portfolioSource });

/**
 * A run's data: its context may name `sources` as a portfolio file does (fundamentals, companies,
 * kpis; paths relative to the server's working directory). Without them every company is
 * data_unavailable.
 */
function portfolioSource(own: RunContext) {
  if (own["sources"] === undefined) return {};
  const parsed = PortfolioSources.safeParse(own["sources"]);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InputError(`context.sources${issue?.path.length ? `.${issue.path.join(".")}` : ""}: ${issue?.message ?? "invalid"}`);
  }
  if (parsed.data.postgres) throw new InputError("context.sources.postgres: the dev server has no database to read it from; use fundamentals or kpis");
  return { source: openPortfolioSource(parsed.data) };
}

// Sourcing: every stage chained for one company (Studio's view of the flow), and each stage
// alone, as the event bus runs it for one event.
// (flows named as the sourcing runner names them in dead letters: sourcing, sourcing.<stage>)
function sourcingGraph(
  compiled: ReturnType<ReturnType<typeof buildSourcingGraph>["compile"]>,
  name: string,
  flow: string,
  limit: (inputs: LimitInputs) => number,
) {
  compiled.name = name;
  return served(compiled, flow, limit);
}
const stageGraph = (stage: SourcingStage) =>
  sourcingGraph(buildStageGraph(stage).compile(), `sourcing_${stage.name}`, `sourcing.${stage.name}`, sourcingStageRecursionLimit);

export const sourcing = sourcingGraph(buildSourcingGraph().compile(), "sourcing", "sourcing", sourcingRecursionLimit);
export const sourcing_company_profiler = stageGraph(profilerStage as SourcingStage);
export const sourcing_fit_analyst = stageGraph(fitStage as SourcingStage);
export const sourcing_outreach_writer = stageGraph(outreachStage as SourcingStage);
