/**
 * Shared fast-check settings for the property tests: a fixed number of runs so that `npm test`
 * stays bounded, and the seed from FC_SEED when set, to replay a failure fast-check reported.
 */
export function fcParams(numRuns: number): { numRuns: number; seed?: number } {
  const raw = process.env.FC_SEED;
  if (raw === undefined || raw === '') return { numRuns };
  const seed = Number(raw);
  if (!Number.isInteger(seed)) throw new Error(`FC_SEED must be an integer, got "${raw}"`);
  return { numRuns, seed };
}
