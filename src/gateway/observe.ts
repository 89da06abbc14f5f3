import { BodyHeadTap, channels, type GatewayEventMessage } from '../diagnostics.js';
import type { Readable } from 'node:stream';
import type { GatewayCall } from './gateway-call.js';

/**
 * What the gateway tells observers (the inspector) about an event request, through the
 * diagnostics channels of diagnostics.ts: nothing is built unless someone subscribes, and a
 * body is tapped (its first bytes copied as they pass) only when a subscriber asks for it.
 */

/** The request was routed as an event: publish its start; later steps fill in the rest. */
export function observeStart(call: GatewayCall, role: 'server' | 'client'): void {
  const route = call.route!;
  const req = call.req;
  const message: GatewayEventMessage = {
    role,
    startedAt: Date.now(),
    method: req.method ?? '',
    url: req.url ?? '',
    requestHeaders: req.headers,
    target: route.target,
    verb: route.verb,
    noun: route.noun,
    query: route.query,
    captureBodyBytes: 0,
    // Every field from the start, in one order: one object shape for every message, so the
    // subscribers' code stays monomorphic.
    status: undefined,
    returnCode: undefined,
    errorCode: undefined,
    responseHeaders: undefined,
    requestBytes: undefined,
    replyBytes: undefined,
    durationMs: undefined,
    requestBody: undefined,
    replyBody: undefined,
  };
  call.observed = message;
  call.observedAt = performance.now();
  if (channels.gatewayEventStart.hasSubscribers) channels.gatewayEventStart.publish(message);
  if (message.captureBodyBytes > 0) {
    message.requestBody = new BodyHeadTap(message.captureBodyBytes);
    message.replyBody = new BodyHeadTap(message.captureBodyBytes);
  }
}

/** The request body passed (whole, today; chunk by chunk once bodies are streams). */
export function observeRequestBody(message: GatewayEventMessage, chunk: Uint8Array): void {
  message.requestBytes = (message.requestBytes ?? 0) + chunk.byteLength;
  message.requestBody?.add(chunk);
}

/** The response was written: the message is complete and published. */
export function observeResponse(call: GatewayCall, status: number, headers: readonly string[], body: Uint8Array | readonly Uint8Array[] | undefined): void {
  const message = call.observed!;
  message.status = status;
  message.responseHeaders = headers.slice();
  message.replyBytes = 0;
  for (const piece of body === undefined ? [] : Array.isArray(body) ? (body as readonly Uint8Array[]) : [body as Uint8Array]) {
    message.replyBytes += piece.byteLength;
    message.replyBody?.add(piece);
  }
  observeEnd(call);
}

/** The request is over (answered, or ended without an answer): publish it once. */
export function observeEnd(call: GatewayCall): void {
  const message = call.observed;
  if (message === undefined) return;
  call.observed = undefined;
  message.durationMs = performance.now() - call.observedAt;
  if (channels.gatewayEventEnd.hasSubscribers) channels.gatewayEventEnd.publish(message);
}

/**
 * A streamed request body: its bytes are counted and tapped as the request passes them on.
 * Listening for 'data' on a request already piped into the pipe's stream changes nothing of
 * its pace (the pipe pauses the request when it must).
 */
export function tapRequestBody(message: GatewayEventMessage, req: Readable): void {
  req.on('data', (chunk: Uint8Array) => observeRequestBody(message, chunk));
}

/** A reply whose body streams: its head is known now, its bytes as they pass (tapReplyBody). */
export function observeStreamedReply(message: GatewayEventMessage, status: number, headers: readonly string[], returnCode: number): void {
  message.status = status;
  message.returnCode = returnCode;
  message.responseHeaders = headers.slice();
  message.replyBytes = 0;
}

/** Counts and taps a streamed reply body already piped into the response. */
export function tapReplyBody(message: GatewayEventMessage, body: Readable): void {
  body.on('data', (chunk: Uint8Array) => {
    message.replyBytes = (message.replyBytes ?? 0) + chunk.byteLength;
    message.replyBody?.add(chunk);
  });
}
