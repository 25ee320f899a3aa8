/**
 * The weekly portfolio report. The pieces live in ./report/: view-model.ts (what is shown,
 * in which order), markdown.ts and html.ts (the two renderings).
 */
import { renderHtml } from "./report/html.js";
import { renderMarkdown } from "./report/markdown.js";
import { companyView, readingOrder, type PortfolioReport, type PortfolioReportInput } from "./report/view-model.js";

export type { PortfolioReport, PortfolioReportInput } from "./report/view-model.js";

/** The weekly portfolio report, as Markdown and as one self-contained HTML page. Pure. */
export function renderPortfolioReport(input: PortfolioReportInput): PortfolioReport {
  const views = [...input.companies].sort(readingOrder).map((c, i) => companyView(c, i, input));
  return { markdown: renderMarkdown(input, views), html: renderHtml(input, views) };
}
