import NextAuth from 'next-auth';
import { applyRouteSecurityHeaders } from '#lib/http/security-headers';
import { getAuthOptions } from '#lib/interaction/options';

type Context = { params: Promise<{ nextauth: string[] }> };

// The options are built per request: the secret may come from the database (lib/interaction/secret.ts).
async function handler(req: Request, ctx: Context): Promise<Response> {
  const response = await (NextAuth as unknown as (req: Request, ctx: Context, options: unknown) => Promise<Response>)(req, ctx, await getAuthOptions());
  return applyRouteSecurityHeaders(response, 'auth-page');
}

export { handler as GET, handler as POST };
