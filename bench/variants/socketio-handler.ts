// `socket.io`: the handler process. Dials into the gateway over wss with its client
// certificate (and verifies the gateway's), answers each event by acknowledgement.
import { io } from 'socket.io-client';
import { parseArgs, required, startChildAgent } from '../lib/child.js';
import { readNodePki } from '../lib/pki.js';

const args = parseArgs();
const pki = readNodePki(required(args, 'pki'));
const socket = io(`wss://localhost:${required(args, 'port')}`, {
  transports: ['websocket'],
  key: pki.client.keyPem,
  cert: pki.client.certPem,
  ca: pki.ca.certPem,
  rejectUnauthorized: true,
});
socket.on('get_time', (ack: (reply: unknown) => void) => {
  ack({ time_from_client: Date.now() / 1000 });
});
socket.on('post_echo', (_mimetype: string, body: Buffer, ack: (reply: Buffer) => void) => {
  ack(body);
});
const agent = startChildAgent();
socket.once('connect', () => agent.ready());
socket.on('connect_error', (err) => process.stderr.write(`connect_error: ${err.message}\n`));
