/**
 * Every default of the library and the CLI, named once (SPEC §3 gives the user-visible ones in
 * seconds). Options resolve against these; the CLI's help and the README's flag table show them.
 */

/** A heartbeat this often on an idle pipe (SPEC §6). */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 5_000;
/** A peer silent this long is dead. */
export const DEFAULT_HEARTBEAT_TIMEOUT_MS = 10_000;
/** How long a request waits for a missing pipe to (re)appear. */
export const DEFAULT_CONNECT_WAIT_MS = 20_000;
/** How long a request waits for its reply. */
export const DEFAULT_EVENT_TIMEOUT_MS = 60_000;
/** How long a forward's upstream may take to send its response head (SPEC §10, `--forward-timeout`). */
export const DEFAULT_FORWARD_TIMEOUT_MS = 60_000;
/** Reconnect backoff floor and ceiling (full jitter in between). */
export const DEFAULT_RECONNECT_MIN_MS = 500;
export const DEFAULT_RECONNECT_MAX_MS = 30_000;
/** Largest event body, request or reply (`--max-body`). */
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024;
/**
 * Node has no connect timeout of its own: a black-holed SYN waits ~127 s. 3 s, because Linux
 * resends an unanswered SYN only after doubling delays (1 s, 2 s, 4 s, …): after a partition
 * heals, a dial cut off at 3 s and made again with a fresh SYN connects sooner than one left to
 * wait for the kernel's next retransmit (SPEC §6, issue 14).
 */
export const DEFAULT_CONNECT_TIMEOUT_MS = 3_000;
/** Node's tls.Server default is 120 s; a stalled handshake must hold nothing that long. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
/** How long each side waits for the other's hello. */
export const DEFAULT_HELLO_TIMEOUT_MS = 10_000;
/** How long close() lets in-flight events finish before destroying the pipe (`--grace`). */
export const DEFAULT_GRACE_MS = 10_000;
/** Events in flight per pipe and direction before send() fails with too_many_in_flight. */
export const DEFAULT_MAX_INFLIGHT = 4_096;
/** The server's idle hook fires this often while no client is connected (the original's 60 s). */
export const DEFAULT_IDLE_HOOK_INTERVAL_MS = 60_000;
/** Outbound bytes queued on a pipe before senders wait for the socket to drain. */
export const DEFAULT_MAX_QUEUED_BYTES = 8 * 1024 * 1024;
/** The receive window each body stream starts with (SPEC §9; yamux's 256 KiB). */
export const DEFAULT_STREAM_WINDOW_BYTES = 256 * 1024;
/** The largest a stream's window grows to on a fast link. */
export const DEFAULT_MAX_STREAM_WINDOW_BYTES = 16 * 1024 * 1024;
/** The receive window of a whole pipe: the most unread body bytes a node holds per pipe. */
export const DEFAULT_PIPE_WINDOW_BYTES = 32 * 1024 * 1024;
/** The inline body bytes of a peer's events in flight at once that a node takes per pipe. */
export const DEFAULT_MAX_INLINE_INFLIGHT_BYTES = 8 * 1024 * 1024;

/** The pipe port: where a server listens and a client dials. */
export const DEFAULT_SERVER_PORT = 1234;
/** Where a server accepts pipes: every interface. */
export const DEFAULT_LISTEN_HOST = '0.0.0.0';
/** The server a client dials. */
export const DEFAULT_SERVER_HOST = 'localhost';
/** Where a node's REST gateway listens unless told otherwise: loopback only (SPEC §3). */
export const DEFAULT_GATEWAY_LISTEN = {
  server: { host: '127.0.0.1', port: 1235 },
  client: { host: '127.0.0.1', port: 1236 },
} as const;
/** statsd's usual port, for `RP_STATSD_HOST` given without `RP_STATSD_PORT`. */
export const DEFAULT_STATSD = { host: 'localhost', port: 8125 } as const;

/** How long the gateway waits for a request's headers (Node's `headersTimeout`). */
export const DEFAULT_GATEWAY_HEADERS_TIMEOUT_MS = 10_000;
/** How long a whole request (headers and body) may take to arrive (Node's `requestTimeout`). */
export const DEFAULT_GATEWAY_REQUEST_TIMEOUT_MS = 120_000;
/** How long an idle keep-alive connection to the gateway stays open. */
export const DEFAULT_GATEWAY_KEEP_ALIVE_TIMEOUT_MS = 5_000;
/** How long resolving a `/client/HOSTNAME/…` name may take. */
export const DEFAULT_DNS_TIMEOUT_MS = 2_000;

/** setTimeout's ceiling (2^31−1 ms, ~24.8 days); a longer delay would fire at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Events the inspector keeps (`--inspect-events`, SPEC §13). */
export const DEFAULT_INSPECT_EVENTS = 500;
/** The most events `--inspect-events` may ask to keep (with bodies, up to about 20 KiB each). */
export const MAX_INSPECT_EVENTS = 50_000;
