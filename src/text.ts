/**
 * Small text helpers for log lines and error messages, in one place: durations as people read
 * them, user strings kept short, and a peer's text made safe to log.
 */

/** `1500` → `'1.5 s'`: a duration in ms as seconds with at most three decimals. */
export function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

/** A socket error for a log line: its code (ECONNRESET, …) and message, the code once. */
export function describeSocketError(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  return code !== undefined && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
}

/** Keeps user-supplied strings short in error messages and logs. */
export function truncate(s: string, max = 80): string {
  return s.length <= max ? s : `${s.slice(0, max)}…`;
}

/*
 * Text that came from a peer (a goaway or cancel reason, a protocol error's detail, a name in a
 * certificate), made fit for a log line or an error message. A peer with a valid certificate may
 * be hostile: unbounded, such text multiplies the log (a 64 KiB goaway reason, logged per
 * connection), and raw control characters let it forge log lines on a terminal (pino-pretty
 * prints strings as they are) or hide text with bidirectional overrides.
 */

/** How much of a peer's text is kept, in UTF-16 code units. */
export const PEER_TEXT_MAX = 200;

// C0 and C1 controls, DEL, and the Unicode line/paragraph separators and bidirectional
// embedding/override/isolate marks, which terminals and viewers act on.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const UNSAFE_TEST = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

function escapeChar(c: string): string {
  switch (c) {
    case '\n': return '\\n';
    case '\r': return '\\r';
    case '\t': return '\\t';
    default: {
      const code = c.charCodeAt(0);
      return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
    }
  }
}

/**
 * A peer's text cut to `max` characters (plus a note of how much was cut) with every control
 * character escaped (`\n`, `\x1b`, `\u202e`, …). Costs nothing for short plain text.
 */
export function peerText(text: string, max = PEER_TEXT_MAX): string {
  let s = text;
  let cut = 0;
  if (s.length > max) {
    let end = max;
    // Do not split a surrogate pair.
    const last = s.charCodeAt(end - 1);
    if (last >= 0xd800 && last <= 0xdbff) end--;
    cut = s.length - end;
    s = s.slice(0, end);
  }
  if (UNSAFE_TEST.test(s)) s = s.replace(UNSAFE, escapeChar);
  return cut === 0 ? s : `${s}… (${cut} more characters)`;
}
