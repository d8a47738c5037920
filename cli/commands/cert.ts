import type { Command } from '../commander.js';
import { D7yError } from '../../core/errors/d7y-error.js';

const collect = (value: string, previous: string[] = []): string[] => [...previous, ...value.split(',').map((v) => v.trim()).filter(Boolean)];

/** `d7y cert`: the cluster CA and node certificates of `security.tls`. */
export function registerCertCommand(program: Command): void {
  const cert = program.command('cert').description('certificates for security.tls: a cluster CA, node certificates, and what a certificate holds');
  cert.command('init')
    .description('make a cluster CA in a folder (ca.crt, ca.key mode 0600)')
    .requiredOption('--dir <dir>', 'the folder of the CA')
    .option('--name <cn>', 'the CA common name', 'd7y cluster CA')
    .option('--days <n>', 'validity in days', (v) => Number.parseInt(v, 10), 3650)
    .option('--force', 'replace a CA that exists (certificates it issued stop being trusted)')
    .action(async (opts: { dir: string; name: string; days: number; force?: boolean }) => {
      const { initClusterCa } = await import('../../core/protocol/tls/cluster-certificates.js');
      const r = await initClusterCa(opts.dir, { name: opts.name, days: checkDays(opts.days), force: opts.force });
      process.stdout.write(`cluster CA: ${r.certFile}\nkey:        ${r.keyFile} (mode 0600; keep it off the nodes)\n`
        + `every node: security.tls.ca: ${r.certFile}\n`);
    });
  cert.command('issue')
    .description("issue a node certificate from the CA in --dir (<name>.crt, <name>.key mode 0600), for serving and calling")
    .requiredOption('--dir <dir>', 'the folder of the CA (d7y cert init)')
    .requiredOption('--name <name>', "the node's identity (the certificate's CN) and the files' name")
    .option('--ip <ip>', 'an IP address the node is reached on (repeatable or comma-separated)', collect)
    .option('--dns <name>', 'a DNS name the node is reached on (repeatable or comma-separated)', collect)
    .option('--days <n>', 'validity in days', (v) => Number.parseInt(v, 10), 365)
    .option('--force', 'replace the files of a certificate of that name (nodes reload them without a restart)')
    .action(async (opts: { dir: string; name: string; ip?: string[]; dns?: string[]; days: number; force?: boolean }) => {
      const { issueNodeCertificate } = await import('../../core/protocol/tls/cluster-certificates.js');
      const r = await issueNodeCertificate(opts.dir, { name: opts.name, ips: opts.ip, dns: opts.dns, days: checkDays(opts.days), force: opts.force });
      process.stdout.write(`certificate: ${r.certFile}\nkey:         ${r.keyFile} (mode 0600)\n`
        + `on node ${opts.name}: security.tls: { mode: mutual, ca: ${opts.dir.replace(/\/$/, '')}/ca.crt, cert: ${r.certFile}, key: ${r.keyFile} }\n`);
    });
  cert.command('show <file>')
    .description('what a PEM certificate holds: subject, issuer, addresses, validity, fingerprint')
    .option('--json', 'machine-readable output')
    .action(async (file: string, opts: { json?: boolean }) => {
      const { describeCertificateFile } = await import('../../core/protocol/tls/cluster-certificates.js');
      const s = await describeCertificateFile(file);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
        return;
      }
      process.stdout.write([
        `subject:   ${s.subject}`, `issuer:    ${s.issuer}`, `serial:    ${s.serial}`,
        `valid:     ${s.notBefore} to ${s.notAfter} (${s.status})`, `ca:        ${s.ca ? 'yes' : 'no'}`,
        `names:     ${s.sans.join(', ') || '-'}`, `sha256:    ${s.sha256}`, '',
      ].join('\n'));
      if (s.status !== 'valid') process.exitCode = 1;
    });
}

function checkDays(days: number): number {
  if (!Number.isInteger(days) || days < 1) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `--days ${days} is not a whole number of days of at least 1`, { fix: 'give --days 1 or more, e.g. --days 365' });
  }
  return days;
}
