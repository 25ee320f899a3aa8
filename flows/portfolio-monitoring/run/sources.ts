/**
 * Portfolio data sources: a fundamentals CSV, a directory of KPI series, a PostgreSQL table,
 * and a composite asking several. Each implements the collector's PortfolioDataSource; each
 * kind lives in ./sources/, and this module picks the one a portfolio names.
 */
import type pg from "pg";
import type { PortfolioDataSource } from "../agents/metrics-collector.js";
import { InputError } from "../../../runtime/errors.js";
import type { PortfolioInput } from "./input.js";
import { compositeSource } from "./sources/composite.js";
import { fundamentalsCsvSource } from "./sources/fundamentals-csv.js";
import { kpiDirectorySource } from "./sources/kpi-directory.js";
import { postgresSource } from "./sources/postgres.js";

export { compositeSource } from "./sources/composite.js";
export { fiscalYear, fundamentalsCsvSource, metricName, type FundamentalsCsvOptions } from "./sources/fundamentals-csv.js";
export { kpiDirectorySource } from "./sources/kpi-directory.js";
export { postgresSource, quoteTable, type PostgresSourceOptions } from "./sources/postgres.js";

/** The source a portfolio names: fundamentals, then postgres, then KPIs. */
export function openPortfolioSource(sources: PortfolioInput["sources"], deps: { pool?: pg.Pool } = {}): PortfolioDataSource {
  const list: PortfolioDataSource[] = [];
  if (sources.fundamentals !== undefined)
    list.push(fundamentalsCsvSource({ file: sources.fundamentals, ...(sources.companies !== undefined && { companiesFile: sources.companies }) }));
  if (sources.postgres) {
    if (!deps.pool) throw new InputError("sources.postgres: no database to read it from");
    list.push(
      postgresSource({
        pool: deps.pool,
        table: sources.postgres.table,
        ...(sources.postgres.companies_table !== undefined && { companiesTable: sources.postgres.companies_table }),
      }),
    );
  }
  if (sources.kpis !== undefined) list.push(kpiDirectorySource({ dir: sources.kpis }));
  if (list.length === 0) throw new InputError("sources: name at least one of fundamentals, kpis or postgres");
  return list.length === 1 ? list[0]! : compositeSource(list);
}
