import { redirect } from 'next/navigation';
import { consoleSandbox } from './sandbox-base';

export default async function ConsoleHome() {
  redirect(`${(await consoleSandbox())?.basePath ?? ''}/console/tokens`);
}
