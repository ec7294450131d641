import type {
  CarePlan,
  CareTeam,
  CareTeamParticipant,
  Condition,
  Coverage,
  Goal,
  Practitioner,
  PractitionerRole,
  Reference,
  RelatedPerson,
} from '@medplum/fhirtypes';
import type { Chart, Visit } from './chart';
import { PROFILE, SYSTEM, concept, sct } from './codes';
import type { Code } from './codes';
import { toDate } from './dates';
import { ORG } from './shared';
import type { StaffMember } from './shared';

const ASSESS_PLAN = { system: SYSTEM.carePlanCategory, code: 'assess-plan', display: 'Assessment and Plan of Treatment' } as const;

function escapeXhtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Goal a care plan pursues (US Core Goal). */
export function recordGoal(
  chart: Chart,
  visit: Visit,
  description: string | { text: string; code: Code },
  addresses: Condition,
  dueDay: number | undefined,
  status: 'active' | 'completed' | 'cancelled',
): Goal {
  const goal: Goal = {
    resourceType: 'Goal',
    id: chart.id('goal'),
    meta: { profile: [PROFILE.goal] },
    lifecycleStatus: status,
    achievementStatus: {
      coding: [
        status === 'active'
          ? { system: 'http://terminology.hl7.org/CodeSystem/goal-achievement', code: 'in-progress', display: 'In Progress' }
          : status === 'completed'
            ? { system: 'http://terminology.hl7.org/CodeSystem/goal-achievement', code: 'achieved', display: 'Achieved' }
            : { system: 'http://terminology.hl7.org/CodeSystem/goal-achievement', code: 'not-achieved', display: 'Not Achieved' },
      ],
    },
    description: typeof description === 'string' ? { text: description } : concept(description.code, description.text),
    subject: chart.subject,
    startDate: toDate(visit.day),
    expressedBy: { reference: `Practitioner/${visit.practitioner.id}` },
    addresses: [{ reference: `Condition/${addresses.id ?? ''}` }],
  };
  if (dueDay !== undefined) goal.target = [{ dueDate: toDate(dueDay) }];
  return chart.add(goal, visit);
}

/** US Core CarePlan (assess-plan) with the generated narrative US Core requires. */
export function recordCarePlan(
  chart: Chart,
  visit: Visit,
  plan: { title: string; code?: Code; activities: readonly string[] },
  addresses: Condition,
  goal: Goal,
  endDay: number | undefined,
): CarePlan {
  const status: CarePlan['status'] = endDay === undefined ? 'active' : 'completed';
  const items = plan.activities.map((a) => `<li>${escapeXhtml(a)}</li>`).join('');
  const category = [concept(ASSESS_PLAN)];
  if (plan.code) category.push(concept(plan.code));
  const cp: CarePlan = {
    resourceType: 'CarePlan',
    id: chart.id('cp'),
    meta: { profile: [PROFILE.carePlan] },
    text: {
      status: 'generated',
      div: `<div xmlns="http://www.w3.org/1999/xhtml"><p><b>${escapeXhtml(plan.title)}</b> (${status})</p><ul>${items}</ul></div>`,
    },
    status,
    intent: 'plan',
    category,
    title: plan.title,
    subject: chart.subject,
    encounter: visit.ref,
    period: endDay === undefined ? { start: toDate(visit.day) } : { start: toDate(visit.day), end: toDate(endDay) },
    created: toDate(visit.day),
    author: { reference: `Practitioner/${visit.practitioner.id}` },
    addresses: [{ reference: `Condition/${addresses.id ?? ''}` }],
    goal: [{ reference: `Goal/${goal.id ?? ''}` }],
    activity: plan.activities.map((a) => ({
      detail: { kind: 'ServiceRequest' as const, status: endDay === undefined ? ('in-progress' as const) : ('completed' as const), description: a },
    })),
  };
  return chart.add(cp, visit);
}

const PCP_ROLE = sct('453231000124104', 'Primary care provider (occupation)');
const PATIENT_ROLE = sct('116154003', 'Patient (person)');
const SPECIALIST_ROLE = sct('309343006', 'Physician (occupation)');
const PARENT_ROLE = sct('40683002', 'Parent (person)');

/**
 * The patient's care team: the primary care provider (Practitioner), the specialists seen (in
 * their PractitionerRole at the hospital), the patient, and a minor's parent (RelatedPerson).
 */
