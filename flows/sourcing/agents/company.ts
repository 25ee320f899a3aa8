import { z } from "zod";

/**
 * A startup as a source lists it (a row of the YC Startups.csv): the raw record the company
 * profiler normalises. The outcome column (the CSV's "Satus") is deliberately absent: it is
 * the back-test's label, and a scorer that saw it would grade itself.
 */
export const RawCompany = z.object({
  name: z.string().min(1).describe("The company's name as listed"),
  description: z.string().describe("The listing's one-line description"),
  categories: z.string().describe('Comma-separated categories, e.g. "SaaS, Analytics" (may be empty)'),
  founders: z.string().describe("Comma-separated founder names (may be empty)"),
  year_founded: z.string().describe("Year founded, as listed (may be empty)"),
  yc_year: z.string().describe("Y Combinator batch year, e.g. 2011 (may be empty)"),
  yc_session: z.string().describe("Y Combinator session: Winter or Summer (may be empty)"),
  investors: z.string().describe("Comma-separated investors (may be empty)"),
  funding: z.string().describe('Amounts raised in funding rounds, free text: "$1200000, undisclosed amount"'),
  city: z.string().describe("Headquarters city (may be empty)"),
  region: z.string().describe("Headquarters US state (may be empty)"),
  country: z.string().describe("Headquarters country (may be empty)"),
  location: z.string().describe('The listing\'s mapping location, "City - State - Country" (may be empty)'),
  website: z.string().describe("The company's website (may be empty)"),
});
export type RawCompany = z.infer<typeof RawCompany>;

export const FundingStage = z.enum(["unfunded", "pre-seed", "seed", "series-a", "growth"]).describe("Funding stage, from the total raised and the rounds");
export type FundingStage = z.infer<typeof FundingStage>;

export const Funding = z.object({
  total_usd: z.number().min(0).describe("Sum of the disclosed rounds, USD"),
  rounds: z.number().int().min(0).describe("Funding rounds listed, disclosed or not"),
  disclosed_rounds: z.number().int().min(0).describe("Rounds with an amount"),
  largest_usd: z.number().min(0).describe("The largest disclosed round, USD (0 when none)"),
  unparsed: z.array(z.string()).describe('Parts of the free text that were neither an amount nor "undisclosed"'),
});
export type Funding = z.infer<typeof Funding>;

/** The company profiler's output: the normalised company every later stage reads. */
export const CompanyProfile = z.object({
  version: z.literal(1).describe("Schema version of this output"),
  name: z.string().describe("The company's name, trimmed"),
  slug: z.string().describe("The company's identity across events: its name, lower-case, non-alphanumerics as dashes"),
  summary: z.string().describe("What the company does, one sentence"),
  sector: z.string().describe('The primary sector (the first category, or "Unknown")'),
  categories: z.array(z.string()).describe("Every category, trimmed"),
  stage: FundingStage,
  city: z.string().nullable().describe("Headquarters city, or null when unknown"),
  country: z.string().nullable().describe("Headquarters country, or null when unknown"),
  founded: z.number().int().nullable().describe("Year founded, or null when unknown"),
  batch: z.string().nullable().describe("Y Combinator batch, e.g. W2011, or null"),
  founders: z.array(z.string()).describe("Founder names"),
  investors: z.array(z.string()).describe("Investors, de-duplicated, Y Combinator included when listed"),
  funding: Funding,
  website: z.string().nullable().describe("Website, or null"),
});
export type CompanyProfile = z.infer<typeof CompanyProfile>;

/** The company's identity across events (the correlation id). */
export const companySlug = (name: string) =>
  name
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "") || "unnamed";

/** A comma-separated list, trimmed, empties dropped. */
export const listOf = (s: string) =>
  s
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean);
