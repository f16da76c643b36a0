// The new-call form. Keyboard first: Tab follows the call (phone,
// category, priority, location, address, description), the location takes
// "lat, lon" or a landmark, Enter saves, Esc closes. Opened from a ringing
// call ("Angkat") it comes filled in: the number, the handset's fix as the
// pin, and the call's id, which links the incident to the call.

import type { MessageInitShape } from "@bufbuild/protobuf";
import { api, codeOf, Code, messageOf, newRequestId, sleep } from "../api";
import { age, byName, enumName, h, nodes, secondsSince, wib } from "../format";
import { t, type Key } from "../i18n";
import { options, say, words } from "../words";
import {
  type Call,
  type CreateIncidentRequestSchema,
  type IncidentCategory,
  IncidentCategorySchema,
  PrioritySchema,
} from "../gen/ngalam112/v1/dispatch_pb";
import { LANDMARKS, parseLocation } from "./landmarks";
import { setPin } from "./mapview";
import { openPanel, upsertIncident } from "./store";

const DUPLICATE_RADIUS_M = 300;
/** Attempts at recording one call while the server answers UNAVAILABLE. */
const INTAKE_ATTEMPTS = 6;

interface Fields {
  phone: HTMLInputElement;
  withheld: HTMLInputElement;
  category: HTMLSelectElement;
  priority: HTMLSelectElement;
  location: HTMLInputElement;
  lat: HTMLInputElement;
  lon: HTMLInputElement;
  address: HTMLInputElement;
  description: HTMLTextAreaElement;
  name: HTMLInputElement;
  history: HTMLElement;
  candidates: HTMLElement;
  error: HTMLElement;
}

function select(testid: string, id: string, choices: { name: string; label: string }[], chosen: string): HTMLSelectElement {
  const element = h("select", { "data-testid": testid, id });
  for (const choice of choices) {
    const item = h("option", { value: choice.name }, choice.label);
    item.selected = choice.name === chosen;
    element.append(item);
  }
  return element;
}

function makeFields(): Fields {
  const all = words();
  return {
    phone: h("input", { "data-testid": "intake-phone", inputmode: "tel", id: "intake-phone" }),
    withheld: h("input", { "data-testid": "intake-withheld", type: "checkbox", id: "intake-withheld" }),
    category: select("intake-category", "intake-category", options(all.category, (v) => enumName(IncidentCategorySchema, v)), "INCIDENT_CATEGORY_MEDICAL"),
    priority: select("intake-priority", "intake-priority", options(all.priority, (v) => enumName(PrioritySchema, v)), "PRIORITY_HIGH"),
    location: h("input", { "data-testid": "intake-location", id: "intake-location", list: "landmarks", placeholder: t("locationHint"), autocomplete: "off" }),
    // Filled from the location field, the map or the pin; typed only by
    // those who prefer two fields.
    lat: h("input", { "data-testid": "intake-lat", inputmode: "decimal", id: "intake-lat", tabindex: "-1" }),
    lon: h("input", { "data-testid": "intake-lon", inputmode: "decimal", id: "intake-lon", tabindex: "-1" }),
    address: h("input", { "data-testid": "intake-address", id: "intake-address" }),
    description: h("textarea", { "data-testid": "intake-description", rows: "3", id: "intake-description" }),
    name: h("input", { "data-testid": "intake-name", id: "intake-name" }),
    history: h("div", { "data-testid": "caller-history", class: "history", "aria-live": "polite" }),
    candidates: h("div", { "data-testid": "duplicate-candidates", class: "candidates" }),
    error: h("p", { class: "error", "data-testid": "intake-error", role: "alert" }),
  };
}

function field(label: Key, input: HTMLElement, name: string): HTMLElement {
  return h("div", { class: "field", "data-field": name }, h("label", { for: input.id }, t(label)), input);
}

