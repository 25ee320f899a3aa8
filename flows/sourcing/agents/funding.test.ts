import { describe, expect, it } from "vitest";
import { fundingStage, parseFunding } from "./funding.js";

describe("parseFunding: the CSV's free text of rounds", () => {
  it("a comma with no space is a thousands separator; comma-space separates rounds", () => {
    expect(parseFunding("$3,000,000")).toMatchObject({ total_usd: 3_000_000, rounds: 1, disclosed_rounds: 1 });
    expect(parseFunding("$2800000, $2100000, $1200000")).toMatchObject({ total_usd: 6_100_000, rounds: 3, largest_usd: 2_800_000 });
  });
  it("undisclosed rounds count as rounds but add nothing; unknown text is kept, not guessed", () => {
    expect(parseFunding("undisclosed amount, $1300000, undisclosed amount")).toMatchObject({
      total_usd: 1_300_000,
      rounds: 3,
      disclosed_rounds: 1,
      unparsed: [],
    });
    expect(parseFunding("$1.5M, a lot").unparsed).toEqual(["a lot"]);
    expect(parseFunding("$1.5M").total_usd).toBe(1_500_000);
    expect(parseFunding("")).toMatchObject({ rounds: 0, total_usd: 0 });
  });
  it("stage follows the money", () => {
    expect(fundingStage(parseFunding(""))).toBe("unfunded");
    expect(fundingStage(parseFunding("$20000"))).toBe("pre-seed");
    expect(fundingStage(parseFunding("$1,200,000"))).toBe("seed");
    expect(fundingStage(parseFunding("$4000000, $700000"))).toBe("series-a");
    expect(fundingStage(parseFunding("$27200000, $10700000"))).toBe("growth");
  });
});
