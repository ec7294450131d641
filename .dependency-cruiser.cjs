/**
 * Layers of lib/, lowest first (docs/ARCHITECTURE.md). A module may import its own layer and the
 * layers below it, never one above; type-only imports count too. `npm run lint` runs this check.
 */
const LAYERS = [
  ['base', '^lib/(env|fhir-id)\\.ts$'],
  ['synthetic', '^lib/synthetic/'],
  ['db', '^lib/(db|generated)/'],
  ['sandbox', '^lib/sandbox/'],
  ['http', '^lib/http/'],
  ['audit', '^lib/audit/'],
  ['ratelimit', '^lib/ratelimit/'],
  ['smart', '^lib/smart/'],
  ['launch-options', '^lib/launch-options/'],
  ['oauth', '^lib/oauth/'],
  ['fhir', '^lib/fhir/'],
  ['seed', '^lib/seed/'],
  ['interaction', '^lib/interaction/'],
  ['launcher', '^lib/launcher/'],
  ['workshop', '^lib/workshop/'],
  ['console', '^lib/console/'],
  ['routes', '^lib/routes/'],
];

const layerRules = LAYERS.slice(0, -1).map(([name, path], i) => ({
  name: `layer-${name}`,
  comment: `lib layer '${name}' imports a higher layer (${LAYERS.slice(i + 1)
    .map(([n]) => n)
    .join(', ')}); see docs/ARCHITECTURE.md`,
  severity: 'error',
  from: { path },
  to: {
    path: LAYERS.slice(i + 1)
      .map(([, p]) => `(${p})`)
      .join('|'),
  },
}));

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'lib-imports-app',
      comment: 'lib/ is framework-free and never imports the pages and routes of app/',
      severity: 'error',
      from: { path: '^lib/' },
      to: { path: '^(app|proxy\\.ts)' },
    },
    {
      name: 'lib-layer-unknown',
      comment: 'every lib/ module belongs to a layer of .dependency-cruiser.cjs',
      severity: 'error',
      from: { path: '^lib/', pathNot: LAYERS.map(([, p]) => `(${p})`).join('|') },
      to: {},
    },
    {
      name: 'no-circular',
      comment: 'an import cycle between modules',
      severity: 'error',
      from: { path: '^lib/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^lib/generated/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    combinedDependencies: true,
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
      extensions: ['.ts', '.tsx', '.mts', '.js', '.mjs'],
    },
  },
};
