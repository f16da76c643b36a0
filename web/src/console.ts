// The operators' web console: login, live map, intake, queue, incident
// detail, units, reports and the crew-in-danger alarm. Everything comes from
// the server's gRPC services over gRPC-Web; live parts follow the
// WatchIncidents, WatchUnits and WatchAlarms streams.

import "./console.css";
import * as L from "leaflet";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { api, codeOf, Code, messageOf, newRequestId, setToken, sleep, token } from "./api";
import { eventName, t, toggleLanguage, type Key } from "./i18n";
import { age, byName, choices, drive, enumName, h, km, nodes, secondsSince, short, wib } from "./format";
import { addCityOutline, drawRoute, MALANG_BOUNDS, tileLayer } from "./map";
import {
  type Agency,
  type Alarm,
  type CreateIncidentRequestSchema,
  AssignmentStatus,
  AssignmentStatusSchema,
  type Incident,
  IncidentCategory,
  IncidentCategorySchema,
  ReferralStatusSchema,
  IncidentStatus,
  IncidentStatusSchema,
  type LoginResponse,
  PrioritySchema,
  ResolutionCode,
  ResolutionCodeSchema,
  RoleSchema,
  type CameraDistance,
  type Unit,
  type UnitRecommendation,
  UnitKindSchema,
  UnitStatus,
  UnitStatusSchema,
  type WhoAmIResponse,
} from "./gen/ngalam112/v1/dispatch_pb";

const ACTIVE = [IncidentStatus.PENDING, IncidentStatus.DISPATCHED, IncidentStatus.ON_SCENE];
const DUPLICATE_RADIUS_M = 300;

type View = "queue" | "units" | "reports";

interface State {
  me: WhoAmIResponse | null;
  incidents: Map<string, Incident>;
  units: Map<string, Unit>;
  alarms: Map<string, Alarm>;
  view: View;
  panel: { kind: "none" } | { kind: "intake" } | { kind: "incident"; id: string };
  live: { incidents: boolean; units: boolean };
}

const state: State = {
  me: null,
  incidents: new Map(),
  units: new Map(),
  alarms: new Map(),
  view: "queue",
  panel: { kind: "none" },
  live: { incidents: false, units: false },
};

const root = document.getElementById("app") as HTMLElement;
let map: L.Map | null = null;
const incidentMarkers = new Map<string, L.Marker>();
const unitMarkers = new Map<string, L.Marker>();
let intakePin: L.Marker | null = null;
let handsetMarker: L.Layer | null = null;
/** The open incident's units' routes by road (with `--roads`). */
let routeLayers: L.Layer[] = [];

// ------------------------------------------------------------------ login

function renderLogin(error = ""): void {
  document.title = t("title");
  const username = h("input", { "data-testid": "login-username", autocomplete: "username", id: "username" });
  const password = h("input", {
    "data-testid": "login-password",
    type: "password",
    autocomplete: "current-password",
    id: "password",
  });
  const message = h("p", { class: "error", "data-testid": "login-error" }, error);
  const form = h(
    "form",
    { class: "login" },
    h("h1", {}, t("title")),
    h("label", { for: "username" }, t("username")),
    username,
    h("label", { for: "password" }, t("password")),
    password,
    h("button", { type: "submit", "data-testid": "login-submit" }, t("login")),
    message,
    languageButton(),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const login: LoginResponse = await api.auth.login({ username: username.value, password: password.value });
      setToken(login.token);
      await start();
    } catch (failure) {
      message.textContent = codeOf(failure) === Code.ResourceExhausted ? t("loginTooMany") : t("loginWrong");
    }
  });
  root.replaceChildren(form);
  username.focus();
}

function languageButton(): HTMLButtonElement {
  const button = h("button", { type: "button", class: "lang", "data-testid": "lang-toggle" }, t("title") && "ID / EN");
  button.addEventListener("click", () => {
    toggleLanguage();
    if (state.me) {
      renderShell();
    } else {
      renderLogin();
    }
  });
  return button;
}

// ------------------------------------------------------------------ shell

async function start(): Promise<void> {
  try {
    state.me = await api.auth.whoAmI({});
  } catch {
    setToken(null);
    renderLogin();
    return;
  }
  renderShell();
  void followIncidents();
  void followUnits();
  void followAlarms();
}

