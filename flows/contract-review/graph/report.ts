import type { Excerpt } from "../agents/clause-extractor.js";
import type { ContractReviewState } from "./state.js";

/** Agents answered by a tier other than the first one configured for them, said plainly at the top. */
function degraded(state: ContractReviewState, primaryTier: (agent: string) => string): string | null {
  const fallbacks = Object.entries(state.produced_by ?? {}).filter(([agent, tier]) => tier !== primaryTier(agent));
  return fallbacks.length ? fallbacks.map(([agent, tier]) => `${agent} answered by ${tier}`).join(", ") : null;
}

const oneLine = (s: string) => s.replace(/\s+/g, " ").trim();
const quote = (s: string) => `> ${oneLine(s)}`;

/**
 * The review as Markdown: findings first, each linked to its excerpt in the Excerpts
 * section (anchors `e-<start>-<end>`, with the character offsets into the contract).
 */
export function renderReport(state: ContractReviewState, primaryTier: (agent: string) => string): string {
  const anchor = (e: Excerpt) => `e-${e.start}-${e.end}`;
  const link = (e: Excerpt) => `[chars ${e.start}-${e.end}](#${anchor(e)})`;
  const excerpts = new Map<string, Excerpt>();
  const cite = (list: Excerpt[]) => {
    for (const e of list) excerpts.set(anchor(e), e);
    return list.map(link).join(", ");
  };
  const d = state.decision!;
  const lines = [
    `# Contract review: ${state.source ?? "contract"}`,
    "",
    `- Decision: **${d.decision}** (${d.by}${d.note ? `: ${oneLine(d.note)}` : ""})`,
    `- Risk score: ${state.risks!.risk_score}/100 (review threshold ${d.threshold})`,
    `- Length: ${state.chars} characters`,
    ...(degraded(state, primaryTier) ? [`- Degraded (fallback tiers answered): ${degraded(state, primaryTier)}`] : []),
    "",
    "## Summary",
    "",
    state.summary!.summary,
    "",
    "## Risks",
    "",
  ];
  if (state.risks!.risks.length === 0) lines.push("No risks against the playbook.");
  for (const r of state.risks!.risks) {
    lines.push(`- **${r.severity}** ${r.category}: ${oneLine(r.rationale)}${r.clauses.length ? ` (${cite(r.clauses)})` : ""}`);
  }
  lines.push("", "## Who answered", "", "| agent | tier |", "|---|---|");
  for (const [agent, tier] of Object.entries(state.produced_by ?? {})) lines.push(`| ${agent} | ${tier} |`);
  lines.push("", "## Clauses", "", "| category | present | value | excerpts |", "|---|---|---|---|");
  for (const c of state.clauses!.categories) {
    lines.push(`| ${c.name} | ${c.present ? "yes" : "no"} | ${c.value ? oneLine(c.value).replace(/\|/g, "\\|") : ""} | ${cite(c.excerpts)} |`);
  }
  const t = state.terms!;
  lines.push("", "## Terms", "");
  const termList = (label: string, list: Excerpt[]) => lines.push(`- ${label}: ${list.length ? cite(list) : "none found"}`);
  termList("Payment terms", t.payment_terms);
  termList("Minimum commitments", t.minimum_commitments);
  termList("Liquidated damages", t.liquidated_damages);
  termList("Obligations", t.obligations);
  lines.push(`- Renewal: ${t.renewal ? oneLine(t.renewal) : "none"}`);
  lines.push(`- Notice periods: ${t.notice_periods.length ? t.notice_periods.map((n) => `${n.days} days (${cite([n.excerpt])})`).join(", ") : "none found"}`);
  lines.push("", "## Excerpts", "");
  for (const [id, e] of [...excerpts].sort((a, b) => a[1].start - b[1].start)) {
    lines.push(`<a id="${id}"></a>**chars ${e.start}-${e.end}**`, "", quote(e.text), "");
  }
  return lines.join("\n");
}
