/** The AI-model operator: its kinds, its controllers, and `startOperator` to run them against a gateway. */

export { aiModelBindingController } from "./binding.js";
export { aiModelDeploymentController, type DeploymentControllerOptions } from "./deployment.js";
export type { GatewayChange, GatewayMonitor, OperatorDeps } from "./deps.js";
export { type KeySetProblemReason, type KeySetResult, keySetFromSecret } from "./keys.js";
export { PollingGatewayMonitor, type PollingGatewayMonitorOptions } from "./monitor.js";
export { gatewayFinalizer, gatewayName, hardwareClassLabel, operatorFieldManager, workloadLabels } from "./names.js";
export {
  defaultServiceUrlTemplate,
  type OperatorCluster,
  type OperatorController,
  type OperatorGateway,
  type OperatorHandle,
  type OperatorOptions,
  startOperator,
} from "./operator.js";
export { llmInvocationProfileController } from "./profile.js";
export { gatewayRules, operatorLeaseRules, operatorRules, type PolicyRule } from "./rbac.js";
export type {
  AIModelBinding,
  AIModelBindingSpec,
  AIModelBindingStatus,
  AIModelDeployment,
  AIModelDeploymentSpec,
  AIModelDeploymentStatus,
  AIStatusBase,
  Authentication,
  BindingTarget,
  Framework,
  LiveRoute,
  LLMInvocationProfile,
  LLMInvocationProfileSpec,
  LLMInvocationProfileStatus,
  RateLimit,
  TokenUsage,
} from "./types.js";
export { aiApiVersion, aiGroup, aiResources, aiVersion } from "./types.js";
