import { Option, type Command } from '../commander.js';
import type { GetOptions } from '../get-run.js';
import { addPeerOptions } from '../peer-options.js';

/** A repeatable option's values, in order. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/**
 * `d7y get`. Only the command's shape lives here: the download code (and the daemon client with
 * its dependencies) is loaded when the command runs, so that `d7y --help` starts fast.
 */
export function registerGetCommand(program: Command): void {
  const get = program.command('get')
    .description('download a URL through the local d7y peer (P2P, the origin is read about once per cluster); without a daemon, a peer runs in this process')
    .argument('<url>', 'what to download (http, https, s3, … any scheme a loaded source plugin handles)')
    .requiredOption('-O, --output <path>', 'where to write the file (a directory, or a path ending in /, takes the URL\'s file name); - streams the bytes to stdout')
    .option('--no-progress', 'never show a progress bar (it only shows on a terminal anyway); the summary line stays')
    .option('-q, --quiet', 'print nothing on success: no bar, no summary line')
    .addOption(new Option('-H, --header <name:value>', 'request header for the origin (repeatable)').argParser(collect))
    .option('--tag <tag>', 'task tag (part of the task id)')
    .option('--application <name>', 'application name (part of the task id)')
    .option('--piece-length <size>', 'piece length, e.g. 8MiB (part of the task id)')
    .option('--digest <digest>', 'verify the result: sha256:<hex> or crc32:<n>')
    .option('--range <a-b>', 'only bytes a to b (inclusive)')
    .option('--disable-back-to-source', 'never read from the origin; fail if no peer has the file')
    .option('--timeout <duration>', 'give up after this long, e.g. 10m')
    .option('--overwrite', 'replace the output file if it exists')
    .addOption(new Option('--hardlink', 'make the output a hard link of the peer\'s copy (no copy; an edit of it makes the peer drop its copy)').conflicts('copy'))
    .option('--copy', 'make the output a plain copy (default: a copy-on-write clone where the file system allows, else a hard link the peer re-verifies when it is edited)')
    .option('--storage-endpoint <url>', 'object storage endpoint')
    .option('--storage-region <region>', 'object storage region')
    .option('--storage-access-key-id <id>', 'object storage access key id')
    .option('--storage-access-key-secret <secret>', 'object storage access key secret')
    .option('--storage-session-token <token>', 'object storage session token')
    .option('-r, --recursive', 'download every file under a prefix, directory or repository into the -O directory')
    .addOption(new Option('--include <glob>', 'with -r: only paths matching this glob (repeatable)').argParser(collect))
    .option('--max-files <n>', 'with -r: refuse listings with more matching files than this', '10000')
    .option('--concurrency <n>', 'with -r: files downloaded at once', '4')
    .option('--json', 'print one JSON object with the result (bytes from peers, origin and cache too) on stdout instead of the summary line (not with -O -)')
    .action(async (url: string, opts: GetOptions) => (await import('../get-run.js')).runGet(url, opts));
  addPeerOptions(get, program);
}
