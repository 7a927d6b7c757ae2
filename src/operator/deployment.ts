import type { Controller, ControllerCluster } from "../controller/controller.js";
import type { OperatorDeps } from "./deps.js";

/** Placeholder until the AIModelDeployment controller lands. */
export function aiModelDeploymentController(_cluster: ControllerCluster, _deps: OperatorDeps): Controller {
  throw new Error("not yet");
}
