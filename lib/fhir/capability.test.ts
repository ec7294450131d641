/**
 * The profiles the CapabilityStatement declares are those of the US Core 6.1.0 server
 * CapabilityStatement kept in fhir-packages/, type by type: none missing, none invented, except the
 * SDC Questionnaire profile, whose package is not in fhir-packages/ (no Questionnaire claims it).
 */
import { describe, expect, it } from 'vitest';
import { readTgz, US_CORE_PACKAGE } from '../synthetic/testing/us-core-validator';
import { capabilityStatement } from './capability';

describe('CapabilityStatement profiles', () => {
  it('equal the US Core 6.1.0 server CapabilityStatement supportedProfile of every type', () => {
    const file = readTgz(US_CORE_PACKAGE).get('package/CapabilityStatement-us-core-server.json');
    expect(file).toBeDefined();
    const usCore = JSON.parse(file!.toString('utf8')) as { rest: { resource: { type: string; supportedProfile?: string[] }[] }[] };
    const sdc = 'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire';
    const expected = Object.fromEntries(
      usCore.rest[0]!.resource.map((r) => ({ type: r.type, supportedProfile: r.supportedProfile?.filter((p) => p !== sdc) }))
        .filter((r) => r.supportedProfile?.length)
        .map((r) => [r.type, [...r.supportedProfile!].sort()]),
    );
    expect(usCore.rest[0]!.resource.find((r) => r.type === 'Questionnaire')?.supportedProfile).toEqual([sdc]);
    const ours = capabilityStatement('http://localhost:3000', 'http://localhost:3000/fhir').rest![0]!.resource!;
    const declared = Object.fromEntries(ours.filter((r) => r.supportedProfile?.length).map((r) => [r.type, [...r.supportedProfile!].sort()]));
    expect(declared).toEqual(expected);
  });
});
