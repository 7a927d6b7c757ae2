/** Metadata accessors and editors, gathered so the package can export them as one `meta` namespace. */
export * from "./meta-read.js";
export * from "./meta-write.js";
