import { BUILT_IN_SCENARIO_NAMES } from '#lib/launcher/scenarios';

export const metadata = { title: 'Unknown launch link · SMART Sandbox' };

/** An unknown or expired share link: what it was, why it may be gone, and where to go instead. */
export default function UnknownShareLink() {
  return (
    <>
      <nav className="top">
        <strong>SMART Sandbox</strong>
        <a href="../">Launcher</a>
      </nav>
      <main>
        <h1>This launch link is unknown</h1>
        <div className="card" data-testid="unknown-share-link">
          <p>
            A link like <code>/l/…</code> opens the launcher with a launch configuration someone shared. This one is not known to this sandbox: it may be
            mistyped, come from another sandbox (share links belong to the instance and database they were made on), or the database was reset since.
          </p>
          <p>
            Ask for a new link, or start from the <a href="../">launcher</a>. To keep a configuration for good, save it as a named scenario there; these
            built-in scenarios are always available:
          </p>
          <ul>
            {BUILT_IN_SCENARIO_NAMES.map((s) => (
              <li key={s.id}>
                {/* Relative: the launcher of the sandbox this link was opened in (/l/… or /s/{id}/l/…). */}
                <a href={`../?scenario=${s.id}`}>{s.name}</a>
              </li>
            ))}
          </ul>
        </div>
      </main>
    </>
  );
}
