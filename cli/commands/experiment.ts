import type { Command } from '../commander.js';

/** `d7y experiment report <id>`: the A/B report of an experiment from the scheduler's outcome file. */
export function registerExperimentCommand(program: Command): void {
  const experiment = program.command('experiment').description('A/B scheduling experiments');
  experiment.command('report')
    .description('per-arm duration and throughput (mean, p50, p95, 95% CI), Welch\'s t-test and a verdict')
    .argument('<id>', 'the experiment id (scheduler.experiment.id in plugins.json)')
    .option('--data-dir <dir>', 'the scheduler\'s data dir (its outcomes are in scheduler/experiments/<id>.jsonl; default $D7Y_DATA_DIR, else ~/.d7y)')
    .option('--json', 'print the report as JSON')
    .action(async (id: string, opts: { dataDir?: string; json?: boolean }) => {
      const { defaultDataDir } = await import('../../core/config/node-config.js');
      const { readExperimentReport } = await import('../../plugins/index.js');
      const { report, text } = await readExperimentReport(opts.dataDir ?? defaultDataDir(), id);
      process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : text);
    });
}
