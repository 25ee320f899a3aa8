/** (c) Fundamentals in a PostgreSQL table, in long format, with an optional companies table. */
import type pg from "pg";
import type { AnnualMetrics, CompanyMetrics } from "../../agents/company.js";
import { UNKNOWN_SECTOR, type PortfolioDataSource } from "../../agents/metrics-collector.js";
import { InputError } from "../../../../runtime/errors.js";

type Peers = CompanyMetrics["peers"];

/** `name` or `schema.name`, quoted; anything else is an InputError (the name reaches SQL text). */
export function quoteTable(name: string): string {
  const parts = name.split(".");
  if (parts.length > 2 || !parts.every((p) => /^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(p))) {
    throw new InputError(`postgres table "${name}": not a table name (letters, digits, _; optionally schema.table)`);
  }
  return parts.map((p) => `"${p}"`).join(".");
}

export interface PostgresSourceOptions {
  pool: pg.Pool;
  /** Long format: `ticker text, period_ending date, metric text, value double precision`, metric names as the CSV's (total_revenue...). */
  table: string;
  /** `ticker text, name text, sector text`: names and sectors, without which there are no peers. */
  companiesTable?: string;
}

/**
 * Fundamentals in a PostgreSQL table, one row per (ticker, period_ending, metric). The fiscal
 * year is the year of period_ending. Names and sectors come from a separate companies table
 * rather than columns repeated on every metric row.
 */
export function postgresSource({ pool, table, companiesTable }: PostgresSourceOptions): PortfolioDataSource {
  const facts = quoteTable(table);
  const names = companiesTable === undefined ? undefined : quoteTable(companiesTable);
  const query = async <R extends pg.QueryResultRow>(sql: string, params: unknown[]) => {
    try {
      return (await pool.query<R>(sql, params)).rows;
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === "42P01" || code === "42703" || code === "3F000") throw new InputError(`postgres table ${table}: ${(e as Error).message}`);
      throw e;
    }
  };
  return {
    describe: () => `PostgreSQL table ${table}`,
    async company(ticker) {
      if (!names) return null;
      const rows = await query<{ name: string | null; sector: string | null }>(`SELECT name, sector FROM ${names} WHERE upper(ticker) = $1 LIMIT 1`, [
        ticker.toUpperCase(),
      ]);
      const row = rows[0];
      return row ? { ticker: ticker.toUpperCase(), name: row.name || ticker.toUpperCase(), sector: row.sector || UNKNOWN_SECTOR } : null;
    },
    async annual(ticker) {
      const rows = await query<{ period_ending: string; metric: string; value: number }>(
        `SELECT to_char(period_ending, 'YYYY-MM-DD') AS period_ending, metric, value FROM ${facts} WHERE upper(ticker) = $1 AND value IS NOT NULL ORDER BY period_ending`,
        [ticker.toUpperCase()],
      );
      const byYear = new Map<string, AnnualMetrics>();
      for (const r of rows) {
        const period = r.period_ending.slice(0, 4);
        let year = byYear.get(period);
        // two period ends in one calendar year: the later one stands for the year
        if (!year || year.period_ending < r.period_ending) byYear.set(period, (year = { period, period_ending: r.period_ending, metrics: {} }));
        if (year.period_ending === r.period_ending) year.metrics[r.metric] = r.value;
      }
      return [...byYear.values()];
    },
    async peerMedians(sector, excludeTicker) {
      if (!names || sector === UNKNOWN_SECTOR) return {};
      const rows = await query<{ year: string; metric: string; median: number }>(
        `SELECT to_char(f.period_ending, 'YYYY') AS year, f.metric, percentile_cont(0.5) WITHIN GROUP (ORDER BY f.value) AS median
           FROM ${facts} f JOIN ${names} c ON upper(c.ticker) = upper(f.ticker)
          WHERE c.sector = $1 AND upper(f.ticker) <> $2 AND f.value IS NOT NULL
          GROUP BY 1, 2 ORDER BY 1, 2`,
        [sector, excludeTicker.toUpperCase()],
      );
      const out: Peers = {};
      for (const r of rows) (out[r.year] ??= {})[r.metric] = r.median;
      return out;
    },
    kpis: async () => ({}),
  };
}
