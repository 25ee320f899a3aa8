import { contextOf, storeOf, type Config } from "../context.js";
import { renderReport } from "../report.js";
import { REPORTS_NAMESPACE, type ContractReviewState, type ContractReviewUpdate } from "../state.js";

/** Writes the Markdown report: to the run's ReportSink, or into the Store when there is none (Studio). */
export async function report(state: ContractReviewState, config: Config): Promise<ContractReviewUpdate> {
  const markdown = renderReport(state, config.context?.tiers?.[0]?.id ?? "rules");
  const name = `${(state.source ?? "contract").replace(/[^A-Za-z0-9._-]+/g, "_")}-${state.document_ref!.slice(0, 12)}.md`;
  const { reports } = contextOf(config);
  if (reports) return { report_path: await reports.write(name, markdown) };
  await storeOf(config).put(REPORTS_NAMESPACE, name, { markdown });
  return { report_path: `store:${REPORTS_NAMESPACE.join("/")}/${name}` };
}
