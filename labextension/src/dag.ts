/** Layout of a pipeline's DAG: steps in columns by depth, edges from upstream to downstream. */

export interface IDagInput {
  name: string;
  upstream: readonly string[];
}

export interface IDagNode {
  name: string;
  /** Longest path from a root (a step without upstream). */
  depth: number;
  x: number;
  y: number;
}

export interface IDagEdge {
  from: string;
  to: string;
  /** An SVG path from the upstream's right side to the downstream's left side. */
  path: string;
}

export interface IDagLayout {
  nodes: IDagNode[];
  edges: IDagEdge[];
  width: number;
  height: number;
}

export interface IDagSizes {
  nodeWidth: number;
  nodeHeight: number;
  columnGap: number;
  rowGap: number;
  margin: number;
}

export const DAG_SIZES: IDagSizes = {
  nodeWidth: 88,
  nodeHeight: 36,
  columnGap: 20,
  rowGap: 10,
  margin: 4
};

/**
 * Depth of each step: 0 for roots, else 1 + the deepest upstream. Unknown upstream names are
 * ignored and a cycle does not loop (the server reports both as validation errors).
 */
export function depths(steps: readonly IDagInput[]): Map<string, number> {
  const byName = new Map(steps.map(s => [s.name, s]));
  const depth = new Map<string, number>();
  const visiting = new Set<string>();
  const visit = (name: string): number => {
    const known = depth.get(name);
    if (known !== undefined) {
      return known;
    }
    if (visiting.has(name)) {
      return 0;
    }
    visiting.add(name);
    let d = 0;
    for (const up of byName.get(name)?.upstream ?? []) {
      if (byName.has(up)) {
        d = Math.max(d, visit(up) + 1);
      }
    }
    visiting.delete(name);
    depth.set(name, d);
    return d;
  };
  steps.forEach(s => visit(s.name));
  return depth;
}

/**
 * Place the steps: one column per depth, ordered within a column by the mean row of their
 * upstream steps (fewer crossings), ties in pipeline order; columns are centred vertically.
 */
export function layoutDag(
  steps: readonly IDagInput[],
  sizes: IDagSizes = DAG_SIZES
): IDagLayout {
  const { nodeWidth, nodeHeight, columnGap, rowGap, margin } = sizes;
  const depth = depths(steps);
  const columns: IDagInput[][] = [];
  steps.forEach(s => {
    const d = depth.get(s.name) ?? 0;
    (columns[d] = columns[d] ?? []).push(s);
  });
  const row = new Map<string, number>();
  const order = new Map(steps.map((s, i) => [s.name, i]));
  columns.forEach((column, d) => {
    if (d > 0) {
      const key = (s: IDagInput) => {
        const rows = s.upstream
          .map(u => row.get(u))
          .filter((r): r is number => r !== undefined);
        return rows.length
          ? rows.reduce((a, b) => a + b, 0) / rows.length
          : Infinity;
      };
      column.sort(
        (a, b) =>
          key(a) - key(b) || order.get(a.name)! - order.get(b.name)! || 0
      );
    }
    column.forEach((s, i) => row.set(s.name, i));
  });
  const tallest = Math.max(1, ...columns.map(c => c?.length ?? 0));
  const height = margin * 2 + tallest * nodeHeight + (tallest - 1) * rowGap;
  const ncols = Math.max(1, columns.length);
  const width = margin * 2 + ncols * nodeWidth + (ncols - 1) * columnGap;
  const nodes: IDagNode[] = [];
  const at = new Map<string, IDagNode>();
  columns.forEach((column, d) => {
    const span = column.length * nodeHeight + (column.length - 1) * rowGap;
    const top = (height - span) / 2;
    column.forEach((s, i) => {
      const node = {
        name: s.name,
        depth: d,
        x: margin + d * (nodeWidth + columnGap),
        y: top + i * (nodeHeight + rowGap)
      };
      nodes.push(node);
      at.set(s.name, node);
    });
  });
  const edges: IDagEdge[] = [];
  for (const s of steps) {
    const to = at.get(s.name)!;
    for (const up of s.upstream) {
      const from = at.get(up);
      if (!from || from === to) {
        continue;
      }
      const x1 = from.x + nodeWidth;
      const y1 = from.y + nodeHeight / 2;
      // Stop short of the box so the arrow head shows.
      const x2 = to.x - 2;
      const y2 = to.y + nodeHeight / 2;
      const bend = Math.max(12, (x2 - x1) / 2);
      edges.push({
        from: up,
        to: s.name,
        path: `M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}`
      });
    }
  }
  return { nodes, edges, width, height };
}
