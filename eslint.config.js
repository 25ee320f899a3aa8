// Lint enforces the architecture: no floating promises, process.env only where config is
// read (runtime/config, cli/, tests), no circular imports, and imports pointing down the
// layers (the zones below; test/lint-layers.test.ts proves a forbidden import is reported).
import { createTypeScriptImportResolver } from "eslint-import-resolver-typescript";
import importX from "eslint-plugin-import-x";
import tseslint from "typescript-eslint";
import fs from "node:fs";
import path from "node:path";

const noEnv = {
  selector: "MemberExpression[object.name='process'][property.name='env']",
  message: "Read settings in runtime/config.ts (or cli/) and pass them down; nothing else reads process.env.",
};

// The layers, top to bottom: cli → app (composition root) → flows/<flow>/run → flows/<flow>/graph
// → flows/<flow>/agents → nodes, with runtime/ (shared machinery, knowing no flow) under the
// flows' runners and above nodes/. evals, bench and scripts sit beside cli; testing/ (fakes)
// serves tests, evals, bench and scripts only; test/ is imported by nothing outside it.
const TOOLS = ["cli", "evals", "bench", "scripts", "testing", "test"];
const FLOWS = fs
  .readdirSync(path.join(import.meta.dirname, "flows"), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name);
const zone = (target, from, why) => ({ target, from: from.map((f) => `./${f}/**`), message: why });
const zones = [
  zone("./nodes/**", ["flows", "runtime", "app", ...TOOLS], "nodes/ is the bottom layer: it imports no flow, runtime, app or tool."),
  zone("./runtime/**", ["flows", "app", ...TOOLS], "runtime/ knows no flow: pass what a flow owns in from app/ or the flow's runner."),
  zone(
    "./flows/*/agents/**",
    ["flows/*/graph", "flows/*/run", "runtime", "app", ...TOOLS],
    "an agent imports only nodes/ (the agent contract) and its own flow's agents.",
  ),
  zone("./flows/*/graph/**", ["flows/*/run", "runtime", "app", ...TOOLS], "a graph gets its I/O through the run context, never from runtime/ or its runner."),
  zone(
    ["./flows/*/run/**", "./flows/*/*.ts", "./flows/*.ts"],
    ["app", ...TOOLS],
    "a flow's runner may use runtime/ and its graph, not the composition root or the tools.",
  ),
  zone("./app/**", TOOLS, "app/ wires the runtime and the flows; the commands and tools sit above it."),
  zone(["./evals/**", "./bench/**", "./scripts/**"], ["cli", "test"], "evals, bench and scripts are beside the CLI, not under it; fakes come from testing/."),
  zone("./cli/**", ["bench", "scripts", "testing", "test"], "the CLI ships: no fakes, benchmarks or scripts."),
  zone("./testing/**", ["cli", "evals", "bench", "scripts", "test"], "testing/ holds fakes every tool may use: it imports no tool."),
  // one flow never reaches into another
  ...FLOWS.map((f) =>
    zone(
      `./flows/${f}/**`,
      FLOWS.filter((g) => g !== f).map((g) => `flows/${g}`),
      `flows/${f} may not import another flow.`,
    ),
  ),
];

export default tseslint.config(
  { ignores: ["node_modules/**", ".opsgraph/**", ".langgraph_api/**", "scratch/**", "evals/results/**"] },
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { "import-x": importX },
    settings: {
      "import-x/resolver-next": [createTypeScriptImportResolver()],
      "import-x/extensions": [".ts", ".js", ".mjs"],
      "import-x/parsers": { "@typescript-eslint/parser": [".ts"] },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "import-x/no-cycle": "error",
      "no-restricted-syntax": ["error", noEnv],
    },
  },
  { files: ["**/*.ts"], ignores: ["**/*.test.ts", "**/*.test-d.ts"], rules: { "import-x/no-restricted-paths": ["error", { zones }] } },
  {
    files: ["**/*.mjs", "**/*.js"],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { process: "readonly", console: "readonly", URL: "readonly", setTimeout: "readonly" } },
    rules: { "no-restricted-syntax": ["error", noEnv] },
  },
  {
    files: ["runtime/config.ts", "cli/**", "test/**", "testing/**", "**/*.test.ts", "scripts/**", "bench/**", "evals/tune-*.ts", "evals/run.ts"],
    rules: { "no-restricted-syntax": "off" },
  },
);