function renderShell(): void {
  document.title = t("title");
  const me = state.me;
  if (!me) {
    return;
  }
  const logout = h("button", { type: "button", "data-testid": "logout" }, t("logout"));
  logout.addEventListener("click", async () => {
    try {
      await api.auth.logout({});
    } finally {
      setToken(null);
      window.location.reload();
    }
  });
  const newCall = h("button", { type: "button", class: "primary", "data-testid": "new-incident" }, t("newCall"));
  newCall.addEventListener("click", () => openPanel({ kind: "intake" }));
  const tabs = (["queue", "units", "reports"] as View[]).map((view) => {
    const tab = h("button", { type: "button", class: state.view === view ? "tab active" : "tab", "data-view": view }, t(view));
    tab.addEventListener("click", () => {
      state.view = view;
      document.querySelectorAll<HTMLElement>("nav .tab").forEach((other) => {
        other.classList.toggle("active", other.dataset.view === view);
      });
      renderView();
    });
    return tab;
  });
  const role = short(RoleSchema, me.role);
  const until = me.expiresAt ? ` · ${t("until")} ${wib(me.expiresAt)}` : "";
  const header = h(
    "header",
    {},
    h("strong", {}, t("title")),
    h("span", { "data-testid": "whoami", class: "whoami" }, `${me.displayName || me.username || role} (${role})${until}`),
    h("span", { "data-testid": "connection-state", class: "connection" }),
    languageButton(),
    logout,
  );
  const mapElement = h("div", { id: "map", "data-testid": "map" });
  const side = h("section", { class: "side" }, h("nav", {}, newCall, ...tabs), h("div", { id: "view" }));
  const panel = h("aside", { id: "panel" });
  root.replaceChildren(
    h("div", { id: "alarms" }),
    header,
    h("main", {}, side, mapElement, panel),
  );
  map?.remove();
  map = L.map(mapElement, { zoomControl: true }).fitBounds(MALANG_BOUNDS);
  // The detail panel opening or closing resizes the map.
  const resized = map;
  new ResizeObserver(() => resized.invalidateSize()).observe(mapElement);
  tileLayer()?.addTo(map);
  addCityOutline(map);
  map.on("click", (event: L.LeafletMouseEvent) => {
    if (state.panel.kind === "intake") {
      setIntakeLocation(event.latlng.lat, event.latlng.lng);
    }
  });
  incidentMarkers.clear();
  unitMarkers.clear();
  intakePin = null;
  handsetMarker = null;
  for (const incident of state.incidents.values()) {
    placeIncident(incident);
  }
  for (const unit of state.units.values()) {
    placeUnit(unit);
  }
  renderConnection();
  renderView();
  renderAlarms();
  renderPanel();
}

function renderConnection(): void {
  const element = document.querySelector<HTMLElement>("[data-testid=connection-state]");
  if (!element) {
    return;
  }
  const live = state.live.incidents && state.live.units;
  element.textContent = live ? `● ${t("live")}` : `○ ${t("reconnecting")}`;
  element.className = live ? "connection live" : "connection down";
  element.dataset.state = live ? "live" : "reconnecting";
}

// ------------------------------------------------------------ live streams

/** Runs `follow` forever, with back-off after each failure. */
async function keepFollowing(which: keyof State["live"], follow: () => Promise<void>): Promise<void> {
  let delay = 500;
  for (;;) {
    try {
      await follow();
    } catch (failure) {
      if (codeOf(failure) === Code.Unauthenticated) {
        setToken(null);
        window.location.reload();
        return;
      }
    }
    state.live[which] = false;
    renderConnection();
    await sleep(delay);
    delay = Math.min(delay * 2, 10_000);
  }
}

function followIncidents(): Promise<void> {
  return keepFollowing("incidents", async () => {
    const stream = api.incidents.watchIncidents({});
    // The list is read after subscribing, so no change falls in between.
    const listed = await api.incidents.listIncidents({ statuses: ACTIVE, pageSize: 500 });
    state.incidents.clear();
    for (const marker of incidentMarkers.values()) {
      marker.remove();
    }
    incidentMarkers.clear();
    for (const incident of listed.incidents) {
      upsertIncident(incident);
    }
    state.live.incidents = true;
    renderConnection();
    renderView();
    for await (const event of stream) {
      if (event.incident) {
        upsertIncident(event.incident);
        renderView();
        if (state.panel.kind === "incident" && state.panel.id === event.incident.id) {
          renderPanel();
        }
      }
    }
  });
}

function followUnits(): Promise<void> {
  return keepFollowing("units", async () => {
    let first = true;
    for await (const unit of api.units.watchUnits({})) {
      if (first) {
        state.live.units = true;
        renderConnection();
        first = false;
      }
      state.units.set(unit.id, unit);
      placeUnit(unit);
      if (state.view === "units") {
        renderView();
      }
    }
  });
}

async function followAlarms(): Promise<void> {
  let delay = 500;
  for (;;) {
    try {
      for await (const alarm of api.incidents.watchAlarms({})) {
        if (alarm.acknowledgedBy) {
          state.alarms.delete(alarm.id);
        } else {
          state.alarms.set(alarm.id, alarm);
          beep();
        }
        renderAlarms();
      }
    } catch {
      // Reconnect below.
    }
    await sleep(delay);
    delay = Math.min(delay * 2, 10_000);
  }
}

function upsertIncident(incident: Incident): void {
  if (ACTIVE.includes(incident.status)) {
    state.incidents.set(incident.id, incident);
    placeIncident(incident);
  } else {
    state.incidents.delete(incident.id);
    incidentMarkers.get(incident.id)?.remove();
    incidentMarkers.delete(incident.id);
  }
}

// -------------------------------------------------------------------- map

const CATEGORY_LETTER: Record<IncidentCategory, string> = {
  [IncidentCategory.UNSPECIFIED]: "?",
  [IncidentCategory.MEDICAL]: "M",
  [IncidentCategory.FIRE]: "F",
  [IncidentCategory.TRAFFIC_ACCIDENT]: "T",
  [IncidentCategory.CRIME]: "C",
  [IncidentCategory.RESCUE]: "R",
  [IncidentCategory.DISASTER]: "D",
  [IncidentCategory.OTHER]: "O",
};

