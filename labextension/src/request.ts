import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { Mlops } from './tokens';

/** Where the server extension's routes live, under the server's base URL. */
export const API_NAMESPACE = 'mlops/api/v1';

/**
 * An error reply of the API: `message` is the server's own sentence (e.g. where a filter is
 * malformed), meant to be shown to the user as is.
 */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
    /** The whole JSON body of the reply (a 409 PROMOTION_BLOCKED carries its blockers). */
    readonly body: unknown = undefined
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/**
 * Call the jupyter-mlops server extension.
 *
 * @param endPoint route under `mlops/api/v1/`, with its query string (see `query()`)
 * @param init fetch options
 * @param settings the server to talk to (default: the one the lab was loaded from)
 * @returns the JSON body (undefined for a 204 No Content)
 * @throws ApiError with the server's `message` on a non-2xx reply
 */
export async function requestAPI<T>(
  endPoint: string,
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const url = URLExt.join(settings.baseUrl, API_NAMESPACE, endPoint);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new ServerConnection.NetworkError(error as TypeError);
  }
  const text = await response.text();
  let data: any = undefined;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      data = undefined;
    }
  }
  if (!response.ok) {
    const message =
      data && typeof data.message === 'string' && data.message
        ? data.message
        : `${response.status} ${response.statusText || 'error'} from ${endPoint.split('?')[0]}`;
    const code =
      data && typeof data.code === 'string' ? data.code : 'HTTP_ERROR';
    throw new ApiError(message, response.status, code, data);
  }
  if (data === undefined) {
    if (response.status === 204) {
      // No Content (a DELETE): nothing to return.
      return undefined as T;
    }
    throw new ApiError(
      `The server sent no JSON for ${endPoint.split('?')[0]}.`,
      response.status,
      'BAD_REPLY'
    );
  }
  return data as T;
}

