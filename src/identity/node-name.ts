// The node-name rule lives with the other certificate basics; identity re-exports it.
export { NODE_NAME_PATTERN, NODE_NAME_RULE, isValidNodeName } from '../certificate.js';
