import { createReadStream } from 'node:fs';
import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { D7yError } from '../../../errors/d7y-error.js';
import type { ExperimentOutcome } from './experiment-outcome.js';

/**
 * Where experiment outcomes persist. The scheduler appends; `d7y experiment report` lists. A
 * manager-database store implements the same seam later.
 */
export interface ExperimentOutcomeStore {
  /** Queues one outcome; resolves once it is durable in the store. */
  append(outcome: ExperimentOutcome): Promise<void>;
  /** Every outcome of one experiment, in recording order. */
  list(experimentId: string): Promise<ExperimentOutcome[]>;
  /** Resolves when every queued append is written. */
  flush(): Promise<void>;
}

/** The directory of experiment outcome files under a node data dir. */
export function experimentsDir(dataDir: string): string {
  return join(dataDir, 'scheduler', 'experiments');
}

/**
 * Outcomes as JSON lines, one file per experiment: `<dataDir>/scheduler/experiments/<id>.jsonl`.
 * Appends are serialised (one line each, never interleaved) and bounded: beyond `maxQueued`
 * pending lines new outcomes are dropped and counted in `dropped`. Unreadable lines are skipped
 * when listing and counted in `skippedLines`.
 */
export class JsonLinesOutcomeStore implements ExperimentOutcomeStore {
  private tail: Promise<void> = Promise.resolve();
  private queued = 0;
  dropped = 0;
  skippedLines = 0;

  constructor(private readonly dataDir: string, private readonly maxQueued = 10_000) {}

  fileOf(experimentId: string): string {
    return join(experimentsDir(this.dataDir), `${experimentId}.jsonl`);
  }

  append(outcome: ExperimentOutcome): Promise<void> {
    if (this.queued >= this.maxQueued) {
      this.dropped++;
      return Promise.resolve();
    }
    this.queued++;
    const line = `${JSON.stringify(outcome)}\n`;
    const file = this.fileOf(outcome.experimentId);
    const write = this.tail.then(async () => {
      await mkdir(experimentsDir(this.dataDir), { recursive: true });
      await appendFile(file, line, 'utf8');
    }).finally(() => { this.queued--; });
    this.tail = write.catch(() => undefined);
    return write;
  }

  flush(): Promise<void> {
    return this.tail;
  }

  async list(experimentId: string): Promise<ExperimentOutcome[]> {
    const file = this.fileOf(experimentId);
    const out: ExperimentOutcome[] = [];
    const input = createReadStream(file, 'utf8');
    try {
      for await (const line of createInterface({ input, crlfDelay: Infinity })) {
        if (!line.trim()) continue;
        try {
          out.push(JSON.parse(line) as ExperimentOutcome);
        } catch {
          this.skippedLines++;
        }
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new D7yError('D7Y_NOT_FOUND', `no outcomes of experiment "${experimentId}" in ${file}`, {
          fix: 'check the experiment id and --data-dir (the scheduler\'s data dir), and that downloads finished under the experiment',
        });
      }
      throw err;
    }
    return out;
  }
}