function placeIncident(incident: Incident): void {
  if (!map || !incident.location) {
    return;
  }
  const icon = L.divIcon({
    className: `incident-marker priority-${short(PrioritySchema, incident.priority).toLowerCase()}`,
    html: CATEGORY_LETTER[incident.category],
    iconSize: [26, 26],
  });
  const position: L.LatLngExpression = [incident.location.lat, incident.location.lon];
  let marker = incidentMarkers.get(incident.id);
  if (marker) {
    marker.setLatLng(position).setIcon(icon);
  } else {
    marker = L.marker(position, { icon, title: incident.address }).addTo(map);
    marker.on("click", () => openPanel({ kind: "incident", id: incident.id }));
    incidentMarkers.set(incident.id, marker);
  }
  marker.getElement()?.setAttribute("data-incident-id", incident.id);
}

function placeUnit(unit: Unit): void {
  if (!map || !unit.location) {
    return;
  }
  const kind = short(UnitKindSchema, unit.kind);
  const icon = L.divIcon({
    className: `unit-marker status-${short(UnitStatusSchema, unit.status).toLowerCase().replace(" ", "-")}`,
    html: kind.charAt(0),
    iconSize: [22, 22],
  });
  const position: L.LatLngExpression = [unit.location.lat, unit.location.lon];
  let marker = unitMarkers.get(unit.id);
  if (marker) {
    marker.setLatLng(position).setIcon(icon);
  } else {
    marker = L.marker(position, { icon, title: unit.callSign, zIndexOffset: -100 }).addTo(map);
    marker.on("click", () => {
      state.view = "units";
      document.querySelectorAll<HTMLElement>("nav .tab").forEach((other) => {
        other.classList.toggle("active", other.dataset.view === "units");
      });
      renderView();
      document.querySelector(`[data-testid=unit-row][data-unit-id="${unit.id}"]`)?.scrollIntoView();
    });
    unitMarkers.set(unit.id, marker);
  }
  // A call sign is the user's text: given to Leaflet as a text node's
  // element, never as a string (Leaflet would parse a string as HTML).
  const label = document.createElement("span");
  label.textContent = `${unit.callSign} · ${short(UnitStatusSchema, unit.status)}`;
  marker.bindTooltip(label);
  marker.getElement()?.setAttribute("data-unit-id", unit.id);
}

// ------------------------------------------------------------------ views

function renderView(): void {
  const view = document.getElementById("view");
  if (!view) {
    return;
  }
  if (state.view === "queue") {
    view.replaceChildren(queue());
  } else if (state.view === "units") {
    view.replaceChildren(unitsView());
  } else if (!view.querySelector(".reports")) {
    view.replaceChildren(reportsView());
  }
}

function sortedIncidents(): Incident[] {
  const created = (incident: Incident) => (incident.createdAt ? timestampDate(incident.createdAt).getTime() : 0);
  return [...state.incidents.values()].sort(
    (a, b) => a.priority - b.priority || created(a) - created(b),
  );
}

function queue(): HTMLElement {
  const rows = sortedIncidents().map((incident) => {
    const units = incident.assignments
      .filter((assignment) => assignment.status <= AssignmentStatus.ON_SCENE)
      .map((assignment) => `${assignment.unitCallSign} ${short(AssignmentStatusSchema, assignment.status)}`)
      .join(", ");
    const row = h(
      "li",
      {
        "data-testid": "incident-row",
        "data-incident-id": incident.id,
        "data-status": enumName(IncidentStatusSchema, incident.status),
        class: `row priority-${short(PrioritySchema, incident.priority).toLowerCase()}`,
      },
      h(
        "div",
        { class: "row-head" },
        h("b", {}, short(PrioritySchema, incident.priority)),
        ` ${short(IncidentCategorySchema, incident.category)} · `,
        h("span", { class: "status" }, short(IncidentStatusSchema, incident.status)),
        ` · ${age(secondsSince(incident.createdAt))}`,
        incident.locationDisagrees ? h("span", { class: "badge warn" }, t("locationDisagrees")) : null,
        incident.callerFlagged ? h("span", { class: "badge flag" }, t("flaggedBadge")) : null,
        incident.hold && ACTIVE.includes(incident.status)
          ? h("span", { class: "badge warn", "data-testid": "held-badge" }, t("held"))
          : null,
      ),
      h("div", {}, incident.address || "—"),
      h("div", { class: "muted" }, units || t("nothing")),
    );
    row.addEventListener("click", () => openPanel({ kind: "incident", id: incident.id }));
    return row;
  });
  return h("ul", { class: "queue" }, ...rows);
}

