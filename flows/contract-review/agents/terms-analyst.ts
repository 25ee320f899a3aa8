import { z } from "zod";
import { InvalidOutputError, type Agent } from "../../../nodes/agent.js";
import { Excerpt, locateExcerpt, type ClauseExtraction } from "./clause-extractor.js";

export const NoticePeriod = z.object({
  days: z.number().int().nonnegative().describe("The notice period in days"),
  excerpt: Excerpt.describe("The sentence that sets it"),
});

/** The terms analyst's output, kept in state. */
export const TermsReport = z.object({
  version: z.literal(1).describe("Schema version of this output"),
  obligations: z.array(Excerpt).describe("Key obligations of the parties (what a party shall do)"),
  payment_terms: z.array(Excerpt).describe("When and how payment is due"),
  minimum_commitments: z.array(Excerpt).describe("Minimum purchase, volume or spend commitments"),
  liquidated_damages: z.array(Excerpt).describe("Fixed damages or fees owed on breach or termination"),
  renewal: z.string().nullable().describe("The renewal term, if the contract renews"),
  notice_periods: z.array(NoticePeriod).describe("Notice periods the contract sets, in days"),
});
export type TermsReport = z.infer<typeof TermsReport>;

const quotes = (what: string) => z.array(z.string()).describe(`Verbatim quotes of ${what}, at most 5`);
export const TermsAnalystAnswer = z.object({
  obligations: quotes("key obligations"),
  payment_terms: quotes("payment terms"),
  minimum_commitments: quotes("minimum commitments"),
  liquidated_damages: quotes("liquidated damages clauses"),
  renewal: z.string().nullable().describe("The renewal term, or null"),
  notice_periods: z.array(z.object({ days: z.number().int(), quote: z.string() })).describe("Notice periods in days, each with its verbatim sentence"),
});
export type TermsAnalystAnswer = z.infer<typeof TermsAnalystAnswer>;

export interface TermsInput {
  text: string;
  clauses: ClauseExtraction;
}

const MAX_ITEMS = 5;
const MAX_SENTENCE = 600;

/** Sentences of the text with their offsets; long runs without a full stop are cut. */
export function sentences(text: string): Excerpt[] {
  const out: Excerpt[] = [];
  const re = /[^.;\n]+(?:[.;](?!\d)|\n\s*\n|$)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m[0].length === 0) {
      re.lastIndex++;
      continue;
    }
    const raw = m[0];
    const lead = raw.length - raw.trimStart().length;
    const body = raw.trim();
    if (body.length < 20) continue;
    const start = m.index + lead;
    const cut = body.slice(0, MAX_SENTENCE);
    out.push({ text: cut, start, end: start + cut.length });
  }
  return out;
}

const NUMBER_WORDS: Record<string, number> = {
  one: 1,
  two: 2,
  three: 3,
  five: 5,
  seven: 7,
  ten: 10,
  fifteen: 15,
  twenty: 20,
  thirty: 30,
  "forty-five": 45,
  "forty five": 45,
  forty: 40,
  sixty: 60,
  ninety: 90,
};
const UNIT = String.raw`\s*(?:calendar\s+|business\s+)?(days?|months?)['’]?\s+(?:prior\s+|advance\s+)?(?:written\s+)?notice`;
const DIGITS_NOTICE = new RegExp(String.raw`\(?(\d{1,3})\)?` + UNIT, "i");
const WORDS_NOTICE = new RegExp(String.raw`\b(${Object.keys(NUMBER_WORDS).join("|")})` + UNIT, "i");

/** The notice period a sentence sets, in days ("ninety (90) days' prior written notice": 90). */
export function noticeDays(sentence: string): number | undefined {
  const digits = DIGITS_NOTICE.exec(sentence);
  const words = digits ? null : WORDS_NOTICE.exec(sentence);
  const m = digits ?? words;
  if (!m) return undefined;
  const n = digits ? Number(m[1]) : (NUMBER_WORDS[m[1]!.toLowerCase().replace(/-/g, " ")] ?? NUMBER_WORDS[m[1]!.toLowerCase()]);
  if (!n) return undefined;
  return /month/i.test(m[2]!) ? n * 30 : n;
}

const PATTERNS = {
  payment_terms:
    /\b(invoice[sd]?|payable|shall pay|payment[s]? (?:shall|will|is|are) (?:be )?due|net \d+|within \w+ \(?\d*\)?\s*days (?:of|after|from) (?:receipt|the date) of (?:the )?invoice)/i,
  minimum_commitments: /\bminimum (?:purchase|order|annual|quantity|commitment|volume|spend|fee|royalt)/i,
  liquidated_damages: /\b(liquidated damages|termination fee|early termination (?:fee|charge)|break(?:-| )up fee)/i,
  obligations: /\b(?:shall|agrees to|will) (?:provide|deliver|supply|maintain|perform|pay|indemnify|manufacture|purchase|keep)\b/i,
} as const;

export const termsAnalyst: Agent<TermsInput, TermsAnalystAnswer, TermsReport> = {
  name: "terms_analyst",
  version: 1,
  modelOutput: TermsAnalystAnswer,
  output: TermsReport,
  prompt(input) {
    return {
      system:
        "You are a commercial contracts analyst. From the contract, quote verbatim (never paraphrase) the key obligations, payment terms, minimum commitments and liquidated damages; " +
        "state the renewal term; list every notice period in days with its sentence. At most 5 items per list.",
      user: input.text,
    };
  },
  finish(answer, input) {
    const problems: string[] = [];
    const locate = (label: string, qs: string[]) =>
      qs.slice(0, MAX_ITEMS).flatMap((q) => {
        const at = locateExcerpt(input.text, q);
        if (!at) problems.push(`${label}: "${q.slice(0, 60)}" is not in the contract`);
        return at ? [at] : [];
      });
    const out: TermsReport = {
      version: 1,
      obligations: locate("obligations", answer.obligations),
      payment_terms: locate("payment_terms", answer.payment_terms),
      minimum_commitments: locate("minimum_commitments", answer.minimum_commitments),
      liquidated_damages: locate("liquidated_damages", answer.liquidated_damages),
      renewal: answer.renewal,
      notice_periods: answer.notice_periods.slice(0, MAX_ITEMS).flatMap((n) => {
        const at = locateExcerpt(input.text, n.quote);
        if (!at) problems.push(`notice_periods: "${n.quote.slice(0, 60)}" is not in the contract`);
        return at ? [{ days: n.days, excerpt: at }] : [];
      }),
    };
    if (problems.length > 0) throw new InvalidOutputError(problems);
    return out;
  },
  rules(input) {
    const all = sentences(input.text);
    const pick = (re: RegExp) => all.filter((s) => re.test(s.text)).slice(0, MAX_ITEMS);
    const notice: TermsReport["notice_periods"] = [];
    for (const s of all) {
      const days = noticeDays(s.text);
      if (days !== undefined && !notice.some((n) => n.days === days)) notice.push({ days, excerpt: s });
      if (notice.length >= MAX_ITEMS) break;
    }
    const renewal = input.clauses.categories.find((c) => c.name === "Renewal Term");
    return {
      version: 1,
      obligations: pick(PATTERNS.obligations),
      payment_terms: pick(PATTERNS.payment_terms),
      minimum_commitments: pick(PATTERNS.minimum_commitments),
      liquidated_damages: pick(PATTERNS.liquidated_damages),
      renewal: renewal?.present ? (renewal.value ?? renewal.excerpts[0]?.text ?? null) : null,
      notice_periods: notice,
    };
  },
};
