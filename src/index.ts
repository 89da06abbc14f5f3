/// <reference types="node" preserve="true" />
// The directive above is kept in the published .d.ts (preserve="true"): the declarations use
// Node's types (Buffer, node:tls, the EventEmitter that RestpipeServer and RestpipeClient extend),
// and TypeScript 6 and later no longer load @types/node unless a file asks for it (`types`
// defaults to []). Without it, a project compiled with TypeScript 7 sees `Cannot find name
// 'Buffer'` in these files and `Property 'on' does not exist on type 'PipeServer'` (issue 9).
/**
 * restpipe's public library: start a server or a client node's pipe end and send events both
 * ways, with no HTTP hop. The CLI and the gateway are built on exactly this.
 */
export { createClient, createServer, type AccessCheck, type ClientOptions, type HandlerOption, type RestpipeClient, type RestpipeServer, type ServerOptions } from './create.js';
export type { PipeClientOptions } from './client/client-options.js';
export type { PipeServerOptions } from './server/server-options.js';
export type { ClientStatus, PipeClientEvents } from './client/pipe-client.js';
export type { ClientTlsMaterial, Connector, DialOptions, DialedPipe } from './client/connector.js';
export type { ConnectedClient, PipeServerEvents, ServerTlsMaterial } from './server/pipe-server.js';
export type { RefusedEvent } from './server/refusals.js';
export {
  ReturnCode,
  VERBS,
  type EventRequest,
  type HandlerContext,
  type PeerInfo,
  type Reply,
  type SendOptions,
  type StreamReply,
  type HeaderList,
  type Verb,
} from './event.js';
export { ErrorCode, IdentityError, ProtocolError, RestpipeError, hasErrorCode } from './errors.js';
/** Why a pipe is closed, as `disconnect()` tells the peer (the wire's GOAWAY codes). */
export { GoAwayCode } from './wire/messages.js';
export { reply, streaming, exampleHandlers, type BrandedReply, type ExampleHandlers, type PostData, type ReplyInit } from './dispatch/index.js';
export type { BodyStream } from './bodies.js';
export type { HeadersInit } from './http-headers.js';
export { silentLogger, type Logger } from './log.js';
export { DEFAULT_TLS_MIN_VERSION, TLS12_CIPHERS, TLS13_CIPHERSUITES, TLS_GROUPS, type TlsMinVersion } from './tls-policy.js';
export type { PipeTimingOptions } from './options/pipe.js';
export {
  BodyHeadTap,
  channels,
  type DialMessage,
  type EventSettledMessage,
  type GatewayEventMessage,
  type PipeStateMessage,
  type RefusalMessage,
  type ReplacedMessage,
  type RulesRefusedMessage,
} from './diagnostics.js';
export { startNode, type NodeOptions, type RunningNode } from './node.js';
export { createGateway, type Gateway, type GatewayAddress, type GatewayListen, type GatewayOptions, type GatewayPages, type PageCall } from './gateway/gateway.js';
export { createRecorder, type InspectRecorder, type RecorderListener, type RecorderOptions } from './inspect/recorder.js';
export { createInspectPages } from './inspect/routes.js';
export type { BodyView, EventDetail, EventRecord, EventSummary, KeptBody, StoredDetail } from './inspect/event-record.js';
export type { EventFilter } from './inspect/event-ring.js';
export type { InspectedPipe } from './inspect/pipe-table.js';
export type { CertificateExpiryOptions } from './cert-expiry.js';
export type {
  CertificateExpiry,
  ClientNodeStatus,
  ClientState,
  ConnectedClientStatus,
  EventSender,
  ForwardStatus,
  InFlight,
  NodeStatus,
  PipeInfo,
  SenderOptions,
  ServerNodeStatus,
  ServerState,
} from './sender.js';
export { createPrometheusMetrics, type MetricsStateSource, type PrometheusMetrics, type PrometheusMetricsOptions } from './metrics/prometheus.js';
export type { EventHead, ParsedEvent } from './event.js';
// Identity (CA, certificates, install) is on the subpath 'restpipe/identity': it loads @peculiar/x509,
// which a program that only runs pipes does not need.
