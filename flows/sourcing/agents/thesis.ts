import { z } from "zod";

export const CriterionKind = z
  .enum(["sectors", "avoid sectors", "locations", "min investors", "min rounds", "min raised"])
  .describe("What the criterion tests");

export const Criterion = z.object({
  id: z.string().describe("Stable id: the kind, dashed (e.g. min-investors)"),
  kind: CriterionKind,
  /** Sectors and locations: names; minimums: one number. */
  values: z.array(z.string()).describe("The names a sector or location criterion lists, or the one minimum"),
  points: z.number().describe("Added to the score when met (negative: a reason against)"),
  rationale: z.string().describe("Why the thesis holds this, in its own words"),
});
export type Criterion = z.infer<typeof Criterion>;

/** A written investment thesis, as the fit analyst scores against it. */
export const Thesis = z.object({
  name: z.string().describe("The thesis' title (its first heading)"),
  fund: z.string().describe('Who writes the outreach (the thesis\' "Fund:" line)'),
  text: z.string().describe("The thesis as written (Markdown)"),
  base: z.number().describe('The score before any criterion ("Base score:" line)'),
  threshold: z.number().min(0).max(100).describe('Companies scoring at least this get outreach ("Fit threshold:" line)'),
  criteria: z.array(Criterion).min(1).describe("The criteria, in the order written"),
});
export type Thesis = z.infer<typeof Thesis>;

/** Raised for a thesis that cannot be read: says which line. */
export class ThesisError extends Error {
  override name = "ThesisError";
}

const CRITERION = /^\s*[-*]\s*(sectors|avoid sectors|locations|min investors|min rounds|min raised)\s*:\s*(.+?)\s*\(\s*([+-]\d+)\s*\)\s*(?:[—–-]+\s*(.*))?$/i;
const setting = (text: string, label: string) => new RegExp(`^\\s*${label}\\s*:\\s*(.+?)\\s*$`, "im").exec(text)?.[1];

/**
 * Reads a thesis written in Markdown: a title, prose, and criteria as bullets
 * `- <kind>: <values> (<+/-points>) — <rationale>`, with `Fund:`, `Base score:` and
 * `Fit threshold:` lines. Prose is kept for the model tiers; the bullets drive the rules.
 */
export function parseThesis(text: string): Thesis {
  const criteria: Criterion[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (!/^\s*[-*]\s*(sectors|avoid sectors|locations|min investors|min rounds|min raised)\s*:/i.test(line)) return;
    const m = CRITERION.exec(line);
    if (!m) throw new ThesisError(`line ${i + 1}: a criterion is "- <kind>: <values> (+N) — why", got: ${line.trim().slice(0, 80)}`);
    const kind = m[1]!.toLowerCase() as Criterion["kind"];
    const values = kind.startsWith("min ")
      ? [m[2]!.replace(/[$,\s]/g, "")]
      : m[2]!
          .split(",")
          .map((v) => v.trim())
          .filter(Boolean);
    if (kind.startsWith("min ") && !Number.isFinite(Number(values[0]))) throw new ThesisError(`line ${i + 1}: ${kind} needs a number, got "${m[2]}"`);
    criteria.push({ id: kind.replace(/\s+/g, "-"), kind, values, points: Number(m[3]), rationale: (m[4] ?? "").trim() });
  });
  if (!criteria.length) throw new ThesisError('no criteria: list them as bullets "- sectors: SaaS, Analytics (+20) — why"');
  const threshold = Number(setting(text, "Fit threshold") ?? "60");
  const base = Number(setting(text, "Base score") ?? "30");
  if (!Number.isFinite(threshold) || threshold < 0 || threshold > 100) throw new ThesisError("Fit threshold: a number from 0 to 100");
  if (!Number.isFinite(base)) throw new ThesisError("Base score: a number");
  const name = /^#\s+(.+)$/m.exec(text)?.[1]?.trim() ?? "Investment thesis";
  return { name, fund: setting(text, "Fund") ?? "our fund", text, base, threshold, criteria };
}
