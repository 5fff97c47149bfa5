import React, { useMemo } from 'react';
import { TranslationBundle } from '@jupyterlab/translation';

import { DAG_SIZES, layoutDag } from '../dag';
import { formatDuration } from '../format';
import { Mlops } from '../tokens';

/** Characters of a step name that fit in a node (11px UI font). */
const NAME_CHARS = 12;

function clip(text: string, n: number): string {
  return text.length > n ? `${text.slice(0, n - 1)}…` : text;
}

/**
 * A pipeline's steps as an SVG graph: one column per depth, arrows from upstream to
 * downstream. With a run, each node takes its step's status colour and duration.
 */
export function PipelineDag(props: {
  steps: readonly Mlops.IPipelineStep[];
  /** The selected run's steps, by name; none shows the bare graph. */
  states?: ReadonlyMap<string, Mlops.IStepState> | null;
  onSelectStep?: (name: string) => void;
  trans: TranslationBundle;
}): JSX.Element {
  const { steps, states, onSelectStep, trans } = props;
  const layout = useMemo(() => layoutDag(steps), [steps]);
  const { nodeWidth, nodeHeight } = DAG_SIZES;
  return (
    <div className="jp-mlops-Dag">
      <svg
        data-testid="mlops-pipeline-dag"
        role="img"
        aria-label={trans.__('Pipeline graph')}
        viewBox={`0 0 ${layout.width} ${layout.height}`}
        width={layout.width}
        height={layout.height}
        style={{
          // Shrink to the panel down to 75% of the natural size (three columns fit the
          // default panel width), then scroll.
          width: '100%',
          maxWidth: layout.width,
          minWidth: Math.round(layout.width * 0.75),
          height: 'auto'
        }}
      >
        <defs>
          <marker
            id="jp-mlops-Dag-arrow"
            viewBox="0 0 8 8"
            refX="7"
            refY="4"
            markerWidth="7"
            markerHeight="7"
            orient="auto-start-reverse"
          >
            <path d="M0,0 L8,4 L0,8 z" className="jp-mlops-Dag-arrowHead" />
          </marker>
        </defs>
        {layout.edges.map(edge => (
          <path
            key={`${edge.from}->${edge.to}`}
            className="jp-mlops-Dag-edge"
            d={edge.path}
            markerEnd="url(#jp-mlops-Dag-arrow)"
          />
        ))}
        {layout.nodes.map(node => {
          const state = states?.get(node.name) ?? null;
          const status = state?.status ?? null;
          const detail = state
            ? [
                status!.toLowerCase(),
                state.duration !== null
                  ? formatDuration(state.duration * 1000)
                  : ''
              ]
                .filter(Boolean)
                .join(' · ')
            : '';
          return (
            <g
              key={node.name}
              data-testid="mlops-dag-node"
              data-step={node.name}
              data-status={status ?? undefined}
              className={
                'jp-mlops-DagNode' +
                (status ? ` jp-mlops-DagNode-${status.toLowerCase()}` : '') +
                (onSelectStep ? ' jp-mod-clickable' : '')
              }
              transform={`translate(${node.x},${node.y})`}
              onClick={onSelectStep ? () => onSelectStep(node.name) : undefined}
            >
              <title>{status ? `${node.name} (${status})` : node.name}</title>
              <rect
                className="jp-mlops-DagNode-box"
                width={nodeWidth}
                height={nodeHeight}
                rx={6}
                ry={6}
              />
              <text
                className="jp-mlops-DagNode-name"
                x={nodeWidth / 2}
                y={detail ? 15 : nodeHeight / 2 + 4}
                textAnchor="middle"
              >
                {clip(node.name, NAME_CHARS)}
              </text>
              {detail && (
                <text
                  className="jp-mlops-DagNode-detail"
                  x={nodeWidth / 2}
                  y={28}
                  textAnchor="middle"
                >
                  {clip(detail, 17)}
                </text>
              )}
            </g>
          );
        })}
      </svg>
    </div>
  );
}
