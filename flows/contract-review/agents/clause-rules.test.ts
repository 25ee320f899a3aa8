import { describe, it, expect } from "vitest";
import { CATEGORIES, CATEGORY_NAMES, CORE_CATEGORY_NAMES, type CategoryName } from "./categories.js";
import { extractClausesByRules, MAX_EXCERPT_CHARS, type ClauseFinding } from "./clause-rules.js";

function finding(text: string, name: CategoryName): ClauseFinding {
  const f = extractClausesByRules(text).find((x) => x.name === name);
  if (!f) throw new Error(`no finding for ${name}`);
  return f;
}

function expectVerbatim(text: string, findings: ClauseFinding[]) {
  for (const f of findings) {
    for (const e of f.excerpts) {
      expect(e.text).toBe(text.slice(e.start, e.end));
      expect(e.text).toBe(e.text.trim());
      expect(e.text.length).toBeLessThanOrEqual(MAX_EXCERPT_CHARS);
    }
    expect(f.excerpts.length).toBeLessThanOrEqual(3);
  }
}

// Hand-written snippets: [category, clause that should be detected, nearby clause that should not].
const CASES: [CategoryName, string, string][] = [
  [
    "Governing Law",
    "12.3 This Supply Agreement will be governed by and construed under the laws of the State of Oregon, excluding its conflict of laws rules.",
    "Acme Widgets, Inc., a company organized under the laws of the State of Oregon, makes widgets.",
  ],
  [
    "Termination For Convenience",
    "Either party may terminate this Agreement for convenience by giving the other party sixty (60) days' prior written notice.",
    "Either party may terminate this Agreement upon thirty (30) days' written notice if the other party materially breaches it and fails to cure the breach.",
  ],
  [
    "Cap On Liability",
    "In no event shall the aggregate liability of the Seller under this Agreement exceed the fees paid by the Buyer in the twelve (12) months before the claim.",
    "The Seller shall deliver the goods to the Buyer's warehouse within ten days of each order.",
  ],
  [
    "Uncapped Liability",
    "Except for a party's indemnification obligations under Section 9 and breaches of Section 11 (Confidentiality), neither party shall be liable for any indirect or consequential damages.",
    "The Buyer shall pay each invoice within thirty days of receipt.",
  ],
  [
    "Non-Compete",
    "During the Term and for one year after it ends, the Consultant shall not, directly or indirectly, engage in any business that competes with the Company in the Territory.",
    "The Consultant shall perform the Services in a professional manner and in line with industry practice.",
  ],
  [
    "Exclusivity",
    "The Manufacturer hereby appoints the Reseller as its exclusive distributor of the Products in Canada for the Term.",
    "The Manufacturer grants the Reseller a non-exclusive license to use the Manufacturer's logos to market the Products.",
  ],
  [
    "Change Of Control",
    "If the Vendor undergoes a change of control, the Customer may terminate this Agreement by written notice to the Vendor.",
    "The Vendor shall keep the Customer informed of the progress of the work each month.",
  ],
  [
    "Anti-Assignment",
    "The Licensee shall not assign this Agreement or any of its rights under it without the prior written consent of the Licensor.",
    "The Licensee shall appoint a project manager who will coordinate with the Licensor's staff.",
  ],
  [
    "Renewal Term",
    "After the Initial Term, this Agreement shall automatically renew for successive one (1) year periods unless either party gives notice of non-renewal.",
    "The initial term of this Agreement is three (3) years from the Effective Date.",
  ],
  [
    "Liquidated Damages",
    "If the Contractor misses the completion date, it shall pay the Owner five hundred dollars per day of delay as liquidated damages and not as a penalty.",
    "The Contractor shall complete the works by the completion date set out in Schedule 1.",
  ],
  [
    "Audit Rights",
    "The Licensor may, upon fifteen days' notice and during normal business hours, audit the books and records of the Licensee relating to the royalties due hereunder.",
    "The Licensee shall send the Licensor a royalty statement with each quarterly payment.",
  ],
  [
    "Ip Ownership Assignment",
    "The Developer hereby assigns to the Client all right, title and interest in and to the Deliverables and all intellectual property rights in them.",
    "Each party keeps ownership of the materials it owned before the Effective Date.",
  ],
  [
    "Most Favored Nation",
    "If the Supplier offers any other customer prices more favorable than those in this Agreement, the Supplier shall offer the same prices to the Buyer.",
    "The prices for the Products are set out in Exhibit B.",
  ],
  [
    "Revenue/Profit Sharing",
    "The Publisher shall pay the Author a royalty equal to ten percent (10%) of the net sales of the Work.",
    "The Publisher shall print the Work on acid-free paper.",
  ],
];