function layout(fields: Fields, call: Call | undefined): HTMLFormElement {
  const close = h("button", { type: "button", class: "close", "aria-label": t("close"), tabindex: "-1" }, "×");
  close.addEventListener("click", () => openPanel({ kind: "none" }));
  return h(
    "form",
    { class: "intake", "aria-label": t("newCall") },
    close,
    h("h2", {}, t("newCall")),
    call ? h("p", { class: "muted", "data-testid": "intake-call", "data-call-id": call.callId }, t("fromCall", { id: call.callId })) : null,
    field("phone", fields.phone, "caller_phone"),
    h("div", { class: "check" }, fields.withheld, h("label", { for: "intake-withheld" }, ` ${t("withheld")}`)),
    fields.history,
    field("category", fields.category, "category"),
    field("priority", fields.priority, "priority"),
    field("location", fields.location, "location"),
    h("datalist", { id: "landmarks" }, ...LANDMARKS.map((landmark) => h("option", { value: landmark.name }))),
    h("div", { class: "pair" }, field("lat", fields.lat, "location.lat"), field("lon", fields.lon, "location.lon")),
    h("p", { class: "muted" }, t("pickOnMap")),
    field("address", fields.address, "address"),
    field("description", fields.description, "description"),
    field("callerName", fields.name, "caller_name"),
    fields.candidates,
    fields.error,
    h("button", { type: "submit", class: "primary", "data-testid": "intake-submit" }, `${t("save")} (Enter)`),
  );
}

/** Sets the location (from the map, the pin, a landmark or a handset). */
function locate(fields: Fields, lat: number, lon: number): void {
  fields.lat.value = lat.toFixed(5);
  fields.lon.value = lon.toFixed(5);
  setPin(lat, lon, (movedLat, movedLon) => {
    fields.location.value = `${movedLat.toFixed(5)}, ${movedLon.toFixed(5)}`;
    locate(fields, movedLat, movedLon);
  });
  void showDuplicates(fields, lat, lon);
}

let current: Fields | null = null;

/** The map was clicked while the form is open. */
export function setIntakeLocation(lat: number, lon: number): void {
  if (current) {
    current.location.value = `${lat.toFixed(5)}, ${lon.toFixed(5)}`;
    locate(current, lat, lon);
  }
}

function readLocationField(fields: Fields): void {
  if (!fields.location.value.trim()) {
    return;
  }
  const place = parseLocation(fields.location.value);
  if (place) {
    locate(fields, place.lat, place.lon);
  } else {
    fields.error.textContent = t("locationUnknown");
  }
}

function wire(fields: Fields): void {
  let historyTimer: number | undefined;
  fields.phone.addEventListener("input", () => {
    window.clearTimeout(historyTimer);
    historyTimer = window.setTimeout(() => void showHistory(fields.phone.value, fields.history), 350);
  });
  fields.withheld.addEventListener("change", () => {
    fields.phone.disabled = fields.withheld.checked;
    if (fields.withheld.checked) {
      fields.phone.value = "";
      fields.history.replaceChildren();
    }
  });
  fields.location.addEventListener("change", () => readLocationField(fields));
  const typedPair = () => {
    const lat = Number(fields.lat.value);
    const lon = Number(fields.lon.value);
    if (fields.lat.value && fields.lon.value && Number.isFinite(lat) && Number.isFinite(lon)) {
      locate(fields, lat, lon);
    }
  };
  fields.lat.addEventListener("change", typedPair);
  fields.lon.addEventListener("change", typedPair);
  fields.category.addEventListener("change", typedPair);
  // Enter saves from the description too (Shift+Enter: a new line).
  fields.description.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      fields.description.form?.requestSubmit();
    }
  });
}

function fillFromCall(fields: Fields, call: Call): void {
  fields.withheld.checked = call.callerIdWithheld;
  fields.phone.disabled = call.callerIdWithheld;
  fields.phone.value = call.callerPhone;
  if (call.callerPhone) {
    void showHistory(call.callerPhone, fields.history);
  }
  const fix = call.deviceLocation?.location;
  if (fix) {
    fields.location.value = `${fix.lat.toFixed(5)}, ${fix.lon.toFixed(5)}`;
    locate(fields, fix.lat, fix.lon);
  }
}

function request(fields: Fields, duplicateOf: string, call: Call | undefined): CreateRequest {
  return {
    category: byName(IncidentCategorySchema, fields.category.value),
    priority: byName(PrioritySchema, fields.priority.value),
    callerPhone: fields.phone.value,
    callerIdWithheld: fields.withheld.checked,
    callerName: fields.name.value,
    address: fields.address.value,
    description: fields.description.value,
    location: { lat: Number(fields.lat.value || "NaN"), lon: Number(fields.lon.value || "NaN") },
    duplicateOf,
    callId: call?.callId ?? "",
  };
}

