import { z } from "zod";
import { InvalidOutputError, type Agent } from "../../../nodes/agent.js";
import type { CompanyProfile } from "./company.js";
import type { Criterion, Thesis } from "./thesis.js";

export const Evidence = z.object({
  field: z.string().describe("The profile field the judgement rests on, e.g. categories, funding.rounds"),
  value: z.string().describe("That field's value, as the profile holds it"),
});

export const FitReason = z.object({
  criterion: z.string().describe("The thesis criterion's id"),
  met: z.boolean().describe("Whether the company meets it"),
  points: z.number().describe("Points it adds to the score (0 when not met)"),
  reason: z.string().describe("Why, in one sentence"),
  evidence: z.array(Evidence).describe("The profile fields used"),
});
export type FitReason = z.infer<typeof FitReason>;

/** The fit analyst's output: a score against the thesis, with its reasons and evidence. */
export const FitAssessment = z.object({
  version: z.literal(1).describe("Schema version of this output"),
  thesis: z.string().describe("The thesis' name"),
  score: z.number().min(0).max(100).describe("The thesis' base score plus the points of every criterion met, clamped to 0..100"),
  threshold: z.number().describe("The thesis' fit threshold"),
  fits: z.boolean().describe("score >= threshold: outreach follows"),
  reasons: z.array(FitReason).describe("Every criterion, in the thesis' order"),
});
export type FitAssessment = z.infer<typeof FitAssessment>;

export const FitAnswer = z.object({
  criteria: z
    .array(
      z.object({
        id: z.string().describe("A criterion id from the thesis"),
        met: z.boolean().describe("Whether the company meets it"),
        reason: z.string().describe("One sentence: why"),
      }),
    )
    .describe("One entry per thesis criterion"),
});
export type FitAnswer = z.infer<typeof FitAnswer>;

export interface FitInput {
  profile: CompanyProfile;
  thesis: Thesis;
}

const lower = (xs: string[]) => xs.map((x) => x.toLowerCase());

/** The fields a criterion reads, as evidence. */
function evidenceFor(c: Criterion, p: CompanyProfile): z.infer<typeof Evidence>[] {
  switch (c.kind) {
    case "sectors":
    case "avoid sectors":
      return [{ field: "categories", value: p.categories.join(", ") || "(none)" }];
    case "locations":
      return [
        { field: "city", value: p.city ?? "(unknown)" },
        { field: "country", value: p.country ?? "(unknown)" },
      ];
    case "min investors":
      return [{ field: "investors", value: String(p.investors.length) }];
    case "min rounds":
      return [{ field: "funding.rounds", value: String(p.funding.rounds) }];
    case "min raised":
      return [{ field: "funding.total_usd", value: String(p.funding.total_usd) }];
  }
}

/** Whether the profile meets a criterion, and why: the rules tier's judgement. */
export function judge(c: Criterion, p: CompanyProfile): { met: boolean; reason: string } {
  const want = lower(c.values);
  const min = Number(c.values[0]);
  switch (c.kind) {
    case "sectors":
    case "avoid sectors": {
      const hits = p.categories.filter((x) => want.includes(x.toLowerCase()));
      return { met: hits.length > 0, reason: hits.length ? `listed in ${hits.join(", ")}` : "none of its categories is listed" };
    }
    case "locations": {
      const hit = [p.city, p.country].find((x) => x && want.includes(x.toLowerCase()));
      return { met: hit !== undefined, reason: hit ? `based in ${hit}` : `based in ${[p.city, p.country].filter(Boolean).join(", ") || "an unknown place"}` };
    }
    case "min investors":
      return { met: p.investors.length >= min, reason: `${p.investors.length} investors listed (wanted ${min})` };
    case "min rounds":
      return { met: p.funding.rounds >= min, reason: `${p.funding.rounds} funding rounds (wanted ${min})` };
    case "min raised":
      return { met: p.funding.total_usd >= min, reason: `$${p.funding.total_usd.toLocaleString("en-US")} disclosed (wanted $${min.toLocaleString("en-US")})` };
  }
}

function assess(input: FitInput, judged: Map<string, { met: boolean; reason: string }>): FitAssessment {
  const { thesis, profile } = input;
  const reasons = thesis.criteria.map((c) => {
    const j = judged.get(c.id)!;
    return { criterion: c.id, met: j.met, points: j.met ? c.points : 0, reason: j.reason, evidence: evidenceFor(c, profile) };
  });
  const score = Math.max(0, Math.min(100, thesis.base + reasons.reduce((s, r) => s + r.points, 0)));
  return { version: 1, thesis: thesis.name, score, threshold: thesis.threshold, fits: score >= thesis.threshold, reasons };
}

export const fitAnalyst: Agent<FitInput, FitAnswer, FitAssessment> = {
  name: "fit_analyst",
  version: 1,
  modelOutput: FitAnswer,
  output: FitAssessment,
  prompt({ profile, thesis }) {
    return {
      system:
        "You are a venture analyst. Judge the company against each criterion of the fund's investment thesis: met or not, and why, from the profile alone.",
      user: [
        `Thesis "${thesis.name}":`,
        thesis.text.trim(),
        "",
        "Criteria (answer each by id):",
        ...thesis.criteria.map((c) => `- ${c.id}: ${c.kind} ${c.values.join(", ")}`),
        "",
        `Company: ${profile.name}`,
        `Summary: ${profile.summary}`,
        `Categories: ${profile.categories.join(", ") || "(none)"}`,
        `Headquarters: ${[profile.city, profile.country].filter(Boolean).join(", ") || "(unknown)"}`,
        `Investors: ${profile.investors.length}`,
        `Funding: ${profile.funding.rounds} rounds, $${profile.funding.total_usd} disclosed`,
      ].join("\n"),
    };
  },
  finish(answer, input) {
    const ids = new Set(input.thesis.criteria.map((c) => c.id));
    const problems = answer.criteria.filter((c) => !ids.has(c.id)).map((c) => `criterion "${c.id}" is not in the thesis`);
    const judged = new Map(answer.criteria.filter((c) => ids.has(c.id)).map((c) => [c.id, { met: c.met, reason: c.reason }]));
    for (const id of ids) if (!judged.has(id)) problems.push(`criterion "${id}" was not answered`);
    if (problems.length) throw new InvalidOutputError(problems);
    return assess(input, judged);
  },
  rules(input) {
    return assess(input, new Map(input.thesis.criteria.map((c) => [c.id, judge(c, input.profile)])));
  },
};
