/** Decoding `metav1.Status` (and what is not one) into ApiError, and the kind predicates. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ApiError,
  type ErrorKind,
  errorFromStatus,
  isAborted,
  isAlreadyExists,
  isBadRequest,
  isConflict,
  isForbidden,
  isGone,
  isInternalError,
  isInvalid,
  isKind,
  isNetworkError,
  isNotFound,
  isServiceUnavailable,
  isTimeout,
  isTooManyRequests,
  isUnauthorized,
} from "../../src/http/errors.js";

function status(code: number, reason: string, message = `${reason} happened`, details?: unknown) {
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, code, details };
}

describe("errorFromStatus", () => {
  it("takes the kind from every reason the API server sends", () => {
    const cases: [string, number, ErrorKind][] = [
      ["NotFound", 404, "NotFound"],
      ["AlreadyExists", 409, "AlreadyExists"],
      ["Conflict", 409, "Conflict"],
      ["Gone", 410, "Gone"],
      ["Expired", 410, "Gone"],
      ["Forbidden", 403, "Forbidden"],
      ["Unauthorized", 401, "Unauthorized"],
      ["Invalid", 422, "Invalid"],
      ["BadRequest", 400, "BadRequest"],
      ["MethodNotAllowed", 405, "MethodNotAllowed"],
      ["NotAcceptable", 406, "NotAcceptable"],
      ["RequestEntityTooLarge", 413, "RequestEntityTooLarge"],
      ["UnsupportedMediaType", 415, "UnsupportedMediaType"],
      ["TooManyRequests", 429, "TooManyRequests"],
      ["Timeout", 504, "Timeout"],
      ["ServerTimeout", 500, "Timeout"],
      ["ServiceUnavailable", 503, "ServiceUnavailable"],
      ["InternalError", 500, "InternalError"],
      ["StorageReadError", 500, "InternalError"],
    ];
    for (const [reason, code, kind] of cases) {
      const err = errorFromStatus(code, status(code, reason), "GET /x");
      assert.equal(err.kind, kind, reason);
      assert.equal(err.reason, reason, reason);
      assert.equal(err.status, code, reason);
      assert.equal(err.message, kind === "NotFound" ? `${reason} happened (GET /x)` : `${reason} happened`, reason);
      assert.equal(err.request, "GET /x");
      assert.ok(err instanceof Error && err instanceof ApiError);
      assert.equal(err.name, "ApiError");
    }
  });

  it("lets the reason win over the status code, as client-go does", () => {
    assert.equal(errorFromStatus(500, status(500, "NotFound")).kind, "NotFound");
    assert.equal(errorFromStatus(409, status(409, "AlreadyExists"), "PUT /x").kind, "AlreadyExists");
  });

  it("falls back to the status code for an unknown or missing reason", () => {
    const cases: [number, ErrorKind][] = [
      [400, "BadRequest"],
      [401, "Unauthorized"],
      [403, "Forbidden"],
      [404, "NotFound"],
      [405, "MethodNotAllowed"],
      [406, "NotAcceptable"],
      [409, "Conflict"],
      [410, "Gone"],
      [413, "RequestEntityTooLarge"],
      [415, "UnsupportedMediaType"],
      [422, "Invalid"],
      [429, "TooManyRequests"],
      [500, "InternalError"],
      [502, "InternalError"],
      [503, "ServiceUnavailable"],
      [504, "Timeout"],
      [418, "Unknown"],
    ];
    for (const [code, kind] of cases) {
      assert.equal(errorFromStatus(code, status(code, "SomethingNew")).kind, kind, `${code} with an unknown reason`);
      assert.equal(errorFromStatus(code, status(code, "")).kind, kind, `${code} without a reason`);
    }
    assert.equal(
      errorFromStatus(404, status(404, "SomethingNew")).reason,
      "SomethingNew",
      "the server's reason is kept",
    );
  });

  it("treats 429 and 413 as their kind whatever the reason says", () => {
    assert.equal(errorFromStatus(429, status(429, "Forbidden")).kind, "TooManyRequests");
    assert.equal(errorFromStatus(413, status(413, "BadRequest")).kind, "RequestEntityTooLarge");
  });

  it("takes the code from the Status over the HTTP status (watch ERROR events arrive on a 200 stream)", () => {
    const event = status(410, "Expired", "too old resource version: 1 (523)");
    const err = errorFromStatus(200, event, "GET /api/v1/configmaps?watch=1");
    assert.equal(err.kind, "Gone");
    assert.equal(err.status, 410);
    assert.equal(err.reason, "Expired");
    assert.equal(err.message, "too old resource version: 1 (523)");
    assert.ok(isGone(err));
  });

  it("accepts a Status without kind as long as it says Failure", () => {
    const err = errorFromStatus(0, { status: "Failure", code: 410, reason: "Gone", message: "gone" });
    assert.equal(err.kind, "Gone");
    assert.equal(err.message, "gone");
    assert.equal(errorFromStatus(0, { status: "Success", code: 410 }).kind, "Unknown", "0 and no Status: unknown");
  });

  it("reads the field causes of an Invalid error", () => {
    const body = status(422, "Invalid", 'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value', {
      name: "Bad_Name",
      kind: "ConfigMap",
      causes: [
        {
          reason: "FieldValueInvalid",
          message: "Invalid value: a lowercase RFC 1123 subdomain",
          field: "metadata.name",
        },
        { reason: "FieldValueRequired", field: "data.key" },
        "not a cause",
        null,
        { message: 42, field: "spec" },
      ],
    });
    const err = errorFromStatus(422, body, "POST /api/v1/namespaces/a/configmaps");
    assert.ok(isInvalid(err));
    assert.deepEqual(err.causes, [
      { reason: "FieldValueInvalid", message: "Invalid value: a lowercase RFC 1123 subdomain", field: "metadata.name" },
      { reason: "FieldValueRequired", field: "data.key" },
      { field: "spec" },
    ]);
    assert.deepEqual(err.details, { name: "Bad_Name", kind: "ConfigMap", causes: err.causes });
  });

  it("has no causes for errors without them", () => {
    assert.deepEqual(errorFromStatus(404, status(404, "NotFound")).causes, []);
    assert.deepEqual(errorFromStatus(404, "nope").causes, []);
  });

  it("reads retryAfterSeconds from the details, else from the Retry-After header", () => {
    const body = status(429, "TooManyRequests", "slow down", { retryAfterSeconds: 7 });
    assert.equal(errorFromStatus(429, body).retryAfterSeconds, 7);
    assert.equal(errorFromStatus(429, body, "", 3).retryAfterSeconds, 7, "the body wins");
    assert.equal(errorFromStatus(429, status(429, "TooManyRequests"), "", 3).retryAfterSeconds, 3);
    assert.equal(errorFromStatus(429, "Too many requests, please try again later.", "", 1).retryAfterSeconds, 1);
    assert.equal(errorFromStatus(429, status(429, "TooManyRequests")).retryAfterSeconds, undefined);
    assert.equal(
      errorFromStatus(504, status(504, "Timeout", "t", { retryAfterSeconds: 0 })).retryAfterSeconds,
      undefined,
    );
  });

  it("gives a body that is not a Status the reason and words its status implies, quoting the body", () => {
    const apf = errorFromStatus(429, "Too many requests, please try again later.\n", "GET /api/v1/pods", 1);
    assert.equal(apf.kind, "TooManyRequests");
    assert.equal(apf.reason, "TooManyRequests");
    assert.equal(
      apf.message,
      "the server has received too many requests and has asked us to try again later (GET /api/v1/pods): Too many requests, please try again later.",
    );

    const html = `<html>\n<head><title>502 Bad Gateway</title></head>\n<body>${"x".repeat(500)}</body></html>`;
    const proxy = errorFromStatus(502, html, "GET /version");
    assert.equal(proxy.kind, "InternalError");
    assert.equal(proxy.reason, "InternalError");
    assert.ok(!proxy.message.includes("\n"), "one line");
    assert.ok(proxy.message.length < 400, "excerpted");
    assert.match(proxy.message, /^the server answered HTTP 502 without saying why \(GET \/version\): <html> <head>/);

    const json = errorFromStatus(404, { error: "no such thing" }, "GET /healthz/x");
    assert.equal(json.kind, "NotFound");
    assert.equal(
      json.message,
      'the server could not find the requested resource (GET /healthz/x): {"error":"no such thing"}',
    );

    const empty = errorFromStatus(503, "", "GET /readyz");
    assert.equal(empty.kind, "ServiceUnavailable");
    assert.equal(empty.message, "the server is currently unable to handle the request (GET /readyz)");

    const bare = errorFromStatus(418, undefined);
    assert.equal(bare.kind, "Unknown");
    assert.equal(bare.reason, "");
    assert.equal(bare.message, "the server answered HTTP 418 without saying why");
  });

  it("names the request in every NotFound, once", () => {
    const path = "/apis/example.com/v1/namespaces/ns/widgets/x";
    const object = errorFromStatus(404, status(404, "NotFound", 'widgets.example.com "x" not found'), `GET ${path}`);
    assert.equal(object.message, `widgets.example.com "x" not found (GET ${path})`);
    const route = errorFromStatus(
      404,
      status(404, "NotFound", "the server could not find the requested resource"),
      "GET /api/v1/namespaces/ns/nodes/x",
    );
    assert.equal(route.message, "the server could not find the requested resource (GET /api/v1/namespaces/ns/nodes/x)");
    const watched = errorFromStatus(500, status(500, "NotFound", "gone away"), "WATCH /api/v1/pods");
    assert.equal(watched.message, "gone away (WATCH /api/v1/pods)", "the reason makes it a NotFound");
    const plain = errorFromStatus(404, "404 page not found", "POST /apis/example.com/v1/widgets");
    assert.equal(
      plain.message,
      "the server could not find the requested resource (POST /apis/example.com/v1/widgets): 404 page not found",
    );
    const quoted = errorFromStatus(404, status(404, "NotFound", "no GET /x here"), "GET /x");
    assert.equal(quoted.message, "no GET /x here", "a message that names the request already is kept");
    assert.equal(errorFromStatus(404, status(404, "NotFound", "n")).message, "n", "no request, nothing to add");
    const conflict = errorFromStatus(409, status(409, "Conflict", "c"), "PUT /x");
    assert.equal(conflict.message, "c", "other kinds keep the server's words");
  });

  it("calls a POST's unexplained 409 AlreadyExists, and any other verb's Conflict", () => {
    const post = errorFromStatus(409, "exists", "POST /api/v1/namespaces");
    assert.equal(post.kind, "AlreadyExists");
    assert.equal(post.reason, "AlreadyExists");
    assert.equal(errorFromStatus(409, "conflict", "PUT /api/v1/namespaces/a").kind, "Conflict");
  });

  it("uses the generic words when a Status has no message", () => {
    const err = errorFromStatus(403, { kind: "Status", code: 403, reason: "Forbidden" }, "DELETE /x");
    assert.equal(err.message, "the server does not allow access to the requested resource (DELETE /x)");
  });
});

describe("ApiError", () => {
  it("is transient for the kinds a retry may cure, unless told otherwise", () => {
    const transient: ErrorKind[] = ["TooManyRequests", "Timeout", "ServiceUnavailable", "InternalError", "Network"];
    const permanent: ErrorKind[] = ["NotFound", "Conflict", "Gone", "Forbidden", "Invalid", "Aborted", "Unknown"];
    for (const kind of transient) assert.ok(new ApiError({ kind, status: 0, message: "" }).transient, kind);
    for (const kind of permanent) assert.ok(!new ApiError({ kind, status: 0, message: "" }).transient, kind);
    assert.ok(!new ApiError({ kind: "Network", status: 0, message: "tls", transient: false }).transient);
  });

  it("keeps its cause", () => {
    const cause = new Error("ECONNRESET");
    assert.equal(new ApiError({ kind: "Network", status: 0, message: "m", cause }).cause, cause);
    assert.equal(new ApiError({ kind: "Network", status: 0, message: "m" }).cause, undefined);
  });
});

describe("kind predicates", () => {
  const predicates: [(err: unknown) => boolean, ErrorKind][] = [
    [isNotFound, "NotFound"],
    [isAlreadyExists, "AlreadyExists"],
    [isConflict, "Conflict"],
    [isGone, "Gone"],
    [isForbidden, "Forbidden"],
    [isUnauthorized, "Unauthorized"],
    [isInvalid, "Invalid"],
    [isBadRequest, "BadRequest"],
    [isTooManyRequests, "TooManyRequests"],
    [isTimeout, "Timeout"],
    [isServiceUnavailable, "ServiceUnavailable"],
    [isInternalError, "InternalError"],
    [isNetworkError, "Network"],
    [isAborted, "Aborted"],
  ];

  it("each matches its own kind and no other", () => {
    for (const [predicate, kind] of predicates) {
      for (const [, other] of predicates) {
        const err = new ApiError({ kind: other, status: 0, message: "" });
        assert.equal(predicate(err), other === kind, `${predicate.name} on ${other}`);
      }
      assert.ok(isKind(new ApiError({ kind, status: 0, message: "" }), kind));
    }
  });

  it("is false for anything that is not an ApiError", () => {
    const lookalike = Object.assign(new Error("x"), { kind: "NotFound" });
    for (const [predicate] of predicates) {
      assert.equal(predicate(lookalike), false);
      assert.equal(predicate(undefined), false);
      assert.equal(predicate("NotFound"), false);
    }
  });
});
