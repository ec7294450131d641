import { handleInteractionPage } from '#lib/interaction/interaction-handlers';

type Context = { params: Promise<{ id: string }> };

export const dynamic = 'force-dynamic';

export async function GET(req: Request, ctx: Context): Promise<Response> {
  return handleInteractionPage(req, (await ctx.params).id);
}