function unitsView(): HTMLElement {
  const units = [...state.units.values()].sort((a, b) => a.callSign.localeCompare(b.callSign));
  const rows = units.map((unit) => {
    const outOfService = unit.status === UnitStatus.OUT_OF_SERVICE;
    const toggle = h(
      "button",
      { type: "button", "data-testid": "unit-service", "data-unit-id": unit.id },
      outOfService ? t("inService") : t("outOfService"),
    );
    toggle.addEventListener("click", async (event) => {
      event.stopPropagation();
      try {
        const changed = await api.units.setUnitInService({ unitId: unit.id, inService: outOfService });
        state.units.set(changed.id, changed);
        placeUnit(changed);
        renderView();
      } catch (failure) {
        toggle.title = messageOf(failure);
        toggle.classList.add("failed");
      }
    });
    return h(
      "li",
      {
        "data-testid": "unit-row",
        "data-unit-id": unit.id,
        "data-status": enumName(UnitStatusSchema, unit.status),
        class: "row",
      },
      h(
        "div",
        { class: "row-head" },
        h("b", {}, unit.callSign),
        ` ${short(UnitKindSchema, unit.kind)} · `,
        h("span", { class: `unit-status status-${unit.status}` }, short(UnitStatusSchema, unit.status)),
      ),
      h(
        "div",
        { class: "muted" },
        `${unit.agency} · ${t("positionAge", { age: age(secondsSince(unit.locationUpdatedAt)) })}`,
      ),
      toggle,
    );
  });
  return h("ul", { class: "units" }, ...rows);
}

function reportsView(): HTMLElement {
  const period = h("select", { "data-testid": "report-period" });
  for (const [hours, key] of [
    [24, "last24h"],
    [24 * 7, "last7d"],
    [24 * 30, "last30d"],
  ] as [number, Key][]) {
    period.append(h("option", { value: String(hours) }, t(key)));
  }
  const table = h("div", { "data-testid": "report" });
  const load = async () => {
    const hours = Number(period.value);
    try {
      const report = await api.incidents.getResponseTimeReport({
        since: { seconds: BigInt(Math.floor(Date.now() / 1000 - hours * 3600)), nanos: 0 },
      });
      const s = report.targetSeconds;
      const share = (part: number, whole: number) => (whole ? `${((100 * part) / whole).toFixed(1)} %` : "—");
      table.replaceChildren(
        h(
          "table",
          {},
          h(
            "tr",
            {},
            h("th", {}, t("category")),
            h("th", {}, t("priority")),
            h("th", {}, t("calls")),
            h("th", {}, t("offeredInTime", { s })),
            h("th", {}, t("acceptedInTime", { s })),
          ),
          ...report.rows.map((row) =>
            h(
              "tr",
              {},
              h("td", {}, row.category ? short(IncidentCategorySchema, row.category) : t("all")),
              h("td", {}, row.priority ? short(PrioritySchema, row.priority) : t("all")),
              h("td", {}, String(row.incidents)),
              h("td", {}, share(row.offeredWithinTarget, row.incidents)),
              h("td", {}, share(row.acceptedWithinTarget, row.incidents)),
            ),
          ),
        ),
        h("p", { class: "muted" }, t("leftOut", { p: report.prankIncidents, d: report.duplicateIncidents })),
      );
    } catch (failure) {
      table.replaceChildren(h("p", { class: "error" }, messageOf(failure)));
    }
  };
  period.addEventListener("change", () => void load());
  void load();
  return h("div", { class: "reports" }, h("label", {}, t("period"), " ", period), table);
}

// ------------------------------------------------------------------ panel

function openPanel(panel: State["panel"]): void {
  state.panel = panel;
  intakePin?.remove();
  intakePin = null;
  handsetMarker?.remove();
  handsetMarker = null;
  clearRoutes();
  renderPanel();
}

function clearRoutes(): void {
  for (const layer of routeLayers) {
    layer.remove();
  }
  routeLayers = [];
}

/** With roads, each open assignment's way from its unit to the incident. */
async function showRoutes(incident: Incident): Promise<void> {
  const onRoads = incident.assignments.filter(
    (assignment) => assignment.etaS > 0 && assignment.status <= AssignmentStatus.ON_SCENE,
  );
  const routes = await Promise.all(
    onRoads.map((assignment) => api.field.getRoute({ assignmentId: assignment.id }).catch(() => null)),
  );
  if (state.panel.kind !== "incident" || state.panel.id !== incident.id) {
    return;
  }
  clearRoutes();
  let bounds: L.LatLngBounds | null = null;
  for (const route of routes) {
    if (map && route && route.points.length > 1) {
      const line = drawRoute(map, route.points);
      routeLayers.push(line);
      bounds = bounds ? bounds.extend(line.getBounds()) : line.getBounds();
    }
  }
  // The whole way in view: the dispatcher sees where the unit comes from.
  if (map && bounds) {
    map.fitBounds(bounds, { padding: [40, 40], maxZoom: 16 });
  }
}

function renderPanel(): void {
  const panel = document.getElementById("panel");
  if (!panel) {
    return;
  }
  panel.className = state.panel.kind === "none" ? "" : "open";
  if (state.panel.kind === "intake") {
    if (!panel.querySelector(".intake")) {
      panel.replaceChildren(intakeForm());
    }
  } else if (state.panel.kind === "incident") {
    void renderDetail(panel, state.panel.id);
  } else {
    panel.replaceChildren();
  }
}

function closeButton(): HTMLButtonElement {
  const close = h("button", { type: "button", class: "close" }, "×");
  close.title = t("close");
  close.addEventListener("click", () => openPanel({ kind: "none" }));
  return close;
}

