/**
 * Re-exports `src/http/view.ts`, for importers of this path.
 *
 * @module
 */

export * from "../http/view.ts";
