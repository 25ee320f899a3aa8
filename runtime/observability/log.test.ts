import { createHash } from "node:crypto";
import { createLogger } from "./log.js";

const API_KEY = "sk-proj-Abc123SECRETkeyValue987";
const BEARER = "Bearer sk-live-TopSecretBearer456";
const DB_PASSWORD = "hunter2-db-pass";
const DATABASE_URL = `postgres://opsgraph:${DB_PASSWORD}@db.internal:5432/opsgraph`;
const CONTRACT = "SUPPLY AGREEMENT. 1. Governing Law. This Agreement is governed by the laws of the State of New York. Confidential clause X-17.";

function capture() {
  const lines: string[] = [];
  const log = createLogger("debug", { destination: { write: (s: string) => void lines.push(s) } });
  return { log, out: () => lines.join("") };
}

const sha = (s: string) => createHash("sha256").update(s).digest("hex").slice(0, 16);

describe("log redaction", () => {
  it("writes no API key, Authorization header, connection-string password or contract text; the text's length and hash instead", () => {
    const { log, out } = capture();
    const run = log.child({ run_id: "r1", thread_id: "contract-review:req", flow: "contract-review", databaseUrl: DATABASE_URL });
    run.info(
      {
        agent: "risk_analyst",
        tier: "openai:gpt-4.1-mini",
        attempt: 2,
        apiKey: API_KEY,
        openai: { OPENAI_API_KEY: API_KEY },
        headers: { Authorization: BEARER, "content-type": "application/json" },
        text: CONTRACT,
        request: { messages: [{ role: "user", content: CONTRACT }] },
        err: new Error(`connect ECONNREFUSED ${DATABASE_URL} (key ${API_KEY})`),
      },
      `opened ${DATABASE_URL} with ${BEARER}`,
    );
    const text = out();
    for (const secret of [API_KEY, "sk-live-TopSecretBearer456", DB_PASSWORD, CONTRACT, "Confidential clause X-17"]) expect(text).not.toContain(secret);
    const line = JSON.parse(text.trim()) as Record<string, unknown>;
    // the context a person needs to find the run is all there
    expect(line).toMatchObject({
      run_id: "r1",
      thread_id: "contract-review:req",
      flow: "contract-review",
      agent: "risk_analyst",
      tier: "openai:gpt-4.1-mini",
      attempt: 2,
    });
    expect(line.text).toEqual({ length: CONTRACT.length, sha256: sha(CONTRACT) });
    expect(line.apiKey).toBe("[redacted]");
    expect((line.headers as Record<string, unknown>).Authorization).toBe("[redacted]");
    expect((line.headers as Record<string, unknown>)["content-type"]).toBe("application/json");
    // a URL keeps its host (useful) and loses its password
    expect(line.databaseUrl).toBe("postgres://opsgraph:***@db.internal:5432/opsgraph");
    expect(String(line.msg)).toContain("postgres://opsgraph:***@db.internal");
    expect((line.err as { message: string }).message).toContain("ECONNREFUSED");
  });

  it("summarises a long text under any key", () => {
    const { log, out } = capture();
    const filing = "Revenue grew. ".repeat(400);
    log.warn({ agent: "company_analyst", whatever: filing }, "analysed");
    const line = JSON.parse(out().trim()) as Record<string, unknown>;
    expect(line.whatever).toEqual({ length: filing.length, sha256: sha(filing) });
    expect(out()).not.toContain("Revenue grew.");
  });
});