function select(
  testid: string,
  options: { name: string; label: string }[],
  chosen: string,
): HTMLSelectElement {
  const element = h("select", { "data-testid": testid });
  for (const option of options) {
    const item = h("option", { value: option.name }, option.label);
    item.selected = option.name === chosen;
    element.append(item);
  }
  return element;
}

function field(label: Key, input: HTMLElement, name: string): HTMLElement {
  return h("label", { class: "field", "data-field": name }, h("span", {}, t(label)), input);
}

function intakeForm(): HTMLElement {
  const category = select("intake-category", choices(IncidentCategorySchema), "INCIDENT_CATEGORY_MEDICAL");
  const priority = select("intake-priority", choices(PrioritySchema), "PRIORITY_HIGH");
  const phone = h("input", { "data-testid": "intake-phone", inputmode: "tel" });
  const withheld = h("input", { "data-testid": "intake-withheld", type: "checkbox" });
  const name = h("input", { "data-testid": "intake-name" });
  const address = h("input", { "data-testid": "intake-address" });
  const description = h("textarea", { "data-testid": "intake-description", rows: "3" });
  const lat = h("input", { "data-testid": "intake-lat", inputmode: "decimal", id: "intake-lat" });
  const lon = h("input", { "data-testid": "intake-lon", inputmode: "decimal", id: "intake-lon" });
  const history = h("div", { "data-testid": "caller-history", class: "history" });
  const candidates = h("div", { "data-testid": "duplicate-candidates", class: "candidates" });
  const error = h("p", { class: "error", "data-testid": "intake-error" });
  const submit = h("button", { type: "submit", class: "primary", "data-testid": "intake-submit" }, t("save"));

  let historyTimer: number | undefined;
  phone.addEventListener("input", () => {
    window.clearTimeout(historyTimer);
    historyTimer = window.setTimeout(() => void showHistory(phone.value, history), 350);
  });
  withheld.addEventListener("change", () => {
    phone.disabled = withheld.checked;
    if (withheld.checked) {
      phone.value = "";
      history.replaceChildren();
    }
  });
  const located = () => {
    const latitude = Number(lat.value);
    const longitude = Number(lon.value);
    if (lat.value && lon.value && Number.isFinite(latitude) && Number.isFinite(longitude)) {
      movePin(latitude, longitude);
      void showDuplicates(latitude, longitude, byName(IncidentCategorySchema, category.value), candidates);
    }
  };
  lat.addEventListener("change", located);
  lon.addEventListener("change", located);
  category.addEventListener("change", located);
  document.addEventListener("intake-location", located);

  const form = h(
    "form",
    { class: "intake" },
    closeButton(),
    h("h2", {}, t("newCall")),
    field("category", category, "category"),
    field("priority", priority, "priority"),
    field("phone", phone, "caller_phone"),
    h("label", { class: "check" }, withheld, ` ${t("withheld")}`),
    history,
    field("callerName", name, "caller_name"),
    field("address", address, "address"),
    field("description", description, "description"),
    h("div", { class: "pair" }, field("lat", lat, "location.lat"), field("lon", lon, "location.lon")),
    h("p", { class: "muted" }, t("pickOnMap")),
    candidates,
    error,
    submit,
  );
  // One request id per call, kept across every retry of it: the server
  // stores a call at most once per id, so a retry after a lost answer
  // never sends a second crew.
  const requestId = newRequestId();
  form.dataset.requestId = requestId;
  const send = async (duplicateOf: string) => {
    error.textContent = "";
    form.querySelectorAll(".invalid").forEach((element) => element.classList.remove("invalid"));
    try {
      const incident = await createWithRetries(requestId, error, {
        category: byName(IncidentCategorySchema, category.value),
        priority: byName(PrioritySchema, priority.value),
        callerPhone: phone.value,
        callerIdWithheld: withheld.checked,
        callerName: name.value,
        address: address.value,
        description: description.value,
        location: { lat: Number(lat.value || "NaN"), lon: Number(lon.value || "NaN") },
        duplicateOf,
      });
      error.textContent = "";
      upsertIncident(incident);
      renderView();
      openPanel({ kind: "incident", id: incident.id });
    } catch (failure) {
      const message = messageOf(failure);
      error.textContent = message;
      const fieldName = message.split(" ")[0];
      form.querySelector(`[data-field="${fieldName}"]`)?.classList.add("invalid");
    }
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void send("");
  });
  candidates.addEventListener("click", (event) => {
    const button = (event.target as HTMLElement).closest<HTMLButtonElement>("button[data-incident-id]");
    if (button?.dataset.incidentId) {
      void send(button.dataset.incidentId);
    }
  });
  return form;
}

/** Attempts at recording one call while the server answers UNAVAILABLE. */
const INTAKE_ATTEMPTS = 6;

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
      status.textContent = t("intakeRetrying")
        .replace("{attempt}", String(attempt + 1))
        .replace("{attempts}", String(INTAKE_ATTEMPTS));
      status.dataset.retrying = `${attempt + 1}/${INTAKE_ATTEMPTS}`;
      await sleep(1000 * Math.min(8, 2 ** (attempt - 1)));
      delete status.dataset.retrying;
    }
  }
}

