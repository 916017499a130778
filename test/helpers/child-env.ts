/**
 * The environment of a tidemark process a test starts: the test's own, without any
 * TIDEMARK_* setting of the machine it runs on, plus `extra`. Every such process checks
 * its in-memory index state against the index (TIDEMARK_CHECK_INDEX_MEMO).
 */
export function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('TIDEMARK_')) env[k] = v;
  return { ...env, TIDEMARK_CHECK_INDEX_MEMO: '1', ...extra };
}
