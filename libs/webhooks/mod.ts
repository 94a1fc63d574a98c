export {
  checkResolvedAddresses,
  checkWebhookUrl,
  isRefusedAddress,
  InvalidWebhookUrlError,
  parseAllowHosts,
  resolveWebhookHost,
  WebhookUrlRefusedError,
  type AllowList,
  type LookupAll,
  type WebhookUrlPolicy,
} from "./urlPolicy.ts";
export {
  postWebhook,
  WebhookNetworkError,
  WebhookTimeoutError,
  type PostWebhookOptions,
  type WebhookResponse,
} from "./safeFetch.ts";
export { isWebhookSecret, newWebhookSecret, signWebhook, verifyWebhook, webhookHeaders } from "./signature.ts";
export type { WebhookSignInput, WebhookVerifyInput } from "./signature.ts";
export {
  activeSecrets,
  deleteClientWebhook,
  putClientWebhook,
  readClientWebhook,
  readWebhookSecrets,
  rotateWebhookSecret,
  unregisterGoneWebhook,
  type WebhookSecrets,
} from "./webhookSettings.ts";
export { WebhookDirectory } from "./webhookDirectory.ts";
export {
  keepWebhookDeadLetter,
  queueDelivery,
  readWebhookDeadLetters,
  resendWebhookDeadLetter,
  WebhookBacklogFullError,
  type StoredWebhookDeadLetter,
} from "./deliveryQueue.ts";
export { attemptsSoFar, readWebhookStatus, recordWebhookStatus, type WebhookAttemptState } from "./webhookStatus.ts";
