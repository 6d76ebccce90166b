// Smoke test of the generated client against a running gateway: the README
// walkthrough's first calls (create a plan, activate it, record a check-in,
// read the progress). NOCONTACT_API is the gateway's base URL and
// NOCONTACT_TOKEN a client's bearer JWT whose subject is NOCONTACT_CLIENT.
// Exits non-zero on the first unexpected answer.
import createClient from "openapi-fetch";
import type { paths } from "./schema.js";

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

const api = createClient<paths>({
  baseUrl: env("NOCONTACT_API"),
  headers: { Authorization: `Bearer ${env("NOCONTACT_TOKEN")}` },
});
const clientId = env("NOCONTACT_CLIENT");

function check(what: string, ok: boolean, detail: unknown): void {
  if (!ok) throw new Error(`${what}: ${JSON.stringify(detail)}`);
  console.log(`ok ${what}`);
}

const start = new Date(Date.now() - 8 * 24 * 3600 * 1000).toISOString();
const created = await api.POST("/v1/plans", {
  params: { query: { requestId: "ts-smoke-plan" } },
  body: { timeZone: "Europe/Berlin", startTime: start, reasons: ["I deserve peace"] },
});
const plan = created.data;
check("create a plan", created.response.status === 200 && !!plan?.id && plan.status === "PLAN_STATUS_DRAFT", created.error ?? plan);
const planId = plan!.id!;

const activated = await api.POST("/v1/plans/{planId}:activate", {
  params: { path: { planId } },
  body: {},
});
check("activate it", activated.data?.status === "PLAN_STATUS_ACTIVE", activated.error ?? activated.data);

const again = await api.POST("/v1/plans/{planId}:activate", {
  params: { path: { planId } },
  body: {},
});
// The documented 400 is typed as google.rpc.Status, details included.
check("activating twice is a typed 400", again.response.status === 400 && again.error?.code === 9 && Array.isArray(again.error?.details), again.error);

const updated = await api.PATCH("/v1/plans/{planId}", {
  params: { path: { planId } },
  body: { targetDays: 60 },
});
check("update it through {planId}", updated.data?.targetDays === 60, updated.error ?? updated.data);

const checkin = await api.POST("/v1/clients/{clientId}/checkins", {
  params: { path: { clientId } },
  body: { timeZone: "Europe/Berlin", mood: -1, difficulty: 4, selfCare: ["nature"] },
});
check("record a check-in", checkin.response.status === 200 && !!checkin.data, checkin.error ?? checkin.data);

const progress = await api.GET("/v1/plans/{planId}/progress", { params: { path: { planId } } });
check("get progress", progress.data?.currentStreakDays === 8, progress.error ?? progress.data);

const anonymous = await createClient<paths>({ baseUrl: env("NOCONTACT_API") }).GET("/v1/plans/{planId}/progress", {
  params: { path: { planId } },
});
check("no token is a 401", anonymous.response.status === 401, anonymous.error);
console.log("smoke: all ok");
