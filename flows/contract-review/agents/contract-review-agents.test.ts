import { describe, expect, it } from "vitest";
import { InvalidOutputError } from "../../../nodes/agent.js";
import { CATEGORIES } from "./categories.js";
import { clauseExtractor, locateExcerpt, type ClauseExtraction } from "./clause-extractor.js";
import { DEFAULT_PLAYBOOK, type Playbook } from "./playbook.js";
import { riskAnalyst } from "./risk-analyst.js";
import { summarizer } from "./summarizer.js";
import { noticeDays, sentences, termsAnalyst } from "./terms-analyst.js";

const CONTRACT = [
  "1. Governing Law. This Agreement shall be governed by the laws of the State of New York.",
  "2. Fees. Customer shall pay all invoices within thirty (30) days of receipt of the invoice.",
  "3. Minimum Purchase. Customer agrees to a minimum purchase of 10,000 units per year.",
  "4. Early Termination. If Customer terminates early, Customer shall pay an early termination fee of $50,000 as liquidated damages.",
  "5. Term. Either party may terminate this Agreement upon ninety (90) days' prior written notice to the other party.",
  "6. Renewal. This Agreement renews automatically for successive one (1) year terms unless either party gives notice of non-renewal.",
].join("\n\n");

function extraction(present: Record<string, boolean>): ClauseExtraction {
  return {
    version: 1,
    categories: CATEGORIES.map(({ name }) => ({
      name,
      present: present[name] ?? false,
      excerpts: present[name] ? [{ text: "clause", start: 0, end: 6 }] : [],
      value: null,
    })),
  };
}

describe("clause extractor", () => {
  it("finds a quote in the text despite different white space, and refuses one that is not there", () => {
    const text = "The  parties\nagree to   arbitrate.";
    const at = locateExcerpt(text, "The parties agree to arbitrate.")!;
    expect(text.slice(at.start, at.end)).toBe(at.text);
    expect(locateExcerpt(text, "The parties agree to litigate.")).toBeUndefined();
  });

  it("rejects a model answer quoting text the contract does not contain", () => {
    const answer = {
      categories: [{ name: "Governing Law" as const, present: true, excerpts: ["governed by the laws of Texas"], value: "Texas" }],
    };
    expect(() => clauseExtractor.finish(answer, { text: CONTRACT, start: 0, end: CONTRACT.length })).toThrow(InvalidOutputError);
  });

  it("turns a model's quotes into excerpts with offsets into the whole contract", () => {
    const answer = {
      categories: [{ name: "Governing Law" as const, present: true, excerpts: ["governed by the laws of the State of New York"], value: "New York" }],
    };
    const out = clauseExtractor.finish(answer, { text: CONTRACT, start: 0, end: CONTRACT.length });
    const law = out.categories.find((c) => c.name === "Governing Law")!;
    expect(CONTRACT.slice(law.excerpts[0]!.start, law.excerpts[0]!.end)).toBe("governed by the laws of the State of New York");
    expect(out.categories.filter((c) => c.present)).toHaveLength(1);
  });

  it("splits a long contract into overlapping chunks that cover all of it, and merges their findings", () => {
    const text = "x".repeat(150_000);
    const parts = clauseExtractor.split!({ text, start: 0, end: text.length });
    expect(parts.length).toBe(3);
    expect(parts[0]!.start).toBe(0);
    expect(parts.at(-1)!.end).toBe(text.length);
    for (let i = 1; i < parts.length; i++) expect(parts[i]!.start).toBeLessThan(parts[i - 1]!.end);
    const a = extraction({ "Governing Law": true });
    const b = extraction({ "Audit Rights": true });
    const merged = clauseExtractor.merge!([a, b], { text, start: 0, end: text.length });
    expect(merged.categories.filter((c) => c.present).map((c) => c.name)).toEqual(["Governing Law", "Audit Rights"]);
    // the same excerpt found by two overlapping chunks is kept once
    expect(clauseExtractor.merge!([a, a], { text, start: 0, end: text.length }).categories[0]!.excerpts).toHaveLength(1);
  });

  it("rules: finds governing law with its jurisdiction", () => {
    const out = clauseExtractor.rules({ text: CONTRACT, start: 0, end: CONTRACT.length });
    const law = out.categories.find((c) => c.name === "Governing Law")!;
    expect(law.present).toBe(true);
    expect(law.value).toBe("New York");
  });
});

