import type { Command } from '../commander.js';

interface CaOpts {
  out?: string;
  config?: string;
  dataDir?: string;
}

/** `d7y proxy ca`: the certificate clients must trust for the peer's HTTPS proxy. */
export function registerProxyCommand(program: Command): void {
  const proxy = program.command('proxy').description("the peer's HTTP(S) proxy");
  proxy.command('ca')
    .description("print the proxy's CA certificate (PEM), making the CA if the peer has none yet")
    .option('--out <file>', 'write the certificate to this file instead of stdout')
    .option('-c, --config <file>', 'node config (YAML or JSON): whose peer data dir holds the CA')
    .option('--data-dir <dir>', 'the node data dir (default $D7Y_DATA_DIR, else ~/.d7y)')
    .action(async (opts: CaOpts) => {
      const { loadRoleConfig } = await import('../role-options.js');
      const { createLogger } = await import('../../core/logging/logger.js');
      const { loadPeerProxyCa } = await import('../../plugins/index.js');
      const config = await loadRoleConfig({ config: opts.config, dataDir: opts.dataDir });
      const ca = await loadPeerProxyCa(config, createLogger({ level: process.env.D7Y_LOG_LEVEL ?? 'warn', format: config.log.format }));
      let file = ca.certFile;
      if (opts.out) {
        const { writeFile } = await import('node:fs/promises');
        await writeFile(opts.out, ca.certificatePem, { mode: 0o644 });
        file = opts.out;
      } else process.stdout.write(ca.certificatePem);
      process.stderr.write(`d7y: proxy CA ${ca.generated ? 'made now in' : 'from'} ${ca.certFile}; clients of the HTTPS proxy must trust it:\n`
        + `  Debian/Ubuntu: cp ${file} /usr/local/share/ca-certificates/d7y-proxy.crt && update-ca-certificates\n`
        + `  curl: curl --cacert ${file} -x http://127.0.0.1:4001 https://...\n`);
    });
}