/** A query string from the defined, non-empty values (`?a=1&b=x`), or ''. */
export function query(args: {
  [key: string]: string | number | null | undefined;
}): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(args)) {
    if (value === null || value === undefined || value === '') {
      continue;
    }
    parts.push(
      `${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`
    );
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

/** The message to show for any error a request may throw. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) {
    return error.message;
  }
  return String(error);
}

/** A model name or alias as one path segment (a name may hold `/` and spaces). */
function segment(text: string | number): string {
  return encodeURIComponent(String(text));
}

/**
 * The registry routes of the REST API, typed: registered models, their versions, stages,
 * aliases, approvals, gate reports, audit, lineage and card. Every write is made as the
 * Jupyter user, who the server records on the audit.
 */
export class RegistryAPI {
  constructor(
    readonly settings: ServerConnection.ISettings = ServerConnection.makeSettings()
  ) {}

  async models(): Promise<Mlops.IModelSummary[]> {
    const reply = await requestAPI<Mlops.IModelsReply>(
      'models',
      {},
      this.settings
    );
    return reply.models;
  }

  /** Register a logged model (`runs:/<run id>/<model name>`) as the next version of `name`. */
  register(body: Mlops.IRegisterBody): Promise<Mlops.IModelVersion> {
    return requestAPI<Mlops.IModelVersion>(
      'models',
      { method: 'POST', body: JSON.stringify(body) },
      this.settings
    );
  }

  model(name: string): Promise<Mlops.IModelDetail> {
    return requestAPI<Mlops.IModelDetail>(
      `models/${segment(name)}`,
      {},
      this.settings
    );
  }

  version(name: string, version: number): Promise<Mlops.IVersionDetail> {
    return requestAPI<Mlops.IVersionDetail>(
      `models/${segment(name)}/versions/${segment(version)}`,
      {},
      this.settings
    );
  }

  /**
   * Move a version to a stage. A move that gates or approvals forbid is an `ApiError` with
   * status 409, code `PROMOTION_BLOCKED` and the blockers in its body (see `blocked()`).
   */
  setStage(
    name: string,
    version: number,
    body: Mlops.IStageBody
  ): Promise<Mlops.IModelVersion> {
    return requestAPI<Mlops.IModelVersion>(
      `models/${segment(name)}/versions/${segment(version)}/stage`,
      { method: 'POST', body: JSON.stringify(body) },
      this.settings
    );
  }

  approve(
    name: string,
    version: number,
    reason?: string
  ): Promise<Mlops.IModelApproval> {
    return requestAPI<Mlops.IModelApproval>(
      `models/${segment(name)}/versions/${segment(version)}/approve`,
      { method: 'POST', body: JSON.stringify(reason ? { reason } : {}) },
      this.settings
    );
  }

  /** Run the model's gates on a version now (400 when the model has none). */
  validate(name: string, version: number): Promise<Mlops.IGateReport> {
    return requestAPI<Mlops.IGateReport>(
      `models/${segment(name)}/versions/${segment(version)}/validate`,
      { method: 'POST', body: '{}' },
      this.settings
    );
  }

  lineage(name: string, version: number): Promise<Mlops.IModelLineage> {
    return requestAPI<Mlops.IModelLineage>(
      `models/${segment(name)}/versions/${segment(version)}/lineage`,
      {},
      this.settings
    );
  }

  /** The model card of a version, as Markdown. */
  async card(name: string, version: number): Promise<string> {
    const reply = await requestAPI<Mlops.IModelCard>(
      `models/${segment(name)}/versions/${segment(version)}/card`,
      {},
      this.settings
    );
    return reply.markdown;
  }

  report(name: string, sha256: string): Promise<Mlops.IGateReport> {
    return requestAPI<Mlops.IGateReport>(
      `models/${segment(name)}/reports/${segment(sha256)}`,
      {},
      this.settings
    );
  }

  /** Point `alias` at `version`, creating it or moving it from another version. */
  setAlias(
    name: string,
    alias: string,
    version: number,
    reason?: string
  ): Promise<Mlops.IModelAlias> {
    const body: { version: number; reason?: string } = { version };
    if (reason) {
      body.reason = reason;
    }
    return requestAPI<Mlops.IModelAlias>(
      `models/${segment(name)}/aliases/${segment(alias)}`,
      { method: 'PUT', body: JSON.stringify(body) },
      this.settings
    );
  }

  async deleteAlias(
    name: string,
    alias: string,
    reason?: string
  ): Promise<void> {
    await requestAPI<void>(
      `models/${segment(name)}/aliases/${segment(alias)}${query({ reason })}`,
      { method: 'DELETE' },
      this.settings
    );
  }

  /** The model's audit entries, oldest first. */
  async audit(name: string): Promise<Mlops.IAuditEntry[]> {
    const reply = await requestAPI<Mlops.IAuditReply>(
      `models/${segment(name)}/audit`,
      {},
      this.settings
    );
    return reply.entries;
  }

  /** A run's record (its notebook as the lab sees it, for 'Go to cell'). */
  run(runId: string): Promise<Mlops.IRun> {
    return requestAPI<Mlops.IRun>(`runs/${segment(runId)}`, {}, this.settings);
  }
}

/** The body of a refused stage move, when `error` is one (409 PROMOTION_BLOCKED). */
export function blocked(error: unknown): Mlops.IPromotionBlocked | null {
  if (
    !(error instanceof ApiError) ||
    error.code !== 'PROMOTION_BLOCKED' ||
    !error.body ||
    typeof error.body !== 'object'
  ) {
    return null;
  }
  const body = error.body as { [key: string]: unknown };
  const blockers = Array.isArray(body.blockers)
    ? body.blockers.map(b => String(b))
    : [];
  const report =
    body.report && typeof body.report === 'object'
      ? (body.report as Mlops.IGateReport)
      : null;
  return {
    code: 'PROMOTION_BLOCKED',
    message: error.message,
    blockers,
    report
  };
}