describe("risk analyst (rules)", () => {
  it("raises a risk for each playbook position whose clause is present (or absent), scored by severity", () => {
    const out = riskAnalyst.rules({
      clauses: extraction({ "Uncapped Liability": true, "Cap On Liability": true, "Termination For Convenience": true, "Governing Law": true }),
      playbook: DEFAULT_PLAYBOOK,
    });
    expect(out.risks.map((r) => r.position)).toEqual(["uncapped-liability"]);
    expect(out.risk_score).toBe(30);
    expect(out.risks[0]!.clauses).toHaveLength(1);
  });

  it("treats a missing clause as a risk when the position says absent, with no clause to cite", () => {
    const out = riskAnalyst.rules({ clauses: extraction({ "Governing Law": true, "Termination For Convenience": true }), playbook: DEFAULT_PLAYBOOK });
    const cap = out.risks.find((r) => r.position === "no-liability-cap")!;
    expect(cap.severity).toBe("medium");
    expect(cap.clauses).toEqual([]);
    expect(out.risk_score).toBe(15);
  });

  it("caps the score at 100 and sorts the most severe first", () => {
    const all = Object.fromEntries(CATEGORIES.map((c) => [c.name, true]));
    const out = riskAnalyst.rules({ clauses: extraction(all), playbook: DEFAULT_PLAYBOOK });
    expect(out.risk_score).toBe(100);
    expect(out.risks[0]!.severity).toBe("high");
    expect(out.risks.at(-1)!.severity).toBe("low");
  });

  it("follows a company's own playbook", () => {
    const playbook: Playbook = {
      name: "audit-averse",
      positions: [{ id: "audit", category: "Audit Rights", when: "present", severity: "high", rationale: "No audits." }],
    };
    expect(riskAnalyst.rules({ clauses: extraction({ "Audit Rights": true }), playbook }).risk_score).toBe(30);
    expect(riskAnalyst.rules({ clauses: extraction({}), playbook }).risks).toEqual([]);
  });

  it("rejects a model answer naming a position the playbook does not have", () => {
    expect(() =>
      riskAnalyst.finish({ risks: [{ position: "made-up", severity: "high", rationale: "?" }] }, { clauses: extraction({}), playbook: DEFAULT_PLAYBOOK }),
    ).toThrow(InvalidOutputError);
  });
});

describe("terms analyst (rules)", () => {
  const out = termsAnalyst.rules({ text: CONTRACT, clauses: clauseExtractor.rules({ text: CONTRACT, start: 0, end: CONTRACT.length }) });

  it("finds payment terms, minimum commitments and liquidated damages as verbatim excerpts", () => {
    expect(out.payment_terms.map((e) => e.text).join(" ")).toContain("within thirty (30) days of receipt");
    expect(out.minimum_commitments[0]!.text).toContain("minimum purchase of 10,000 units");
    expect(out.liquidated_damages[0]!.text).toContain("liquidated damages");
    for (const e of [...out.payment_terms, ...out.minimum_commitments, ...out.liquidated_damages, ...out.obligations]) {
      expect(CONTRACT.slice(e.start, e.end)).toBe(e.text);
    }
  });

  it("reads notice periods in days, in words or digits", () => {
    expect(out.notice_periods.map((n) => n.days)).toContain(90);
  });

  it("takes the renewal term from the clause extractor", () => {
    expect(out.renewal).toMatch(/one \(1\) year/);
  });

  it("finds nothing in a text without terms", () => {
    const none = termsAnalyst.rules({ text: "This page intentionally left blank for the purposes of formatting.", clauses: extraction({}) });
    expect(none).toMatchObject({ payment_terms: [], minimum_commitments: [], liquidated_damages: [], notice_periods: [], renewal: null });
  });

  it("splits sentences with exact offsets", () => {
    for (const s of sentences(CONTRACT)) expect(CONTRACT.slice(s.start, s.end)).toBe(s.text);
  });
});

describe("summarizer (rules)", () => {
  it("summarises the clauses found, the risk score and the high risks", () => {
    const clauses = clauseExtractor.rules({ text: CONTRACT, start: 0, end: CONTRACT.length });
    const risks = riskAnalyst.rules({ clauses, playbook: DEFAULT_PLAYBOOK });
    const terms = termsAnalyst.rules({ text: CONTRACT, clauses });
    const { summary } = summarizer.rules({ source: "supply.txt", clauses, risks, terms });
    expect(summary).toContain("supply.txt:");
    expect(summary).toContain("governed by the law of New York");
    expect(summary).toContain(`Risk score ${risks.risk_score}/100`);
    expect(summary).toContain("90 days");
  });
});

describe("notice periods", () => {
  it.each([
    ["upon ninety (90) days' prior written notice", 90],
    ["on 30 days notice to the other party", 30],
    ["by giving sixty days' written notice", 60],
    ["with three (3) months' prior written notice", 90],
    ["at least forty-five days advance notice", 45],
  ])("reads %s as %i days", (sentence, days) => {
    expect(noticeDays(sentence)).toBe(days);
  });
});
