import { ZodError } from "zod";
import { InvalidOutputError, type Agent, type Attempt, type ModelTier } from "./agent.js";

/** The name of the deterministic last tier. */
export const RULES_TIER = "rules";

export interface AgentStepResult<O> {
  output: O;
  /** The tier whose output was taken. */
  tier: string;
  attempts: Attempt[];
}

export interface AgentStepOptions {
  /** Model tiers in order; `rules` runs after them. Empty: rules only. */
  tiers: readonly ModelTier[];
  signal?: AbortSignal;
  now?: () => number;
}

const describe = (e: unknown) => {
  if (e instanceof InvalidOutputError) return e.message;
  if (e instanceof ZodError) return `invalid output: ${e.issues.slice(0, 3).map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`;
  const err = e as { status?: number; code?: string; message?: string };
  const status = err.status ? `${err.status} ` : "";
  return `${status}${err.code ? `${err.code}: ` : ""}${String(err.message ?? e).split("\n")[0]!.slice(0, 300)}`;
};

const isInvalidOutput = (e: unknown) =>
  e instanceof InvalidOutputError || e instanceof ZodError || (e as { name?: string }).name === "OutputParserException";

/**
 * Runs one agent through its tiers: each model tier in order, then `rules`. A model answer
 * that fails its schema or its checks gets one repair attempt that shows the model what was
 * wrong; any other failure moves on to the next tier. Every call is an Attempt in the ledger.
 */
export async function runAgentStep<I, M, O>(agent: Agent<I, M, O>, input: I, { tiers, signal, now = Date.now }: AgentStepOptions): Promise<AgentStepResult<O>> {
  const attempts: Attempt[] = [];
  let n = 0;
  for (const tier of tiers) {
    try {
      const parts = agent.split && agent.merge ? agent.split(input) : [input];
      const outputs: O[] = [];
      for (const part of parts) {
        const { system, user } = agent.prompt(part);
        let repair = "";
        for (let round = 0; ; round++) {
          const t0 = now();
          n++;
          try {
            const { output, usage } = await tier.invoke({ agent: agent.name, schema: agent.modelOutput, system, user: user + repair, signal });
            const finished = agent.finish(output, part);
            attempts.push({ agent: agent.name, tier: tier.id, attempt: n, outcome: "ok", ms: now() - t0, tokens: usage });
            outputs.push(finished);
            break;
          } catch (e) {
            const invalid = isInvalidOutput(e);
            attempts.push({ agent: agent.name, tier: tier.id, attempt: n, outcome: invalid ? "invalid" : "error", error: describe(e), ms: now() - t0 });
            if (!invalid || round >= 1) throw e;
            repair = `\n\nYour previous answer was rejected: ${describe(e)}. Answer again, quoting the contract exactly.`;
          }
        }
      }
      const output = parts.length === 1 ? outputs[0]! : agent.merge!(outputs, input);
      return { output, tier: tier.id, attempts };
    } catch {
      if (signal?.aborted) throw signal.reason;
      // fall through to the next tier; the ledger keeps what happened
    }
  }
  const t0 = now();
  const output = agent.rules(input);
  attempts.push({ agent: agent.name, tier: RULES_TIER, attempt: ++n, outcome: "ok", ms: now() - t0 });
  return { output, tier: RULES_TIER, attempts };
}