export function intakeForm(call?: Call): HTMLElement {
  const fields = makeFields();
  current = fields;
  const form = layout(fields, call);
  wire(fields);
  if (call) {
    fillFromCall(fields, call);
  }
  // One request id per call, kept across every retry of it: the server
  // stores a call at most once per id, so a retry after a lost answer
  // never sends a second crew.
  const requestId = newRequestId();
  form.dataset.requestId = requestId;
  const send = async (duplicateOf: string) => {
    fields.error.textContent = "";
    form.querySelectorAll(".invalid").forEach((element) => element.classList.remove("invalid"));
    if (!fields.lat.value) {
      readLocationField(fields);
    }
    try {
      const incident = await createWithRetries(requestId, fields.error, request(fields, duplicateOf, call));
      current = null;
      upsertIncident(incident);
      openPanel({ kind: "incident", id: incident.id });
    } catch (failure) {
      const message = messageOf(failure);
      fields.error.textContent = message;
      form.querySelector(`[data-field="${message.split(" ")[0]}"]`)?.classList.add("invalid");
    }
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void send("");
  });
  fields.candidates.addEventListener("click", (event) => {
    const button = (event.target as HTMLElement).closest<HTMLButtonElement>("button[data-incident-id]");
    if (button?.dataset.incidentId) {
      void send(button.dataset.incidentId);
    }
  });
  queueMicrotask(() => (call?.callerPhone || call?.callerIdWithheld ? fields.category : fields.phone).focus());
  return form;
}

type CreateRequest = Omit<MessageInitShape<typeof CreateIncidentRequestSchema>, "requestId" | "$typeName">;

/**
 * Records a call, retrying by itself (1, 2, 4, 8, 8 s apart) while the
 * server answers UNAVAILABLE, always with the same request id, and saying
 * so in `status` so the call-taker knows it is being retried.
 */
async function createWithRetries(requestId: string, status: HTMLElement, request: CreateRequest) {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await api.incidents.createIncident({ ...request, requestId });
    } catch (failure) {
      const retryable = codeOf(failure) === Code.Unavailable || codeOf(failure) === Code.Unknown;
      if (!retryable || attempt >= INTAKE_ATTEMPTS) {
        throw failure;
      }
      status.textContent = t("intakeRetrying", { attempt: attempt + 1, attempts: INTAKE_ATTEMPTS });
      status.dataset.retrying = `${attempt + 1}/${INTAKE_ATTEMPTS}`;
      await sleep(1000 * Math.min(8, 2 ** (attempt - 1)));
      delete status.dataset.retrying;
    }
  }
}

async function showHistory(phone: string, box: HTMLElement): Promise<void> {
  if (phone.replace(/\D/g, "").length < 8) {
    box.replaceChildren();
    return;
  }
  try {
    const history = await api.callers.getCallerHistory({ callerPhone: phone, days: 30 });
    const flag = history.flagged
      ? h("div", { class: "flag-banner", "data-testid": "caller-flagged" }, t("flagged", { reason: history.flagReason }))
      : null;
    const recent = history.recent.slice(0, 5).map((incident) =>
      h(
        "div",
        { class: "muted" },
        `${wib(incident.createdAt)} ${say.category(incident.category)} ${incident.address}` +
          (incident.resolutionCode ? ` → ${say.resolution(incident.resolutionCode)}` : ""),
      ),
    );
    box.replaceChildren(
      ...nodes(flag, h("div", {}, `${history.callerPhone}: ${t("history", { n: history.incidentCount, p: history.prankCount })}`), ...recent),
    );
  } catch {
    box.replaceChildren();
  }
}

async function showDuplicates(fields: Fields, lat: number, lon: number): Promise<void> {
  const category: IncidentCategory = byName(IncidentCategorySchema, fields.category.value);
  try {
    const nearby = await api.incidents.findNearbyIncidents({ location: { lat, lon }, radiusM: DUPLICATE_RADIUS_M, category });
    fields.candidates.replaceChildren(
      ...nodes(
        h("h3", {}, t("duplicates")),
        nearby.incidents.length === 0 ? h("p", { class: "muted" }, t("noDuplicates")) : null,
        ...nearby.incidents.map((incident) =>
          h(
            "div",
            { class: "candidate" },
            `${say.priority(incident.priority)} ${incident.address} · ${age(secondsSince(incident.createdAt))} · ${incident.callerCount} ${t("callers")} `,
            h("button", { type: "button", "data-incident-id": incident.id }, t("sameIncident")),
          ),
        ),
      ),
    );
  } catch {
    fields.candidates.replaceChildren();
  }
}
