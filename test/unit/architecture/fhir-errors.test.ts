import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FhirAuthError, FhirError, FhirForbiddenError, FhirThrottledError } from '../../../lib/fhir/errors';
import { outcomeOf, statusOf } from '../../../lib/fhir/outcomes';

const root = join(import.meta.dirname, '..', '..', '..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return /\.tsx?$/.test(name) && !name.endsWith('.test.ts') ? [path] : [];
  });
}

describe('FHIR failures: typed errors in lib/fhir/errors.ts, mapped to a status in lib/fhir/outcomes.ts', () => {
  it('no other module of lib/ declares an error class of the FHIR layer', () => {
    const elsewhere = sources(join(root, 'lib'))
      .filter((path) => !path.endsWith(join('lib', 'fhir', 'errors.ts')))
      // A subclass of a FHIR error anywhere, or an exported error class of the FHIR layer (a module's
      // private control-flow signal, never answered to a client, may stay where it is thrown).
      .filter(
        (path) =>
          /class\s+\w+\s+extends\s+(Fhir\w*Error)\b/.test(readFileSync(path, 'utf8')) ||
          (path.includes(join('lib', 'fhir')) && /export\s+class\s+\w+\s+extends\s+Error\b/.test(readFileSync(path, 'utf8'))),
      )
      .map((path) => relative(root, path));
    expect(elsewhere).toEqual([]);
  });

  it('each class is a FhirError whose kind decides the status and OperationOutcome code', () => {
    const cases: [FhirError, number, string][] = [
      [new FhirError('invalid', 'x'), 400, 'invalid'],
      [new FhirAuthError('x', 'invalid_token'), 401, 'login'],
      [new FhirForbiddenError('x', 'patient/Observation.rs'), 403, 'forbidden'],
      [new FhirThrottledError('x', 5), 429, 'throttled'],
    ];
    for (const [err, status, code] of cases) {
      expect(err).toBeInstanceOf(FhirError);
      expect(statusOf(err.kind)).toBe(status);
      expect(outcomeOf(err).issue[0]?.code).toBe(code);
    }
  });
});
