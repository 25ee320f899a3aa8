/**
 * The clause categories opsgraph's contract review looks for. They follow the
 * CUAD v1 label set (The Atticus Project); the descriptions are our own
 * summaries, not the upstream wording.
 *
 * "core" categories are the ones the review is measured on; "extended"
 * categories are reported but not part of the headline score.
 */
export const CATEGORIES = [
  {
    name: "Governing Law",
    tier: "core",
    description: "Which jurisdiction's law the contract says applies to it.",
    hasValue: true,
  },
  {
    name: "Termination For Convenience",
    tier: "core",
    description: "A party may end the contract without cause, just by giving notice (and waiting out any notice period).",
    hasValue: false,
  },
  {
    name: "Cap On Liability",
    tier: "core",
    description: "Liability for breach is limited: a maximum amount, an exclusion of kinds of damages, or a deadline for bringing claims.",
    hasValue: true,
  },
  {
    name: "Uncapped Liability",
    tier: "core",
    description: "Some liability is left unlimited, typically carve-outs from the liability cap (indemnity, confidentiality, IP infringement).",
    hasValue: false,
  },
  {
    name: "Non-Compete",
    tier: "core",
    description: "A party is restricted from competing, or from operating in a business, field or territory.",
    hasValue: false,
  },
  {
    name: "Exclusivity",
    tier: "core",
    description: "An exclusive dealing commitment: exclusive rights or appointment, buying all requirements from one party, or a ban on dealing with others.",
    hasValue: false,
  },
  {
    name: "Change Of Control",
    tier: "core",
    description: "A merger, acquisition or change in ownership of a party triggers a termination right, or needs the other party's consent or notice.",
    hasValue: false,
  },
  {
    name: "Anti-Assignment",
    tier: "core",
    description: "Assigning or transferring the contract needs the other party's consent or notice, or is forbidden.",
    hasValue: false,
  },
  {
    name: "Renewal Term",
    tier: "core",
    description: "How the contract renews or extends after its initial term, and for how long.",
    hasValue: true,
  },
  {
    name: "Liquidated Damages",
    tier: "core",
    description: "A pre-agreed sum payable on breach, or a fee payable on (early) termination.",
    hasValue: false,
  },
  {
    name: "Audit Rights",
    tier: "core",
    description: "A party may audit or inspect the other's books, records or premises to check compliance.",
    hasValue: false,
  },
  {
    name: "Ip Ownership Assignment",
    tier: "core",
    description: "Intellectual property created by one party becomes owned by the other party.",
    hasValue: false,
  },
  {
    name: "Most Favored Nation",
    tier: "extended",
    description: "A party is entitled to terms at least as good as those given to any third party.",
    hasValue: false,
  },
  {
    name: "Revenue/Profit Sharing",
    tier: "extended",
    description: "A party must share revenue, profit or royalties with the other.",
    hasValue: false,
  },
] as const;

export type Category = (typeof CATEGORIES)[number];
export type CategoryName = Category["name"];
export type CategoryTier = Category["tier"];

export const CATEGORY_NAMES: readonly CategoryName[] = CATEGORIES.map((c) => c.name);

export const CORE_CATEGORY_NAMES: readonly CategoryName[] = CATEGORIES.filter((c) => c.tier === "core").map((c) => c.name);

export function isCategoryName(name: string): name is CategoryName {
  return (CATEGORY_NAMES as readonly string[]).includes(name);
}
