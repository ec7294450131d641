import { SampleAppClient } from './app-client';

export const metadata = { title: 'Sample app · SMART Sandbox' };

// The sample app's redirect URI: fhirclient completes the code exchange here.
export default function SampleAppPage() {
  return (
    <>
      <nav className="top sample-nav">
        <strong>Sample SMART app</strong>
        <span className="muted-on-dark">built with fhirclient, like any third-party app</span>
      </nav>
      <main>
        <SampleAppClient />
      </main>
    </>
  );
}
