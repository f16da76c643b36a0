// Bundles the console, the crew page and the public page into dist/ (committed; embedded in
// the server binary). Deterministic: the same sources give the same bytes,
// which CI checks.
import { build } from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";

mkdirSync("dist", { recursive: true });
await build({
  entryPoints: { console: "src/console/main.ts", crew: "src/crew.ts", public: "src/public.ts" },
  bundle: true,
  minify: true,
  format: "esm",
  target: ["es2022"],
  outdir: "dist",
  legalComments: "none",
  loader: { ".png": "dataurl", ".svg": "dataurl" },
  logLevel: "warning",
});
copyFileSync("index.html", "dist/index.html");
copyFileSync("crew.html", "dist/crew.html");
copyFileSync("public.html", "dist/public.html");
