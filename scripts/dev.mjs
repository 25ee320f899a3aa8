// `npm run dev`: the langgraphjs dev server (LangGraph Studio's API) on loopback, on PORT
// (default 2024), serving the graphs of langgraph.json.
import { spawn } from "node:child_process";

const port = process.env.PORT || "2024";
if (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
  process.stderr.write(`opsgraph: PORT: must be a port number from 1 to 65535, got "${port}"\n`);
  process.exit(2);
}
const child = spawn("npx", ["@langchain/langgraph-cli", "dev", "--no-browser", "--host", "127.0.0.1", "--port", port, ...process.argv.slice(2)], {
  stdio: "inherit",
});
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => child.kill(sig));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
