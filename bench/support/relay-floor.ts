/**
 * The swarm benchmark's `node-relay` mode: the least a Node.js process does to move a file the way
 * d7y's swarm moves it, as a floor to set d7y's CPU per GiB against. No scheduler, no gRPC, no
 * piece bookkeeping, no retries. The file is cut into one part per client. Every client connects
 * to every other client and to the seed; the seed fetches each client's part from the origin once
 * (an HTTP range request) and sends it on as it arrives, and each client sends its part on to every
 * client connected to it as it arrives (cut-through). A receiver reads into one buffer it reuses
 * (`onread`: no allocation per read), hashes the bytes with crc32 and the content digest as a d7y
 * peer does, writes them at their offset and syncs the file at the end.
 *
 *   node relay-floor.js seed   <listen ip:port> <origin url | file:///path> <size> <parts> <output file>
 *   node relay-floor.js client <listen ip:port> <index> <seed ip:port> <clients ip:port,…> <size> <output file> <done file>
 *
 * `<clients>` lists every client in index order, this one included. A client writes the wall-clock
 * millisecond it held the whole file to its done file and exits once its own part has been handed
 * to the kernel for every other client. With a `file:` URL the seed already holds the file and
 * sends each part from disk (one client: the floor of a peer → peer transfer). Wire: to the seed,
 * one line `<part index>\n`, then the part's bytes back; between clients, the sender's part's bytes.
 *
 * Variants for measuring (environment): `RELAY_WRITE` = `sync` (on the event loop, the default),
 * `async` (a copy handed to libuv's threads) or `none`; `RELAY_HASH=0` skips the digests;
 * `RELAY_FROM_DISK=1` sends a client's part on from the file (read back from the page cache, as a
 * d7y peer serves a piece it holds) instead of from the bytes just received. `RELAY_NATIVE=1` moves
 * each part natively (`bench/native`, built by `npm run build:native`): one call per part reads the
 * socket, hashes (crc32 and sha256), writes the file and relays, in a thread of its own, with no
 * JavaScript per read; a receiver then sends one byte to say it is ready before the part flows. A
 * seed holding the file then sends each part with sendfile(2).
 */