function setIntakeLocation(lat: number, lon: number): void {
  const latInput = document.getElementById("intake-lat") as HTMLInputElement | null;
  const lonInput = document.getElementById("intake-lon") as HTMLInputElement | null;
  if (!latInput || !lonInput) {
    return;
  }
  latInput.value = lat.toFixed(5);
  lonInput.value = lon.toFixed(5);
  document.dispatchEvent(new Event("intake-location"));
}

function movePin(lat: number, lon: number): void {
  if (!map) {
    return;
  }
  if (intakePin) {
    intakePin.setLatLng([lat, lon]);
    return;
  }
  intakePin = L.marker([lat, lon], {
    draggable: true,
    icon: L.divIcon({ className: "intake-pin", html: "+", iconSize: [28, 28] }),
  }).addTo(map);
  intakePin.on("dragend", () => {
    const position = intakePin?.getLatLng();
    if (position) {
      setIntakeLocation(position.lat, position.lng);
    }
  });
}

async function showHistory(phone: string, box: HTMLElement): Promise<void> {
  if (phone.replace(/\D/g, "").length < 8) {
    box.replaceChildren();
    return;
  }
  try {
    const history = await api.callers.getCallerHistory({ callerPhone: phone, days: 30 });
    box.replaceChildren(
      ...nodes(
      history.flagged
        ? h("div", { class: "flag-banner", "data-testid": "caller-flagged" }, t("flagged", { reason: history.flagReason }))
        : null,
      h("div", {}, `${history.callerPhone}: ${t("history", { n: history.incidentCount, p: history.prankCount })}`),
      ...history.recent.slice(0, 5).map((incident) =>
        h(
          "div",
          { class: "muted" },
          `${wib(incident.createdAt)} ${short(IncidentCategorySchema, incident.category)} ${incident.address}` +
            (incident.resolutionCode ? ` → ${short(ResolutionCodeSchema, incident.resolutionCode)}` : ""),
        ),
      ),
      ),
    );
  } catch {
    box.replaceChildren();
  }
}

async function showDuplicates(lat: number, lon: number, category: IncidentCategory, box: HTMLElement): Promise<void> {
  try {
    const nearby = await api.incidents.findNearbyIncidents({
      location: { lat, lon },
      radiusM: DUPLICATE_RADIUS_M,
      category,
    });
    box.replaceChildren(
      ...nodes(
      h("h3", {}, t("duplicates")),
      nearby.incidents.length === 0 ? h("p", { class: "muted" }, t("noDuplicates")) : null,
      ...nearby.incidents.map((incident) =>
        h(
          "div",
          { class: "candidate" },
          `${short(PrioritySchema, incident.priority)} ${incident.address} · ${age(secondsSince(incident.createdAt))} · ${incident.callerCount} ${t("callers")} `,
          h("button", { type: "button", "data-incident-id": incident.id }, t("sameIncident")),
        ),
      ),
      ),
    );
  } catch {
    box.replaceChildren();
  }
}

async function renderDetail(panel: HTMLElement, id: string): Promise<void> {
  let incident: Incident;
  try {
    incident = await api.incidents.getIncident({ id });
  } catch (failure) {
    panel.replaceChildren(closeButton(), h("p", { class: "error" }, messageOf(failure)));
    return;
  }
  const open = ACTIVE.includes(incident.status);
  const [timeline, recommendations, cameras, agencies] = await Promise.all([
    api.incidents.getIncidentTimeline({ id }).catch(() => ({ events: [] })),
    open
      ? api.incidents.recommendUnits({ incidentId: id, limit: 5 }).catch(() => ({ recommendations: [] }))
      : Promise.resolve({ recommendations: [] }),
    api.cameras
      .findNearbyCameras({ location: incident.location, radiusM: 2000, limit: 3 })
      .catch(() => ({ cameras: [] })),
    open ? api.agencies.listAgencies({}).catch(() => ({ agencies: [] })) : Promise.resolve({ agencies: [] }),
  ]);
  if (state.panel.kind !== "incident" || state.panel.id !== id) {
    return;
  }
  showHandset(incident);
  void showRoutes(incident);
  panel.replaceChildren(
    h(
      "div",
      { "data-testid": "incident-detail", "data-incident-id": id, class: "detail" },
      closeButton(),
      ...detailFacts(incident, cameras.cameras),
      h(
        "ul",
        { class: "assignments" },
        ...incident.assignments.map((assignment) =>
          h(
            "li",
            { "data-assignment-status": enumName(AssignmentStatusSchema, assignment.status) },
            `${assignment.unitCallSign} · ${short(AssignmentStatusSchema, assignment.status)} · ${km(assignment.distanceM)}`,
            assignment.etaS > 0 ? ` · ${drive(assignment.etaS, assignment.roadDistanceM, t("byRoad"))}` : "",
          ),
        ),
      ),
      open ? h("h3", {}, t("recommended")) : null,
      open ? h("ul", { class: "recommended" }, ...recommendedUnits(id, recommendations.recommendations)) : null,
      detailActions(incident, agencies.agencies),
      h("h3", {}, t("timeline")),
      h(
        "ol",
        { class: "timeline" },
        ...timeline.events.map((event) =>
          h(
            "li",
            { "data-event-kind": event.kind },
            h("span", { class: "muted" }, `${wib(event.at)} `),
            `${eventName(event.kind)} · ${event.actor}`,
            event.detail ? ` — ${event.detail}` : "",
          ),
        ),
      ),
    ),
  );
  if (map && incident.location) {
    map.panTo([incident.location.lat, incident.location.lon]);
  }
}