describe("extractClausesByRules", () => {
  it("returns one finding per category, in CATEGORIES order", () => {
    const findings = extractClausesByRules("This is a short letter with nothing contractual in it.");
    expect(findings.map((f) => f.name)).toEqual(CATEGORY_NAMES);
    expect(CATEGORY_NAMES).toHaveLength(14);
    expect(CORE_CATEGORY_NAMES).toHaveLength(12);
    expect(CATEGORIES.filter((c) => c.tier === "extended").map((c) => c.name)).toEqual(["Most Favored Nation", "Revenue/Profit Sharing"]);
  });

  it("finds nothing in text with no clauses", () => {
    const text =
      "Meeting notes, 3 March. The team reviewed the quarterly roadmap. Marketing will draft the launch post. " +
      "Engineering expects the beta build next week.\n\nNext meeting: Tuesday at 10am in room 4.";
    for (const f of extractClausesByRules(text)) {
      expect(f.present, f.name).toBe(false);
      expect(f.excerpts).toEqual([]);
      expect(f.value).toBeNull();
    }
    expect(extractClausesByRules("").every((f) => !f.present)).toBe(true);
  });

  for (const [name, positive, negative] of CASES) {
    describe(name, () => {
      it("detects the clause", () => {
        const text = `ARTICLE 7\n\n${positive}\n\nPage 4 of 12\n`;
        const f = finding(text, name);
        expect(f.present).toBe(true);
        expect(f.excerpts.length).toBeGreaterThan(0);
        const first = f.excerpts[0];
        expect(first?.text).toBe(text.slice(first?.start, first?.end));
        expect(text.slice(first?.start, first?.end)).toContain(positive.slice(0, 20));
      });
      it("ignores a similar clause that is not one", () => {
        const f = finding(`${negative}\n`, name);
        expect(f.present).toBe(false);
        expect(f.excerpts).toEqual([]);
        expect(f.value).toBeNull();
      });
    });
  }

  it("returns excerpts that are verbatim slices of the input, with odd whitespace and redactions", () => {
    const text =
      "EXHIBIT 10.2\n\n   14.1   Neither party may assign this\nAgreement  without the prior written   consent of the other party [***].\n" +
      "Source: ACME CORP, 10-K, 3/1/2020\n\n14.2 This Agreement shall be governed by the laws of the\nState of New York.  " +
      "😀 The Term shall automatically renew for successive one (1) year periods.";
    const findings = extractClausesByRules(text);
    expectVerbatim(text, findings);
    expect(findings.find((f) => f.name === "Anti-Assignment")?.present).toBe(true);
    expect(findings.find((f) => f.name === "Governing Law")?.value).toBe("New York");
    expect(findings.find((f) => f.name === "Renewal Term")?.value).toBe("successive one (1) year periods");
  });

  it("keeps long sentences to a bounded excerpt around the match", () => {
    const filler = "the parties shall cooperate in good faith on the matters described in the schedules, ".repeat(20);
    const text = `${filler}and this Agreement shall be governed by the laws of the State of Delaware, ${filler}end.`;
    const f = finding(text, "Governing Law");
    expect(f.present).toBe(true);
    expectVerbatim(text, [f]);
    expect(f.excerpts[0]?.text).toContain("laws of the State of Delaware");
  });

  describe("values", () => {
    it.each([
      ["This Agreement shall be governed by and construed in accordance with the laws of England and Wales.", "England and Wales"],
      ["THIS AGREEMENT SHALL BE GOVERNED BY THE INTERNAL LAWS OF THE COMMONWEALTH OF MASSACHUSETTS.", "Massachusetts"],
      ["This Agreement is governed by English law.", "England"],
      ["This Agreement shall be construed under the laws of the Province of Ontario.", "Ontario"],
    ])("governing law: %s", (text, value) => {
      expect(finding(text, "Governing Law").value).toBe(value);
    });

    it.each([
      ["This Agreement shall automatically renew for successive one (1) year periods unless terminated.", "successive one (1) year periods"],
      [
        "The initial term is five (5) years, and the Agreement will thereafter be automatically extended for additional two (2) year terms.",
        "additional two (2) year terms",
      ],
      ["Unless either party gives ninety (90) days' notice, this Agreement shall continue on a year to year basis.", "on a year to year basis"],
    ])("renewal term: %s", (text, value) => {
      expect(finding(text, "Renewal Term").value).toBe(value);
    });

    it.each([
      ["In no event shall either party's total liability under this Agreement exceed $1,000,000.", "$1,000,000"],
      [
        "Each party's aggregate liability shall not exceed the fees paid by the Customer in the twelve (12) months before the claim.",
        "the fees paid by the Customer in the twelve (12) months before the claim",
      ],
    ])("cap on liability: %s", (text, value) => {
      expect(finding(text, "Cap On Liability").value).toBe(value);
    });

    it("has no cap value when the clause only excludes kinds of damages", () => {
      const f = finding("Neither party shall be liable for any indirect or consequential damages.", "Cap On Liability");
      expect(f.present).toBe(true);
      expect(f.value).toBeNull();
    });
  });

  it("is deterministic", () => {
    const text = CASES.map((c) => c[1]).join("\n\n");
    expect(extractClausesByRules(text)).toEqual(extractClausesByRules(text));
    const findings = extractClausesByRules(text);
    expectVerbatim(text, findings);
    expect(findings.every((f) => f.present)).toBe(true);
  });

  it("handles a long contract quickly", () => {
    const text = CASES.map((c) => `${c[1]} ${c[2]}`)
      .join("\n\n")
      .repeat(120);
    expect(text.length).toBeGreaterThan(200_000);
    const t0 = performance.now();
    extractClausesByRules(text);
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});
