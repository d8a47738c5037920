import { Option, type Command } from '../commander.js';
import type { SyncOptions } from '../sync-run.js';
import { addPeerOptions } from '../peer-options.js';
import { collect } from './get.js';

/** `d7y sync`. The sync code is loaded when the command runs. */
export function registerSyncCommand(program: Command): void {
  const sync = program.command('sync')
    .description('copy a source tree (S3/GCS prefix, HDFS directory, Maven group, YUM repo, OCI image) to a local directory, object store, HDFS or registry, incrementally, reading through the local peer')
    .argument('<src>', 'what to copy: a listable source URL (s3://bucket/prefix/, gs://…, hdfs://…, maven://…, yum+https://…, oci://…)')
    .argument('<dst>', 'where to: a local directory, or s3://, gs://, hdfs://, or oci://registry/repo:tag for an image (written through the source plugins)')
    .addOption(new Option('--include <glob>', 'only paths matching this glob (repeatable)').argParser(collect))
    .addOption(new Option('--exclude <glob>', 'leave out paths matching this glob (repeatable)').argParser(collect))
    .option('--delete', 'remove from the destination what an earlier sync copied and the source no longer has')
    .option('--dry-run', 'print what would be copied and removed; change nothing')
    .option('--concurrency <n>', 'files copied at once', '8')
    .option('--rate-limit <rate>', 'cap on the bytes read per second over all files, e.g. 50MiB/s')
    .option('--max-files <n>', 'refuse listings with more matching files than this', '1000000')
    .option('--state <file>', 'the sync state file (default: <data dir>/sync/<hash of src and dst>.jsonl)')
    .option('--no-progress', 'never show a progress bar (it only shows on a terminal anyway)')
    .option('--json', 'print one JSON object with the counts on stdout (with --dry-run, one line per action before it)')
    .option('--storage-endpoint <url>', 'object storage endpoint (source, and destination unless --dst-storage-* is given)')
    .option('--storage-region <region>', 'object storage region')
    .option('--storage-access-key-id <id>', 'object storage access key id')
    .option('--storage-access-key-secret <secret>', 'object storage access key secret')
    .option('--storage-session-token <token>', 'object storage session token')
    .option('--dst-storage-endpoint <url>', 'the destination\'s object storage endpoint')
    .option('--dst-storage-region <region>', 'the destination\'s region')
    .option('--dst-storage-access-key-id <id>', 'the destination\'s access key id')
    .option('--dst-storage-access-key-secret <secret>', 'the destination\'s access key secret')
    .option('--dst-storage-session-token <token>', 'the destination\'s session token')
    .action(async (src: string, dst: string, opts: SyncOptions) => (await import('../sync-run.js')).runSync(src, dst, opts));
  addPeerOptions(sync, program);
}
