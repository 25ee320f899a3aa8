import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // the checkpoint-validation suite registers its tests through vitest's globals
    globals: true,
    include: ["**/*.test.ts"],
    exclude: ["node_modules/**", ".opsgraph/**", "scratch/**"],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    pool: "forks",
  },
});
