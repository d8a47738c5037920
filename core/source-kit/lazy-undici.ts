import type * as Undici from 'undici';
import type { Dispatcher } from 'undici';

export type UndiciModule = typeof Undici;

/** What `undici.request` takes besides the dispatcher, which a LazyUndici gives. */
export type LazyRequestOptions = Omit<Dispatcher.RequestOptions<null>, 'origin' | 'path' | 'method'> & Partial<Pick<Dispatcher.RequestOptions, 'method'>>;

let loading: Promise<UndiciModule> | undefined;

/**
 * undici, imported on first use. Every source plugin and the proxy are built when a peer starts,
 * but most peers never talk to an origin themselves (their seed does); importing undici parses its
 * whole module tree (`fetch` included) and costs a process about 4 MiB of heap.
 */
export function undici(): Promise<UndiciModule> {
  return (loading ??= import('undici'));
}

/**
 * A value made from undici on first use (an Agent, a composed dispatcher), the same one after.
 * `current` is the value if it was made, for closing it without loading undici to do so.
 */
export class LazyUndici<T> {
  private made: Promise<T> | undefined;
  private value: T | undefined;

  /** `dispatcherOf`: what `request` sends through (the value itself unless given). */
  constructor(private readonly make: (u: UndiciModule) => T, private readonly dispatcherOf: (value: T) => Dispatcher = (v) => v as Dispatcher) {}

  /** `undici.request` through the value's dispatcher (or the one `via` picks from it), made on first use. */
  async request(url: string | URL, options: LazyRequestOptions, via: (value: T) => Dispatcher = this.dispatcherOf): Promise<Dispatcher.ResponseData> {
    const value = await this.get();
    return (await undici()).request(url, { ...options, dispatcher: via(value) });
  }

  get(): Promise<T> {
    if (this.made) return this.made;
    const made: Promise<T> = undici().then((u) => {
      const v = this.make(u);
      if (this.made === made) this.value = v;
      return v;
    });
    this.made = made;
    return made;
  }

  get current(): T | undefined {
    return this.value;
  }

  /** Forgets the value, so that the next `get` makes a new one (after a settings change); returns the old one. */
  reset(): T | undefined {
    const old = this.value;
    this.made = undefined;
    this.value = undefined;
    return old;
  }
}
