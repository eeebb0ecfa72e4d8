/**
 * Re-exports `src/http/tracker.ts`, for importers of this path.
 *
 * @module
 */

export * from "../http/tracker.ts";
