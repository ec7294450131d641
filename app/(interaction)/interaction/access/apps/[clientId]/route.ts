import { handleAccessRevoke } from '#lib/interaction/access-handlers';

type Context = { params: Promise<{ clientId: string }> };

export const dynamic = 'force-dynamic';

async function revoke(req: Request, ctx: Context): Promise<Response> {
  return handleAccessRevoke(req, (await ctx.params).clientId);
}

export { revoke as DELETE, revoke as POST };
