import type { Sex } from './chart';

// Medians of the WHO (0–24 months) and CDC (2–20 years) growth charts, by age in months.
// Individuals sit on a channel (z-score) so a child's series follows one percentile line.
const AGES = [0, 1, 2, 4, 6, 9, 12, 18, 24, 36, 48, 60, 72, 84, 96, 108, 120, 132, 144, 156, 168, 180, 192, 204, 216, 240];
const HEIGHT: Record<Sex, number[]> = {
  male: [
    49.9, 54.7, 58.4, 63.9, 67.6, 72.0, 75.7, 82.3, 87.8, 96.1, 103.3, 110.0, 116.0, 121.7, 127.3, 132.6, 137.8, 143.1, 149.1, 156.0, 163.2, 169.0, 173.0,
    175.2, 176.1, 176.8,
  ],
  female: [
    49.1, 53.7, 57.1, 62.1, 65.7, 70.1, 74.0, 80.7, 86.4, 95.1, 102.7, 109.4, 115.5, 121.1, 126.6, 132.2, 138.3, 144.8, 151.5, 157.1, 160.4, 161.8, 162.5,
    162.9, 163.1, 163.3,
  ],
};
const WEIGHT: Record<Sex, number[]> = {
  male: [3.3, 4.5, 5.6, 7.0, 7.9, 8.9, 9.6, 10.9, 12.2, 14.3, 16.3, 18.4, 20.7, 22.9, 25.6, 28.6, 31.9, 35.6, 40.0, 45.0, 50.8, 56.0, 60.8, 64.6, 67.2, 70.6],
  female: [3.2, 4.2, 5.1, 6.4, 7.3, 8.2, 8.9, 10.2, 11.5, 13.9, 15.9, 18.0, 20.2, 22.4, 25.2, 28.5, 32.0, 36.0, 40.5, 44.8, 48.4, 51.0, 52.7, 53.7, 54.4, 55.7],
};
const HEAD_AGES = [0, 1, 2, 4, 6, 9, 12, 18, 24, 36];
const HEAD: Record<Sex, number[]> = {
  male: [34.5, 37.3, 39.1, 41.6, 43.3, 44.8, 46.1, 47.4, 48.3, 49.5],
  female: [33.9, 36.5, 38.3, 40.6, 42.2, 43.8, 45.0, 46.2, 47.2, 48.5],
};

function interpolate(ages: readonly number[], values: readonly number[], month: number): number {
  if (month <= (ages[0] ?? 0)) return values[0] ?? 0;
  for (let i = 1; i < ages.length; i++) {
    const a1 = ages[i] ?? 0;
    if (month <= a1) {
      const a0 = ages[i - 1] ?? 0;
      const v0 = values[i - 1] ?? 0;
      const v1 = values[i] ?? 0;
      return v0 + ((v1 - v0) * (month - a0)) / (a1 - a0);
    }
  }
  return values[values.length - 1] ?? 0;
}

/** Standard normal CDF (Abramowitz–Stegun 7.1.26), enough for percentiles to one decimal. */
export function normalCdf(z: number): number {
  const t = 1 / (1 + (0.3275911 * Math.abs(z)) / Math.SQRT2);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-(z * z) / 2);
  return z >= 0 ? (1 + y) / 2 : (1 - y) / 2;
}

/** Percentile (0.1–99.9) of a z-score, one decimal. */
export function percentile(z: number): number {
  return Math.min(99.9, Math.max(0.1, Math.round(normalCdf(z) * 1000) / 10));
}

const HEIGHT_CV = 0.04;
const WEIGHT_LOG_SD = 0.12;
const HEAD_CV = 0.03;

export function heightCm(sex: Sex, months: number, zHeight: number): number {
  return interpolate(AGES, HEIGHT[sex], months) * (1 + HEIGHT_CV * zHeight);
}

/** Weight in kg of a child (< 20 years) on its channel. */
export function childWeightKg(sex: Sex, months: number, zWeight: number): number {
  return interpolate(AGES, WEIGHT[sex], months) * Math.exp(WEIGHT_LOG_SD * zWeight);
}

/** Adult BMI: the channel's BMI at 20, drifting up through middle age and down after 75, as US adults do. */
export function adultBmi(sex: Sex, years: number, zWeight: number): number {
  const h = interpolate(AGES, HEIGHT[sex], 240) / 100;
  const at20 = (interpolate(AGES, WEIGHT[sex], 240) / (h * h)) * Math.exp(WEIGHT_LOG_SD * zWeight);
  const drift = 1 + 0.25 * Math.min(1, Math.max(0, (years - 20) / 35)) - 0.08 * Math.min(1, Math.max(0, (years - 75) / 15));
  return at20 * drift;
}

export function headCm(sex: Sex, months: number, zHead: number): number {
  return interpolate(HEAD_AGES, HEAD[sex], months) * (1 + HEAD_CV * zHead);
}

export function headPercentile(sex: Sex, months: number, cm: number): number {
  const median = interpolate(HEAD_AGES, HEAD[sex], months);
  return percentile((cm / median - 1) / HEAD_CV);
}

/** BMI-for-age percentile (2–20 years): log distance from the median BMI of that age. */
export function bmiPercentile(sex: Sex, months: number, bmi: number): number {
  const h = interpolate(AGES, HEIGHT[sex], months) / 100;
  const median = interpolate(AGES, WEIGHT[sex], months) / (h * h);
  return percentile(Math.log(bmi / median) / 0.11);
}

/** Weight-for-length percentile (< 2 years): compares with the median weight of children of that length. */
export function weightForLengthPercentile(sex: Sex, lengthCm: number, weightKg: number): number {
  const heights = HEIGHT[sex];
  let month = 0;
  for (let i = 1; i < AGES.length; i++) {
    const h0 = heights[i - 1] ?? 0;
    const h1 = heights[i] ?? 0;
    if (lengthCm <= h1 || i === AGES.length - 1) {
      const a0 = AGES[i - 1] ?? 0;
      const a1 = AGES[i] ?? 0;
      month = a0 + ((a1 - a0) * (lengthCm - h0)) / (h1 - h0);
      break;
    }
  }
  const median = interpolate(AGES, WEIGHT[sex], Math.max(0, month));
  return percentile(Math.log(weightKg / median) / 0.1);
}
