// ClientSessions (src/client/session-cache.ts): the client keeps one TLS session per server and
// re-checks the server certificate it restores, before offering it and after a resumed
// handshake, against its CA and the clock (issue 14). A real TLS server issues the tickets; the
// client's clock is a fake, so a certificate "expires" between two dials.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';

import { dialTls, type DialedTls } from '../../../src/client/connector.js';
import { ClientSessions, sessionListener, type SessionListener } from '../../../src/client/session-cache.js';
import { createCa, issueCertificate } from '../../../src/identity/index.js';
import { makePki, type Pki } from '../../helpers/pki.js';

describe('ClientSessions', () => {
  let pki: Pki;
  let server: tls.Server;
  let port: number;
  let serverNotAfterMs: number;
  const key = 'server:1234:';

  before(async () => {
    pki = await makePki();
    tlsMaterial = { ...pki.client1.tls, ca: pki.ca.certPem };
    const leaf = await issueCertificate({ ca: pki.ca, name: 'server', notAfter: new Date('2031-01-01T00:00:00Z') });
    serverNotAfterMs = Date.parse('2031-01-01T00:00:00Z');
    server = tls.createServer(
      { key: leaf.keyPem, cert: leaf.certPem, ca: pki.ca.certPem, requestCert: true, rejectUnauthorized: false, ticketKeys: randomBytes(48), sessionTimeout: 3600 },
      (socket) => socket.on('error', () => {}),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    await pki.cleanup();
  });

  let tlsMaterial: { key: string; cert: string; ca: string };

  /** One dial through the connector, offering `session`; resolves once the tickets are in. */
  async function dial(session: Buffer | undefined): Promise<DialedTls & { listener: SessionListener }> {
    const listener = sessionListener();
    const d = await dialTls({
      host: '127.0.0.1',
      port,
      servername: 'localhost',
      tls: tlsMaterial,
      connectTimeoutMs: 5_000,
      handshakeTimeoutMs: 5_000,
      keepAliveMs: 5_000,
      ...(session === undefined ? {} : { session }),
      onSession: listener,
    });
    if (!d.socket.isSessionReused()) {
      // TLS 1.3 tickets come right after the handshake; wait for them.
      while (listener.latest === undefined) await new Promise((r) => setTimeout(r, 5));
    }
    return { ...d, listener };
  }

  it('keeps the session of a full handshake once the pipe is up, and resumes with it; the server CN survives resumption', async () => {
    const sessions = new ClientSessions();
    assert.equal(sessions.offer(key, tlsMaterial.ca), undefined, 'nothing yet');
    const first = await dial(undefined);
    const d1 = sessions.dialed(key, first, tlsMaterial.ca, first.listener);
    assert.equal(d1.resumed, false);
    d1.pipeUp();
    first.socket.destroy();
    assert.equal(sessions.size, 1);
    assert.equal(first.socket.listenerCount('session'), 0, 'nothing of resumption stays on a socket once its pipe is up');

    const offered = sessions.offer(key, tlsMaterial.ca);
    assert.ok(offered !== undefined);
    const second = await dial(offered);
    const d2 = sessions.dialed(key, second, tlsMaterial.ca, second.listener);
    second.socket.destroy();
    assert.equal(d2.resumed, true);
    assert.equal(d2.refusal, undefined);
    assert.equal(d2.serverCn, 'server', 'from the kept certificate: Node shows none on resumption');
    assert.equal(second.serverCertDer, undefined);
  });

  it("re-checks the server's certificate: expired by the clock, or from a CA no longer trusted, it is not offered, or not used", async () => {
    let now = Date.now();
    const sessions = new ClientSessions({ now: () => now });
    const first = await dial(undefined);
    sessions.dialed(key, first, tlsMaterial.ca, first.listener).pipeUp();
    first.socket.destroy();

    // Before a dial: an expired certificate's session is dropped, and the dial is a full handshake.
    now = serverNotAfterMs + 1_000;
    assert.equal(sessions.offer(key, tlsMaterial.ca), undefined);
    assert.equal(sessions.size, 0);

    // After a resumed handshake: the clock moved on while dialing.
    now = Date.now();
    const again = await dial(undefined);
    sessions.dialed(key, again, tlsMaterial.ca, again.listener).pipeUp();
    again.socket.destroy();
    const offered = sessions.offer(key, tlsMaterial.ca);
    assert.ok(offered !== undefined);
    const resumed = await dial(offered);
    now = serverNotAfterMs + 1_000;
    const d = sessions.dialed(key, resumed, tlsMaterial.ca, resumed.listener);
    resumed.socket.destroy();
    assert.equal(d.resumed, true);
    assert.equal(d.refusal, 'CERT_HAS_EXPIRED');
    assert.equal(d.failed(true), true, 'a full handshake follows at once');
    assert.equal(sessions.size, 0);

    // The client's CA replaced: the kept certificate no longer chains to it.
    now = Date.now();
    const third = await dial(undefined);
    sessions.dialed(key, third, tlsMaterial.ca, third.listener).pipeUp();
    third.socket.destroy();
    const otherCa = await createCa({ cn: 'another-ca' });
    assert.equal(sessions.offer(key, otherCa.certPem), undefined);
  });

  it('a failed full handshake keeps no session and asks for no immediate retry; a resumed dial that failed for another reason than a refusal keeps its session; clear() forgets all; off keeps nothing', async () => {
    const sessions = new ClientSessions();
    const first = await dial(undefined);
    const d = sessions.dialed(key, first, tlsMaterial.ca, first.listener);
    first.socket.destroy();
    assert.equal(d.failed(true), false);
    assert.equal(sessions.size, 0);

    const good = await dial(undefined);
    sessions.dialed(key, good, tlsMaterial.ca, good.listener).pipeUp();
    good.socket.destroy();
    const busy = await dial(sessions.offer(key, tlsMaterial.ca));
    const b = sessions.dialed(key, busy, tlsMaterial.ca, busy.listener);
    busy.socket.destroy();
    assert.equal(b.resumed, true);
    assert.equal(b.failed(false), false, 'no hello in time: a busy server, not a refusal');
    assert.equal(sessions.size, 1, 'the session stays for the next dial');
    sessions.clear();

    const kept = await dial(undefined);
    sessions.dialed(key, kept, tlsMaterial.ca, kept.listener).pipeUp();
    kept.socket.destroy();
    assert.equal(sessions.size, 1);
    sessions.clear();
    assert.equal(sessions.size, 0);

    const off = new ClientSessions({ enabled: false });
    const x = await dial(undefined);
    off.dialed(key, x, tlsMaterial.ca, x.listener).pipeUp();
    x.socket.destroy();
    assert.equal(off.size, 0);
    assert.equal(off.offer(key, tlsMaterial.ca), undefined);
  });
});
