// Verifies one real webhook delivery with the `standardwebhooks` npm
// package (the Standard Webhooks reference library for JavaScript), as an
// integrator's receiver would, then reads the notification it points to
// through the generated client. The devstack test registers the webhook,
// receives the delivery and passes it here:
//   NOCONTACT_WEBHOOK_SECRET    the whsec_ secret shown at registration
//   NOCONTACT_WEBHOOK_HEADERS   the received headers, a JSON object
//   NOCONTACT_WEBHOOK_BODY_FILE the received body, byte for byte
//   NOCONTACT_API, NOCONTACT_TOKEN  as for smoke.ts (the webhook's owner)
// Exits non-zero on the first unexpected result.
import { readFileSync } from "node:fs";
import createClient from "openapi-fetch";
import { Webhook, WebhookVerificationError } from "standardwebhooks";
import type { components, paths } from "./schema.js";

type WebhookEvent = components["schemas"]["WebhookEvent"];

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

function check(what: string, ok: boolean, detail: unknown): void {
  if (!ok) throw new Error(`${what}: ${JSON.stringify(detail)}`);
  console.log(`ok ${what}`);
}

function rejects(what: string, f: () => unknown): void {
  try {
    f();
  } catch (e) {
    check(what, e instanceof WebhookVerificationError, String(e));
    return;
  }
  check(what, false, "it verified");
}

const secret = env("NOCONTACT_WEBHOOK_SECRET");
const headers = JSON.parse(env("NOCONTACT_WEBHOOK_HEADERS")) as Record<string, string>;
const body = readFileSync(env("NOCONTACT_WEBHOOK_BODY_FILE"), "utf8");

check("the secret is a whsec_ secret", secret.startsWith("whsec_"), secret.slice(0, 6));
const event = new Webhook(secret).verify(body, headers) as WebhookEvent;
check("the delivery verifies with standardwebhooks", event.type === "notification.created", event);
rejects("a changed body does not verify", () => new Webhook(secret).verify(body.replace("notification.created", "notification.createe"), headers));
rejects("another secret does not verify", () => new Webhook("whsec_" + Buffer.alloc(32, 7).toString("base64")).verify(body, headers));

const { data } = event;
check("the payload is thin: ids, kind, times, a link", data.url === `/v1/notifications/${data.notificationId}` && data.kind.startsWith("NOTIFICATION_KIND_") && !("title" in data) && !("body" in data), data);

const api = createClient<paths>({
  baseUrl: env("NOCONTACT_API"),
  headers: { Authorization: `Bearer ${env("NOCONTACT_TOKEN")}` },
});
const note = await api.GET("/v1/notifications/{notificationId}", { params: { path: { notificationId: data.notificationId } } });
check("the link reads the notification through the API", note.data?.id === data.notificationId && note.data?.kind === data.kind, note.error ?? note.data);
console.log("webhook: all ok");
