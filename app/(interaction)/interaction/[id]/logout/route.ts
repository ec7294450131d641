import { handleInteractionLogout } from '#lib/interaction/interaction-handlers';

type Context = { params: Promise<{ id: string }> };

export async function POST(req: Request, ctx: Context): Promise<Response> {
  return handleInteractionLogout(req, (await ctx.params).id);
}
