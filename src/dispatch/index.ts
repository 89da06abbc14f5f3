/**
 * Dispatch: from an inbound event to a handler method and back to a reply (SPEC §5). Knows
 * nothing of sockets or the wire; a pipe session is handed the function `createDispatcher`
 * returns.
 */
export {
  HOOK_NAMES,
  buildHandlerTable,
  type HandlerFn,
  type HandlerTable,
  type HandlerTableOptions,
  type HookFn,
  type HookName,
  type PostData,
} from './handler-table.js';
export { createDispatcher, type DispatcherOptions } from './dispatcher.js';
export { reply, toReply, type BrandedReply, type ReplyInit } from './reply-forms.js';
export { streaming, isStreaming } from './streaming.js';
export { exampleHandlers, type ExampleHandlers } from './examples.js';
