/**
 * Re-exports `src/http/json.ts`, for importers of this path.
 *
 * @module
 */

export * from "../http/json.ts";
