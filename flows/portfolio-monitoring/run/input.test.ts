import path from "node:path";
import { describe, expect, it } from "vitest";
import { InputError } from "../../../runtime/errors.js";
import { parsePortfolioInput, portfolioInputFromFlags, PortfolioFile } from "./input.js";

const FILE = "/srv/portfolios/airlines.yaml";

describe("portfolio file", () => {
  it("parses YAML: tickers upper-cased and unique, paths relative to the file, period week by default", () => {
    const input = parsePortfolioInput(
      [
        "year: 2014",
        "companies:",
        "  - aal",
        "  - { ticker: DAL, sector: Airlines }",
        "  - AAL",
        "sources:",
        "  fundamentals: ../data/fundamentals.csv",
        "  kpis: kpis",
        "  postgres: { table: finance.facts }",
      ].join("\n"),
      FILE,
    );
    expect(input).toEqual({
      name: "airlines",
      year: 2014,
      period: "week",
      companies: [{ ticker: "AAL" }, { ticker: "DAL", sector: "Airlines" }],
      sources: { fundamentals: "/srv/data/fundamentals.csv", kpis: "/srv/portfolios/kpis", postgres: { table: "finance.facts" } },
    });
  });

  it("parses JSON too", () => {
    expect(parsePortfolioInput('{"name": "x", "period": "month", "companies": ["KO"], "sources": {"kpis": "/k"}}', FILE)).toMatchObject({
      name: "x",
      period: "month",
      sources: { kpis: "/k" },
    });
  });

  it.each([
    ["companies: []\nsources: { kpis: k }", /airlines\.yaml: companies: name at least one company/],
    ["companies: [AAL]\nsources: {}", /airlines\.yaml: sources: name at least one of fundamentals, kpis or postgres/],
    ["companies: [../etc]\nsources: { kpis: k }", /airlines\.yaml: companies\.0: /],
    ["companies: [AAL]\nperiod: year\nsources: { kpis: k }", /airlines\.yaml: period: /],
    ["companies: [AAL\nsources", /airlines\.yaml: not valid YAML or JSON/],
  ])("rejects a bad file in one line naming the field: %s", (text, message) => {
    const run = () => parsePortfolioInput(text, FILE);
    expect(run).toThrow(InputError);
    expect(run).toThrow(message);
    try {
      run();
    } catch (e) {
      expect((e as Error).message).not.toContain("\n");
    }
  });

  it("describes every field of its schema for Studio", () => {
    const fields = [...Object.entries(PortfolioFile.shape), ...Object.entries(PortfolioFile.shape.sources.shape)];
    for (const [name, field] of fields) expect(field.description, name).toBeTruthy();
  });
});

describe("portfolio flags", () => {
  it("builds the same shape from --fundamentals --tickers --year --kpis", () => {
    expect(portfolioInputFromFlags({ fundamentals: "data/f.csv", tickers: "aal, DAL,,", year: 2014, kpis: "k" }, "/home/me")).toEqual({
      name: "portfolio",
      year: 2014,
      period: "week",
      companies: [{ ticker: "AAL" }, { ticker: "DAL" }],
      sources: { fundamentals: path.resolve("/home/me/data/f.csv"), kpis: "/home/me/k" },
    });
  });

  it("names the flag at fault", () => {
    expect(() => portfolioInputFromFlags({ tickers: "AAL" }, "/")).toThrow("--fundamentals or --kpis: name at least one of fundamentals, kpis or postgres");
    expect(() => portfolioInputFromFlags({ fundamentals: "f.csv", tickers: " " }, "/")).toThrow("--tickers: name at least one company");
  });
});
