// The crew's phone page: log in as the unit, wait for an offer (long-poll),
// accept or decline it before it expires, report progress, send the GPS
// position, and raise the DARURAT alarm. Large buttons for one hand in a
// moving vehicle; works at 360 px wide.

import "./crew.css";
import * as L from "leaflet";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { api, codeOf, Code, messageOf, setToken, sleep, token } from "./api";
import { language, t } from "./i18n";
import { drive, h, km, nodes } from "./format";
import { languageButton, loginForm } from "./login";
import { say } from "./words";
import { drawRoute, tileLayer } from "./map";
import { type Assignment, AssignmentStatus, type Incident, Role } from "./gen/ngalam112/v1/dispatch_pb";

const POLL_WAIT_SECONDS = 25;
/** With an open assignment the server answers at once: read it again this often. */
const OPEN_ASSIGNMENT_REREAD_MS = 3_000;
const GPS_EVERY_MS = 10_000;
const ALARM_HOLD_MS = 2_000;

interface CrewState {
  unitId: string;
  assignment: Assignment | null;
  incident: Incident | null;
  offline: boolean;
  gps: "unknown" | "ok" | "denied";
  position: { lat: number; lon: number } | null;
  message: string;
}

const crew: CrewState = {
  unitId: "",
  assignment: null,
  incident: null,
  offline: false,
  gps: "unknown",
  position: null,
  message: "",
};

const root = document.getElementById("app") as HTMLElement;
let poll: AbortController | null = null;
/** After the crew's own action: read the state at once, without waiting. */
let refreshNow = false;
let countdown: number | undefined;
let miniMap: L.Map | null = null;

// ------------------------------------------------------------------ login

function renderLogin(error = ""): void {
  root.replaceChildren(
    loginForm(
      { title: "crewTitle", withToken: true, onLoggedIn: start, redraw: () => renderLogin(), buttonClass: "big" },
      error,
    ),
  );
}

async function start(): Promise<void> {
  const me = await api.auth.whoAmI({});
  if (me.role !== Role.UNIT || !me.unitId) {
    setToken(null);
    throw new Error("not a unit");
  }
  crew.unitId = me.unitId;
  render();
  startGps();
  void sendPendingAlarm();
  void pollForever();
}

// ------------------------------------------------------------- long-poll

async function pollForever(): Promise<void> {
  let delay = 1_000;
  for (;;) {
    poll = new AbortController();
    const waitSeconds = refreshNow ? 0 : POLL_WAIT_SECONDS;
    refreshNow = false;
    try {
      const answer = await api.field.pollAssignment(
        { unitId: crew.unitId, waitSeconds },
        { signal: poll.signal, timeoutMs: (POLL_WAIT_SECONDS + 10) * 1000 },
      );
      const before = fingerprint();
      const previous = crew.assignment?.id;
      crew.assignment = answer.assignment ?? null;
      crew.incident = answer.incident ?? null;
      if (crew.assignment?.status === AssignmentStatus.OFFERED && crew.assignment.id !== previous) {
        alert();
      }
      setOffline(false);
      delay = 1_000;
      if (fingerprint() !== before) {
        render();
      }
      if (crew.assignment) {
        await pause(OPEN_ASSIGNMENT_REREAD_MS, poll.signal);
      }
    } catch (failure) {
      if (poll.signal.aborted) {
        continue;
      }
      if (codeOf(failure) === Code.Unauthenticated) {
        setToken(null);
        window.location.reload();
        return;
      }
      setOffline(true);
      await sleep(delay);
      delay = Math.min(delay * 2, 15_000);
    }
  }
}

/** What the screen shows: re-drawn only when this changes. */
function fingerprint(): string {
  const incident = crew.incident;
  return `${crew.assignment?.id}/${crew.assignment?.status}/${incident?.status}/${incident?.address}/${incident?.description}`;
}

/** Sleeps `ms`, or less when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Ends the current long-poll so the loop reads the new state at once. */
function repoll(): void {
  refreshNow = true;
  poll?.abort();
}

