import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

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
    readonly code: string
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
    throw new ApiError(message, response.status, code);
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
