// The scale and reconnect-storm load generator: one process holding N restpipe clients
// (createClient, the library's own dial loop and default backoff), each with its own
// certificate and so its own CN. Driven by the orchestrator over IPC:
//   connect        start all clients (in waves) and wait until every pipe is ready
//   probe          every client sends one get_time to the server; counts the successes
//   arm-storm      from now on, the first pipe each client opens is followed by a get_time;
//                  when every client has one answered, a `storm-done` message carries the times
//   storm-status   how many are back so far
// --resumption on|off: the clients keep and offer TLS sessions (the library's default) or not.
// --storm-profile FILE: a CPU profile of the storm alone (from arm-storm to storm-done), through
// node:inspector, so that the first connect of the N clients does not hide the storm's costs.
import { createClient, exampleHandlers, silentLogger, type Logger, type RestpipeClient } from '../src/index.js';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { parseArgs, required, startChildAgent, type Message } from './lib/child.js';
import { readPki } from './lib/pki.js';

const args = parseArgs();
const pki = readPki(required(args, 'pki'));
const port = Number(required(args, 'port'));
const count = Number(required(args, 'count'));
const resumption = args.resumption !== 'off';
const stormProfile = args['storm-profile'];
let profiler: Session | undefined;
if (pki.clients.length < count) throw new Error(`the PKI has ${pki.clients.length} client identities, ${count} needed`);

/** Wall-clock ms with sub-ms resolution, comparable across the processes of this machine. */
const now = (): number => performance.timeOrigin + performance.now();

interface Slot {
  client: RestpipeClient;
  armed: boolean;
  /** After arming: when each client state was first entered (0: not yet). */
  stages: Record<string, number>;
  readyAt: number;
  servedAt: number;
  probing: boolean;
}

const slots: Slot[] = [];
let connectFails = 0;
let stormBack = 0;
let stormReady = 0;
let stormArmedAt = 0;
/** After arming: why dials failed (reason with numbers stripped → count), and the longest backoff chosen. */
let failReasons: Record<string, number> = {};
let maxBackoffMs = 0;
/** After arming: pipes opened by a resumed TLS session (the clients' own 'pipe open' line says). */
let stormResumed = 0;

/**
 * A logger that writes nothing and counts the resumed pipes: the client's 'pipe open' line
 * carries `resumed`. Its level checks say no, as the silent logger's do, so nothing else is built.
 */
const countingLogger: Logger = {
  ...silentLogger,
  info(obj: object, msg?: string) {
    if (msg?.startsWith('pipe open') === true && (obj as { resumed?: boolean }).resumed === true) stormResumed++;
    // A resumed dial that failed is retried at once, without a backoff status: count its reason here.
    if (msg?.startsWith('resumed TLS session failed') === true && stormArmedAt > 0) {
      const key = `resumed, then: ${String((obj as { reason?: string }).reason ?? '?').replace(/[0-9.]+/g, 'N').slice(0, 80)}`;
      failReasons[key] = (failReasons[key] ?? 0) + 1;
    }
  },
  child: () => countingLogger,
};

function makeClient(i: number): Slot {
  const id = pki.clients[i]!;
  const client = createClient({
    host: '127.0.0.1',
    port,
    tls: { key: id.keyPem, cert: id.certPem, ca: pki.ca.certPem },
    handlers: exampleHandlers('client'),
    tlsResumption: resumption,
    logger: countingLogger,
  });
  const slot: Slot = { client, armed: false, stages: {}, readyAt: 0, servedAt: 0, probing: false };
  client.on('status', (st) => {
    if (slot.armed && slot.stages[st.state] === undefined) slot.stages[st.state] = now();
    if (slot.armed && st.state === 'backoff' && st.attempt > 0) {
      const key = (st.reason ?? '?').replace(/[0-9.]+/g, 'N').slice(0, 90);
      failReasons[key] = (failReasons[key] ?? 0) + 1;
      maxBackoffMs = Math.max(maxBackoffMs, st.delayMs ?? 0);
    }
  });
  client.on('connect_fail', () => {
    connectFails++;
  });
  client.on('connect_success', () => {
    if (!slot.armed || slot.readyAt !== 0) return;
    slot.readyAt = now();
    stormReady++;
    serveOnce(slot);
  });
  return slot;
}