function setOffline(offline: boolean): void {
  if (crew.offline !== offline) {
    crew.offline = offline;
    if (!offline && localStorage.getItem(PENDING_ALARM_KEY)) {
      void sendPendingAlarm();
    }
    const indicator = document.querySelector<HTMLElement>("[data-testid=crew-offline]");
    if (indicator) {
      indicator.hidden = !offline;
    }
  }
}

/** Sends a crew's action, then reads the new state at once (which redraws
 * the page); a refusal is shown. */
async function act(call: () => Promise<unknown>): Promise<void> {
  try {
    await call();
    setOffline(false);
    if (crew.message) {
      crew.message = "";
      render();
    }
  } catch (failure) {
    crew.message = messageOf(failure);
    if (codeOf(failure) === Code.Unavailable || codeOf(failure) === Code.Unknown) {
      setOffline(true);
    }
    render();
  }
  repoll();
}

// ------------------------------------------------------------------- GPS

function startGps(): void {
  if (!("geolocation" in navigator)) {
    crew.gps = "denied";
    return;
  }
  let lastSent = 0;
  navigator.geolocation.watchPosition(
    (position) => {
      crew.position = { lat: position.coords.latitude, lon: position.coords.longitude };
      localStorage.setItem(LAST_POSITION_KEY, JSON.stringify(crew.position));
      if (crew.gps !== "ok") {
        crew.gps = "ok";
        renderStatus();
      }
      const now = Date.now();
      if (now - lastSent >= GPS_EVERY_MS) {
        lastSent = now;
        api.field
          .reportLocation({ unitId: crew.unitId, location: crew.position })
          .then(() => setOffline(false))
          .catch(() => setOffline(true));
      }
    },
    () => {
      crew.gps = "denied";
      renderStatus();
    },
    { enableHighAccuracy: true, maximumAge: 5_000 },
  );
}

// ------------------------------------------------------------------ alerts

function alert(): void {
  navigator.vibrate?.([400, 200, 400]);
  try {
    const audio = new AudioContext();
    const oscillator = audio.createOscillator();
    oscillator.frequency.value = 988;
    oscillator.connect(audio.destination);
    oscillator.start();
    oscillator.stop(audio.currentTime + 0.6);
  } catch {
    // The browser allows no sound before a touch: vibration and the screen.
  }
}

// ------------------------------------------------------------------ render

function renderStatus(): void {
  const gps = document.querySelector<HTMLElement>("[data-testid=crew-gps]");
  if (gps) {
    gps.textContent = crew.gps === "denied" ? t("gpsDenied") : crew.gps === "ok" ? t("gpsOk") : "";
    gps.className = crew.gps === "denied" ? "gps denied" : "gps";
  }
}

function secondsLeft(assignment: Assignment): number | null {
  if (!assignment.offerExpiresAt) {
    return null;
  }
  return Math.floor((timestampDate(assignment.offerExpiresAt).getTime() - Date.now()) / 1000);
}

function render(): void {
  document.title = t("crewTitle");
  document.documentElement.lang = language();
  window.clearInterval(countdown);
  miniMap?.remove();
  miniMap = null;
  const logout = h("button", { type: "button" }, t("logout"));
  logout.addEventListener("click", async () => {
    await api.auth.logout({}).catch(() => undefined);
    setToken(null);
    window.location.reload();
  });
  const offline = h("div", { class: "offline", "data-testid": "crew-offline" }, t("offline"));
  offline.hidden = !crew.offline;
  const header = h(
    "header",
    {},
    h("span", { "data-testid": "whoami" }, `${t("unit")} ${crew.assignment?.unitCallSign ?? crew.unitId.slice(0, 8)}`),
    languageButton(() => render()),
    logout,
  );
  // DARURAT at the top: reachable without scrolling, never covering a button.
  root.replaceChildren(
    header,
    alarmButton(),
    offline,
    h("div", { "data-testid": "crew-gps", class: "gps" }),
    crew.message ? h("p", { class: "error" }, crew.message) : "",
    body(),
  );
  renderStatus();
  const mapElement = document.getElementById("mini-map");
  const location = crew.incident?.location;
  if (mapElement && location) {
    miniMap = L.map(mapElement, { zoomControl: false, attributionControl: false }).setView([location.lat, location.lon], 15);
    tileLayer()?.addTo(miniMap);
    L.circleMarker([location.lat, location.lon], { radius: 9, className: "target" }).addTo(miniMap);
    void showRoute(miniMap);
  }
}

