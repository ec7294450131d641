/**
 * The profiles the CapabilityStatement declares are those of the US Core 6.1.0 server
 * CapabilityStatement kept in fhir-packages/, type by type: none missing, none invented.
 */
import { describe, expect, it } from 'vitest';
import { readTgz, US_CORE_PACKAGE } from '../synthetic/testing/us-core-validator';
import { capabilityStatement } from './capability';

describe('CapabilityStatement profiles', () => {
  it('equal the US Core 6.1.0 server CapabilityStatement supportedProfile of every type', () => {
    const file = readTgz(US_CORE_PACKAGE).get('package/CapabilityStatement-us-core-server.json');
    expect(file).toBeDefined();
    const usCore = JSON.parse(file!.toString('utf8')) as { rest: { resource: { type: string; supportedProfile?: string[] }[] }[] };
    const expected = Object.fromEntries(
      usCore.rest[0]!.resource.filter((r) => r.supportedProfile?.length).map((r) => [r.type, [...r.supportedProfile!].sort()]),
    );
    const ours = capabilityStatement('http://localhost:3000', 'http://localhost:3000/fhir').rest![0]!.resource!;
    const declared = Object.fromEntries(ours.filter((r) => r.supportedProfile?.length).map((r) => [r.type, [...r.supportedProfile!].sort()]));
    expect(declared).toEqual(expected);
  });
});
