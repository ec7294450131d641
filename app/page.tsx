export default function Home() {
  return (
    <main>
      <h1>SMART Sandbox</h1>
      <p className="muted">Launch SMART on FHIR apps against synthetic patients.</p>
    </main>
  );
}
