/**
 * The API reports of the package's two entry points (`api/*.api.md`), made by API Extractor from the compiled `.d.ts`
 * files: `node dist/tools/api.js` rewrites them; with `--check` it fails when either differs from what the sources
 * declare now, or when API Extractor has anything to say (an unresolved link, an export it cannot see). One TypeScript
 * program serves both entry points.
 */
import { fileURLToPath } from "node:url";
import { CompilerState, Extractor, ExtractorConfig, type ExtractorMessage } from "@microsoft/api-extractor";

const configs = ["kindwatch.api.json", "kindwatch-testing.api.json"].map((name) =>
  ExtractorConfig.loadFileAndPrepare(fileURLToPath(new URL(`../../api/${name}`, import.meta.url))),
);
const check = process.argv.includes("--check");
const first = configs[0] as ExtractorConfig;
const compilerState = CompilerState.create(first, {
  additionalEntryPoints: configs.map((c) => c.mainEntryPointFilePath),
});

let failed = false;
for (const config of configs) {
  const messages: string[] = [];
  const result = Extractor.invoke(config, {
    compilerState,
    localBuild: !check,
    messageCallback: (message: ExtractorMessage) => {
      if (message.logLevel !== "warning" && message.logLevel !== "error") return;
      // Whether the report changed is said below, in words that name the command to run.
      if (message.messageId.startsWith("console-api-report-")) return;
      messages.push(message.formatMessageWithLocation(config.projectFolder));
      message.handled = true;
    },
  });
  const report = config.reportFilePath.replace(`${config.projectFolder}/`, "");
  if (check && result.apiReportChanged) {
    messages.push(`${report} is stale: the public API changed. Run \`npm run api\`, review the diff and commit it.`);
  }
  for (const message of messages) console.error(message);
  if (!result.succeeded || messages.length > 0) failed = true;
  else console.log(`${report}: ${check ? "up to date" : "written"}`);
}
if (failed) process.exitCode = 1;
