// The node-name rule lives with the other certificate basics; identity re-exports it.
export { IP_NAME_PROBLEM, NODE_NAME_PATTERN, NODE_NAME_RULE, isIpLiteral, isValidNodeName, nodeNameProblem } from '../certificate.js';
