// The operators' web console: login, the ringing strip, live map, intake,
// queue, incident detail, units, reports and the crew-in-danger alarm.
// One module per view around one state (store.ts); everything comes from
// the server's services over gRPC-Web, and the live parts follow the
// WatchIncidents, WatchUnits, WatchAlarms and WatchCalls streams.

import "./console.css";
import { api, setToken, token } from "../api";
import { h, wib } from "../format";
import { language, t } from "../i18n";
import { languageButton, loginForm } from "../login";
import { say } from "../words";
import { beep, renderAlarms } from "./alarms";
import { renderCalls } from "./calls";
import { renderDetail } from "./detail";
import { intakeForm, setIntakeLocation } from "./intake";
import { listenForKeys } from "./keys";
import { clearPanelLayers, createMap, placeUnit, syncIncident, syncIncidents } from "./mapview";
import { redrawQueue } from "./queue";
import { reportView } from "./report";
import { followAlarms, followCalls, followIncidents, followUnits } from "./streams";
import { allLive, on, openPanel, showView, state, type View } from "./store";
import { unitsView } from "./units";

const root = document.getElementById("app") as HTMLElement;

function renderLogin(error = ""): void {
  root.replaceChildren(
    loginForm({ title: "title", withToken: false, onLoggedIn: start, redraw: () => renderLogin() }, error),
  );
}

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
  void followAlarms(() => beep());
  void followCalls(() => beep(988, 784));
}

function header(): HTMLElement {
  const me = state.me;
  const logout = h("button", { type: "button", "data-testid": "logout" }, t("logout"));
  logout.addEventListener("click", async () => {
    try {
      await api.auth.logout({});
    } finally {
      setToken(null);
      window.location.reload();
    }
  });
  const role = me ? say.role(me.role) : "";
  const until = me?.expiresAt ? ` · ${t("until")} ${wib(me.expiresAt)}` : "";
  return h(
    "header",
    {},
    h("strong", {}, t("title")),
    h("span", { "data-testid": "whoami", class: "whoami" }, `${me?.displayName || me?.username || role} (${role})${until}`),
    h("span", { "data-testid": "connection-state", class: "connection", role: "status" }),
    h("span", { "data-testid": "key-help", class: "keys muted" }, t("keyHelp")),
    languageButton(() => renderShell()),
    logout,
  );
}

function navigation(): HTMLElement {
  const newCall = h("button", { type: "button", class: "primary", "data-testid": "new-incident" }, `${t("newCall")} (${t("newCallKey")})`);
  newCall.addEventListener("click", () => openPanel({ kind: "intake" }));
  const tabs = (["queue", "units", "reports"] as View[]).map((view) => {
    const tab = h("button", { type: "button", class: "tab", "data-view": view }, t(view));
    tab.addEventListener("click", () => showView(view));
    return tab;
  });
  return h("nav", {}, newCall, ...tabs);
}

function renderShell(): void {
  document.title = t("title");
  document.documentElement.lang = language();
  const mapElement = h("div", { id: "map", "data-testid": "map", role: "region", "aria-label": "Peta / Map" });
  root.replaceChildren(
    h("div", { id: "alarms" }),
    header(),
    h("section", { id: "calls", "data-testid": "call-strip", "aria-label": t("incomingCalls") }),
    h("main", {}, h("section", { class: "side" }, navigation(), h("div", { id: "view" })), mapElement, h("aside", { id: "panel" })),
  );
  createMap(mapElement, (lat, lon) => {
    if (state.panel.kind === "intake") {
      setIntakeLocation(lat, lon);
    }
  });
  renderConnection();
  renderView();
  renderAlarms();
  renderCalls();
  renderPanel();
}

function renderConnection(): void {
  const element = document.querySelector<HTMLElement>("[data-testid=connection-state]");
  if (!element) {
    return;
  }
  const live = allLive();
  element.textContent = live ? `● ${t("live")}` : `○ ${t("reconnecting")}`;
  element.className = live ? "connection live" : "connection down";
  element.dataset.state = live ? "live" : "reconnecting";
}

function renderView(): void {
  document.querySelectorAll<HTMLElement>("nav .tab").forEach((tab) => {
    tab.classList.toggle("active", tab.dataset.view === state.view);
  });
  const view = document.getElementById("view");
  if (!view) {
    return;
  }
  if (state.view === "queue") {
    redrawQueue(view);
  } else if (state.view === "units") {
    view.replaceChildren(unitsView());
  } else if (!view.querySelector(".reports")) {
    view.replaceChildren(reportView());
  }
}

/** Which panel is shown: a different one takes the last one's pin,
 *  handset and routes away, and an intake from another call is a new form. */
function panelKey(): string {
  const panel = state.panel;
  return panel.kind === "incident" ? `incident ${panel.id}` : panel.kind === "intake" ? `intake ${panel.call?.callId ?? ""}` : "none";
}

let shownPanel = "";

function renderPanel(): void {
  const panel = document.getElementById("panel");
  if (!panel) {
    return;
  }
  const key = panelKey();
  const another = key !== shownPanel;
  if (another) {
    clearPanelLayers();
    shownPanel = key;
  }
  panel.className = state.panel.kind === "none" ? "" : "open";
  if (state.panel.kind === "intake") {
    if (another || !panel.querySelector(".intake")) {
      panel.replaceChildren(intakeForm(state.panel.call));
    }
  } else if (state.panel.kind === "incident") {
    void renderDetail(panel, state.panel.id);
  } else {
    panel.replaceChildren();
  }
}

on("incidents", (id) => {
  if (id) {
    syncIncident(id);
  } else {
    syncIncidents();
  }
  if (state.view === "queue") {
    renderView();
  }
});
on("units", (id) => {
  const units = id ? [state.units.get(id)] : [...state.units.values()];
  for (const unit of units) {
    if (unit) {
      placeUnit(unit);
    }
  }
  if (state.view === "units") {
    renderView();
  }
});
on("view", renderView);
on("live", renderConnection);
on("alarms", renderAlarms);
on("calls", renderCalls);
on("panel", renderPanel);
listenForKeys();

// Ages in the queue and the strip move on by themselves.
window.setInterval(() => {
  if (state.me) {
    if (state.view === "queue") {
      renderView();
    }
    renderCalls();
  }
}, 15_000);

if (token()) {
  void start();
} else {
  renderLogin();
}
