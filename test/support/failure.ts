/** Asserting that a call fails with the library's typed error. */
import assert from "node:assert/strict";
import { ApiError } from "../../src/http/errors.js";

/** The error `promise` rejects with, which must be an {@link ApiError}. */
export async function failure(promise: Promise<unknown>): Promise<ApiError> {
  const err = await promise.then(
    (value) => assert.fail(`expected a failure, got ${JSON.stringify(value)?.slice(0, 200)}`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ApiError, `expected an ApiError, got ${String(err)}`);
  return err;
}

/** Asserts that `promise` rejects with an {@link ApiError} of `kind`, and returns the error. */
export async function rejectsWith(promise: Promise<unknown>, kind: ApiError["kind"]): Promise<ApiError> {
  const err = await failure(promise);
  assert.equal(err.kind, kind, err.message);
  return err;
}
