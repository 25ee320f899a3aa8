import { RULES_TIER, tiersOf } from "../../../../nodes/agent-step.js";
import { contextOf, storeOf, type Config } from "../context.js";
import { renderReport } from "../report.js";
import { autoDecision } from "./decide.js";
import { loadText } from "./ingest.js";
import { REPORTS_NAMESPACE, type ContractReviewedEvent, type ContractReviewState, type ContractReviewUpdate } from "../state.js";

/**
 * Records the decision when no person was asked, writes the Markdown report and tells that the
 * review is done: through `publish` (both as one side effect), else to the run's ReportSink (or
 * into the Store when there is none: Studio) and then `notify`.
 */
export async function report(state: ContractReviewState, config: Config): Promise<ContractReviewUpdate> {
  // no person was asked: the summarizer came straight here
  const decision = state.decision ?? autoDecision(state, config);
  const chars = (await loadText(state, config)).length;
  state = { ...state, decision, chars };
  // each agent's first tier is what it answers on when nothing failed: its own list's, else the flow's
  const markdown = renderReport(state, (agent) => tiersOf(config.context ?? {}, agent)[0]?.id ?? RULES_TIER);
  const name = `${(state.source ?? "contract").replace(/[^A-Za-z0-9._-]+/g, "_")}-${state.document_ref!.slice(0, 12)}.md`;
  const { reports, notify, publish, runId } = contextOf(config);
  // keyed by the thread: this step run again (a crash, a retry, a replay) is the same event
  const thread_id = String((config.configurable as { thread_id?: unknown } | undefined)?.thread_id ?? "");
  const reviewed = (report_path: string): ContractReviewedEvent => ({
    kind: "contract.reviewed",
    key: `${thread_id}:contract.reviewed`,
    payload: {
      ...(runId ? { run_id: runId } : {}),
      thread_id,
      source: state.source ?? "contract",
      decision: state.decision?.decision ?? null,
      risk_score: state.risks?.risk_score ?? null,
      report_path,
    },
  });
  if (publish) return { report_path: await publish({ name, markdown }, reviewed), decision, chars };
  let report_path: string;
  if (reports) report_path = await reports.write(name, markdown);
  else {
    await storeOf(config).put(REPORTS_NAMESPACE, name, { markdown });
    report_path = `store:${REPORTS_NAMESPACE.join("/")}/${name}`;
  }
  if (notify) await notify(reviewed(report_path));
  return { report_path, decision, chars };
}
