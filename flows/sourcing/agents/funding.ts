import type { Funding, FundingStage } from "./company.js";

/**
 * Reads the free text of funding rounds: "$1200000, undisclosed amount", "$3,000,000",
 * "$1.5M". Rounds are separated by a comma and a space; a comma inside a number (a thousands
 * separator) has no space after it, so "$3,000,000" is one round.
 */
export function parseFunding(text: string): Funding {
  const parts = text
    .split(/,\s+|;\s*/)
    .map((p) => p.trim())
    .filter(Boolean);
  const amounts: number[] = [];
  const unparsed: string[] = [];
  let undisclosed = 0;
  for (const part of parts) {
    const amount = parseAmount(part);
    if (amount !== null) amounts.push(amount);
    else if (/undisclosed|unknown|n\/a/i.test(part)) undisclosed++;
    else unparsed.push(part);
  }
  return {
    total_usd: amounts.reduce((a, b) => a + b, 0),
    rounds: amounts.length + undisclosed,
    disclosed_rounds: amounts.length,
    largest_usd: amounts.length ? Math.max(...amounts) : 0,
    unparsed,
  };
}

const SCALE: Record<string, number> = { k: 1e3, m: 1e6, b: 1e9 };

/** "$1,200,000", "$1.2M", "1200000 USD" -> dollars; anything else -> null. */
export function parseAmount(s: string): number | null {
  const m = /^(?:US)?\$?\s*([\d][\d,]*(?:\.\d+)?)\s*([kmb](?:illion)?)?\s*(?:usd)?$/i.exec(s.trim());
  if (!m) return null;
  const n = Number(m[1]!.replace(/,/g, ""));
  if (!Number.isFinite(n)) return null;
  return n * (m[2] ? SCALE[m[2][0]!.toLowerCase()]! : 1);
}

/** The funding stage the rounds say: what a sourcing team would call it. */
export function fundingStage(f: Funding): FundingStage {
  if (f.rounds === 0) return "unfunded";
  if (f.total_usd >= 15_000_000 || f.largest_usd >= 10_000_000) return "growth";
  if (f.total_usd >= 4_000_000) return "series-a";
  if (f.total_usd >= 500_000 || f.rounds >= 2) return "seed";
  return "pre-seed";
}
