export { ForwardTable, type ForwardMatch, type ForwardTarget } from './forward-table.js';
export { createForwarder, type Forwarder, type ForwarderOptions } from './forwarder.js';
