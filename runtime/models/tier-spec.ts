/**
 * Model tiers as an operator writes them: one grammar for OPSGRAPH_MODELS (the flows' chain)
 * and OPSGRAPH_MODELS_<AGENT> (one agent's own chain).
 *
 *   provider:model[@endpoint][?option=value&...]
 *
 *   openai:gpt-4.1-mini
 *   anthropic:claude-haiku-4-5
 *   azure:gpt-4o-prod@https://contoso-eastus.openai.azure.com?api-version=2024-10-21
 *   openai-compatible:llama3.1@http://127.0.0.1:11434/v1
 *   ollama:llama3.1@http://gpu-box:11434?key=OLLAMA_PROXY_KEY
 *
 * Options: `key=ENV_NAME` (the environment variable holding this tier's key; `key=none`: send
 * none), `api-version=` (azure), `output=jsonSchema|functionCalling` (how structured output is
 * asked for). A tier's key is read from its own variable and sent only to its own endpoint;
 * the spec keeps the variable's name, never its value.
 */

export const PROVIDERS = ["openai", "azure", "anthropic", "openai-compatible", "ollama"] as const;
export type Provider = (typeof PROVIDERS)[number];
export type OutputMethod = "jsonSchema" | "functionCalling";

export interface ModelTierSpec {
  provider: Provider;
  /** The model's name at its provider (azure: the deployment's name). */
  model: string;
  /** The endpoint written in the spec; absent: the provider's default (see endpointOf). */
  endpoint?: string;
  /** The environment variable holding the key; absent: the tier sends none. */
  keyEnv?: string;
  /** azure's api-version. */
  apiVersion?: string;
  /** How structured output is asked for; absent: the provider's own (see outputOf). */
  output?: OutputMethod;
  /** The spec named its key variable itself (`?key=`): it must be set. */
  keyWritten?: true;
  /** `provider:model`, with `@endpoint` when one is written: the name in logs, `tiers_used` and the attempt ledger. */
  id: string;
}

/** What a provider needs when a spec does not say. */
const DEFAULTS: Record<Provider, { endpoint?: string; keyEnv?: string; keyRequired: boolean; output: OutputMethod }> = {
  openai: { endpoint: "https://api.openai.com/v1", keyEnv: "OPENAI_API_KEY", keyRequired: true, output: "jsonSchema" },
  azure: { keyEnv: "AZURE_OPENAI_API_KEY", keyRequired: true, output: "jsonSchema" },
  anthropic: { endpoint: "https://api.anthropic.com", keyEnv: "ANTHROPIC_API_KEY", keyRequired: true, output: "functionCalling" },
  "openai-compatible": { keyRequired: false, output: "jsonSchema" },
  ollama: { endpoint: "http://127.0.0.1:11434", keyRequired: false, output: "jsonSchema" },
};

export const AZURE_API_VERSION = "2024-10-21";

