import { z } from 'zod';

/** NAB's cost matrix (config/profiles.json, `CostMatrix`). `tnWeight` is read but NAB never uses it. */
export const costMatrixSchema = z.object({
  tpWeight: z.number().nonnegative(),
  fpWeight: z.number().nonnegative(),
  fnWeight: z.number().nonnegative(),
  tnWeight: z.number().nonnegative(),
});
export type CostMatrix = z.infer<typeof costMatrixSchema>;

/** The three profiles NAB reports, in the order we print them. */
export const NAB_PROFILES = ['standard', 'reward_low_FP_rate', 'reward_low_FN_rate'] as const;
export type NabProfile = (typeof NAB_PROFILES)[number];

/** config/profiles.json: profile name → { CostMatrix }. */
export const profilesFileSchema = z.record(z.string(), z.object({ CostMatrix: costMatrixSchema }));

/** config/thresholds.json: detector → profile → { threshold, score (raw, unnormalised) }. */
export const thresholdsFileSchema = z.record(
  z.string(),
  z.record(z.string(), z.object({ threshold: z.number(), score: z.number() })),
);
export type ThresholdsFile = z.infer<typeof thresholdsFileSchema>;

/** results/final_results.json: detector → profile → normalised score. */
export const finalResultsFileSchema = z.record(z.string(), z.record(z.string(), z.number()));
export type FinalResultsFile = z.infer<typeof finalResultsFileSchema>;

/** labels/combined_windows.json: "category/file.csv" → [[start, end], …] as NAB timestamps. */
export const windowsFileSchema = z.record(z.string(), z.array(z.tuple([z.string(), z.string()])));
export type WindowsFile = z.infer<typeof windowsFileSchema>;

/** The cost matrix of each profile NAB reports; throws naming the missing profile. */
export function pickProfiles(file: z.infer<typeof profilesFileSchema>): Record<NabProfile, CostMatrix> {
  const out = {} as Record<NabProfile, CostMatrix>;
  for (const name of NAB_PROFILES) {
    const entry = file[name];
    if (entry === undefined) throw new Error(`profiles.json has no profile "${name}"`);
    out[name] = entry.CostMatrix;
  }
  return out;
}
