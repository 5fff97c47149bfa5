import React from 'react';

/** Two columns, key and value, sorted by key; an empty note when there is nothing. */
export function KeyValueTable(props: {
  title: string;
  values: { [key: string]: string };
  testId: string;
  emptyText: string;
}): JSX.Element {
  const keys = Object.keys(props.values).sort();
  return (
    <section className="jp-mlops-KeyValueTable" data-testid={props.testId}>
      <h3 className="jp-mlops-KeyValueTable-title">
        {props.title}
        <span className="jp-mlops-KeyValueTable-count">{keys.length}</span>
      </h3>
      {keys.length === 0 ? (
        <div className="jp-mlops-KeyValueTable-empty">{props.emptyText}</div>
      ) : (
        <table>
          <tbody>
            {keys.map(key => (
              <tr key={key}>
                <th scope="row" title={key}>
                  {key}
                </th>
                <td title={props.values[key]}>{props.values[key]}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
