import { randomBytes } from 'node:crypto';
import { chmod, chown, copyFile, constants, mkdir, open, readFile, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { createTwoFilesPatch } from 'diff';
import { D7yError } from '../../core/errors/d7y-error.js';

/** One file `d7y init` wants to have: its current text (null when absent) and the text it should hold. */
export interface FileChange {
  path: string;
  before: string | null;
  after: string;
}

/** What happened to one file: unchanged, created or updated (`backup` holds the old text), or would be (dry run). */
export interface FileOutcome {
  path: string;
  action: 'unchanged' | 'created' | 'updated' | 'would-create' | 'would-update';
  backup?: string;
  /** Unified diff from the old text to the new; empty when unchanged. */
  diff: string;
}

/** The fix printed when a file cannot be read or written for lack of rights. */
function permissionFix(path: string): string {
  return `run the command as root (sudo d7y init ...), or point --config-dir at a folder you can write (${dirname(path)} is not)`;
}

/** The text of `path`, or null when it does not exist; unreadable files are a D7yError naming the file. */
export async function readExisting(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    if (code === 'EACCES' || code === 'EPERM') {
      throw new D7yError('D7Y_PERMISSION_DENIED', `cannot read ${path}: permission denied`, { fix: permissionFix(path), cause: err });
    }
    if (code === 'EISDIR') {
      throw new D7yError('D7Y_CONFIG_INVALID', `${path} is a folder, not a file`, { fix: `move ${path} aside, or pass the file's real location`, cause: err });
    }
    throw new D7yError('D7Y_INTERNAL', `cannot read ${path}: ${(err as Error).message}`, { fix: `check ${path} and its folder`, cause: err });
  }
}

/** A D7yError for an existing file that does not parse: names it, says why, and how to get past it. */
export function corruptFileError(path: string, format: string, reason: string, rerun: string, cause?: unknown): D7yError {
  return new D7yError('D7Y_CONFIG_INVALID', `${path} is not valid ${format}: ${reason}; it was left as it is`, {
    fix: `correct ${path} (or move it aside to start afresh), then run ${rerun} again`,
    cause,
  });
}

function unifiedDiff(change: FileChange): string {
  if (change.before === change.after) return '';
  const before = change.before ?? '';
  return createTwoFilesPatch(change.before === null ? '/dev/null' : change.path, change.path, before, change.after, '', '', { context: 3 })
    .split('\n')
    .filter((l) => !l.startsWith('=====') && !l.startsWith('Index: '))
    .map((l) => (l.startsWith('--- ') || l.startsWith('+++ ') ? l.trimEnd() : l))
    .join('\n');
}

const MAX_BACKUPS_PER_SECOND = 100;

/** `<file>.d7y-backup-<UTC time>`, e.g. `daemon.json.d7y-backup-20261205T110822Z`. */
export function backupPath(path: string, now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${path}.d7y-backup-${stamp}`;
}

/**
 * Writes `text` to `path` atomically: a temp file in the same folder, flushed, given the old file's
 * mode and owner (new files: 0644 and the caller's), then renamed over `path`. A crash leaves the old
 * file or the new one, never half of either.
 */
async function writeAtomic(path: string, text: string): Promise<void> {
  const old = await stat(path).catch(() => undefined);
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.d7y-${randomBytes(6).toString('hex')}`);
  try {
    const fh = await open(tmp, 'wx', old ? old.mode & 0o7777 : 0o644);
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (old) {
      await chmod(tmp, old.mode & 0o7777);
      if (process.getuid?.() === 0) await chown(tmp, old.uid, old.gid);
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Copies `path` to a backup name not yet taken (a second change within the same second gets `-1`, `-2`, ...). */
async function keepBackup(path: string, now: Date): Promise<string> {
  let backup = backupPath(path, now);
  for (let n = 1; ; n++) {
    try {
      await copyFile(path, backup, constants.COPYFILE_EXCL);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || n >= MAX_BACKUPS_PER_SECOND) throw err;
      backup = `${backupPath(path, now)}-${n}`;
    }
  }
  const old = await stat(path);
  await chmod(backup, old.mode & 0o7777);
  if (process.getuid?.() === 0) await chown(backup, old.uid, old.gid);
  return backup;
}

function writeError(path: string, err: unknown): D7yError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    const why = code === 'EROFS' ? 'read-only file system' : 'permission denied';
    return new D7yError('D7Y_PERMISSION_DENIED', `cannot write ${path}: ${why}`, { fix: permissionFix(path), cause: err });
  }
  return new D7yError('D7Y_INTERNAL', `cannot write ${path}: ${(err as Error).message}`, { fix: `check ${dirname(path)} (space, rights), then run again`, cause: err });
}

/**
 * Applies each change: an unchanged file is left alone (not even touched); a changed one is first
 * copied to a backup, then replaced atomically. With `dryRun` nothing is written and the outcome
 * carries the diff of what would be. Stops at the first failure, naming the file.
 */
export async function applyChanges(changes: readonly FileChange[], opts: { dryRun?: boolean; now?: Date } = {}): Promise<FileOutcome[]> {
  const now = opts.now ?? new Date();
  const outcomes: FileOutcome[] = [];
  for (const change of changes) {
    const diff = unifiedDiff(change);
    if (change.before === change.after) {
      outcomes.push({ path: change.path, action: 'unchanged', diff });
      continue;
    }
    if (opts.dryRun) {
      outcomes.push({ path: change.path, action: change.before === null ? 'would-create' : 'would-update', diff });
      continue;
    }
    try {
      // A symlinked config file stays a symlink: the file it points at is the one replaced.
      const target = change.before === null ? change.path : await realpath(change.path);
      const backup = change.before === null ? undefined : await keepBackup(target, now);
      await writeAtomic(target, change.after);
      outcomes.push({ path: change.path, action: change.before === null ? 'created' : 'updated', ...(backup ? { backup } : {}), diff });
    } catch (err) {
      throw writeError(change.path, err);
    }
  }
  return outcomes;
}
