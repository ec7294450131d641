import NextAuth from 'next-auth';
import type { NextAuthOptions } from 'next-auth';
import { applyRouteSecurityHeaders } from '../http/security-headers';
import { getAuthOptions } from './options';

/** The context Next.js passes to a `[...nextauth]` route handler. */
export type NextAuthRouteContext = { params: Promise<{ nextauth: string[] }> };

/** A `[...nextauth]` route handler (GET and POST). */
export type NextAuthRoute = (req: Request, ctx: NextAuthRouteContext) => Promise<Response>;

// next-auth 4's App Router entry point takes (request, context, options); its types only describe
// the options-only overload.
const nextAuth = NextAuth as unknown as (req: Request, ctx: NextAuthRouteContext, options: NextAuthOptions) => Promise<Response>;

/**
 * next-auth's route handler with options built per request: the secret may come from the
 * database (lib/interaction/secret.ts), so the options cannot be fixed when the module loads.
 * Its responses get the sign-in pages' security headers (lib/http/security-headers.ts).
 */
export function nextAuthRoute(options: () => Promise<NextAuthOptions>): NextAuthRoute {
  return async (req, ctx) => applyRouteSecurityHeaders(await nextAuth(req, ctx, await options()), 'auth-page');
}

/** /api/auth/*: persona sign-in with next-auth (lib/interaction/options.ts). */
export const personaAuthRoute: NextAuthRoute = nextAuthRoute(getAuthOptions);
