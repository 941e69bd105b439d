// The checked form of docs/ARCHITECTURE.md's layering (its "Rules checked in CI" section names each rule).
// `npm run lint` runs `depcruise src --ignore-known`: a violation recorded in
// .dependency-cruiser-known-violations.json (a debt the architecture issue pays off) is reported but does not fail;
// any new one does. Regenerate that file only when a debt is paid: `npm run lint:deps:baseline`.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No import cycles: a module in a cycle cannot be loaded, tested or replaced on its own, and its load order decides what is undefined.',
      from: {},
      to: {circular: true},
    },
    {
      name: 'core-not-to-commands',
      severity: 'error',
      comment: 'Commands depend on the core plugin, never the other way: core (and the plugins beside it) is what a third-party plugin or command builds on.',
      from: {path: '^src/plugins/'},
      to: {path: '^src/commands/'},
    },
    {
      name: 'builtin-sources-only-source-kit',
      severity: 'error',
      comment:
        'A built-in data source uses only the source kit (bucketwright/sources), its own folder, node: modules and npm packages — exactly what a stranger’s plugin can use, so a built-in proves the public API is enough.',
      from: {path: '^src/plugins/(bustimes|coinbase|json|wydot-bsm)/'},
      to: {path: '^src/', pathNot: ['^src/plugins/core/source-kit[.]ts$', '^src/plugins/$1/']},
    },
    {
      name: 'plugins-reach-core-through-source-kit',
      severity: 'error',
      comment: 'Every plugin beside core (a data source in src/plugins/<source>/, builtin-sources.ts) reaches core only through the source kit, as a third-party plugin must: core’s other modules are internal.',
      from: {path: '^src/plugins/', pathNot: '^src/plugins/core/'},
      to: {path: '^src/plugins/core/', pathNot: '^src/plugins/core/source-kit[.]ts$'},
    },
    {
      name: 'core-not-to-public-entry',
      severity: 'error',
      comment: 'Core’s own modules never import bucketwright/core (index.ts): the entry point re-exports them, so importing it back is a cycle, and a module that needs a neighbour imports that module.',
      from: {path: '^src/plugins/core/'},
      to: {path: '^src/plugins/core/index[.]ts$'},
    },
    {
      name: 'public-api-without-services',
      severity: 'error',
      comment:
        'bucketwright/core (index.ts) is what a command author needs — commands, flags, errors, storage, logging, source types — and exports no service: convert, verify, compact, etl, ingest, upload-daemon, fetch, generate, init, manifests and DuckDB stay internal (commands import them by relative path).',
      from: {path: '^src/plugins/core/index[.]ts$'},
      to: {path: '^src/plugins/core/(compact|convert|duckdb|etl|fetch|generate|ingest|init|manifest|schema|upload-daemon|verify)/'},
    },
    {
      name: 'aws-sdk-only-in-storage',
      severity: 'error',
      comment: 'Only the S3 storage (src/plugins/core/storage/s3/) talks to the AWS SDK; everything else goes through the Storage interface and S3Connection.',
      from: {path: '^src/', pathNot: '^src/plugins/core/storage/s3/'},
      to: {dependencyTypes: ['npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-no-pkg', 'npm-unknown'], path: '(^|/)node_modules/@(aws-sdk|smithy)/'},
    },
    {
      name: 'upload-daemon-through-storage',
      severity: 'error',
      comment:
        'The upload daemon writes through S3Storage (its one Upload and its one write check) on a shared connection; it reaches S3 only through the storage, the connection, the bucket and credentials checks, ETags and the same-content rules — never a transport (fast-s3, raw-http, sigv4, transport, fallback) or the Upload itself, whose requests and retries are the storage’s.',
      from: {path: '^src/plugins/core/upload-daemon/'},
      to: {path: '^src/plugins/core/storage/s3/', pathNot: '^src/plugins/core/storage/s3/(storage|s3-client|bucket|credentials|etag|same-content|write-check)[.]ts$'},
    },
  ],
  options: {
    doNotFollow: {path: 'node_modules'},
    // Type-only imports count: a module that names the SDK's or another layer's types depends on them.
    tsPreCompilationDeps: true,
    tsConfig: {fileName: 'tsconfig.json'},
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    reporterOptions: {text: {highlightFocused: true}},
  },
}
