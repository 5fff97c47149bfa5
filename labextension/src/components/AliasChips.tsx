import React from 'react';

/** Aliases as chips: `@champion`, or `@champion v3` when the version is given. */
export function AliasChips(props: {
  aliases: readonly string[] | { [alias: string]: number };
}): JSX.Element | null {
  const entries: [string, number | null][] = Array.isArray(props.aliases)
    ? props.aliases.map(a => [a, null])
    : Object.entries(props.aliases).sort((a, b) => a[0].localeCompare(b[0]));
  if (entries.length === 0) {
    return null;
  }
  return (
    <span className="jp-mlops-AliasChips">
      {entries.map(([alias, version]) => {
        const text = version === null ? `@${alias}` : `@${alias} v${version}`;
        return (
          <span
            key={alias}
            className="jp-mlops-Pill jp-mlops-AliasChip"
            title={text}
            data-testid="mlops-alias-chip"
            data-alias={alias}
          >
            {text}
          </span>
        );
      })}
    </span>
  );
}
