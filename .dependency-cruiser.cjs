// The import rules of STYLE.md ("Who may import whom"), checked by dependency-cruiser in
// `npm test` (scripts/check-imports.mjs) over the TypeScript sources, type-only imports
// included: a layer imports only the layers below it, and there is no cycle at all.
const BASE = '^src/(event|errors|options/[^/]+|diagnostics|log|text|names|certificate|tls-policy|cert-recheck|linger|replies|sender|state-machine|bodies|body-pieces|http-headers)\\.ts$';

/** A rule: files matching `from` must not import what matches `to` (paths or node built-ins). */
const forbid = (name, comment, from, to) => ({ name, comment, severity: 'error', from: { path: from }, to });

module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      comment: 'No import cycle, type-only ones included (tools that read dist/ miss those).',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    forbid('base-imports-only-base', 'event, errors, options, diagnostics, log and the other base modules import Node built-ins and each other only.', BASE, {
      path: '^src/',
      pathNot: BASE,
    }),
    forbid('wire-below-pipe', 'wire/ is the codec: no sockets, nothing above it.', '^src/wire/', {
      path: ['^src/(pipe|client|server|dispatch|gateway|identity|metrics|rules|cli)/', '^src/(node|node-[^/]+|create|index)\\.ts$', '^(node:)?(net|tls|http)$'],
    }),
    forbid('only-messages-imports-gen', 'Generated code stops at wire/messages.ts.', '^src/(?!wire/messages\\.ts$|wire/gen/)', { path: '^src/wire/gen/' }),
    forbid('pipe-below-roles', 'pipe/ takes a Duplex, not a TLS config, and knows no role, gateway or handler.', '^src/pipe/', {
      path: ['^src/(client|server|dispatch|gateway|identity|metrics|rules|cli)/', '^src/(node|node-[^/]+|create|index)\\.ts$', '^(node:)?(net|tls|http)$'],
    }),
    forbid('dispatch-knows-no-wire', 'The session hands the dispatcher a function; dispatch/ knows no wire, pipe or socket.', '^src/dispatch/', {
      path: ['^src/(wire|pipe|client|server|gateway|identity|metrics|cli)/', '^src/(node|node-[^/]+|create|index)\\.ts$', '^(node:)?(net|tls|http)$'],
    }),
    forbid('client-not-server', 'client/ and server/ do not import each other, the gateway, metrics or the CLI.', '^src/client/', {
      path: ['^src/(server|gateway|metrics|cli|dispatch|identity)/', '^src/(node|node-[^/]+|create|index)\\.ts$'],
    }),
    forbid('server-not-client', 'client/ and server/ do not import each other, the gateway, metrics or the CLI (the CRL checker is loaded from identity/ on demand).', '^src/server/', {
      path: ['^src/(client|gateway|metrics|cli|dispatch)/', '^src/identity/(?!revocation\\.ts$)', '^src/(node|node-[^/]+|create|index)\\.ts$'],
    }),
    forbid('identity-below-pipes', 'identity/ reads files and makes certificates; pipes receive TLS options, never files.', '^src/identity/', {
      path: ['^src/(wire|pipe|client|server|dispatch|gateway|metrics|rules|cli)/', '^src/(node|node-[^/]+|create|index)\\.ts$'],
    }),
    forbid('gateway-sees-only-the-sender', 'The gateway depends on the EventSender interface, never on pipes, the wire or a role.', '^src/gateway/', {
      path: ['^src/(wire|pipe|client|server|dispatch|identity|metrics|rules|cli)/', '^src/(node|node-[^/]+|create|index)\\.ts$'],
    }),
    forbid('metrics-observe', 'Metrics observe diagnostics channels; they reach into no pipe.', '^src/metrics/', {
      path: ['^src/(wire|pipe|client|server|dispatch|gateway|identity|rules|cli)/', '^src/(node|node-[^/]+|create|index)\\.ts$'],
    }),
    forbid('rules-are-pure', 'Access rules are data and matching: no pipe, role, gateway or CLI.', '^src/rules/', {
      path: ['^src/(wire|pipe|client|server|dispatch|gateway|identity|metrics|cli)/', '^src/(node|node-[^/]+|create|index)\\.ts$'],
    }),
    forbid('inspect-observes', 'The inspector observes diagnostics channels and serves pages through the gateway\'s seam; it reaches into no pipe, role or wire.', '^src/inspect/', {
      path: ['^src/(wire|pipe|client|server|dispatch|identity|metrics|rules|cli)/', '^src/(node|node-[^/]+|create|index)\\.ts$', '^src/gateway/(?!http-errors\\.ts$|gateway-options\\.ts$)'],
    }),
    forbid('forward-is-a-handler', 'forward/ answers events as the dispatcher does, over HTTP to an upstream: no pipe, role, gateway, wire or CLI.', '^src/forward/', {
      path: ['^src/(wire|pipe|client|server|dispatch|gateway|identity|metrics|rules|inspect|cli)/', '^src/(node|node-[^/]+|create|index)\\.ts$'],
    }),
    forbid('library-not-cli', 'Nothing in the library imports the CLI.', '^src/(?!cli/)', { path: '^src/cli/' }),
    forbid('cli-uses-the-public-library', 'The CLI uses the public library (index, node, identity, metrics, rules) and the base modules, not the layers inside.', '^src/cli/', {
      path: '^src/(wire|pipe|client|server|dispatch|gateway)/',
    }),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Our sources, and the Node built-ins some layers must not touch (sockets).
    includeOnly: ['^src/', '^(node:)?(net|tls|http|https|dgram)$'],
    // Type-only imports count: a type cycle is still a cycle in the design.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