/** After a storm reconnect: one event through the new pipe proves the client is serving again. */
function serveOnce(slot: Slot): void {
  if (slot.probing || slot.servedAt !== 0) return;
  slot.probing = true;
  slot.client.send({ verb: 'get', noun: 'time' }).then(
    (reply) => {
      slot.probing = false;
      if (reply.code !== 0) {
        setTimeout(serveOnce, 100, slot);
        return;
      }
      slot.servedAt = now();
      slot.armed = false;
      stormBack++;
      if (stormBack === slots.length) finishStorm();
    },
    () => {
      // The pipe broke again (or no pipe within connect-wait): try again shortly; the client's
      // own dial loop is what brings the pipe back.
      slot.probing = false;
      setTimeout(serveOnce, 100, slot);
    },
  );
}

function finishStorm(): void {
  // The profile is written first: the orchestrator may stop this process once it has the times.
  void stopProfile().then(() => agent.send({
    type: 'storm-done',
    armedAt: stormArmedAt,
    readyAt: slots.map((s) => s.readyAt),
    servedAt: slots.map((s) => s.servedAt),
    stages: stageMedians(),
    connectFails,
    failReasons,
    maxBackoffMs,
    resumed: stormResumed,
  }));
}

async function connect(waveSize: number): Promise<{ ms: number; connectFails: number }> {
  const started = now();
  for (let i = 0; i < count; i += waveSize) {
    const wave: Promise<void>[] = [];
    for (let j = i; j < Math.min(count, i + waveSize); j++) {
      const slot = makeClient(j);
      slots.push(slot);
      wave.push(slot.client.waitReady(120_000));
    }
    await Promise.all(wave);
  }
  return { ms: now() - started, connectFails };
}

async function probe(): Promise<{ ok: number; failed: number; ms: number }> {
  const started = now();
  let ok = 0;
  let failed = 0;
  const WAVE = 500;
  for (let i = 0; i < slots.length; i += WAVE) {
    await Promise.all(
      slots.slice(i, i + WAVE).map((s) =>
        s.client.send({ verb: 'get', noun: 'time' }, { connectWaitMs: 5_000 }).then(
          (r) => (r.code === 0 ? ok++ : failed++),
          () => failed++,
        ),
      ),
    );
  }
  return { ok, failed, ms: now() - started };
}

const agent = startChildAgent(async (msg: Message) => {
  switch (msg.type) {
    case 'connect':
      return connect(Number(msg.waveSize ?? 250));
    case 'probe':
      return probe();
    case 'arm-storm':
      if (stormProfile !== undefined) {
        profiler = new Session();
        profiler.connect();
        await profiler.post('Profiler.enable');
        await profiler.post('Profiler.setSamplingInterval', { interval: 500 });
        await profiler.post('Profiler.start');
      }
      stormArmedAt = now();
      stormBack = 0;
      stormReady = 0;
      connectFails = 0;
      failReasons = {};
      maxBackoffMs = 0;
      stormResumed = 0;
      for (const s of slots) {
        s.armed = true;
        s.stages = {};
        s.readyAt = 0;
        s.servedAt = 0;
      }
      return true;
    case 'storm-status':
      return { ready: stormReady, serving: stormBack, total: slots.length, connectFails, states: countStates(), failReasons, maxBackoffMs };
    default:
      throw new Error(`unknown message ${msg.type}`);
  }
});

function countStates(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of slots) out[s.client.state] = (out[s.client.state] ?? 0) + 1;
  return out;
}

agent.ready({ count });

async function stopProfile(): Promise<void> {
  if (profiler === undefined || stormProfile === undefined) return;
  const { profile } = await profiler.post('Profiler.stop');
  writeFileSync(stormProfile, JSON.stringify(profile));
  profiler.disconnect();
  profiler = undefined;
}

/** Per client state: the median and the 90th percentile of when clients first entered it after arming, ms. */
function stageMedians(): Record<string, { n: number; p50Ms: number; p90Ms: number; maxMs: number }> {
  const out: Record<string, { n: number; p50Ms: number; p90Ms: number; maxMs: number }> = {};
  const names = new Set(slots.flatMap((s) => Object.keys(s.stages)));
  for (const name of names) {
    const v = slots.map((s) => s.stages[name]).filter((t): t is number => t !== undefined).map((t) => t - stormArmedAt).sort((a, b) => a - b);
    out[name] = { n: v.length, p50Ms: v[Math.floor(v.length / 2)]!, p90Ms: v[Math.floor(v.length * 0.9)]!, maxMs: v[v.length - 1]! };
  }
  return out;
}
