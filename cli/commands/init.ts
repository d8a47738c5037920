import type { Command } from '../commander.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** `d7y init <runtime>`: point a container runtime at the local peer's registry mirror. */
export function registerInitCommand(program: Command): void {
  program.command('init')
    .description('point a container runtime (containerd, cri-o, podman, docker) at the local peer\'s registry mirror: merges its config files, keeps backups, never restarts anything')
    .argument('<runtime>', 'containerd, cri-o, podman or docker')
    .option('--registry <host>', 'a registry to configure by name (repeatable); containerd mirrors every registry anyway, cri-o/podman take one (default docker.io)', collect)
    .option('--proxy <host:port>', 'the peer\'s proxy and registry mirror (default: peer.proxy.listen of -c, else 127.0.0.1:4001)')
    .option('-c, --config <file>', 'the node config of the local peer, whose peer.proxy.listen is the mirror')
    .option('--config-dir <dir>', 'where the files go: containerd certs.d (default: config.toml\'s config_path, else /etc/containerd/certs.d); cri-o/podman /etc/containers; docker /etc/docker')
    .option('--containerd-config <file>', 'containerd\'s config.toml, whose CRI registry config_path is set (default /etc/containerd/config.toml)')
    .option('--dry-run', 'show the changes as a diff and write nothing')
    .option('--json', 'machine-readable result: every file, what happened to it, the diff and what to restart')
    .action(async (runtime: string, opts: import('../runtime-init/run-init.js').InitOptions) => (await import('../runtime-init/run-init.js')).runInit(runtime, opts));
}
