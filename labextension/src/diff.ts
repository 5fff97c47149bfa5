/** One line of a line diff: kept, removed from the old text, or added in the new one. */
export interface IDiffLine {
  op: ' ' | '-' | '+';
  text: string;
}

/** Lines beyond which the quadratic LCS table is not built (the texts are shown whole). */
const MAX_CELLS = 4_000_000;

/**
 * A line diff of two texts by longest common subsequence: the lines of `a` not in the LCS
 * are removals, those of `b` additions.
 */
export function lineDiff(a: string, b: string): IDiffLine[] {
  const x = a.split('\n');
  const y = b.split('\n');
  const n = x.length;
  const m = y.length;
  if (n * m > MAX_CELLS) {
    return [
      ...x.map(text => ({ op: '-' as const, text })),
      ...y.map(text => ({ op: '+' as const, text }))
    ];
  }
  // lcs[i][j]: LCS length of x[i:] and y[j:]
  const lcs: Uint32Array[] = [];
  for (let i = 0; i <= n; i++) {
    lcs.push(new Uint32Array(m + 1));
  }
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i][j] =
        x[i] === y[j]
          ? lcs[i + 1][j + 1] + 1
          : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const out: IDiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (x[i] === y[j]) {
      out.push({ op: ' ', text: x[i] });
      i++;
      j++;
    } else if (lcs[i + 1][j] >= lcs[i][j + 1]) {
      out.push({ op: '-', text: x[i++] });
    } else {
      out.push({ op: '+', text: y[j++] });
    }
  }
  while (i < n) {
    out.push({ op: '-', text: x[i++] });
  }
  while (j < m) {
    out.push({ op: '+', text: y[j++] });
  }
  return out;
}
