import { z } from "zod";
import { InvalidOutputError, type Agent } from "../../../nodes/agent.js";
import { CATEGORIES, CATEGORY_NAMES, type CategoryName } from "./categories.js";
import { extractClausesByRules } from "./clause-rules.js";

export const Excerpt = z.object({
  text: z.string().describe("The clause, verbatim from the contract"),
  start: z.number().int().describe("Offset of the first character in the contract text (UTF-16 code units)"),
  end: z.number().int().describe("Offset one past the last character"),
});
export type Excerpt = z.infer<typeof Excerpt>;

const categoryEnum = z.enum(CATEGORY_NAMES as [CategoryName, ...CategoryName[]]);

export const ClauseFinding = z.object({
  name: categoryEnum.describe("The clause category"),
  present: z.boolean().describe("Whether the contract has a clause of this category"),
  excerpts: z.array(Excerpt).describe("Where the contract says it; empty when not present"),
  value: z.string().nullable().describe("The category's value where it has one: jurisdiction, renewal term, liability cap"),
});
export type ClauseFinding = z.infer<typeof ClauseFinding>;

/** The clause extractor's output, kept in state. */
export const ClauseExtraction = z.object({
  version: z.literal(1).describe("Schema version of this output"),
  categories: z.array(ClauseFinding).describe("One finding per category, in the order of CATEGORIES"),
});
export type ClauseExtraction = z.infer<typeof ClauseExtraction>;

/** What the model is asked for: quotes only; offsets are found in the text, never trusted. */
export const ClauseExtractorAnswer = z.object({
  categories: z
    .array(
      z.object({
        name: categoryEnum.describe("The clause category"),
        present: z.boolean().describe("True when the contract has such a clause"),
        excerpts: z.array(z.string()).describe("Up to 3 quotes copied character for character from the contract"),
        value: z
          .string()
          .nullable()
          .describe("Jurisdiction for Governing Law, the renewal period for Renewal Term, the cap for Cap On Liability; otherwise null"),
      }),
    )
    .describe("One entry per category"),
});
export type ClauseExtractorAnswer = z.infer<typeof ClauseExtractorAnswer>;

/** The part of the contract one call sees: text.slice(start, end); offsets stay global. */
export interface ClauseInput {
  text: string;
  start: number;
  end: number;
}

const CHUNK_CHARS = 60_000;
const CHUNK_OVERLAP = 1_000;
const MAX_EXCERPTS = 3;

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Finds a quote in the text, tolerating differences in white space only. */
export function locateExcerpt(text: string, quote: string, from = 0, to = text.length): Excerpt | undefined {
  const q = quote.trim();
  if (!q) return undefined;
  const exact = text.indexOf(q, from);
  if (exact >= 0 && exact + q.length <= to) return { text: q, start: exact, end: exact + q.length };
  const words = q.split(/\s+/).map(escapeRegExp);
  if (words.length > 400) return undefined;
  const re = new RegExp(words.join("\\s+"), "g");
  re.lastIndex = from;
  const m = re.exec(text);
  if (!m || m.index + m[0].length > to) return undefined;
  return { text: m[0], start: m.index, end: m.index + m[0].length };
}

function splitForModel(input: ClauseInput): ClauseInput[] {
  const parts: ClauseInput[] = [];
  for (let start = input.start; start < input.end;) {
    let end = Math.min(input.end, start + CHUNK_CHARS);
    if (end < input.end) {
      const para = input.text.lastIndexOf("\n\n", end);
      if (para > start + CHUNK_CHARS / 2) end = para;
    }
    parts.push({ text: input.text, start, end });
    if (end >= input.end) break;
    start = Math.max(end - CHUNK_OVERLAP, start + 1);
  }
  return parts;
}

function mergeParts(parts: ClauseExtraction[]): ClauseExtraction {
  return {
    version: 1,
    categories: CATEGORIES.map(({ name }) => {
      const found = parts.map((p) => p.categories.find((c) => c.name === name)).filter((c) => c?.present) as ClauseFinding[];
      const excerpts: Excerpt[] = [];
      for (const e of found.flatMap((c) => c.excerpts)) {
        if (excerpts.length < MAX_EXCERPTS && !excerpts.some((x) => x.start < e.end && e.start < x.end)) excerpts.push(e);
      }
      return { name, present: found.length > 0, excerpts, value: found.find((c) => c.value)?.value ?? null };
    }),
  };
}

export const clauseExtractor: Agent<ClauseInput, ClauseExtractorAnswer, ClauseExtraction> = {
  name: "clause_extractor",
  version: 1,
  modelOutput: ClauseExtractorAnswer,
  output: ClauseExtraction,
  prompt(input) {
    const list = CATEGORIES.map((c) => `- ${c.name}: ${c.description}`).join("\n");
    return {
      system:
        "You are a contract analyst. For each clause category below, say whether the contract contains such a clause. " +
        "Quote the clause exactly as written (copy characters verbatim; never paraphrase), at most 3 quotes per category. " +
        "Give a value only for Governing Law (the jurisdiction), Renewal Term (the renewal period) and Cap On Liability (the cap).\n\n" +
        `Categories:\n${list}`,
      user: `Contract (characters ${input.start} to ${input.end}):\n\n${input.text.slice(input.start, input.end)}`,
    };
  },
  finish(answer, input) {
    const problems: string[] = [];
    const categories = CATEGORIES.map(({ name }) => {
      const a = answer.categories.find((c) => c.name === name);
      if (!a || !a.present) return { name, present: false, excerpts: [], value: null };
      const excerpts: Excerpt[] = [];
      for (const quote of a.excerpts.slice(0, MAX_EXCERPTS)) {
        const at = locateExcerpt(input.text, quote, input.start, input.end);
        if (at) excerpts.push(at);
        else problems.push(`${name}: excerpt "${quote.slice(0, 60)}" is not in the contract`);
      }
      if (excerpts.length === 0 && !problems.some((p) => p.startsWith(name))) problems.push(`${name}: present but no excerpt quoted`);
      return { name, present: true, excerpts, value: a.value };
    });
    if (problems.length > 0) throw new InvalidOutputError(problems);
    return { version: 1, categories };
  },
  rules(input) {
    // Rules see the whole contract at once: they are not bounded by a context window.
    return { version: 1, categories: extractClausesByRules(input.text) };
  },
  split: splitForModel,
  merge: mergeParts,
};
