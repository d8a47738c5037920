import type { Command } from './commander.js';

const SOCKET_HELP = "the daemon's local API socket";

/**
 * Adds the options that say which peer a command talks to (see connectPeer): `--socket`,
 * `--daemon` / `--no-daemon`, `-c`, `--data-dir`, `--plugins-file`. `d7y get` and `d7y task`
 * share them. The socket's default is shown in help without loading anything at start.
 */
export function addPeerOptions(cmd: Command, parent: Command): Command {
  cmd
    .option('--socket <path>', SOCKET_HELP)
    .option('--daemon', 'use the daemon on the socket; fail if none listens')
    .option('--no-daemon', 'never use a daemon: use a peer in this process')
    .option('-c, --config <file>', 'node config (YAML or JSON) for the peer: its data dir, socket and schedulers')
    .option('--data-dir <dir>', 'where the peer keeps its data (default ~/.d7y)')
    .option('--plugins-file <file>', 'plugins.json for a peer in this process (default ./plugins.json, else the shipped one)');
  parent.hook('preSubcommand', async (_parent, sub) => {
    if (sub !== cmd) return;
    const { defaultPeerSocket } = await import('./peer-socket.js');
    const socket = cmd.options.find((o) => o.long === '--socket');
    if (socket) socket.description = `${SOCKET_HELP} (default ${defaultPeerSocket()})`;
  });
  return cmd;
}
