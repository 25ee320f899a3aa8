import { z } from "zod";
import { CATEGORY_NAMES, type CategoryName } from "./categories.js";

export const Severity = z.enum(["low", "medium", "high"]).describe("How much the company cares");
export type Severity = z.infer<typeof Severity>;

/** A company's position on one clause category: a risk when the clause is present (or absent). */
export const Position = z.object({
  id: z.string().min(1).describe("A short stable name, e.g. uncapped-liability"),
  category: z.enum(CATEGORY_NAMES as [CategoryName, ...CategoryName[]]).describe("The clause category it is about"),
  when: z.enum(["present", "absent"]).describe("A risk when the clause is present, or when it is missing"),
  severity: Severity,
  rationale: z.string().min(1).describe("Why it matters to the company"),
});
export type Position = z.infer<typeof Position>;

/** A playbook: the company's positions. `--playbook FILE` (YAML or JSON) replaces the default. */
export const Playbook = z.object({
  name: z.string().min(1).describe("The playbook's name, shown in reports"),
  positions: z.array(Position).min(1).describe("The positions, each judged against every contract"),
});
export type Playbook = z.infer<typeof Playbook>;

export const SEVERITY_POINTS: Record<Severity, number> = { high: 30, medium: 15, low: 5 };

export const DEFAULT_PLAYBOOK: Playbook = {
  name: "opsgraph default",
  positions: [
    {
      id: "uncapped-liability",
      category: "Uncapped Liability",
      when: "present",
      severity: "high",
      rationale: "Some liability is unlimited: a single claim can exceed the contract's value.",
    },
    {
      id: "no-liability-cap",
      category: "Cap On Liability",
      when: "absent",
      severity: "medium",
      rationale: "No limitation of liability: exposure is bounded only by the law.",
    },
    {
      id: "non-compete",
      category: "Non-Compete",
      when: "present",
      severity: "high",
      rationale: "A restriction on competing limits where the company may do business.",
    },
    {
      id: "no-termination-for-convenience",
      category: "Termination For Convenience",
      when: "absent",
      severity: "medium",
      rationale: "No termination for convenience: the company cannot leave without cause.",
    },
    {
      id: "exclusivity",
      category: "Exclusivity",
      when: "present",
      severity: "medium",
      rationale: "Exclusive dealing forbids working with other suppliers or customers.",
    },
    {
      id: "change-of-control",
      category: "Change Of Control",
      when: "present",
      severity: "medium",
      rationale: "A merger or sale of the company lets the counterparty terminate or needs its consent.",
    },
    {
      id: "liquidated-damages",
      category: "Liquidated Damages",
      when: "present",
      severity: "medium",
      rationale: "Fixed damages or fees are owed on breach or early termination.",
    },
    {
      id: "ip-assignment",
      category: "Ip Ownership Assignment",
      when: "present",
      severity: "medium",
      rationale: "Intellectual property created under the contract passes to the counterparty.",
    },
    { id: "auto-renewal", category: "Renewal Term", when: "present", severity: "low", rationale: "The contract renews unless someone gives notice in time." },
    {
      id: "anti-assignment",
      category: "Anti-Assignment",
      when: "present",
      severity: "low",
      rationale: "Assigning the contract needs consent, which can block a reorganisation.",
    },
    {
      id: "most-favored-nation",
      category: "Most Favored Nation",
      when: "present",
      severity: "low",
      rationale: "Better terms given to others must be extended here.",
    },
    { id: "audit-rights", category: "Audit Rights", when: "present", severity: "low", rationale: "The counterparty may audit books or premises." },
    {
      id: "no-governing-law",
      category: "Governing Law",
      when: "absent",
      severity: "low",
      rationale: "No governing law: disputes start with a fight over which law applies.",
    },
  ],
};
