'use client';

import { useState, useTransition } from 'react';
import type { LaunchConfig } from '#lib/launcher/launch-config';
import type { ListedScenario, Scenario } from '#lib/launcher/scenarios';
import { deleteScenarioAction, duplicateScenarioAction, saveScenarioAction, shareScenarioAction, updateScenarioAction } from './actions';

export interface ScenarioPanelProps {
  readonly scenarios: readonly ListedScenario[];
  /** The scenario loaded into the form, if any. */
  readonly loaded: Scenario | null;
  /** The share code the form was loaded from, if any. */
  readonly fromShare: string | null;
  /** The launch configuration the form holds now. */
  readonly currentConfig: () => LaunchConfig;
}

/** The launcher of this sandbox (its page path: `/` or `/s/{id}/`) with a scenario loaded. */
function open(id: string) {
  window.location.assign(`${window.location.pathname}?scenario=${encodeURIComponent(id)}`);
}

/** Named scenarios: load one into the form, save the form as one, duplicate, share, delete. */
export function ScenarioPanel(props: ScenarioPanelProps) {
  const [selected, setSelected] = useState(props.loaded?.id ?? props.scenarios[0]?.id ?? '');
  const [name, setName] = useState(props.loaded && !props.loaded.builtIn ? props.loaded.name : props.fromShare ? `Shared launch ${props.fromShare}` : '');
  const [description, setDescription] = useState(props.loaded && !props.loaded.builtIn ? props.loaded.description : '');
  const [message, setMessage] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [shareUrl, setShareUrl] = useState<string | null>(null);
  const [pending, startTransition] = useTransition();
  const chosen = props.scenarios.find((s) => s.id === selected) ?? null;

  function run<T>(action: () => Promise<{ ok: true; value: T } | { ok: false; error: string }>, then: (value: T) => void) {
    setError(null);
    setMessage(null);
    setShareUrl(null);
    startTransition(async () => {
      const res = await action();
      if (res.ok) then(res.value);
      else setError(res.error);
    });
  }

  return (
    <section className="card" aria-labelledby="scenario-h" data-testid="scenarios">
      <h2 id="scenario-h">Scenarios</h2>
      <div className="row">
        <label>
          Scenario{' '}
          <select aria-label="Scenario" value={selected} onChange={(e) => setSelected(e.target.value)}>
            <optgroup label="Built-in">
              {props.scenarios
                .filter((s) => s.builtIn)
                .map((s) => (
                  <option key={s.id} value={s.id}>
                    {s.name}
                  </option>
                ))}
            </optgroup>
            <optgroup label="Saved">
              {props.scenarios
                .filter((s) => !s.builtIn)
                .map((s) => (
                  <option key={s.id} value={s.id}>
                    {s.name}
                  </option>
                ))}
            </optgroup>
          </select>
        </label>
        <button type="button" disabled={!chosen || pending} onClick={() => chosen && open(chosen.id)}>
          Load
        </button>
        <button
          type="button"
          className="secondary"
          disabled={!chosen || pending}
          onClick={() =>
            chosen &&
            run(
              () => duplicateScenarioAction(chosen.id),
              (s) => open(s.id),
            )
          }
        >
          Duplicate
        </button>
        <button
          type="button"
          className="secondary"
          disabled={!chosen || pending}
          onClick={() =>
            chosen &&
            run(
              () => shareScenarioAction(chosen.id),
              (url) => setShareUrl(url),
            )
          }
        >
          Share scenario
        </button>
        {chosen && !chosen.builtIn ? (
          <button
            type="button"
            className="secondary"
            disabled={pending}
            onClick={() =>
              run(
                () => deleteScenarioAction(chosen.id),
                () => window.location.assign(window.location.pathname),
              )
            }
          >
            Delete
          </button>
        ) : null}
      </div>
      {chosen ? (
        <p className="muted" data-testid="scenario-description">
          {chosen.description || 'No description.'}
          {chosen.missingPatients.length ? ` Not in this dataset: ${chosen.missingPatients.join(', ')} (reseed with the edge-case roster).` : ''}
        </p>
      ) : null}
      {props.loaded ? (
        <p data-testid="loaded-scenario">
          Loaded: <strong>{props.loaded.name}</strong>
          {props.loaded.builtIn ? ' (built-in, read-only: duplicate it to change it)' : ''}
        </p>
      ) : null}
      <div className="row">
        <label>
          Name <input aria-label="Scenario name" value={name} onChange={(e) => setName(e.target.value)} size={24} maxLength={120} />
        </label>
        <label>
          Description{' '}
          <input aria-label="Scenario description" value={description} onChange={(e) => setDescription(e.target.value)} size={40} maxLength={2000} />
        </label>
        <button
          type="button"
          disabled={pending || !name.trim()}
          onClick={() =>
            run(
              () => saveScenarioAction({ name, description, config: props.currentConfig() }),
              (s) => open(s.id),
            )
          }
        >
          Save as new scenario
        </button>
        {props.loaded && !props.loaded.builtIn ? (
          <button
            type="button"
            className="secondary"
            disabled={pending || !name.trim()}
            onClick={() => {
              const id = props.loaded!.id;
              run(
                () => updateScenarioAction(id, { name, description, config: props.currentConfig() }),
                () => setMessage('Saved.'),
              );
            }}
          >
            Update “{props.loaded.name}”
          </button>
        ) : null}
      </div>
      {shareUrl ? (
        <p>
          Share: <a href={shareUrl}>{shareUrl}</a>
        </p>
      ) : null}
      {message ? <p className="ok">{message}</p> : null}
      {error ? (
        <p className="error" role="alert">
          {error}
        </p>
      ) : null}
    </section>
  );
}
