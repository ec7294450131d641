import type { Metadata } from 'next';
import type { ReactNode } from 'react';
import './globals.css';

// Every page renders per request: proxy.ts gives each response its own CSP nonce, which Next can
// only put on the scripts of a page it renders then (a prerendered page's scripts would be blocked).
export const dynamic = 'force-dynamic';

export const metadata: Metadata = {
  title: 'SMART Sandbox',
  description: 'Launch and debug SMART on FHIR apps against synthetic patients.',
};

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>{children}</body>
    </html>
  );
}
