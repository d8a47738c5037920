import type { FileChange } from './config-file.js';

/** What `d7y init <runtime>` wants written, and what to tell the user around it. */
export interface RuntimePlan {
  runtime: string;
  /** Every file the runtime needs, in the order they are written. */
  changes: FileChange[];
  /** Facts the user should know whatever happens (what is mirrored, what is not). */
  notes: string[];
  /** The command that makes the runtime read the changed files, given which files changed; undefined when none is needed. */
  restart(changed: ReadonlySet<string>): string | undefined;
}

/** The command name repeated in error fixes: `d7y init <runtime>`. */
export function rerunCommand(runtime: string): string {
  return `d7y init ${runtime}`;
}
