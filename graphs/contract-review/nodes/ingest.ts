import { createHash } from "node:crypto";
import { DOCUMENTS_NAMESPACE, type ContractReviewState, type ContractReviewUpdate } from "../state.js";
import { storeOf, type Config } from "../context.js";

/** Keeps the contract's text once in the Store; from here on state carries only its key. */
export async function ingest(state: ContractReviewState, config: Config): Promise<ContractReviewUpdate> {
  const store = storeOf(config);
  if (state.text) {
    const key = createHash("sha256").update(state.text).digest("hex");
    await store.put(DOCUMENTS_NAMESPACE, key, { text: state.text, source: state.source ?? null });
    return { text: undefined, document_ref: key, chars: state.text.length, source: state.source ?? "pasted text" };
  }
  if (!state.document_ref) throw new Error("contract-review input needs `text` (the contract) or `document_ref`");
  const item = await store.get(DOCUMENTS_NAMESPACE, state.document_ref);
  if (!item) throw new Error(`document ${state.document_ref} is not in the store`);
  const text = item.value["text"] as string;
  return { chars: text.length, source: state.source ?? (item.value["source"] as string | null) ?? state.document_ref };
}

export async function loadText(state: ContractReviewState, config: Config): Promise<string> {
  const item = await storeOf(config).get(DOCUMENTS_NAMESPACE, state.document_ref!);
  if (!item) throw new Error(`document ${state.document_ref} is not in the store`);
  return item.value["text"] as string;
}
