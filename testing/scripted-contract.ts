import { clauseExtractor } from "../flows/contract-review/agents/clause-extractor.js";
import type { Reply } from "./scripted-openai.js";

// A small contract and what a careful model answers about it, per agent: the scripted
// model's answers, shared by the tests that drive the contract-review flow.

export const MODEL = "openai:gpt-4.1-mini";
export const AGENTS = ["clause_extractor", "risk_analyst", "terms_analyst", "summarizer"] as const;
export const CONTRACT = [
  "SUPPLY AGREEMENT",
  "1. Governing Law. This Agreement is governed by the laws of the State of New York.",
  "2. Liability. Nothing in this Agreement limits either party's liability for its indemnification obligations.",
  "3. Payment. Buyer shall pay each invoice within thirty (30) days of receipt.",
].join("\n\n");
const CATEGORY_NAMES = clauseExtractor.rules({ text: "", start: 0, end: 0 }).categories.map((c) => c.name);

export const answers: Record<(typeof AGENTS)[number], unknown> = {
  clause_extractor: {
    categories: CATEGORY_NAMES.map((name) =>
      name === "Governing Law"
        ? { name, present: true, excerpts: ["This Agreement is governed by the laws of the State of New York."], value: "New York" }
        : { name, present: false, excerpts: [], value: null },
    ),
  },
  risk_analyst: { risks: [{ position: "no-liability-cap", severity: "medium", rationale: "No cap." }] },
  terms_analyst: {
    obligations: [],
    payment_terms: ["Buyer shall pay each invoice within thirty (30) days of receipt."],
    minimum_commitments: [],
    liquidated_damages: [],
    renewal: null,
    notice_periods: [],
  },
  summarizer: { summary: "A supply agreement under New York law." },
};
export const ok = (agent: (typeof AGENTS)[number]): Reply => ({ json: answers[agent] });
