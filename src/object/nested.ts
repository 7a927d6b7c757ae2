/** Nested-field reads and edits, gathered so the package can export them as one `nested` namespace. */
export * from "./nested-get.js";
export * from "./nested-set.js";
