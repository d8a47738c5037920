import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** The calls of d7y's native addon (native/d7y-native.c, built by `npm run build:native`). */
export interface NativeAddon {
  /**
   * Sends `length` bytes of `fileFd` from `offset` to `socketFd` with sendfile(2), in a thread of its
   * own (both descriptors duplicated); the caller writes nothing to the socket until `callback`.
   */
  sendFile(socketFd: number, fileFd: number, offset: number, length: number, timeoutMs: number,
    callback: (err: Error | null, sent: number) => void): object;
  /**
   * Reads exactly `length` bytes from `socketFd` into `buffer` at `offset`, in a thread of its own
   * (the descriptor duplicated); the caller reads nothing from the socket until `callback`.
   */
  recvInto(socketFd: number, buffer: Buffer, offset: number, length: number, timeoutMs: number,
    callback: (err: Error | null, received: number) => void): object;
  /** Ends a call under way (before its callback) by shutting its socket down. */
  cancel(job: object): void;
}

const ADDON = fileURLToPath(new URL('../../../native/build/Release/d7y_native.node', import.meta.url));

let loaded: { addon?: NativeAddon; why?: string } | undefined;

/** The native addon, or why there is none (not built: the data path stays in JavaScript). */
export function nativeAddon(): { addon?: NativeAddon; why?: string } {
  if (!loaded) {
    try {
      loaded = { addon: createRequire(import.meta.url)(ADDON) as NativeAddon };
    } catch (err) {
      loaded = { why: `the native addon is not built (${ADDON}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); run npm run build:native` };
    }
  }
  return loaded;
}

/** `sendFile` as a promise; `onJob` gets the job while it runs (to cancel it). */
export function sendFileSpan(addon: NativeAddon, socketFd: number, fileFd: number, offset: number, length: number, timeoutMs: number,
  onJob: (job: object | undefined) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    onJob(addon.sendFile(socketFd, fileFd, offset, length, timeoutMs, (err) => {
      onJob(undefined);
      if (err) reject(err);
      else resolve();
    }));
  });
}
