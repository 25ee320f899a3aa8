import { defineConfig } from "vitest/config";

// Three projects: `unit` (no database, no processes: seconds), `integration` (a real
// PostgreSQL, real workers and servers) and `browser` (Debian's chromium). `npm test` runs all
// three; `npm run test:unit` the fast one.
const shared = {
  // the checkpoint-validation suite registers its tests through vitest's globals
  globals: true,
  exclude: ["node_modules/**", ".opsgraph/**", "scratch/**"],
  testTimeout: 60_000,
  hookTimeout: 180_000,
  pool: "forks" as const,
};

export default defineConfig({
  test: {
    projects: [
      // typecheck: the *.test-d.ts type tests (a misspelt edge must not compile) run through tsc with the unit tests
      {
        test: {
          ...shared,
          name: "unit",
          include: ["**/*.test.ts"],
          exclude: [...shared.exclude, "**/*.int.test.ts"],
          typecheck: { enabled: true, include: ["**/*.test-d.ts"], exclude: shared.exclude },
        },
      },
      { test: { ...shared, name: "integration", include: ["**/*.int.test.ts"], exclude: [...shared.exclude, "**/*.browser.int.test.ts"] } },
      { test: { ...shared, name: "browser", include: ["**/*.browser.int.test.ts"] } },
    ],
  },
});