/** Raised for a tier that cannot be used; the caller prefixes the variable's name. */
export class TierSpecError extends Error {
  override name = "TierSpecError";
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** One tier from its text; `n` is its place in the list, for the error. */
export function parseTier(text: string, n: number): ModelTierSpec {
  // a key written in place of its variable's name is never repeated back
  const where = `tier ${n} "${text.replace(/([?&]key=)([^&]*)/, (all, k: string, v: string) => (ENV_NAME.test(v) || v === "none" ? all : `${k}...`))}"`;
  const m = /^([a-z-]+):([^@?]+)(?:@([^?]+))?(?:\?(.*))?$/.exec(text);
  if (!m)
    throw new TierSpecError(
      `${where} is not provider:model[@endpoint][?options] (e.g. openai:gpt-4.1-mini, anthropic:claude-haiku-4-5, openai-compatible:llama3.1@http://127.0.0.1:11434/v1)`,
    );
  const [provider, model, endpoint, query] = [m[1]!, m[2]!, m[3], m[4]];
  if (!(PROVIDERS as readonly string[]).includes(provider))
    throw new TierSpecError(`${where}: unknown provider "${provider}" (supported: ${PROVIDERS.join(", ")})`);
  const p = provider as Provider;
  const spec: ModelTierSpec = {
    provider: p,
    model: model.trim(),
    id: endpoint ? `${p}:${model.trim()}@${endpoint.replace(/\/+$/, "")}` : `${p}:${model.trim()}`,
  };
  if (endpoint !== undefined) {
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      throw new TierSpecError(`${where}: endpoint "${endpoint}" is not a URL such as http://127.0.0.1:8000/v1`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new TierSpecError(`${where}: endpoint must be http:// or https://`);
    if (url.username || url.password) throw new TierSpecError(`${where}: put the key in an environment variable (?key=ENV_NAME), not in the endpoint`);
    spec.endpoint = endpoint.replace(/\/+$/, "");
  } else if (!DEFAULTS[p].endpoint) {
    throw new TierSpecError(
      `${where}: ${p} needs its endpoint: ${p === "azure" ? "azure:<deployment>@https://<resource>.openai.azure.com" : `${p}:${model}@http://host:port/v1`}`,
    );
  }
  const keyEnv = DEFAULTS[p].keyEnv;
  if (keyEnv) spec.keyEnv = keyEnv;
  for (const pair of (query ?? "").split("&").filter(Boolean)) {
    const eq = pair.indexOf("=");
    const [k, v] = eq < 0 ? [pair, ""] : [pair.slice(0, eq), pair.slice(eq + 1)];
    if (k === "key") {
      if (v === "none") delete spec.keyEnv;
      else if (ENV_NAME.test(v)) Object.assign(spec, { keyEnv: v, keyWritten: true });
      else throw new TierSpecError(`${where}: key= takes the name of an environment variable (e.g. key=ANTHROPIC_API_KEY_EU) or none, not a key`);
    } else if (k === "api-version" && p === "azure") {
      if (!/^\d{4}-\d{2}-\d{2}(-preview)?$/.test(v)) throw new TierSpecError(`${where}: api-version must look like 2024-10-21`);
      spec.apiVersion = v;
    } else if (k === "output") {
      if (v !== "jsonSchema" && v !== "functionCalling") throw new TierSpecError(`${where}: output must be jsonSchema or functionCalling`);
      spec.output = v;
    } else {
      throw new TierSpecError(
        `${where}: unknown option "${k}" (options: key=ENV_NAME${p === "azure" ? ", api-version=YYYY-MM-DD" : ""}, output=jsonSchema|functionCalling)`,
      );
    }
  }
  if (p === "azure" && !spec.apiVersion) spec.apiVersion = AZURE_API_VERSION;
  return spec;
}

/** A comma-separated list of tiers; `rules` is accepted (it is always last) and left out. */
export function parseTierList(text: string): ModelTierSpec[] {
  const parts = text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const tiers: ModelTierSpec[] = [];
  parts.forEach((part, i) => {
    if (part === "rules") {
      if (i !== parts.length - 1) throw new TierSpecError(`tier ${i + 1} "rules": rules is always the last tier`);
      return;
    }
    const spec = parseTier(part, i + 1);
    if (tiers.some((t) => t.id === spec.id)) throw new TierSpecError(`tier ${i + 1} "${part}": ${spec.id} is listed twice`);
    tiers.push(spec);
  });
  return tiers;
}

/**
 * Where a tier's requests go: its written endpoint, else OPENAI_BASE_URL for openai tiers (the
 * older way to point them at a local server), else the provider's public one.
 */
export function endpointOf(spec: ModelTierSpec, openaiBaseURL?: string): string {
  if (spec.endpoint) return spec.endpoint;
  if (spec.provider === "openai" && openaiBaseURL) return openaiBaseURL.replace(/\/+$/, "");
  return DEFAULTS[spec.provider].endpoint!;
}

/** How a tier asks for structured output. `openaiDefault`: OPSGRAPH_STRUCTURED_OUTPUT, for the OpenAI-shaped providers. */
export function outputOf(spec: ModelTierSpec, openaiDefault?: OutputMethod): OutputMethod {
  if (spec.output) return spec.output;
  if (openaiDefault && (spec.provider === "openai" || spec.provider === "azure" || spec.provider === "openai-compatible")) return openaiDefault;
  return DEFAULTS[spec.provider].output;
}

/** The circuit breaker's key: one breaker per (provider, endpoint, model), shared by every tier list naming it. */
export const breakerKeyOf = (spec: ModelTierSpec, endpoint: string) => `${spec.provider}:${spec.model}@${endpoint}`;

/**
 * Whether a tier may go without its key: one whose variable is unset is refused when it calls
 * its provider's public endpoint (it would only be refused there), and when the spec named the
 * variable itself; a local or gateway endpoint with the provider's default variable unset
 * gets no key.
 */
export function keyRequired(spec: ModelTierSpec, endpoint: string): boolean {
  if (!spec.keyEnv) return false;
  if (spec.keyWritten) return true;
  const d = DEFAULTS[spec.provider];
  return d.keyRequired && (spec.provider === "azure" || endpoint === d.endpoint);
}
