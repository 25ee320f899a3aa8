import type { z } from "zod";

/** Token usage of one model call, as the provider reported it. */
export interface TokenUsage {
  input_tokens: number;
  output_tokens: number;
}

/** The request an agent step makes of a model tier. */
export interface StructuredCall<M> {
  /** The agent's name: the structured-output schema name the provider sees. */
  agent: string;
  schema: z.ZodType<M>;
  system: string;
  user: string;
  signal?: AbortSignal;
}

/**
 * A model tier: one provider and model, called for structured output. Built by
 * runtime/models/models.ts from config; graphs receive the list through the run's context.
 * One `invoke` is one HTTP request to the provider (client retries are off).
 */
export interface ModelTier {
  /** `provider:model`, e.g. `openai:gpt-4.1-mini`. */
  id: string;
  invoke<M>(call: StructuredCall<M>): Promise<{ output: M; usage: TokenUsage }>;
}

/** Raised by an agent's `finish` when a model's answer parses but is wrong (an excerpt not in the text). */
export class InvalidOutputError extends Error {
  override name = "InvalidOutputError";
  constructor(readonly problems: string[]) {
    super(`invalid output: ${problems.slice(0, 3).join("; ")}`);
  }
}

/**
 * An agent: what it asks a model, what it must get back, and its deterministic `rules`
 * implementation (the last tier, never needing a network).
 *
 * I: its input. M: what the model answers (the structured-output schema). O: its output,
 * kept in state (versioned through `version`).
 */
export interface Agent<I, M, O> {
  name: string;
  /** Version of the output schema; bump it when O changes shape. */
  version: number;
  modelOutput: z.ZodType<M>;
  /** The output's schema (what a person must supply at an escalation). */
  output: z.ZodType<O>;
  prompt(input: I): { system: string; user: string };
  /** Turns a model answer into the output; throws InvalidOutputError when it is wrong. */
  finish(answer: M, input: I): O;
  rules(input: I): O;
  /** Long inputs: the parts each model call sees, and how their outputs merge. */
  split?(input: I): I[];
  merge?(parts: O[], input: I): O;
}

/** One attempt of one agent on one tier: the attempt ledger, kept in state. */
export interface Attempt {
  agent: string;
  /** `provider:model`, `rules`, or `person` (an output supplied at an escalation). */
  tier: string;
  /** Attempt number on this tier, from 1. */
  attempt: number;
  /** skipped: the tier's circuit breaker was open, no call was made. */
  outcome: "ok" | "error" | "invalid" | "skipped";
  /** transient, fatal, invalid or circuit_open (see nodes/errors.ts). */
  error_class?: string;
  /** HTTP status of a failed call. */
  status?: number;
  error?: string;
  /** The backoff waited after this attempt before the next (ms). */
  wait_ms?: number;
  /** How long the attempt took (ms). */
  ms: number;
  tokens?: TokenUsage;
}
