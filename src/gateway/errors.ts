/**
 * The data plane's input error, as GATEWAY.md's contract states it. The core's `errors.ts` owns this file and renders
 * the error in OpenAI's format; llm and limits code only throw it.
 */

/** A request the gateway refuses: `status` (4xx), a message for the caller, the offending field in `param`. */
export class GatewayInputError extends Error {
  readonly status: number;
  readonly param: string | undefined;
  readonly code: string | undefined;
  constructor(status: number, message: string, param?: string, code?: string) {
    super(message);
    this.name = "GatewayInputError";
    this.status = status;
    this.param = param;
    this.code = code;
  }
}
