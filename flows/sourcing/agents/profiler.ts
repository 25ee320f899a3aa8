import { z } from "zod";
import { InvalidOutputError, type Agent } from "../../../nodes/agent.js";
import { CompanyProfile, companySlug, FundingStage, listOf, type RawCompany } from "./company.js";
import { fundingStage, parseFunding } from "./funding.js";

/** What a model adds to the parsed record: the judgement calls. Funding and places are parsed, never guessed. */
export const ProfilerAnswer = z.object({
  summary: z.string().min(1).describe("What the company does, one plain sentence"),
  sector: z.string().min(1).describe("The primary sector: one of the listed categories, or a short sector name when none is listed"),
  stage: FundingStage,
});
export type ProfilerAnswer = z.infer<typeof ProfilerAnswer>;

const orNull = (s: string) => (s.trim() ? s.trim() : null);
const year = (s: string) => (/^\d{4}$/.test(s.trim()) ? Number(s.trim()) : null);

/** The deterministic profile: every field parsed from the record. */
function parsed(raw: RawCompany): CompanyProfile {
  const categories = listOf(raw.categories);
  const funding = parseFunding(raw.funding);
  const [mapCity, , mapCountry] = raw.location.split(" - ").map((s) => s.trim());
  const session = raw.yc_session.trim().toLowerCase();
  return {
    version: 1,
    name: raw.name.trim(),
    slug: companySlug(raw.name),
    summary: raw.description.trim() || `${raw.name.trim()} (no description listed).`,
    sector: categories[0] ?? "Unknown",
    categories,
    stage: fundingStage(funding),
    city: orNull(raw.city) ?? orNull(mapCity ?? ""),
    country: orNull(raw.country) ?? orNull(mapCountry ?? ""),
    founded: year(raw.year_founded),
    batch: year(raw.yc_year) ? `${session.startsWith("s") ? "S" : session.startsWith("w") ? "W" : ""}${raw.yc_year.trim()}` : null,
    founders: listOf(raw.founders),
    investors: [...new Set(listOf(raw.investors))],
    funding,
    website: orNull(raw.website),
  };
}

export const companyProfiler: Agent<RawCompany, ProfilerAnswer, CompanyProfile> = {
  name: "company_profiler",
  version: 1,
  modelOutput: ProfilerAnswer,
  output: CompanyProfile,
  prompt(raw) {
    const p = parsed(raw);
    return {
      system:
        "You profile startups for a venture fund's sourcing team. From the record, say in one plain sentence what the company does, " +
        "its primary sector (prefer one of the listed categories) and its funding stage (unfunded, pre-seed, seed, series-a, growth).",
      user: [
        `Company: ${p.name}`,
        `Description: ${raw.description || "(none)"}`,
        `Categories: ${p.categories.join(", ") || "(none)"}`,
        `Funding rounds: ${raw.funding || "(none)"} (parsed: ${p.funding.rounds} rounds, $${p.funding.total_usd} disclosed)`,
        `Investors: ${p.investors.length}`,
        `Headquarters: ${[p.city, p.country].filter(Boolean).join(", ") || "(unknown)"}`,
      ].join("\n"),
    };
  },
  finish(answer, raw) {
    const p = parsed(raw);
    const problems: string[] = [];
    if (p.categories.length && !p.categories.some((c) => c.toLowerCase() === answer.sector.trim().toLowerCase())) {
      problems.push(`sector "${answer.sector}" is not one of the listed categories (${p.categories.join(", ")})`);
    }
    if (problems.length) throw new InvalidOutputError(problems);
    return {
      ...p,
      summary: answer.summary.trim(),
      sector: p.categories.find((c) => c.toLowerCase() === answer.sector.trim().toLowerCase()) ?? answer.sector.trim(),
      stage: answer.stage,
    };
  },
  rules: parsed,
};