export function recordCareTeam(chart: Chart, pcp: StaffMember, specialists: readonly StaffMember[], startDay: number, parent?: RelatedPerson): CareTeam {
  const member = (s: StaffMember): Reference<Practitioner> => ({ reference: `Practitioner/${s.id}`, display: `Dr. ${s.given} ${s.family}` });
  const inRole = (s: StaffMember): Reference<PractitionerRole> => ({ reference: `PractitionerRole/${s.roleId}`, display: `Dr. ${s.given} ${s.family}` });
  const participant: CareTeamParticipant[] = [
    { role: [concept(PCP_ROLE)], member: member(pcp), onBehalfOf: { reference: `Organization/${pcp.organizationId}` } },
    // ctm-1: onBehalfOf only for a Practitioner member; a PractitionerRole names its organization itself.
    ...specialists.map((s) => ({ role: [concept(SPECIALIST_ROLE)], member: inRole(s) })),
    { role: [concept(PATIENT_ROLE)], member: chart.subject },
  ];
  if (parent) {
    const name = parent.name?.[0];
    participant.push({
      role: [concept(PARENT_ROLE)],
      member: { reference: `RelatedPerson/${parent.id ?? ''}`, display: [name?.given?.[0], name?.family].filter(Boolean).join(' ') },
    });
  }
  const team: CareTeam = {
    resourceType: 'CareTeam',
    id: chart.id('ct'),
    meta: { profile: [PROFILE.careTeam] },
    status: chart.alive ? 'active' : 'inactive',
    name: 'Care team',
    subject: chart.subject,
    period: chart.alive ? { start: toDate(startDay) } : { start: toDate(startDay), end: toDate(chart.lastDay) },
    participant,
    managingOrganization: [{ reference: `Organization/${ORG.clinic}` }],
  };
  return chart.add(team);
}

type Plan = 'medicare' | 'medicaid' | 'private';
const PAYER: Record<Plan, { org: string; name: string; type: Code }> = {
  medicare: { org: ORG.medicare, name: 'Medicare', type: { system: SYSTEM.payerType, code: '1', display: 'MEDICARE' } },
  medicaid: { org: ORG.medicaid, name: 'MassHealth (Medicaid)', type: { system: SYSTEM.payerType, code: '2', display: 'MEDICAID' } },
  private: { org: ORG.privatePayer, name: 'Lakeside Health Plan', type: { system: SYSTEM.payerType, code: '5', display: 'PRIVATE HEALTH INSURANCE' } },
};

/** US Core Coverage of the patient by one payer over a period. */
export function recordCoverage(chart: Chart, plan: Plan, startDay: number, endDay: number | undefined, dependent: boolean): Coverage {
  const payer = PAYER[plan];
  const member = `${plan.slice(0, 3).toUpperCase()}${chart.rng.digits(9)}`;
  const cov: Coverage = {
    resourceType: 'Coverage',
    id: chart.id('cov'),
    meta: { profile: [PROFILE.coverage] },
    identifier: [
      {
        use: 'usual',
        type: { coding: [{ system: SYSTEM.v2_0203, code: 'MB', display: 'Member Number' }], text: 'Member Number' },
        system: SYSTEM.memberId,
        value: member,
      },
    ],
    status: endDay === undefined ? 'active' : 'cancelled',
    type: { coding: [{ system: payer.type.system, code: payer.type.code, display: payer.type.display }], text: payer.type.display },
    subscriberId: member,
    beneficiary: chart.subject,
    relationship: {
      coding: [{ system: SYSTEM.subscriberRelationship, code: dependent ? 'child' : 'self', display: dependent ? 'Child' : 'Self' }],
      text: dependent ? 'Child' : 'Self',
    },
    period: endDay === undefined ? { start: toDate(startDay) } : { start: toDate(startDay), end: toDate(endDay) },
    payor: [{ reference: `Organization/${payer.org}`, display: payer.name }],
    class: [
      {
        type: { coding: [{ system: SYSTEM.coverageClass, code: 'group', display: 'Group' }] },
        value: `GRP-${chart.rng.digits(5)}`,
        name: `${payer.name} group`,
      },
      { type: { coding: [{ system: SYSTEM.coverageClass, code: 'plan', display: 'Plan' }] }, value: plan.toUpperCase(), name: `${payer.name} standard plan` },
    ],
  };
  return chart.add(cov);
}
