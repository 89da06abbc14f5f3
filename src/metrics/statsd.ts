import { StatsD } from 'hot-shots';
import { channels, type DialMessage, type EventSettledMessage, type PipeStateMessage } from '../diagnostics.js';
import { silentLogger, type Logger } from '../log.js';

/**
 * A statsd bridge with the original RestPipe's metric names, so existing dashboards keep
 * working. Import it only when `--statsd` is set (`await import('…/metrics/statsd.js')`): it
 * loads hot-shots, which nothing else needs.
 *
 * | metric | when |
 * |---|---|
 * | `client.connect.new.tick` | a client's dial attempt ended (each attempt counts once) |
 * | `client.connect.connected.tick` | a client's pipe opened |
 * | `client.connect.broken.tick` | a client's pipe closed |
 * | `message.send.tick`, `message.send.timing` (ms) | an outbound event settled |
 * | `message.receive.tick` | an inbound event was handled |
 * | `message.received.handle.<handler>.timing` (ms) | …by handler method `<handler>` (not for unknown handlers) |
 */

/** Options of {@link createStatsdBridge}. */
export interface StatsdBridgeOptions {
  host: string;
  port: number;
  /** Prepended to every name (a `.` is added when missing). @default none, as the original */
  prefix?: string;
  /**
   * Only this role's messages count (a process may run both roles): pipe closes are a client's
   * (`client.connect.broken`), events when the message names its role. @default both
   */
  role?: 'server' | 'client';
  /** Send errors are logged here at debug (statsd is best-effort UDP). @default silent */
  logger?: Logger;
}

/** A running bridge. */
export interface StatsdBridge {
  /** Unsubscribes and closes the UDP socket after pending sends. */
  close(): Promise<void>;
}

// A handler name is `verb_noun` from the far side's event: keep it to characters that cannot
// break the statsd line format (`:`, `|`, `@`, newlines) and bound its length.
const UNSAFE_NAME_CHARS = /[^A-Za-z0-9_-]/g;

/** Starts sending the original metric names to statsd at `host:port` over UDP. */
export function createStatsdBridge(options: StatsdBridgeOptions): StatsdBridge {
  const log = (options.logger ?? silentLogger).child({ component: 'statsd' });
  const prefix = options.prefix === undefined || options.prefix === '' ? '' : options.prefix.endsWith('.') ? options.prefix : `${options.prefix}.`;
  const client = new StatsD({
    host: options.host,
    port: options.port,
    prefix,
    // No Datadog tags from DD_* variables: they would break plain statsd servers.
    includeDataDogTags: false,
    errorHandler: (err: Error) => {
      if (log.isLevelEnabled('debug')) log.debug({ err: err.message }, 'statsd send failed');
    },
  });

  const onEvent = (message: unknown): void => {
    const m = message as EventSettledMessage & { role?: string };
    if (options.role !== undefined && m.role !== undefined && m.role !== options.role) return;
    if (m.direction === 'outbound') {
      client.increment('message.send.tick');
      client.timing('message.send.timing', m.durationMs);
      return;
    }
    client.increment('message.receive.tick');
    if (m.handler !== undefined && m.outcome !== 'no_handler') {
      const name = m.handler.replace(UNSAFE_NAME_CHARS, '_').slice(0, 100);
      client.timing(`message.received.handle.${name}.timing`, m.durationMs);
    }
  };
  const onDial = (message: unknown): void => {
    const m = message as DialMessage;
    client.increment('client.connect.new.tick');
    if (m.outcome === 'connected') client.increment('client.connect.connected.tick');
  };
  const onPipe = (message: unknown): void => {
    const m = message as PipeStateMessage;
    if (m.role !== 'client' || (options.role !== undefined && options.role !== 'client')) return;
    if (m.state === 'closed') client.increment('client.connect.broken.tick');
  };

  channels.eventSettled.subscribe(onEvent);
  channels.dial.subscribe(onDial);
  channels.pipeState.subscribe(onPipe);
  let closing: Promise<void> | undefined;

  return {
    close() {
      closing ??= new Promise<void>((resolve) => {
        channels.eventSettled.unsubscribe(onEvent);
        channels.dial.unsubscribe(onDial);
        channels.pipeState.unsubscribe(onPipe);
        client.close(() => resolve());
      });
      return closing;
    },
  };
}