/** With roads, the way from the unit to the incident on the mini map. */
async function showRoute(onMap: L.Map): Promise<void> {
  const assignment = crew.assignment;
  if (!assignment || assignment.etaS <= 0) {
    return;
  }
  const route = await api.field.getRoute({ assignmentId: assignment.id }).catch(() => null);
  if (route && route.points.length > 1 && miniMap === onMap) {
    const line = drawRoute(onMap, route.points);
    onMap.fitBounds(line.getBounds(), { padding: [16, 16] });
  }
}

function body(): HTMLElement {
  const assignment = crew.assignment;
  const incident = crew.incident;
  if (!assignment || !incident) {
    return h("div", { class: "waiting" }, t("waiting"));
  }
  const details = nodes(
    h("div", { class: "what" }, `${say.priority(incident.priority)} · ${say.category(incident.category)}`),
    h("div", { class: "where" }, incident.address),
    incident.description ? h("div", {}, incident.description) : null,
    h(
      "div",
      { class: "muted" },
      `${t("distance")}: ${km(assignment.distanceM)}`,
      assignment.etaS > 0 ? ` · ${drive(assignment.etaS, assignment.roadDistanceM)}` : "",
    ),
    h("div", { id: "mini-map" }),
  );
  if (assignment.status === AssignmentStatus.OFFERED) {
    return offer(assignment, details);
  }
  const next: [AssignmentStatus, "enRoute" | "onScene" | "completed", string][] = [
    [AssignmentStatus.EN_ROUTE, "enRoute", "crew-en-route"],
    [AssignmentStatus.ON_SCENE, "onScene", "crew-on-scene"],
    [AssignmentStatus.COMPLETED, "completed", "crew-completed"],
  ];
  const buttons = next
    .filter(([status]) => status > assignment.status)
    .map(([status, label, testid]) => {
      const button = h("button", { type: "button", class: "big", "data-testid": testid }, t(label));
      button.addEventListener("click", () =>
        void act(() => api.field.updateAssignmentStatus({ assignmentId: assignment.id, status })),
      );
      return button;
    });
  const location = incident.location;
  const navigate = location
    ? h("a", {
        class: "navigate",
        href: `geo:${location.lat},${location.lon}?q=${location.lat},${location.lon}(${encodeURIComponent(incident.address)})`,
      }, t("navigate"))
    : null;
  return h(
    "div",
    { class: "assignment", "data-assignment-id": assignment.id, "data-status": String(assignment.status) },
    ...details,
    ...nodes(navigate),
    h("div", { class: "buttons" }, ...buttons),
  );
}

function offer(assignment: Assignment, details: (Node | string)[]): HTMLElement {
  const left = h("div", { class: "countdown", "data-testid": "crew-countdown" });
  const accept = h("button", { type: "button", class: "big accept", "data-testid": "crew-accept" }, t("accept"));
  const decline = h("button", { type: "button", class: "big decline", "data-testid": "crew-decline" }, t("decline"));
  const reason = h("input", { "data-testid": "crew-decline-reason", placeholder: t("declineReason") });
  accept.addEventListener("click", () => void act(() => api.field.acceptAssignment({ assignmentId: assignment.id })));
  decline.addEventListener("click", () =>
    void act(() => api.field.declineAssignment({ assignmentId: assignment.id, reason: reason.value })),
  );
  const tick = () => {
    const seconds = secondsLeft(assignment);
    if (seconds === null) {
      left.textContent = "";
    } else if (seconds <= 0) {
      // Never shown as acceptable once it has expired.
      left.textContent = t("expired");
      accept.disabled = true;
      decline.disabled = true;
      window.clearInterval(countdown);
      repoll();
    } else {
      left.textContent = t("secondsLeft", { s: seconds });
    }
  };
  tick();
  countdown = window.setInterval(tick, 1000);
  return h(
    "div",
    { class: "offer", "data-testid": "crew-offer", "data-assignment-id": assignment.id },
    h("div", { class: "headline" }, t("offer")),
    left,
    ...details,
    h("div", { class: "buttons" }, accept, reason, decline),
  );
}

