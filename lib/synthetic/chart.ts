import type { Encounter, Patient, Reference, Resource } from '@medplum/fhirtypes';
import { DAYS_PER_MONTH, DAYS_PER_YEAR } from './dates';
import type { Rng } from './random';
import type { StaffMember } from './shared';

export type Sex = 'male' | 'female';
export type SmokingHistory = 'never' | 'former' | 'current' | 'unknown';

/** What the clinical modules need to know about a person, decided before any resource is built. */
export interface Person {
  readonly sex: Sex;
  readonly birthDay: number;
  /** Day of death; nothing in the record is dated after it. */
  readonly deathDay?: number;
  /** Growth channels (z-scores) children stay on and adults inherit. */
  readonly zHeight: number;
  readonly zWeight: number;
  readonly zHead: number;
  readonly smoking: SmokingHistory;
  readonly displayName: string;
  readonly pcp: StaffMember;
}

/** One encounter being filled; `produced` feeds its Provenance. */
export interface Visit {
  readonly encounter: Encounter;
  readonly ref: Reference<Encounter>;
  readonly day: number;
  /** Minutes after midnight (UTC) the encounter starts. */
  readonly start: number;
  readonly endDay: number;
  readonly end: number;
  readonly practitioner: StaffMember;
  readonly produced: Resource[];
}

/** The record of one patient under construction: id allocation, the resource list, age arithmetic. */
export class Chart {
  readonly resources: Resource[] = [];
  readonly subject: Reference<Patient>;
  private readonly seq = new Map<string, number>();

  constructor(
    readonly patientId: string,
    readonly rng: Rng,
    readonly anchorDay: number,
    readonly person: Person,
  ) {
    this.subject = { reference: `Patient/${patientId}`, display: person.displayName };
  }

  /** Last day an event may fall on: the day of death, or the day before the anchor. */
  get lastDay(): number {
    return this.person.deathDay ?? this.anchorDay - 1;
  }

  get alive(): boolean {
    return this.person.deathDay === undefined;
  }

  /** Deterministic resource id: `<patientId>-<prefix><n>`. */
  id(prefix: string): string {
    const n = (this.seq.get(prefix) ?? 0) + 1;
    this.seq.set(prefix, n);
    return `${this.patientId}-${prefix}${n}`;
  }

  add<T extends Resource>(resource: T, visit?: Visit): T {
    this.resources.push(resource);
    visit?.produced.push(resource);
    return resource;
  }

  ageYears(day: number): number {
    return (day - this.person.birthDay) / DAYS_PER_YEAR;
  }

  ageMonths(day: number): number {
    return (day - this.person.birthDay) / DAYS_PER_MONTH;
  }
}

export function ref<T extends Resource>(resource: T & { id?: string }, display?: string): Reference<T> {
  const r: Reference<T> = { reference: `${resource.resourceType}/${resource.id ?? ''}` };
  if (display !== undefined) r.display = display;
  return r;
}
