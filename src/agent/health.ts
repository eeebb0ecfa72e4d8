/**
 * Re-exports `src/http/health.ts`, for importers of this path.
 *
 * @module
 */

export * from "../http/health.ts";
