import type { HandlerContext } from '../event.js';
import type { PostData } from './handler-table.js';

/** The built-in example handlers of one side; see {@link exampleHandlers}. */
export interface ExampleHandlers {
  /** GET `time`: this node's clock, `{"time_from_server": 1718000000.123}` (or `time_from_client`). */
  get_time(): Record<string, number>;
  /**
   * GET `cat//X/Y`: the two parameters concatenated, `{"result_from_server": "XY"}` (or
   * `result_from_client`); a missing parameter counts as `''`.
   */
  get_cat(ctx: HandlerContext, postData: PostData, x?: string, y?: string): Record<string, string>;
}

/**
 * The handlers a node runs when `--handlers` is not given (SPEC §5), the same on both sides
 * apart from the key names, so `restpipe demo` can show an event going each way:
 *
 * ```
 * curl http://127.0.0.1:PORT/server/time            → {"time_from_server":1718000000.123}
 * curl http://127.0.0.1:PORT/server/cat//foo/bar    → {"result_from_server":"foobar"}
 * curl http://127.0.0.1:PORT/client/NAME/time       → {"time_from_client":…}
 * ```
 *
 * `role` is the side the handlers run on, not the side that asks.
 */
export function exampleHandlers(role: 'server' | 'client'): ExampleHandlers {
  const timeKey = `time_from_${role}`;
  const resultKey = `result_from_${role}`;
  return {
    get_time() {
      // Epoch seconds with a fraction, as the original's Python time.time().
      return { [timeKey]: Date.now() / 1000 };
    },
    get_cat(_ctx, _postData, x = '', y = '') {
      return { [resultKey]: x + y };
    },
  };
}
