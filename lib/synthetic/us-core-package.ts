/**
 * The US Core 6.1.0 package kept in fhir-packages/ (fhir-packages/README.md): the synthetic-data
 * validator reads its profiles, the FHIR server its value sets and code systems.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

const FILE = 'hl7.fhir.us.core-6.1.0.tgz';

/**
 * Where the package is: beside this module in the source tree, or under the working directory
 * when the module runs from a build output that moved it.
 */
export const US_CORE_PACKAGE: URL | string = ((): URL | string => {
  const beside = new URL(`../../fhir-packages/${FILE}`, import.meta.url);
  try {
    if (beside.protocol === 'file:' && existsSync(beside)) return beside;
  } catch {
    // Not a file URL in a bundled build: fall through.
  }
  return join(process.cwd(), 'fhir-packages', FILE);
})();

/** Reads a .tgz into memory (POSIX ustar: 512-byte headers, octal sizes, name + prefix). */
export function readTgz(path: URL | string): Map<string, Buffer> {
  const tar = gunzipSync(readFileSync(path));
  const files = new Map<string, Buffer>();
  let offset = 0;
  while (offset + 512 <= tar.length) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) break;
    const field = (start: number, len: number): string =>
      header
        .subarray(start, start + len)
        .toString('utf8')
        .replace(/\0.*$/s, '');
    const name = field(0, 100);
    const size = parseInt(field(124, 12).trim() || '0', 8);
    const type = field(156, 1);
    const prefix = header.subarray(257, 263).toString('utf8').startsWith('ustar') ? field(345, 155) : '';
    const path = prefix ? `${prefix}/${name}` : name;
    offset += 512;
    if (type === '0' || type === '') files.set(path, Buffer.from(tar.subarray(offset, offset + size)));
    offset += Math.ceil(size / 512) * 512;
  }
  return files;
}

// VSAC value sets US Core binds to but does not ship; expansions as published by VSAC.
export const VSAC: Record<string, readonly [string, string][]> = {
  // Administrative sex (F, M) and the null flavors US Core 6.1 allows for birth sex.
  'http://cts.nlm.nih.gov/fhir/ValueSet/2.16.840.1.113762.1.4.1': [
    ['http://terminology.hl7.org/CodeSystem/v3-AdministrativeGender', 'F'],
    ['http://terminology.hl7.org/CodeSystem/v3-AdministrativeGender', 'M'],
  ],
  'http://cts.nlm.nih.gov/fhir/ValueSet/2.16.840.1.113762.1.4.1021.103': [
    ['http://terminology.hl7.org/CodeSystem/v3-NullFlavor', 'ASKU'],
    ['http://terminology.hl7.org/CodeSystem/v3-NullFlavor', 'UNK'],
  ],
  // OMB race and ethnicity categories (CDC Race & Ethnicity code system) and "unknown / declined".
  'http://cts.nlm.nih.gov/fhir/ValueSet/2.16.840.1.114222.4.11.836': ['1002-5', '2028-9', '2054-5', '2076-8', '2106-3'].map(
    (c) => ['urn:oid:2.16.840.1.113883.6.238', c] as [string, string],
  ),
  'http://cts.nlm.nih.gov/fhir/ValueSet/2.16.840.1.114222.4.11.837': ['2135-2', '2186-5'].map(
    (c) => ['urn:oid:2.16.840.1.113883.6.238', c] as [string, string],
  ),
  'http://cts.nlm.nih.gov/fhir/ValueSet/2.16.840.1.113762.1.4.1021.102': [
    ['http://terminology.hl7.org/CodeSystem/v3-NullFlavor', 'ASKU'],
    ['http://terminology.hl7.org/CodeSystem/v3-NullFlavor', 'UNK'],
  ],
};
