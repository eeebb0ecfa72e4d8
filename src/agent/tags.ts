/**
 * Re-exports `src/http/tags.ts`, for importers of this path.
 *
 * @module
 */

export * from "../http/tags.ts";
