import { z } from "zod";
import { InvalidOutputError, type Agent } from "../../../nodes/agent.js";
import type { CompanyProfile } from "./company.js";
import type { FitAssessment } from "./fit-analyst.js";

/** A first email to a company: a draft, sent only once a person approves it. */
export const OutreachDraft = z.object({
  version: z.literal(1).describe("Schema version of this output"),
  to: z.string().describe("Who it is for: the founders, or the company"),
  subject: z.string().min(1).max(120).describe("The subject line"),
  body: z.string().min(1).describe("The email, plain text, at most 160 words, naming the company and something specific to it"),
});
export type OutreachDraft = z.infer<typeof OutreachDraft>;

export const OutreachAnswer = z.object({
  subject: z.string().describe("A short subject line naming the company"),
  body: z.string().describe("A short, specific first email (at most 160 words): what caught our eye, why it fits our thesis, a concrete ask"),
});
export type OutreachAnswer = z.infer<typeof OutreachAnswer>;

export interface OutreachInput {
  profile: CompanyProfile;
  fit: FitAssessment;
  fund: string;
}

const words = (s: string) => s.split(/\s+/).filter(Boolean).length;
const greeting = (p: CompanyProfile) => (p.founders.length ? p.founders.map((f) => f.split(/\s+/)[0]).join(", ") : `${p.name} team`);
const usd = (n: number) => (n >= 1e6 ? `$${(n / 1e6).toFixed(1)}M` : `$${Math.round(n / 1e3)}K`);

export const outreachWriter: Agent<OutreachInput, OutreachAnswer, OutreachDraft> = {
  name: "outreach_writer",
  version: 1,
  modelOutput: OutreachAnswer,
  output: OutreachDraft,
  prompt({ profile, fit, fund }) {
    const met = fit.reasons.filter((r) => r.met && r.points > 0).map((r) => `- ${r.reason}`);
    return {
      system: `You write first emails to founders for ${fund}. Short, specific, no flattery: name the company, one thing about it, why it fits our thesis, and ask for a 20-minute call.`,
      user: [
        `Company: ${profile.name}`,
        `To: ${greeting(profile)}`,
        `What it does: ${profile.summary}`,
        `Batch: ${profile.batch ?? "unknown"}`,
        `Fit score: ${fit.score} (${fit.thesis})`,
        "Why it fits:",
        ...met,
      ].join("\n"),
    };
  },
  finish(answer, { profile }) {
    const problems: string[] = [];
    if (!answer.body.toLowerCase().includes(profile.name.toLowerCase())) problems.push(`the body does not name ${profile.name}`);
    if (words(answer.body) > 160) problems.push(`the body has ${words(answer.body)} words (at most 160)`);
    if (problems.length) throw new InvalidOutputError(problems);
    return { version: 1, to: greeting(profile), subject: answer.subject.trim(), body: answer.body.trim() };
  },
  rules({ profile, fit, fund }) {
    const why = fit.reasons
      .filter((r) => r.met && r.points > 0)
      .slice(0, 2)
      .map((r) => r.reason);
    const money = profile.funding.total_usd > 0 ? ` and ${usd(profile.funding.total_usd)} raised over ${profile.funding.rounds} rounds` : "";
    const body = [
      `Hi ${greeting(profile)},`,
      "",
      `I lead sourcing at ${fund}. ${profile.name} caught our eye: ${profile.summary.replace(/\.$/, "")}.`,
      `With ${profile.batch ? `a ${profile.batch} Y Combinator batch` : "your track record"}${money}, it fits what we back${why.length ? ` (${why.join("; ")})` : ""}.`,
      "",
      `Would you have 20 minutes in the next two weeks to tell us where ${profile.name} goes next?`,
      "",
      `Best,\n${fund}`,
    ].join("\n");
    return { version: 1, to: greeting(profile), subject: `${profile.name} and ${fund}`, body };
  },
};
