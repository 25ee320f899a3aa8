import { createHash } from "node:crypto";
import { CONTRACT_REVIEW_STATE_VERSION, DOCUMENTS_NAMESPACE, type ContractReviewState, type ContractReviewUpdate } from "../state.js";
import { storeOf, type Config } from "../context.js";

/**
 * Keeps the contract's text once in the Store; from here on state carries only its key. Writes
 * `state_version`: a channel's default is not stored in a checkpoint, so the run's first
 * checkpoint records the version of the state it was started under only if a node writes it.
 */
export async function ingest(state: ContractReviewState, config: Config): Promise<ContractReviewUpdate> {
  const store = storeOf(config);
  if (state.text) {
    const key = createHash("sha256").update(state.text).digest("hex");
    await store.put(DOCUMENTS_NAMESPACE, key, { text: state.text, source: state.source ?? null });
    return {
      state_version: CONTRACT_REVIEW_STATE_VERSION,
      text: undefined,
      document_ref: key,
      chars: state.text.length,
      source: state.source ?? "pasted text",
    };
  }
  if (!state.document_ref) throw new Error("contract-review input needs `text` (the contract) or `document_ref`");
  const item = await store.get(DOCUMENTS_NAMESPACE, state.document_ref);
  if (!item) throw new Error(`document ${state.document_ref} is not in the store`);
  const text = item.value["text"] as string;
  return {
    state_version: CONTRACT_REVIEW_STATE_VERSION,
    chars: text.length,
    source: state.source ?? (item.value["source"] as string | null) ?? state.document_ref,
  };
}

export async function loadText(state: ContractReviewState, config: Config): Promise<string> {
  const item = await storeOf(config).get(DOCUMENTS_NAMESPACE, state.document_ref!);
  if (!item) throw new Error(`document ${state.document_ref} is not in the store`);
  return item.value["text"] as string;
}