import { connect, createServer, type Socket } from 'node:net';
import { request } from 'node:http';
import { closeSync, createReadStream, fdatasyncSync, openSync, readSync, write as writeAsync, writeFileSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { contentHasher } from '../../core/task/content-hash.js';
import { crc32 } from '../../core/task/piece-digest.js';
import { nativeAddon } from '../../core/native/native-addon.js';

const WRITE = process.env.RELAY_WRITE ?? 'sync';
const HASH = process.env.RELAY_HASH !== '0';
const READ_BUFFER = 256 * 1024;
const FROM_DISK = process.env.RELAY_FROM_DISK === '1';
const NATIVE = process.env.RELAY_NATIVE === '1';

interface NativeRelay {
  transfer(src: number, file: number, offset: number, length: number, relays: number[], hash: boolean,
    callback: (e: Error | null, r: { received: number; crc32: number; digest: string }) => void): void;
}

function nativeRelay(): NativeRelay {
  const addon = fileURLToPath(new URL('../../../bench/native/build/Release/relay_native.node', import.meta.url));
  try {
    return createRequire(import.meta.url)(addon) as NativeRelay;
  } catch (e) {
    fatal(`RELAY_NATIVE=1 needs the native addon at ${addon} (run: npm run build:native): ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** The file descriptor under a connected socket (libuv's TCP handle on Linux). */
function socketFd(s: Socket): number {
  const fd = (s as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) fatal('a socket without a file descriptor');
  return fd;
}

/**
 * Connects to `to` with reading stopped, sends `hello`, then moves `sink`'s part from the socket
 * to the file (and on to `relays`) natively. Resolves once the part has landed.
 */
async function nativeReceive(native: NativeRelay, to: { host: string; port: number }, deadline: number, fd: number,
  sink: PartSink, hello: string, relays: Socket[]): Promise<void> {
  const s = await connectRetry(to, deadline);
  (s as unknown as { _handle: { readStop(): number } })._handle.readStop();
  await new Promise<void>((r, j) => s.write(hello, (e) => (e ? j(e) : r())));
  const r = await new Promise<{ received: number }>((resolve) => native.transfer(socketFd(s), fd, sink.position, sink.length,
    relays.map(socketFd), HASH, (e, res) => (e ? fatal(`${to.host}:${to.port}: ${e.message} of ${sink.name}`) : resolve(res))));
  sink.landedNatively(r.received);
  s.destroy();
}

/** Any broken connection ends the run: the benchmark counts this host as failed. */
function fatal(e: unknown): never {
  console.error(`relay-floor: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}

function partRange(size: number, parts: number, i: number): { start: number; end: number } {
  const len = Math.ceil(size / parts);
  return { start: Math.min(size, i * len), end: Math.min(size, (i + 1) * len) };
}

function hostPort(text: string): { host: string; port: number } {
  const m = /^([\d.]+):(\d+)$/.exec(text);
  if (!m) fatal(`"${text}" is not ip:port`);
  return { host: m[1]!, port: Number(m[2]) };
}

/** One part's bytes landing in the output file, hashed on the way. */
class PartSink {
  private crc = 0;
  private readonly hash = contentHasher();
  private at: number;
  private pendingWrites = 0;
  private onSettled: (() => void) | undefined;
  received = 0;

  constructor(private readonly fd: number, start: number, readonly length: number, readonly name: string) {
    this.at = start;
  }

  /** `chunk` may be reused by the caller once this returns. */
  add(chunk: Buffer): void {
    if (this.received + chunk.length > this.length) fatal(`${this.name}: more than its ${this.length} bytes`);
    if (HASH) {
      this.crc = crc32(chunk, this.crc);
      this.hash.update(chunk);
    }
    if (WRITE === 'sync') {
      for (let off = 0; off < chunk.length;) off += writeSync(this.fd, chunk, off, chunk.length - off, this.at + off);
    } else if (WRITE === 'async') {
      const copy = Buffer.from(chunk);
      this.pendingWrites += 1;
      writeAsync(this.fd, copy, 0, copy.length, this.at, (e) => {
        if (e) fatal(e);
        if (--this.pendingWrites === 0) this.onSettled?.();
      });
    }
    this.at += chunk.length;
    this.received += chunk.length;
  }

  /** `n` bytes written by the native path, hashed on its side. */
  landedNatively(n: number): void {
    this.at += n;
    this.received += n;
  }

  /** Where the next byte lands in the file. */
  get position(): number {
    return this.at;
  }

  get complete(): boolean {
    return this.received === this.length;
  }

  /** Resolves once every write has landed. */
  async settled(): Promise<void> {
    if (HASH) this.hash.digest();
    if (this.pendingWrites > 0) await new Promise<void>((r) => { this.onSettled = r; });
  }
}

/** `length` bytes at `position` read back from the file just written (the page cache answers). */
function readBack(fd: number, length: number, position: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  for (let got = 0; got < length;) {
    const n = readSync(fd, b, got, length - got, position + got);
    if (n === 0) fatal(`read back ${got} of ${length} bytes at ${position}`);
    got += n;
  }
  return b;
}

/**
 * Connects to `to`, retrying until `deadline` while it does not listen yet. `onread` gets each
 * read (in a buffer reused for the next); `sink`, the part it fills: the connection ending before
 * the part is whole is an error.
 */
async function connectRetry(to: { host: string; port: number }, deadline: number,
  onread?: (chunk: Buffer) => boolean, sink?: PartSink): Promise<Socket> {
  const buffer = Buffer.allocUnsafe(READ_BUFFER);
  for (;;) {
    try {
      return await new Promise<Socket>((resolve, reject) => {
        const s = connect({
          port: to.port, host: to.host,
          ...(onread ? { onread: { buffer, callback: (n: number, buf: Uint8Array) => onread(Buffer.from(buf.buffer, buf.byteOffset, n)) } } : {}),
        });
        // Without `onread` the caller reads natively: libuv must not start reading.
        if (!onread) s.pause();
        s.once('connect', () => {
          s.off('error', reject);
          s.on('error', fatal);
          // Flowing, so that the peer's end of the stream is seen.
          if (sink) s.on('end', () => { if (!sink.complete) fatal(`${to.host}:${to.port} closed the connection after ${sink.received} of the ${sink.length} bytes of ${sink.name}`); }).resume();
          resolve(s);
        });
        s.once('error', reject);
      });
    } catch (e) {
      if (Date.now() > deadline) fatal(e);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

function seed(listen: string, url: string, size: number, parts: number, output: string): void {
  const fd = url.startsWith('file:') ? undefined : openSync(output, 'w');
  const { host, port } = hostPort(listen);
  const server = createServer((sock) => {
    sock.on('error', fatal).setNoDelay(true);
    let head = '';
    const onHead = (chunk: Buffer): void => {
      head += chunk.toString('latin1');
      const nl = head.indexOf('\n');
      if (nl < 0) { if (head.length > 16) fatal('no part header in the first 16 bytes'); return; }
      sock.off('data', onHead);
      const index = Number(head.slice(0, nl));
      if (!Number.isInteger(index) || index < 0 || index >= parts) fatal(`part header "${head.slice(0, nl)}" is not a part of ${parts}`);
      const { start, end } = partRange(size, parts, index);
      if (url.startsWith('file:') && NATIVE) {
        // The kernel sends the part from the file (sendfile), as nginx does.
        sock.pause();
        (sock as unknown as { _handle: { readStop(): number } })._handle.readStop();
        const file = openSync(fileURLToPath(url), 'r');
        const { addon, why } = nativeAddon();
        if (!addon) fatal(`RELAY_NATIVE=1: ${why}`);
        addon.sendFile(socketFd(sock), file, start, end - start, 30_000, (e) => {
          closeSync(file);
          if (e) fatal(`part ${index}: ${e.message}`);
          sock.end();
        });
        return;
      }
      if (url.startsWith('file:')) {
        // A seed that already holds the file: it reads the part from disk and sends it.
        createReadStream(fileURLToPath(url), { start, end: end - 1, highWaterMark: READ_BUFFER }).on('error', fatal).pipe(sock);
        return;
      }
      const sink = new PartSink(fd!, start, end - start, `part ${index}`);
      const req = request(url, { headers: { range: `bytes=${start}-${end - 1}` } }, (res) => {
        if (res.statusCode !== 206) fatal(`the origin answered ${res.statusCode} to a range request`);
        res.on('data', (c: Buffer) => {
          sink.add(c);
          if (!sock.write(c)) { res.pause(); sock.once('drain', () => res.resume()); }
        });
        res.on('end', () => { sock.end(); });
      });
      req.on('error', fatal).end();
    };
    sock.on('data', onHead);
  });
  server.on('error', fatal).listen(port, host);
  // Serves until stopped.
}

async function client(listen: string, index: number, seedAt: string, clientList: string, size: number, output: string, doneFile: string): Promise<void> {
  const clients = clientList.split(',').filter(Boolean).map(hostPort);
  const parts = clients.length;
  if (index >= parts) fatal(`index ${index} is not one of ${parts} clients`);
  const fd = openSync(output, 'w+');
  const sinks: PartSink[] = Array.from({ length: parts }, (_, i) => {
    const { start, end } = partRange(size, parts, i);
    return new PartSink(fd, start, end - start, `part ${i}`);
  });
  let resolveAll!: () => void;
  const all = new Promise<void>((r) => { resolveAll = r; });
  const landed = (): void => { if (sinks.every((s) => s.complete)) resolveAll(); };

  // Those who receive this client's part connect here; it starts asking the seed once all have.
  const receivers: Socket[] = [];
  let allConnected!: () => void;
  const connected = new Promise<void>((r) => { allConnected = r; });
  const server = createServer((sock) => {
    sock.on('error', fatal).setNoDelay(true);
    const ready = (): void => {
      receivers.push(sock);
      if (receivers.length === parts - 1) allConnected();
    };
    // A native receiver says when its reading has left libuv; the part then flows to it natively.
    if (NATIVE) sock.once('data', () => { sock.pause(); ready(); });
    else ready();
  });
  if (parts === 1) allConnected();
  await new Promise<void>((r) => server.on('error', fatal).listen(hostPort(listen).port, hostPort(listen).host, r));
  const deadline = Date.now() + 30_000;
  if (NATIVE) {
    const native = nativeRelay();
    const others = clients.map((c, i) => (i === index ? undefined : nativeReceive(native, c, deadline, fd, sinks[i]!, 'g', [])));
    await connected;
    await Promise.all([...others, nativeReceive(native, hostPort(seedAt), deadline, fd, sinks[index]!, `${index}\n`, receivers)]);
    await finish(fd, sinks, doneFile, receivers);
    server.close();
    process.exit(0);
  }
  await Promise.all(clients.map((c, i) => (i === index ? undefined : connectRetry(c, deadline, (chunk) => {
    sinks[i]!.add(chunk);
    landed();
    return true;
  }, sinks[i]))));
  await connected;

  let waiting = 0;
  const up: Socket = await connectRetry(hostPort(seedAt), deadline, (chunk) => {
    const at = sinks[index]!.position;
    sinks[index]!.add(chunk);
    const copy = receivers.length === 0 ? undefined : FROM_DISK ? readBack(fd, chunk.length, at) : Buffer.from(chunk);
    let ok = true;
    for (const r of receivers) {
      if (!r.write(copy!)) {
        ok = false;
        waiting += 1;
        r.once('drain', () => { if (--waiting === 0) up.resume(); });
      }
    }
    landed();
    return ok;
  }, sinks[index]);
  up.write(`${index}\n`);
  await all;
  await finish(fd, sinks, doneFile, receivers);
  server.close();
  process.exit(0);
}

/** Once every part has landed: the file synced, the done file written, this client's part handed over. */
async function finish(fd: number, sinks: PartSink[], doneFile: string, receivers: Socket[]): Promise<void> {
  await Promise.all(sinks.map((s) => s.settled()));
  fdatasyncSync(fd);
  closeSync(fd);
  writeFileSync(doneFile, `${Date.now()}\n`);
  await Promise.all(receivers.map((r) => new Promise<void>((res) => { r.end(() => res()); })));
}

const [role, ...a] = process.argv.slice(2);
const n = (s: string | undefined, what: string): number => {
  const v = Number(s);
  if (!Number.isSafeInteger(v) || v < 0) fatal(`${what} "${s}" is not a whole number`);
  return v;
};
/** Every part holds at least one byte (an empty part would be an empty range request). */
const sized = (size: number, parts: number): number => {
  if (parts < 1 || size < parts) fatal(`a file of ${size} bytes cannot be cut into ${parts} parts: give at least one byte per part`);
  return size;
};
if (role === 'seed' && a.length === 5) {
  seed(a[0]!, a[1]!, sized(n(a[2], 'size'), n(a[3], 'parts')), n(a[3], 'parts'), a[4]!);
} else if (role === 'client' && a.length === 7) {
  await client(a[0]!, n(a[1], 'index'), a[2]!, a[3]!, sized(n(a[4], 'size'), a[3]!.split(',').filter(Boolean).length), a[5]!, a[6]!);
} else {
  console.error('usage: relay-floor.js seed <ip:port> <url> <size> <parts> <out> | client <ip:port> <index> <seed ip:port> <clients> <size> <out> <done file>');
  process.exit(2);
}
