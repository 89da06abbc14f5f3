/**
 * SIGINT, SIGTERM and SIGHUP for a node run by the CLI, installed by bin/restpipe.js before
 * anything else is loaded. Without a handler, Node's default for SIGHUP and SIGTERM is to die at
 * once: a `systemctl reload` in the first second of a start (while the modules load, the
 * identity is read and the pipe port bound) used to kill the node. Signals that arrive before
 * the node is up are kept and acted on once it is; a command that runs no node releases them
 * and a stop signal that arrived meanwhile then ends the process as it would have.
 *
 * Imports nothing, so that installing it costs nothing.
 */

/** What the signals drive: a node that can reload and close. */
export interface SignalTarget {
  /** SIGHUP. */
  reload(): Promise<void>;
  /** SIGINT/SIGTERM, the first time: drain and close; resolves with the exit code. */
  stop(signal: NodeJS.Signals): Promise<number>;
  /** A second SIGINT/SIGTERM while stopping. */
  stopNow(signal: NodeJS.Signals): void;
  /** A SIGHUP that arrived while the node was starting is about to be acted on. */
  reloadQueued(): void;
}

const SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** See the module's description. */
export class NodeSignals {
  #target: SignalTarget | undefined;
  #pendingStop: NodeJS.Signals | undefined;
  #pendingReload = false;
  #stopping = false;
  #done: ((code: number) => void) | undefined;
  readonly #handler = (signal: NodeJS.Signals): void => this.#on(signal);

  /** Installs the handlers; signals are kept until attach() or release(). */
  static install(): NodeSignals {
    const signals = new NodeSignals();
    for (const signal of SIGNALS) process.on(signal, signals.#handler);
    return signals;
  }

  /**
   * The node is up: signals kept meanwhile are acted on now (a stop first: it makes a reload
   * moot), later ones as they come. Resolves with the exit code once a stop has finished.
   */
  attach(target: SignalTarget): Promise<number> {
    this.#target = target;
    const done = new Promise<number>((resolve) => (this.#done = resolve));
    if (this.#pendingStop !== undefined) {
      this.#on(this.#pendingStop);
    } else if (this.#pendingReload) {
      target.reloadQueued();
      void target.reload();
    }
    this.#pendingReload = false;
    this.#pendingStop = undefined;
    return done;
  }

  /**
   * For a command that runs no node (or a node that failed to start): the handlers go, and a
   * stop signal that arrived meanwhile is raised again, so it ends the process as it would have.
   */
  release(): void {
    for (const signal of SIGNALS) process.removeListener(signal, this.#handler);
    const pending = this.#pendingStop;
    this.#pendingStop = undefined;
    this.#target = undefined;
    if (pending !== undefined) process.kill(process.pid, pending);
  }

  #on(signal: NodeJS.Signals): void {
    const target = this.#target;
    if (target === undefined) {
      if (signal === 'SIGHUP') this.#pendingReload = true;
      else this.#pendingStop ??= signal;
      return;
    }
    if (signal === 'SIGHUP') {
      if (!this.#stopping) void target.reload();
      return;
    }
    if (this.#stopping) {
      target.stopNow(signal);
      this.#done?.(1);
      return;
    }
    this.#stopping = true;
    void target.stop(signal).then((code) => this.#done?.(code));
  }
}
