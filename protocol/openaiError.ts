/**
 * The error envelope of the OpenAI API, which the worker and the gateway
 * both answer with, so that the official `openai` client raises the right
 * error class (`BadRequestError`, `AuthenticationError`, `RateLimitError`,
 * `APIError` for 5xx) and shows our message and code.
 */
export type OpenAiErrorType = 'invalid_request_error' | 'authentication_error' | 'permission_error' | 'rate_limit_error' | 'server_error';

export interface OpenAiErrorBody {
    error: {
        message: string;
        type: OpenAiErrorType;
        /** Machine-readable reason, e.g. `insufficient_funds`, `model_not_found`. */
        code: string | null;
        /** The request field the error is about, when there is one. */
        param?: string | null;
    };
}

/** The OpenAI error type for an HTTP status. */
export function openAiErrorType(status: number): OpenAiErrorType {
    if (status === 401) return 'authentication_error';
    if (status === 403) return 'permission_error';
    if (status === 429) return 'rate_limit_error';
    return status >= 500 ? 'server_error' : 'invalid_request_error';
}

export function openAiErrorBody(status: number, code: string | null, message: string, param?: string | null): OpenAiErrorBody {
    return { error: { message, type: openAiErrorType(status), code, ...(param !== undefined ? { param } : {}) } };
}
