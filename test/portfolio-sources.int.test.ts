import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { flagIssues } from "../flows/portfolio-monitoring/agents/issue-flagger.js";
import { kpiAnalyst } from "../flows/portfolio-monitoring/agents/kpi-analyst.js";
import { collectMetrics, type PortfolioDataSource } from "../flows/portfolio-monitoring/agents/metrics-collector.js";
import { InputError } from "../runtime/errors.js";
import { readPortfolioInput } from "../flows/portfolio-monitoring/run/input.js";
import { fundamentalsCsvSource, kpiDirectorySource, openPortfolioSource, postgresSource } from "../flows/portfolio-monitoring/run/sources.js";
import { useFreshDatabase } from "./support/database.js";
import { ROOT } from "./support/cli.js";

const FUNDAMENTALS = path.join(ROOT, "test", "fixtures", "portfolio", "fundamentals.csv");
const TWENTY = [
  "FJRD",
  "ORBX",
  "QSFT",
  "PTRN",
  "HLBK",
  "BZRL",
  "CRDN",
  "FZWL",
  "VLXA",
  "KSTR",
  "PLVR",
  "TERN",
  "DSHR",
  "WRLK",
  "QNTN",
  "HMBK",
  "GLNM",
  "FRNH",
  "SDPL",
  "MDHL",
];

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "opsgraph-portfolio-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
function write(rel: string, text: string): string {
  const file = path.join(tmp, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return file;
}

/** Daily `timestamp,value` rows over 16 weeks from Monday 2024-01-01, with week 12 three times the rest. */
function spikySeries(): string {
  const rows = ["timestamp,value"];
  for (let d = 0; d < 16 * 7; d++) {
    const day = new Date(Date.UTC(2024, 0, 1 + d)).toISOString().slice(0, 10);
    rows.push(`${day} 12:00:00,${Math.floor(d / 7) === 12 ? 300 : 100 + (d % 5)}`);
  }
  return rows.join("\n");
}

async function review(ticker: string, source: PortfolioDataSource, year?: number) {
  const metrics = await collectMetrics(ticker, source, year === undefined ? {} : { year });
  if (!metrics) return null;
  const analysis = kpiAnalyst.rules({ metrics, ...(year !== undefined && { year }) });
  return { metrics, analysis, flags: flagIssues({ company: metrics.company, analysis }).flags };
}

describe("fundamentals CSV: the invented fixture file", () => {
  const source = fundamentalsCsvSource({ file: FUNDAMENTALS });

  it("reviews 20 companies for 2014 and flags FJRD's revenue jump from its merger", async () => {
    const results = await Promise.all(TWENTY.map((t) => review(t, source, 2014)));
    expect(results.every((r) => r !== null)).toBe(true);
    for (const r of results) expect(r!.flags.length).toBeLessThanOrEqual(6);
    const fjrd = results[0]!;
    expect(fjrd.metrics.company).toEqual({ ticker: "FJRD", name: "Fjordair Group", sector: "Industrials" });
    const jump = fjrd.flags.find((f) => f.metric === "total_revenue");
    expect(jump).toMatchObject({ period: "2014", change_pct: 59.5, evidence: "total_revenue 21,400M (2013) -> 34,133M (2014), +59.5%" });
    expect(["high", "medium"]).toContain(jump?.severity);
    // the flags stay readable: a few per company, not every computed figure
    const total = results.reduce((n, r) => n + r!.flags.length, 0);
    expect(total).toBeGreaterThan(5);
    expect(total).toBeLessThan(60);
  });

  it("returns null for a ticker the file does not have", async () => {
    expect(await review("GE", source)).toBeNull();
  });

  it("gives one row per fiscal year, oldest first, even where For Year repeats (MDHL)", async () => {
    expect((await source.annual("MDHL")).map((a) => a.period)).toEqual(["2012", "2013", "2014", "2015"]);
  });

  it("computes sector peer medians without the company itself", async () => {
    const peers = await source.peerMedians("Industrials", "FJRD");
    expect(Object.keys(peers)).toEqual(expect.arrayContaining(["2013", "2014", "2015"]));
    expect(peers["2014"]?.total_revenue).toBeGreaterThan(1e9);
    expect(await source.peerMedians("Unknown", "FJRD")).toEqual({});
  });

  it("parses the file once: a second source on it shares the parsed rows", async () => {
    const again = fundamentalsCsvSource({ file: FUNDAMENTALS });
    expect(await again.annual("FJRD")).toBe(await source.annual("FJRD"));
  });
});

describe("fundamentals CSV: bad input and a companies file", () => {
  it("says in one line when the file is missing or lacks a column", async () => {
    await expect(fundamentalsCsvSource({ file: path.join(tmp, "none.csv") }).annual("AAL")).rejects.toThrow(
      new InputError(`${path.join(tmp, "none.csv")}: no such file`),
    );
    const noDate = write("bad/fundamentals.csv", "Ticker Symbol,Total Revenue\nAAL,1\n");
    await expect(fundamentalsCsvSource({ file: noDate }).annual("AAL")).rejects.toThrow(`${noDate}: missing column "Period Ending"`);
  });

  it("takes names and sectors from a companies file, else the ticker and Unknown", async () => {
    const file = write(
      "small/fundamentals.csv",
      ",Ticker Symbol,Period Ending,Total Revenue,For Year\n0,ACME,2014-12-31,100.0,2014.0\n1,ACME,2015-12-31,150.0,\n2,BETA,2015-12-31,10.0,2015.0\n",
    );
    const companies = write("small/names.csv", "ticker,name,sector\nACME,Acme Corp,Industrials\n");
    const named = fundamentalsCsvSource({ file, companiesFile: companies });
    expect(await named.company("acme")).toEqual({ ticker: "ACME", name: "Acme Corp", sector: "Industrials" });
    expect(await named.annual("ACME")).toEqual([
      { period: "2014", period_ending: "2014-12-31", metrics: { total_revenue: 100 } },
      { period: "2015", period_ending: "2015-12-31", metrics: { total_revenue: 150 } },
    ]);
    expect(await fundamentalsCsvSource({ file }).company("BETA")).toEqual({ ticker: "BETA", name: "BETA", sector: "Unknown" });
  });
});

describe("KPI directory", () => {
  it("reads <TICKER>/<series>.csv and <TICKER>-<series>.csv, and a spike becomes an anomaly flag", async () => {
    write("kpis/ACME/bookings.csv", spikySeries());
    write("kpis/ACME-visits.csv", "timestamp,value\n2024-01-01,5\n2024-01-02,7\n");
    write("kpis/ACMEX-visits.csv", "timestamp,value\n2024-01-01,1\n");
    const source = kpiDirectorySource({ dir: path.join(tmp, "kpis") });
    expect(Object.keys(await source.kpis("ACME")).sort()).toEqual(["bookings", "visits"]);
    const r = await review("ACME", source);
    expect(r?.metrics.kpis.bookings).toHaveLength(16);
    expect(r?.flags).toEqual([expect.objectContaining({ metric: "bookings", period: "2024-03-25T00:00:00.000Z", severity: "high" })]);
  });

  it("says in one line when the directory is missing or a timestamp is not a date", async () => {
    await expect(kpiDirectorySource({ dir: path.join(tmp, "nokpis") }).kpis("ACME")).rejects.toThrow(`${path.join(tmp, "nokpis")}: no such directory`);
    const file = write("badkpis/ACME/orders.csv", "timestamp,value\nyesterday,3\n");
    await expect(kpiDirectorySource({ dir: path.join(tmp, "badkpis") }).kpis("ACME")).rejects.toThrow(
      `${file}: line 2: timestamp "yesterday" is not an ISO 8601 date`,
    );
  });
});

describe("portfolio file", () => {
  it("reads a portfolio file whose sources are relative to it and opens them as one source", async () => {
    write("kpis2/FJRD/bookings.csv", spikySeries());
    const file = write("portfolio.yaml", `name: airlines\nyear: 2014\ncompanies: [FJRD]\nsources:\n  fundamentals: ${FUNDAMENTALS}\n  kpis: kpis2\n`);
    const input = await readPortfolioInput(file);
    expect(input.sources.kpis).toBe(path.join(tmp, "kpis2"));
    const r = await review("FJRD", openPortfolioSource(input.sources), input.year);
    expect(r?.flags.map((f) => f.metric)).toEqual(expect.arrayContaining(["total_revenue", "bookings"]));
  });

  it("says in one line when the portfolio file is missing", async () => {
    await expect(readPortfolioInput(path.join(tmp, "none.yaml"))).rejects.toThrow(`${path.join(tmp, "none.yaml")}: no such file`);
  });
});

describe("PostgreSQL table", () => {
  const db = useFreshDatabase("opsgraph-portfolio-pg-");

  async function seed() {
    await db.pool.query("CREATE TABLE facts (ticker text, period_ending date, metric text, value double precision)");
    await db.pool.query("CREATE TABLE companies (ticker text PRIMARY KEY, name text, sector text)");
    await db.pool.query(
      "INSERT INTO companies VALUES ('AAL', 'American Airlines Group', 'Industrials'), ('DAL', 'Delta Air Lines', 'Industrials'), ('LUV', 'Southwest Airlines', 'Industrials')",
    );
    const rows: [string, string, string, number][] = [
      ["AAL", "2013-12-31", "total_revenue", 26743e6],
      ["AAL", "2014-12-31", "total_revenue", 42650e6],
      ["DAL", "2014-12-31", "total_revenue", 40362e6],
      ["DAL", "2014-12-31", "operating_margin", 6],
      ["LUV", "2014-12-31", "total_revenue", 18605e6],
      ["LUV", "2014-12-31", "operating_margin", 12],
    ];
    for (const r of rows) await db.pool.query("INSERT INTO facts VALUES ($1, $2, $3, $4)", r);
  }

  it("reads a company's years, its name and its peers' medians from long-format rows", async () => {
    await seed();
    const source = postgresSource({ pool: db.pool, table: "facts", companiesTable: "public.companies" });
    expect(await source.company("aal")).toEqual({ ticker: "AAL", name: "American Airlines Group", sector: "Industrials" });
    expect(await source.annual("AAL")).toEqual([
      { period: "2013", period_ending: "2013-12-31", metrics: { total_revenue: 26743e6 } },
      { period: "2014", period_ending: "2014-12-31", metrics: { total_revenue: 42650e6 } },
    ]);
    expect(await source.peerMedians("Industrials", "AAL")).toEqual({ "2014": { operating_margin: 9, total_revenue: (40362e6 + 18605e6) / 2 } });
    const r = await review("AAL", source);
    expect(r?.flags).toEqual([expect.objectContaining({ metric: "total_revenue", evidence: "total_revenue 26,743M (2013) -> 42,650M (2014), +59.5%" })]);
    expect(await review("GE", source)).toBeNull();
  });

  it("says in one line when the table does not exist", async () => {
    await expect(postgresSource({ pool: db.pool, table: "missing" }).annual("AAL")).rejects.toThrow(InputError);
    await expect(postgresSource({ pool: db.pool, table: "missing" }).annual("AAL")).rejects.toThrow(
      /^postgres table missing: relation "missing" does not exist$/,
    );
  });

  it("is asked with the KPI directory through the portfolio's sources", async () => {
    await seed();
    write("kpis3/AAL-bookings.csv", spikySeries());
    const source = openPortfolioSource({ postgres: { table: "facts", companies_table: "companies" }, kpis: path.join(tmp, "kpis3") }, { pool: db.pool });
    const r = await review("AAL", source);
    expect(r?.metrics.company.name).toBe("American Airlines Group");
    expect(r?.flags.map((f) => f.metric).sort()).toEqual(["bookings", "total_revenue"]);
  });
});
