import type { Condition, Group, Resource } from '@medplum/fhirtypes';
import { CHRONIC, CONDITION_KEYS } from './conditions';
import type { ConditionKey } from './conditions';
import { SYSTEM } from './codes';
import type { PatientRecord } from './patient';

/** Id of the Group holding every patient of the dataset. */
export const ALL_PATIENTS_GROUP_ID = 'group-all';

/** Id of the Group of patients with a chronic condition on their problem list. */
export function conditionGroupId(key: ConditionKey): string {
  return `group-${key}`;
}

/** SNOMED code of each chronic condition (both sexes) → its key. */
const KEY_OF_CODE: ReadonlyMap<string, ConditionKey> = new Map(
  CONDITION_KEYS.flatMap((key) => (['female', 'male'] as const).map((sex) => [CHRONIC[key].code(sex).code, key] as [string, ConditionKey])),
);

function isProblem(c: Condition): boolean {
  return c.category?.some((cat) => cat.coding?.some((code) => code.code === 'problem-list-item')) === true;
}

/**
 * The dataset's cohorts as Group resources (Bulk Data Access IG 2.0.0 §group-level-export): one of
 * every patient, and one per chronic condition some patient has on the problem list. Patients are
 * added one record at a time, so a streamed dataset keeps only their ids.
 */
export class GroupCollector {
  private readonly all: string[] = [];
  private readonly byCondition = new Map<ConditionKey, string[]>();

  add(record: PatientRecord): void {
    const id = record.patient.id!;
    this.all.push(id);
    const keys = new Set<ConditionKey>();
    for (const r of record.resources) {
      if (r.resourceType !== 'Condition' || !isProblem(r)) continue;
      for (const coding of r.code?.coding ?? []) {
        const key = coding.system === SYSTEM.snomed && coding.code ? KEY_OF_CODE.get(coding.code) : undefined;
        if (key) keys.add(key);
      }
    }
    for (const key of keys) {
      const list = this.byCondition.get(key);
      if (list) list.push(id);
      else this.byCondition.set(key, [id]);
    }
  }

  groups(): Resource[] {
    const out: Group[] = [group(ALL_PATIENTS_GROUP_ID, 'All patients', this.all)];
    for (const key of CONDITION_KEYS) {
      const members = this.byCondition.get(key);
      if (!members?.length) continue;
      const code = CHRONIC[key].code('female');
      const g = group(conditionGroupId(key), `Patients with ${code.display.replace(/ \((disorder|finding)\)$/, '')}`, members);
      g.code = { coding: [{ system: code.system, code: code.code, display: code.display }] };
      out.push(g);
    }
    return out;
  }
}

function group(id: string, name: string, members: string[]): Group {
  return {
    resourceType: 'Group',
    id,
    type: 'person',
    actual: true,
    name,
    quantity: members.length,
    member: members.map((m) => ({ entity: { reference: `Patient/${m}` } })),
  };
}