/** The handset's fix on the map, with a line to the entered location. */
function showHandset(incident: Incident): void {
  const device = incident.deviceLocation;
  if (!map || !device?.location || !incident.location) {
    return;
  }
  handsetMarker?.remove();
  handsetMarker = L.layerGroup([
    L.circle([device.location.lat, device.location.lon], { radius: device.radiusM, className: "handset" }),
    L.polyline(
      [
        [incident.location.lat, incident.location.lon],
        [device.location.lat, device.location.lon],
      ],
      { className: "handset-line" },
    ),
  ]).addTo(map);
}

/** What the incident is, where, who called, referrals, cameras, handset. */
function detailFacts(incident: Incident, cameras: CameraDistance[]): (HTMLElement | null)[] {
  const caller = incident.callerIdWithheld ? t("numberWithheld") : incident.callerPhone;
  const device = incident.deviceLocation;
  const open = ACTIVE.includes(incident.status);
  return [
    h("h2", {}, `${short(PrioritySchema, incident.priority)} ${short(IncidentCategorySchema, incident.category)}`),
    h("p", {}, h("b", {}, short(IncidentStatusSchema, incident.status)), ` · ${wib(incident.createdAt)}`,
      incident.resolutionCode ? ` · ${short(ResolutionCodeSchema, incident.resolutionCode)}` : ""),
    h("p", {}, incident.address, incident.location ? h("span", { class: "muted" }, ` (${incident.location.lat.toFixed(5)}, ${incident.location.lon.toFixed(5)})`) : null),
    incident.description ? h("p", {}, incident.description) : null,
    h("p", {}, `${t("caller")}: ${incident.callerName} ${caller} · ${incident.callerCount} ${t("callers")}`,
      incident.callerFlagged ? h("span", { class: "badge flag" }, t("flaggedBadge")) : null),
    incident.otherCallers.length > 0
      ? h(
          "ul",
          { class: "muted", "data-testid": "other-callers" },
          ...incident.otherCallers.map((other) =>
            h("li", {}, `${other.callerName} ${other.callerIdWithheld ? t("numberWithheld") : other.callerPhone} · ${wib(other.addedAt)}`),
          ),
        )
      : null,
    incident.hold && open ? h("p", { class: "warn" }, t("heldExplained")) : null,
    incident.referrals.length > 0
      ? h(
          "ul",
          { class: "referrals", "data-testid": "referrals" },
          ...incident.referrals.map((referral) =>
            h(
              "li",
              { "data-testid": "referral", "data-status": enumName(ReferralStatusSchema, referral.status) },
              `${t("referredTo")} ${referral.agencyShortName}: ${short(ReferralStatusSchema, referral.status)}`,
              referral.answer ? ` — ${referral.answer}` : "",
              referral.acknowledgedAt
                ? ""
                : h("span", { class: "badge warn" }, `${t("unanswered")} ${age(secondsSince(referral.sentAt))}`),
            ),
          ),
        )
      : null,
    cameras.length > 0
      ? h(
          "p",
          { class: "cameras" },
          `${t("cameras")}: `,
          ...cameras.map((near) =>
            h(
              "a",
              {
                href: near.camera?.streamUrl ?? "#",
                target: "_blank",
                rel: "noopener noreferrer",
                "data-testid": "camera-link",
              },
              `${near.camera?.name} (${Math.round(near.distanceM)} m)`,
            ),
          ),
        )
      : null,
    device?.location
      ? h(
          "p",
          { class: incident.locationDisagrees ? "warn" : "" },
          `${t("handset")}: ${device.location.lat.toFixed(5)}, ${device.location.lon.toFixed(5)} ±${Math.round(device.radiusM)} m (${device.method})`,
          incident.locationDisagrees ? h("span", { class: "badge warn" }, t("locationDisagrees")) : null,
        )
      : null,
  ];
}

/** The available units to send, each with its Assign button. */
function recommendedUnits(id: string, recommendations: UnitRecommendation[]): HTMLElement[] {
  return recommendations.map((recommendation) => {
    const unit = recommendation.unit;
    const assign = h("button", { type: "button", "data-testid": "assign-unit", "data-unit-id": unit?.id ?? "" }, t("assign"));
    assign.addEventListener("click", async () => {
      try {
        await api.incidents.assignUnit({ incidentId: id, unitId: unit?.id ?? "" });
        renderPanel();
      } catch (failure) {
        assign.after(h("span", { class: "error" }, messageOf(failure)));
      }
    });
    // With roads: the drive time first, as the ranking uses it.
    const eta =
      recommendation.etaS > 0
        ? h(
            "b",
            { "data-testid": "recommended-eta", class: "eta" },
            drive(recommendation.etaS, recommendation.roadDistanceM, t("byRoad")),
          )
        : null;
    return h("li", {}, `${unit?.callSign} · `, eta, eta ? ` (${km(recommendation.distanceM)}) ` : `${km(recommendation.distanceM)} `, assign);
  });
}

