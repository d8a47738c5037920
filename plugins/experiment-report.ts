import type { ExperimentReport } from '../core/roles/scheduler/experiment/experiment-report.js';

/** The A/B report of experiment `id` from the outcomes a scheduler recorded under `dataDir`, and its text form. */
export async function readExperimentReport(dataDir: string, id: string): Promise<{ report: ExperimentReport; text: string }> {
  const { experimentReport, formatExperimentReport, JsonLinesOutcomeStore } = await import('../core/roles/scheduler/experiment/index.js');
  const report = experimentReport(id, await new JsonLinesOutcomeStore(dataDir).list(id));
  return { report, text: formatExperimentReport(report) };
}
