// The part of autocannon's programmatic API the load generator uses (it ships no types).
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events';
  interface Options {
    url: string;
    method?: string;
    headers?: Record<string, string>;
    body?: Buffer | string;
    connections?: number;
    pipelining?: number;
    duration?: number;
    timeout?: number;
    [key: string]: unknown;
  }
  interface Instance extends EventEmitter {
    stop(): void;
  }
  function autocannon(opts: Options, cb: (err: Error | null, result: unknown) => void): Instance;
  export default autocannon;
}
