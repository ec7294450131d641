/** The screening forms the clinic uses (PHQ-9, Hunger Vital Sign): questions, answers and Questionnaires. */
import type { Questionnaire, QuestionnaireItem } from '@medplum/fhirtypes';
import { PROFILE, SYSTEM, coding, loinc } from './codes';
import type { Code } from './codes';

/** PHQ-9 answers (LOINC answer list LL358-3), scored 0–3 in this order. */
export const PHQ_ANSWER = [
  loinc('LA6568-5', 'Not at all'),
  loinc('LA6569-3', 'Several days'),
  loinc('LA6570-1', 'More than half the days'),
  loinc('LA6571-9', 'Nearly every day'),
] as const;

/**
 * The nine PHQ-9 questions (LOINC panel 44249-1), in the order symptoms typically carry a score:
 * a total is spread over the items from the first, so the answers always add up to it.
 */
export const PHQ9_ITEMS: readonly Code[] = [
  loinc('44255-8', 'Feeling down, depressed, or hopeless'),
  loinc('44250-9', 'Little interest or pleasure in doing things'),
  loinc('44254-1', 'Feeling tired or having little energy'),
  loinc('44259-0', 'Trouble falling or staying asleep, or sleeping too much'),
  loinc('44252-5', 'Trouble concentrating on things, such as reading the newspaper or watching television'),
  loinc('44251-7', 'Poor appetite or overeating'),
  loinc('44258-2', 'Feeling bad about yourself-or that you are a failure or have let yourself or your family down'),
  loinc(
    '44253-3',
    'Moving or speaking so slowly that other people could have noticed. Or the opposite-being so fidgety or restless that you have been moving around a lot more than usual',
  ),
  loinc('44260-8', 'Thoughts that you would be better off dead, or of hurting yourself in some way'),
];
const PHQ9_PANEL = loinc('44249-1', 'PHQ-9 quick depression assessment panel [Reported.PHQ]');
export const PHQ9_TOTAL = loinc('44261-6', 'Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]');

/** Hunger Vital Sign (LOINC panel 88121-9): two items answered from LOINC answer list LL4533-5. */
export const HVS_PANEL = loinc('88121-9', 'Hunger Vital Sign [HVS]');
export const HVS_ANSWER = {
  often: loinc('LA28397-0', 'Often true'),
  sometimes: loinc('LA6729-3', 'Sometimes true'),
  never: loinc('LA28398-8', 'Never true'),
} as const;
export const HVS_ITEM = {
  worried: loinc('88122-7', 'Within the past 12 months we worried whether our food would run out before we got money to buy more [U.S. FDA]'),
  ranOut: loinc('88123-5', "Within the past 12 months the food we bought just didn't last and we didn't have money to get more [U.S. FDA]"),
} as const;

export const QUESTIONNAIRE = {
  phq9: { id: 'questionnaire-phq-9', url: `${SYSTEM.questionnaire}/phq-9`, version: '1.0.0', title: 'Patient Health Questionnaire-9 (PHQ-9)' },
  hvs: { id: 'questionnaire-hunger-vital-sign', url: `${SYSTEM.questionnaire}/hunger-vital-sign`, version: '1.0.0', title: 'Hunger Vital Sign (HVS)' },
} as const;

function choiceItem(code: Code, answers: readonly Code[]): QuestionnaireItem {
  return {
    linkId: code.code,
    code: [coding(code)],
    text: code.display,
    type: 'choice',
    required: true,
    answerOption: answers.map((a) => ({ valueCoding: coding(a) })),
  };
}

/** The screening questionnaires the clinic uses: shared by every patient, answered in QuestionnaireResponses. */
export function screeningQuestionnaires(): Questionnaire[] {
  return [
    {
      resourceType: 'Questionnaire',
      id: QUESTIONNAIRE.phq9.id,
      meta: { profile: [PROFILE.questionnaire] },
      url: QUESTIONNAIRE.phq9.url,
      version: QUESTIONNAIRE.phq9.version,
      name: 'PHQ9',
      title: QUESTIONNAIRE.phq9.title,
      status: 'active',
      subjectType: ['Patient'],
      code: [coding(PHQ9_PANEL)],
      description: 'Over the last 2 weeks, how often have you been bothered by any of the following problems?',
      item: [
        ...PHQ9_ITEMS.map((c) => choiceItem(c, PHQ_ANSWER)),
        { linkId: PHQ9_TOTAL.code, code: [coding(PHQ9_TOTAL)], text: 'Total score', type: 'integer', readOnly: true },
      ],
    },
    {
      resourceType: 'Questionnaire',
      id: QUESTIONNAIRE.hvs.id,
      meta: { profile: [PROFILE.questionnaire] },
      url: QUESTIONNAIRE.hvs.url,
      version: QUESTIONNAIRE.hvs.version,
      name: 'HungerVitalSign',
      title: QUESTIONNAIRE.hvs.title,
      status: 'active',
      subjectType: ['Patient'],
      code: [coding(HVS_PANEL)],
      item: [choiceItem(HVS_ITEM.worried, Object.values(HVS_ANSWER)), choiceItem(HVS_ITEM.ranOut, Object.values(HVS_ANSWER))],
    },
  ];
}
