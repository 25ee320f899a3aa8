// Lint enforces the architecture: no floating promises, process.env only where config is
// read (runtime/config, cli/, tests), no circular imports, and imports pointing down the
// layers (cli → runtime → graphs → nodes → agents).
import { createTypeScriptImportResolver } from "eslint-import-resolver-typescript";
import importX from "eslint-plugin-import-x";
import tseslint from "typescript-eslint";

const noEnv = {
  selector: "MemberExpression[object.name='process'][property.name='env']",
  message: "Read settings in runtime/config.ts (or cli/) and pass them down; nothing else reads process.env.",
};

const layer = (from, forbidden) => ({
  files: [`${from}/**/*.ts`],
  ignores: ["**/*.test.ts"],
  rules: {
    "no-restricted-imports": ["error", { patterns: forbidden.map((f) => ({ group: [`**/${f}/*`, `../${f}/*`, `../../${f}/*`], message: `${from}/ may not import ${f}/ (imports point down: cli → runtime → graphs → nodes → agents)` })) }],
  },
});

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
  layer("flows/*/agents", ["nodes/agent-step", "graph", "run", "runtime", "cli"]),
  layer("nodes", ["flows", "runtime", "cli"]),
  layer("flows/*/graph", ["run", "runtime", "cli"]),
  layer("runtime", ["cli"]),
  {
    files: ["**/*.mjs", "**/*.js"],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { process: "readonly", console: "readonly", URL: "readonly", setTimeout: "readonly" } },
    rules: { "no-restricted-syntax": ["error", noEnv] },
  },
  { files: ["runtime/config.ts", "cli/**", "test/**", "testing/**", "**/*.test.ts", "scripts/**", "bench/**", "evals/tune-*.ts", "evals/run.ts"], rules: { "no-restricted-syntax": "off" } },
);