function alarmButton(): HTMLElement {
  const button = h("button", { type: "button", class: "alarm", "data-testid": "crew-alarm" }, t("darurat"));
  let held: number | undefined;
  const release = () => {
    window.clearTimeout(held);
    button.classList.remove("holding");
  };
  button.addEventListener("pointerdown", () => {
    button.classList.add("holding");
    held = window.setTimeout(() => {
      release();
      queueAlarm();
    }, ALARM_HOLD_MS);
  });
  button.addEventListener("pointerup", release);
  button.addEventListener("pointerleave", release);
  button.addEventListener("contextmenu", (event) => event.preventDefault());
  return button;
}

// ------------------------------------------------------------------ alarm

/** An alarm pressed and not yet taken by the server: kept in the phone
 *  (across a reload) and sent as soon as the server answers. */
interface PendingAlarm {
  unitId: string;
  pressedAt: number;
  /** A send failed: the note says when it was pressed. */
  kept?: boolean;
}

const PENDING_ALARM_KEY = "ngalam112.pendingAlarm";
const LAST_POSITION_KEY = "ngalam112.lastPosition";
const ALARM_RETRY_MS = 3_000;
let alarmRetry: number | undefined;

/** The newest position the phone knew (GPS now, or kept from before). */
function lastKnownPosition(): { lat: number; lon: number } | undefined {
  if (crew.position) {
    return crew.position;
  }
  const kept = localStorage.getItem(LAST_POSITION_KEY);
  return kept ? (JSON.parse(kept) as { lat: number; lon: number }) : undefined;
}

function queueAlarm(): void {
  const pending: PendingAlarm = { unitId: crew.unitId, pressedAt: Date.now() };
  localStorage.setItem(PENDING_ALARM_KEY, JSON.stringify(pending));
  void sendPendingAlarm();
}

/** Sends the kept alarm with the last known position (without any, the
 *  server uses the unit's last reported one). Offline, it stays kept and
 *  is tried again every few seconds. */
async function sendPendingAlarm(): Promise<void> {
  const kept = localStorage.getItem(PENDING_ALARM_KEY);
  window.clearTimeout(alarmRetry);
  if (!kept || !crew.unitId) {
    return;
  }
  const pending = JSON.parse(kept) as PendingAlarm;
  if (pending.unitId !== crew.unitId) {
    localStorage.removeItem(PENDING_ALARM_KEY);
    return;
  }
  const pressed = new Date(pending.pressedAt).toLocaleTimeString("en-GB", { timeZone: "Asia/Jakarta" });
  try {
    await api.field.raiseAlarm({
      unitId: crew.unitId,
      location: lastKnownPosition(),
      note: pending.kept ? t("alarmPressedAt", { time: pressed }) : "",
    });
    localStorage.removeItem(PENDING_ALARM_KEY);
    crew.message = t("alarmSent");
    setOffline(false);
  } catch (failure) {
    if (codeOf(failure) === Code.Unavailable || codeOf(failure) === Code.Unknown || codeOf(failure) === null) {
      crew.message = t("alarmQueued");
      localStorage.setItem(PENDING_ALARM_KEY, JSON.stringify({ ...pending, kept: true }));
      setOffline(true);
      alarmRetry = window.setTimeout(() => void sendPendingAlarm(), ALARM_RETRY_MS);
    } else {
      localStorage.removeItem(PENDING_ALARM_KEY);
      crew.message = messageOf(failure);
    }
  }
  render();
}

if (token()) {
  start().catch(() => renderLogin());
} else {
  renderLogin();
}