/** Release, close (with its code), refer, and the EIDO download. */
function detailActions(incident: Incident, agencies: Agency[]): HTMLElement {
  const id = incident.id;
  const failed = (failure: unknown) => actions.append(h("p", { class: "error" }, messageOf(failure)));
  const code = select("resolution-code", choices(ResolutionCodeSchema), "RESOLUTION_CODE_HANDLED");
  const closing = async (resolve: boolean) => {
    const resolutionCode = byName(ResolutionCodeSchema, code.value) as ResolutionCode;
    try {
      const closed = resolve
        ? await api.incidents.resolveIncident({ id, resolution: "", resolutionCode })
        : await api.incidents.cancelIncident({ id, reason: "", resolutionCode });
      upsertIncident(closed);
      renderView();
      renderPanel();
    } catch (failure) {
      failed(failure);
    }
  };
  const resolveButton = h("button", { type: "button", "data-testid": "resolve-button" }, t("resolve"));
  resolveButton.addEventListener("click", () => void closing(true));
  const cancelButton = h("button", { type: "button", "data-testid": "cancel-button" }, t("cancelIncident"));
  cancelButton.addEventListener("click", () => void closing(false));
  const release = h("button", { type: "button", class: "primary", "data-testid": "release-hold" }, t("releaseHold"));
  release.addEventListener("click", async () => {
    try {
      upsertIncident(await api.incidents.releaseHold({ id }));
      renderView();
      renderPanel();
    } catch (failure) {
      failed(failure);
    }
  });
  const agencyChoice = h(
    "select",
    { "data-testid": "refer-agency" },
    ...agencies.map((agency) => h("option", { value: agency.id }, `${agency.shortName} — ${agency.name}`)),
  );
  const refer = h("button", { type: "button", "data-testid": "refer-button" }, t("refer"));
  refer.addEventListener("click", async () => {
    try {
      await api.incidents.referIncident({ incidentId: id, agencyId: agencyChoice.value, note: "" });
      renderPanel();
    } catch (failure) {
      failed(failure);
    }
  });
  const eido = h("button", { type: "button", "data-testid": "eido-download" }, t("eido"));
  eido.addEventListener("click", async () => {
    const document_ = await api.incidents.getIncidentEido({ id });
    const link = h("a", {
      href: URL.createObjectURL(new Blob([document_.eidoJson], { type: "application/json" })),
      download: `eido-${id}.json`,
    });
    link.click();
  });
  const open = ACTIVE.includes(incident.status);
  const actions = h(
    "div",
    { class: "actions" },
    open && incident.hold ? release : null,
    open ? field("resolutionCode", code, "resolution_code") : null,
    open ? resolveButton : null,
    open ? cancelButton : null,
    open && agencies.length > 0 ? field("referTo", agencyChoice, "agency_id") : null,
    open && agencies.length > 0 ? refer : null,
    eido,
  );
  return actions;
}

// ----------------------------------------------------------------- alarms

let audio: AudioContext | null = null;

/** A short two-tone alert, where the browser allows sound. */
function beep(): void {
  try {
    audio ??= new AudioContext();
    const oscillator = audio.createOscillator();
    const gain = audio.createGain();
    oscillator.frequency.value = 880;
    gain.gain.value = 0.2;
    oscillator.connect(gain).connect(audio.destination);
    oscillator.start();
    oscillator.frequency.setValueAtTime(660, audio.currentTime + 0.25);
    oscillator.stop(audio.currentTime + 0.5);
  } catch {
    // No sound allowed yet: the banner still shows.
  }
}

function renderAlarms(): void {
  const box = document.getElementById("alarms");
  if (!box) {
    return;
  }
  box.replaceChildren(
    ...[...state.alarms.values()].map((alarm) => {
      const acknowledge = h("button", { type: "button", "data-testid": "alarm-ack", "data-alarm-id": alarm.id }, t("acknowledge"));
      acknowledge.addEventListener("click", async () => {
        const done = await api.incidents.acknowledgeAlarm({ alarmId: alarm.id });
        state.alarms.delete(done.id);
        renderAlarms();
      });
      const where = alarm.location
        ? h("a", {
            href: `https://www.openstreetmap.org/?mlat=${alarm.location.lat}&mlon=${alarm.location.lon}#map=17/${alarm.location.lat}/${alarm.location.lon}`,
            target: "_blank",
            rel: "noreferrer",
          }, t("openMap"))
        : null;
      const show = h("button", { type: "button" }, t("showOnMap"));
      show.addEventListener("click", () => {
        if (map && alarm.location) {
          map.setView([alarm.location.lat, alarm.location.lon], 16);
        }
      });
      return h(
        "div",
        { class: "alarm-banner", "data-testid": "alarm-banner", "data-alarm-id": alarm.id },
        `${t("alarm", { unit: alarm.unitCallSign })} · ${wib(alarm.raisedAt)} ${alarm.note} `,
        show,
        where,
        acknowledge,
      );
    }),
  );
}

// Ages in the queue move on by themselves.
window.setInterval(() => {
  if (state.me && state.view === "queue") {
    renderView();
  }
}, 15_000);

if (token()) {
  void start();
} else {
  renderLogin();
}
